"""An OCI container with a pid namespace of its own runs its process as that
namespace's pid 1, as runc does: /proc/1/cmdline is the entrypoint, a
SIGTERM reaches it only if it handles it, reaping orphans is its business,
and the sandbox still dies with its sentry, even once pid 1 has changed its
ids.  `pysandbox run` keeps its reaping init.  On the platform under test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import PLATFORM, run_sandbox
from tests.integration.test_oci_runtime import OCI, bundle, configure, oci, root, wait_status  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")

# Drops root the way gosu or su-exec do before their daemon runs, and
# keeps a child: nothing of it may outlive the sentry.
DROP_IDS = r"""
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(void) {
    if (setgid(1000) || setuid(1000)) { perror("setuid"); return 1; }
    int sig = -1;
    prctl(PR_GET_PDEATHSIG, &sig);
    printf("uid=%d pdeathsig=%d\n", getuid(), sig);
    fflush(stdout);
    if (fork() == 0)
        for (;;) pause();
    for (;;) pause();
}
"""


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the comm: [state, ppid, ...]."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()


def nspids(pid: int) -> list[int]:
    with open(f"/proc/{pid}/status") as f:
        line = next(x for x in f if x.startswith("NSpid:"))
    return [int(x) for x in line.split()[1:]]


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        return stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def started(root, bundle, cid, args, **changes):
    configure(bundle, process__args=args, **changes)
    r = oci(root, "create", "--bundle", bundle, cid)
    assert r.returncode == 0, r.stderr
    assert oci(root, "start", cid).returncode == 0
    return wait_status(root, cid, "running")


def test_the_container_process_is_pid_1(bundle, root):
    st = started(root, bundle, "p1", ["sleep", "1000"])
    r = oci(root, "exec", "p1", "sh", "-c", "cat /proc/1/cmdline; echo; cat /proc/1/status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0] == "sleep\0" "1000\0"
    assert "\nPPid:\t0\n" in r.stdout                      # its parent is outside the container
    # From the host: sentry -> holder -> the container's pid 1.  The holder
    # is pid 1 of the namespace above the container's, which sees nothing
    # of it; the holder is not in the container's cgroup either.
    state = json.loads((root / "p1" / "state.json").read_text())
    (holder,) = children(st["pid"])
    assert children(holder) == [state["init_pid"]]
    assert nspids(state["init_pid"])[-1] == 1 and len(nspids(state["init_pid"])) == 3
    assert nspids(holder) == [holder, 1]
    cgroup = json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"]
    with open(f"/proc/{holder}/cgroup") as f:
        assert cgroup not in f.read()
    with open(f"/proc/{state['init_pid']}/cgroup") as f:
        assert cgroup in f.read()
    assert oci(root, "kill", "p1", "KILL").returncode == 0
    wait_status(root, "p1", "stopped")
    assert json.loads((root / "p1" / "exit.json").read_text())["status"] == 128 + signal.SIGKILL


def test_exit_codes(bundle, root):
    configure(bundle, process__args=["sh", "-c", "cat /proc/1/cmdline; exit 7"])
    r = oci(root, "run", "--bundle", bundle, "e1")
    assert (r.returncode, r.stdout) == (7, "sh\0-c\0cat /proc/1/cmdline; exit 7\0"), r.stderr
    configure(bundle, process__args=["/no/such/program"])
    r = oci(root, "run", "--bundle", bundle, "e2")
    # as runc: the program is looked up at create, which fails (1); docker maps that to 127
    assert r.returncode == 1 and "exec: /no/such/program: no such file or directory" in r.stderr, r.stderr
    assert not (root / "e2").exists()


@pytest.mark.parametrize("script, term_ends_it, status", [
    ("trap 'echo got TERM; exit 3' TERM; echo up; while true; do sleep 0.05; done", True, 3),
    ("trap '' TERM; echo up; while true; do sleep 0.05; done", False, 137),   # ignored
    ("echo up; exec sleep 1000", False, 137),                                 # no handler: SIG_DFL
])
def test_sigterm_reaches_pid_1_only_if_it_handles_it(bundle, root, tmp_path, script, term_ends_it, status):
    configure(bundle, process__args=["sh", "-c", script])
    out = tmp_path / "out"
    with open(out, "w") as f:
        r = subprocess.run([OCI, "--root", str(root), "--platform", PLATFORM, "create",
                            "--bundle", str(bundle), "t1"], stdout=f, stderr=f, timeout=30)
    assert r.returncode == 0, out.read_text()
    assert oci(root, "start", "t1").returncode == 0
    deadline = time.monotonic() + 10
    while "up" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)                               # `exec sleep` has replaced the shell by then
    assert oci(root, "kill", "t1", "TERM").returncode == 0
    if term_ends_it:
        wait_status(root, "t1", "stopped")
        assert "got TERM" in out.read_text()
    else:
        time.sleep(1)
        assert json.loads(oci(root, "state", "t1").stdout)["status"] == "running"
        assert oci(root, "kill", "t1", "KILL").returncode == 0
        wait_status(root, "t1", "stopped")
    assert json.loads((root / "t1" / "exit.json").read_text())["status"] == status


ORPHAN = "( sleep 0.2 & ); exec sleep 1000"     # the orphan is reparented to pid 1, which never waits


def test_orphans_are_pid_1s_to_reap(bundle, root):
    """Under runc a pid 1 that does not reap leaves zombies: so here."""
    st = started(root, bundle, "z1", ["sh", "-c", ORPHAN])
    pid1 = json.loads((root / "z1" / "state.json").read_text())["init_pid"]
    assert st["pid"] != pid1
    deadline = time.monotonic() + 10
    zombies = []
    while not zombies and time.monotonic() < deadline:
        zombies = [c for c in children(pid1) if stat_fields(c)[0] == "Z"]
        time.sleep(0.05)
    assert zombies, f"no zombie under the container's pid 1: {children(pid1)}"
    assert oci(root, "kill", "z1", "KILL").returncode == 0
    wait_status(root, "z1", "stopped")
    assert not any(alive(z) or os.path.exists(f"/proc/{z}") for z in zombies)


def test_pysandbox_run_keeps_its_reaping_init(busybox_rootfs):
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "sh", "-c",
                    "cat /proc/1/cmdline; echo; ( sleep 0.1 & ); sleep 0.5; "
                    "cat /proc/[0-9]*/stat | grep -c ') Z ' || true")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert (lines[0].rstrip("\0"), lines[1]) == ("pysandbox-init", "0"), r.stdout


def test_sentry_death_kills_a_pid_1_that_changed_its_ids(bundle, root, cc):
    """pid 1 drops root (which clears its own PR_SET_PDEATHSIG) and forks:
    SIGKILL of the sentry still takes everything down, through the holder."""
    prog = cc(DROP_IDS, "dropids")
    dst = bundle / "rootfs" / "bin" / "dropids"
    dst.write_bytes(prog.read_bytes())
    dst.chmod(0o755)
    out = bundle.parent / "out"
    configure(bundle, process__args=["/bin/dropids"])
    with open(out, "w") as f:
        r = subprocess.run([OCI, "--root", str(root), "--platform", PLATFORM, "create",
                            "--bundle", str(bundle), "d1"], stdout=f, stderr=f, timeout=30)
    assert r.returncode == 0, out.read_text()
    assert oci(root, "start", "d1").returncode == 0
    deadline = time.monotonic() + 10
    while "pdeathsig" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.read_text().split() == ["uid=1000", "pdeathsig=0"]       # the kernel cleared it
    state = json.loads((root / "d1" / "state.json").read_text())
    pid1 = state["init_pid"]
    (holder,) = children(state["pid"])
    deadline = time.monotonic() + 5
    while len(children(pid1)) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    (child,) = children(pid1)
    os.kill(state["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 2
    while any(alive(p) for p in (holder, pid1, child)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(pid1) and not alive(child), "the container outlived its sentry"
    assert not alive(holder), "the holder outlived its sentry"
