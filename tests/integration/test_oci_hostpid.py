"""An OCI config.json without a pid namespace entry, as containerd writes
for a hostPID container: runc's meaning, the host's pid namespace.  The
container sees the host's processes and its pids are host pids; ptrace and
pidfd_getfd stay refused, signals are the kernel's to check (uid, the
container's capabilities); the container's cgroup ends it: a daemon that
double-forked away, or dropped its ids, dies with the container's process
and with a SIGKILLed sentry.  On the platform under test."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.integration.test_oci_pid1 import DROP_IDS, alive
from tests.integration.test_oci_runtime import (  # noqa: F401 - fixtures
    _no_cgroup_parent_left,
    bundle,
    configure,
    oci,
    root,
    wait_status,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")

# What a container may do to the host process given as argv[1]; argv[2],
# if given, is a signal to send it.  One line per call: the errno's name or ok.
PROBE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
static const char *res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
int main(int argc, char **argv) {
    pid_t pid = atoi(argv[1]);
    char ns[64] = "";
    if (readlink("/proc/self/ns/pid", ns, sizeof ns - 1) < 0)
        strcpy(ns, strerrorname_np(errno));
    printf("self %d %s\n", getpid(), ns);
    printf("ptrace %s\n", res(ptrace(PTRACE_SEIZE, pid, 0, 0)));
    printf("attach %s\n", res(ptrace(PTRACE_ATTACH, pid, 0, 0)));
    printf("kill0 %s\n", res(kill(pid, 0)));
    long fd = syscall(SYS_pidfd_open, pid, 0);
    printf("pidfd_open %s\n", res(fd));
    if (fd >= 0)
        printf("pidfd_getfd %s\n", res(syscall(SYS_pidfd_getfd, fd, 0, 0)));
    if (argc > 2) {
        printf("kill %s\n", res(kill(pid, atoi(argv[2]))));
        if (fd >= 0)
            printf("pidfd_send_signal %s\n", res(syscall(SYS_pidfd_send_signal, fd, atoi(argv[2]), 0, 0)));
    }
    return 0;
}
"""


# Every way to signal the sandbox's keepers, given the sentry, the watcher,
# a thread of the sentry and a host process: the errno's name or ok, one
# per line.  Signal 0 throughout: a check that would not refuse kills
# nothing (kill -1 as root reaches the whole host).
KEEPERS = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static const char *res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
int main(int argc, char **argv) {
    pid_t s = atoi(argv[1]), w = atoi(argv[2]), t = atoi(argv[3]), h = atoi(argv[4]);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_code = SI_QUEUE;                  /* what sigqueue(3) sends: allowed to other processes */
    si.si_pid = getpid();
    si.si_uid = getuid();
    printf("kill-sentry %s\n", res(kill(s, 0)));
    printf("kill-watcher %s\n", res(kill(w, 0)));
    printf("kill-group %s\n", res(kill(-getpgid(s), 0)));
    printf("kill-all %s\n", res(kill(-1, 0)));
    printf("kill-thread %s\n", res(kill(t, 0)));     /* a thread's id: kill(2) signals its process */
    printf("tkill %s\n", res(syscall(SYS_tkill, t, 0)));
    printf("tgkill %s\n", res(syscall(SYS_tgkill, s, t, 0)));
    printf("sigqueue %s\n", res(syscall(SYS_rt_sigqueueinfo, w, 0, &si)));
    printf("tgsigqueue %s\n", res(syscall(SYS_rt_tgsigqueueinfo, s, t, 0, &si)));
    long fd = syscall(SYS_pidfd_open, s, 0);
    printf("pidfd_send_signal %s\n", res(syscall(SYS_pidfd_send_signal, fd, 0, 0, 0)));
    printf("kill-host %s\n", res(kill(h, 0)));
    printf("tkill-host %s\n", res(syscall(SYS_tkill, h, 0)));
    return 0;
}
"""
REFUSED = {"kill-sentry": "EPERM", "kill-watcher": "EPERM", "kill-group": "EPERM", "kill-all": "EPERM",
           "kill-thread": "EPERM",
           "tkill": "EPERM", "tgkill": "EPERM", "sigqueue": "EPERM", "tgsigqueue": "EPERM",
           "pidfd_send_signal": "ENOSYS", "kill-host": "ok", "tkill-host": "ok"}


def host_pid_config(b, args, **changes):
    cfg = json.loads((b / "config.json").read_text())
    namespaces = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
    return configure(b, process__args=args, linux__namespaces=namespaces, **changes)


def cgroup_of(b) -> str:
    return json.loads((b / "config.json").read_text())["linux"]["cgroupsPath"]


def cgroup_dirs(path: str) -> list[str]:
    return [d for d in (f"/sys/fs/cgroup/{h}{path}" for h in ("memory", "pids", "cpu", "freezer", "unified", ""))
            if os.path.isdir(d)]


def by_cmdline(text: bytes) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if f.read() == text and alive(int(name)):
                        out.append(int(name))
            except OSError:
                pass
    return out


def wait_until(cond, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def probe(bundle, cc):  # noqa: F811 - a fixture
    exe = cc(PROBE, "hostprobe")
    shutil.copy(exe, bundle / "rootfs" / "bin" / "hostprobe")
    return "/bin/hostprobe"


@pytest.fixture
def host_sleep():
    """A root process of the host's, and one of uid 1000 (dumpable both)."""
    procs = [subprocess.Popen(["sleep", "997"]),
             subprocess.Popen(["sleep", "998"], user=1000, group=1000)]
    yield procs
    for p in procs:
        p.kill()
        p.wait()


def test_sees_the_hosts_processes_with_host_pids(bundle, root, host_sleep):  # noqa: F811
    target = host_sleep[0].pid
    host_ns = os.readlink("/proc/self/ns/pid")
    host_pid_config(bundle, ["sh", "-c", f"cat /proc/{target}/cmdline; echo; echo $$; readlink /proc/self/ns/pid; "
                                         "ps -o pid,args | grep -c 'sleep 99[78]$'"])
    r = oci(root, "run", "--bundle", bundle, "h1")
    assert r.returncode == 0, r.stderr
    cmdline, pid, ns, seen = r.stdout.split("\n")[:4]
    assert cmdline == "sleep\0" "997\0" and ns == host_ns and seen == "2", r.stdout
    assert int(pid) > 1 and not os.path.exists(f"/proc/{pid}")       # a host pid: gone with its process
    assert not os.path.exists(root / "h1") and not cgroup_dirs(cgroup_of(bundle))


def test_ptrace_refused_signals_as_the_kernel_checks(bundle, root, probe, host_sleep):  # noqa: F811
    host_ns = os.readlink("/proc/self/ns/pid")
    root_target, user_target = host_sleep[0].pid, host_sleep[1].pid
    # root with the default capabilities (CAP_KILL, no CAP_SYS_PTRACE): may
    # signal a root host process, as under runc; never trace it.
    host_pid_config(bundle, [probe, str(root_target)])
    r = oci(root, "run", "--bundle", bundle, "pr1")
    assert r.returncode == 0, r.stderr
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert out["self"].split()[1] == host_ns, r.stdout
    assert (out["ptrace"], out["attach"], out["kill0"], out["pidfd_open"], out["pidfd_getfd"]) == \
        ("EPERM", "EPERM", "ok", "ok", "EPERM"), r.stdout
    # uid 1000: the kernel refuses its signals to root's process; its own
    # uid's processes it may signal, but not trace nor take fds from.
    host_pid_config(bundle, [probe, str(root_target), str(int(signal.SIGTERM))],
                    process__user={"uid": 1000, "gid": 1000})
    r = oci(root, "run", "--bundle", bundle, "pr2")
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert (out["kill0"], out["kill"], out["pidfd_send_signal"], out["ptrace"]) == \
        ("EPERM", "EPERM", "ENOSYS", "EPERM"), r.stdout           # pidfd_send_signal: refused in this mode
    assert host_sleep[0].poll() is None                    # still running
    host_pid_config(bundle, [probe, str(user_target)], process__user={"uid": 1000, "gid": 1000})
    r = oci(root, "run", "--bundle", bundle, "pr3")
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert (out["kill0"], out["ptrace"], out["attach"], out["pidfd_getfd"]) == ("ok", "EPERM", "EPERM", "EPERM"), \
        r.stdout


def test_a_non_root_container_and_its_own_sandbox(bundle, root):  # noqa: F811
    """Its sentry serves with its uids, which the kernel would let it
    signal: the sentry refuses that (handlers/signals.py); it cannot read
    the sentry's fds or environment; its init is root's."""
    host_pid_config(bundle, ["sh", "-c", "I=$PPID; S=$(grep PPid /proc/$I/status | cut -f2); "
                                         "kill -0 $S || echo sentry-refused; kill -0 $I || echo init-refused; "
                                         "ls /proc/$S/fd || echo fd-refused; cat /proc/$S/environ || echo env-refused"],
                    process__user={"uid": 1000, "gid": 1000})
    r = oci(root, "run", "--bundle", bundle, "nr")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["sentry-refused", "init-refused", "fd-refused", "env-refused"], r.stdout + r.stderr


def test_the_cgroup_ends_it_with_its_process(bundle, root):  # noqa: F811
    """The container's process exits: a daemon that left its process tree
    (setsid, double fork) goes too, as containerd's shim kills a container
    without a pid namespace of its own; the status is the process's."""
    host_pid_config(bundle, ["sh", "-c", "(setsid sleep 1003 &); sleep 0.3; exit 3"])
    r = oci(root, "run", "--bundle", bundle, "end1")
    assert r.returncode == 3, r.stderr
    assert by_cmdline(b"sleep\x001003\x00") == []
    assert not cgroup_dirs(cgroup_of(bundle))


def test_killing_the_sentry_kills_every_process(bundle, root, cc):  # noqa: F811
    """Fail closed without a pid namespace: a double-forked daemon, and one
    that dropped root (its pdeathsig cleared), die with the sentry."""
    shutil.copy(cc(DROP_IDS, "dropids"), bundle / "rootfs" / "bin" / "dropids")
    host_pid_config(bundle, ["sh", "-c", "(setsid sleep 1004 &); (setsid /bin/dropids &); exec sleep 1005"])
    assert oci(root, "create", "--bundle", bundle, "fc").returncode == 0
    assert oci(root, "start", "fc").returncode == 0
    st = wait_status(root, "fc", "running")
    def daemons():
        return by_cmdline(b"sleep\x001004\x00") + by_cmdline(b"/bin/dropids\x00")
    # init, sleep 1005, sleep 1004, dropids and its child, each once it has exec'd (setsid forks first)
    assert wait_until(lambda: len(daemons()) == 3
                      and len(json.loads(oci(root, "ps", "--format", "json", "fc").stdout)) == 5), \
        oci(root, "ps", "fc").stdout
    members = json.loads(oci(root, "ps", "--format", "json", "fc").stdout)
    found = daemons()
    assert len(found) == 3 and set(found) <= set(members), (found, members)
    os.kill(st["pid"], signal.SIGKILL)
    assert wait_until(lambda: not any(alive(p) for p in members), 3), [p for p in members if alive(p)]
    wait_status(root, "fc", "stopped")
    assert oci(root, "delete", "fc").returncode == 0
    assert not cgroup_dirs(cgroup_of(bundle))


def test_killing_the_watcher_ends_the_container_too(bundle, root):  # noqa: F811
    """A root container may signal any host process, the sandbox's own
    too: whichever of the sentry and its watcher dies first, the other
    kills the container's cgroup."""
    host_pid_config(bundle, ["sh", "-c", "(setsid sleep 1009 &); exec sleep 1010"])
    assert oci(root, "create", "--bundle", bundle, "wk").returncode == 0
    assert oci(root, "start", "wk").returncode == 0
    st = wait_status(root, "wk", "running")
    assert wait_until(lambda: by_cmdline(b"sleep\x001009\x00"))
    members = json.loads(oci(root, "ps", "--format", "json", "wk").stdout)
    with open(f"/proc/{st['pid']}/task/{st['pid']}/children") as f:
        kids = [int(p) for p in f.read().split()]
    (watcher,) = [p for p in kids if open(f"/proc/{p}/cmdline", "rb").read().startswith(b"pysandbox-watch")]
    assert watcher not in members
    os.kill(watcher, signal.SIGKILL)
    assert wait_until(lambda: not any(alive(p) for p in members), 3), [p for p in members if alive(p)]
    wait_status(root, "wk", "stopped")
    assert oci(root, "delete", "wk").returncode == 0
    assert not cgroup_dirs(cgroup_of(bundle))


def test_exec_ps_and_kill_all(bundle, root):  # noqa: F811
    host_pid_config(bundle, ["sh", "-c", "(setsid sleep 1006 &); exec sleep 1007"])
    assert oci(root, "create", "--bundle", bundle, "ex").returncode == 0
    assert oci(root, "start", "ex").returncode == 0
    wait_status(root, "ex", "running")
    assert wait_until(lambda: by_cmdline(b"sleep\x001006\x00") and by_cmdline(b"sleep\x001007\x00"))
    (main,), (daemon,) = by_cmdline(b"sleep\x001007\x00"), by_cmdline(b"sleep\x001006\x00")
    r = oci(root, "exec", "ex", "sh", "-c", "ps -o pid,args | grep 'sleep 100[67]$'; readlink /proc/self/ns/pid")
    assert r.returncode == 0, r.stderr
    assert sorted(line.split(None, 1)[0] for line in r.stdout.splitlines()[:2]) == sorted([str(main), str(daemon)])
    assert r.stdout.splitlines()[2] == os.readlink("/proc/self/ns/pid")
    members = json.loads(oci(root, "ps", "--format", "json", "ex").stdout)
    assert {main, daemon} <= set(members)
    assert oci(root, "kill", "--all", "ex", "KILL").returncode == 0
    wait_status(root, "ex", "stopped")
    assert not any(alive(p) for p in members)
    assert oci(root, "delete", "ex").returncode == 0
    assert not cgroup_dirs(cgroup_of(bundle))


def test_a_path_to_the_hosts_pid_namespace_is_the_same(bundle, root):  # noqa: F811
    """runc joins a pid path naming the host's namespace: the same as no entry."""
    cfg = json.loads((bundle / "config.json").read_text())
    namespaces = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
    configure(bundle, process__args=["sh", "-c", "(setsid sleep 1008 &); readlink /proc/self/ns/pid"],
              linux__namespaces=namespaces + [{"type": "pid", "path": "/proc/self/ns/pid"}])
    r = oci(root, "run", "--bundle", bundle, "pp")
    assert r.returncode == 0 and r.stdout.strip() == os.readlink("/proc/self/ns/pid"), r.stdout + r.stderr
    assert by_cmdline(b"sleep\x001008\x00") == []


def test_without_a_cgroups_path_the_sentry_names_one(bundle, root):  # noqa: F811
    """The cgroup is what ends the container, so there always is one: a name
    of the sentry's, in the state, which an exec joins."""
    cfg = host_pid_config(bundle, ["sh", "-c", "(setsid sleep 1020 &); exec sleep 1021"])
    del cfg["linux"]["cgroupsPath"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    assert oci(root, "create", "--bundle", bundle, "nc").returncode == 0
    assert oci(root, "start", "nc").returncode == 0
    st = wait_status(root, "nc", "running")
    name = json.loads((root / "nc" / "state.json").read_text())["cgroup"]
    assert name == f"pysandbox/{st['pid']}-" + name.rsplit("-", 1)[1], name
    assert wait_until(lambda: by_cmdline(b"sleep\x001020\x00"))
    r = oci(root, "exec", "nc", "cat", "/proc/self/cgroup")
    assert r.returncode == 0 and f"0::/{name}\n" in r.stdout, r.stdout + r.stderr     # the v2 (kill) group
    members = json.loads(oci(root, "ps", "--format", "json", "nc").stdout)
    assert set(by_cmdline(b"sleep\x001020\x00") + by_cmdline(b"sleep\x001021\x00")) <= set(members)
    os.kill(st["pid"], signal.SIGKILL)
    assert wait_until(lambda: not any(alive(p) for p in members), 3)
    wait_status(root, "nc", "stopped")
    assert oci(root, "delete", "nc").returncode == 0
    assert not cgroup_dirs("/" + name)



def test_the_container_cannot_signal_its_keepers(bundle, root, cc, host_sleep):  # noqa: F811
    """Root in the host's pid namespace may signal any host process (the
    kernel's checks, as under runc), but not the sentry, its watcher or
    their group, nor everything at once: killing both would leave the
    container running with no one to end it."""
    shutil.copy(cc(KEEPERS, "keepers"), bundle / "rootfs" / "bin" / "keepers")
    find = ("I=$PPID; S=$(grep PPid /proc/$I/status | cut -f2); "
            "for c in $(cat /proc/$S/task/$S/children); do "
            "case $(tr '\\0' ' ' < /proc/$c/cmdline) in pysandbox-watch*) W=$c;; esac; done; "
            "T=$(ls /proc/$S/task | grep -v \"^$S$\" | head -n 1); ")
    host_pid_config(bundle, ["sh", "-c", find + f"exec /bin/keepers $S $W $T {host_sleep[0].pid}"])
    r = oci(root, "run", "--bundle", bundle, "kp1")
    assert r.returncode == 0, r.stderr
    assert dict(line.split(" ", 1) for line in r.stdout.splitlines()) == REFUSED, r.stdout
    assert host_sleep[0].poll() is None


def test_an_exec_cannot_signal_the_containers_keepers(bundle, root, cc, host_sleep):  # noqa: F811
    """An exec has a sentry of its own; the container's sentry and watcher
    (state.json records the watcher) are guarded for it too."""
    shutil.copy(cc(KEEPERS, "keepers"), bundle / "rootfs" / "bin" / "keepers")
    host_pid_config(bundle, ["sleep", "1011"])
    assert oci(root, "create", "--bundle", bundle, "kp2").returncode == 0
    assert oci(root, "start", "kp2").returncode == 0
    st = wait_status(root, "kp2", "running")
    sentry, watcher = st["pid"], json.loads((root / "kp2" / "state.json").read_text())["watcher"]
    assert open(f"/proc/{watcher}/cmdline", "rb").read().startswith(b"pysandbox-watch")
    thread = next(int(t) for t in os.listdir(f"/proc/{sentry}/task") if int(t) != sentry)
    r = oci(root, "exec", "kp2", "/bin/keepers", str(sentry), str(watcher), str(thread), str(host_sleep[0].pid))
    assert r.returncode == 0, r.stderr
    assert dict(line.split(" ", 1) for line in r.stdout.splitlines()) == REFUSED, r.stdout
    assert alive(sentry) and alive(watcher)
    assert oci(root, "kill", "kp2", "KILL").returncode == 0
    wait_status(root, "kp2", "stopped")
    assert oci(root, "delete", "kp2").returncode == 0
