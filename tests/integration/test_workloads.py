"""Real workloads in real sandboxes: shells, python, exit codes, the UTS and
sysinfo views, namespaces, environment, mounts, signals and tracing."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import RUN, run_sandbox

SYSINFO_C = r"""
#include <stdio.h>
#include <sys/sysinfo.h>
int main(void) {
    struct sysinfo s;
    if (sysinfo(&s) != 0) { perror("sysinfo"); return 1; }
    printf("%ld %u\n", s.uptime, (unsigned)s.procs);
    return 0;
}
"""

THREADS_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
static const char *want;
static int fails[8];
static void *work(void *arg) {
    long i = (long)arg;
    struct utsname u;
    struct sysinfo s;
    for (int n = 0; n < 2000; n++) {
        if (uname(&u) != 0 || strcmp(u.nodename, want) != 0) fails[i]++;
        if (sysinfo(&s) != 0 || s.procs < 1) fails[i]++;
    }
    return 0;
}
int main(int argc, char **argv) {
    pthread_t t[8];
    int bad = 0;
    want = argv[1];
    for (long i = 0; i < 8; i++)
        if (pthread_create(&t[i], 0, work, (void *)i) != 0) return 2;
    for (int i = 0; i < 8; i++) { pthread_join(t[i], 0); bad += fails[i]; }
    printf("failures %d\n", bad);
    return bad != 0;
}
"""


def mnt(exe):
    """--bind flags making exe's directory visible at /mnt."""
    return ["--bind", f"{exe.parent}:/mnt:ro"]


def test_busybox_pipeline(busybox_rootfs):
    """A shell pipeline runs inside a busybox rootfs with exact output."""
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--",
                    "sh", "-c", "cat /data/hello.txt | tr a-z A-Z; cat /data/hello.txt | wc -c")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0] == "HELLO FROM THE ROOTFS"
    assert r.stdout.split()[-1] == "22"


def test_stdin_piped_in(busybox_rootfs):
    """Host stdin reaches the workload unchanged."""
    data = "line one\nline two\n" * 1000
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "cat", input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_python_with_imports():
    """python3 with json, sqlite3, hashlib and a subprocess works in the default view."""
    code = ("import json, sqlite3, hashlib, subprocess\n"
            "db = sqlite3.connect(':memory:'); db.execute('create table t(x)')\n"
            "db.execute('insert into t values (41)')\n"
            "x = db.execute('select x + 1 from t').fetchone()[0]\n"
            "echo = subprocess.run(['echo', 'inner'], capture_output=True, text=True, check=True).stdout\n"
            "print(json.dumps({'x': x, 'md5': hashlib.md5(b'abc').hexdigest(), 'echo': echo}))\n")
    r = run_sandbox("run", "--", "python3", "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ('{"x": 42, "md5": "900150983cd24fb0d6963f7d28e17f72", '
                                '"echo": "inner\\n"}')


@pytest.mark.parametrize("script,code", [("exit 7", 7), ("kill -9 $$", 137), ("kill -TERM $$", 143)])
def test_exit_codes(script, code):
    """Exit codes and deaths by signal are reported as a shell would."""
    assert run_sandbox("run", "--", "sh", "-c", script).returncode == code


def test_command_not_found():
    """A missing command gives 127 and a message naming it."""
    r = run_sandbox("run", "--", "no-such-command-xyz")
    assert r.returncode == 127
    assert "no-such-command-xyz" in r.stderr


def test_not_executable():
    """A file that is not executable gives 126."""
    r = run_sandbox("run", "--", "/etc/passwd")
    assert r.returncode == 126
    assert "/etc/passwd" in r.stderr


def test_hostname_and_release_defaults(busybox_rootfs):
    """uname -n/hostname show the sandbox hostname; uname -r the configured release."""
    r = run_sandbox("run", "--", "sh", "-c", "uname -n; hostname; uname -r")
    assert r.stdout.split() == ["pysandbox", "pysandbox", "6.1.0-pysandbox"]
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--hostname", "box1",
                    "--kernel-release", "5.15.0-test", "--", "sh", "-c", "uname -n; hostname; uname -r")
    assert r.stdout.split() == ["box1", "box1", "5.15.0-test"]


def test_release_accepted_by_glibc_python():
    """glibc-linked python runs with a custom release and reports it."""
    r = run_sandbox("run", "--kernel-release", "5.15.0-test", "--",
                    "python3", "-c", "import os, platform; print(os.uname().release, platform.release())")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["5.15.0-test", "5.15.0-test"]


def test_sethostname_needs_sys_admin():
    """sethostname is EPERM by default; with SYS_ADMIN it works and uname agrees."""
    host_before = socket.gethostname()
    r = run_sandbox("run", "--", "sh", "-c", "hostname foo; echo rc=$?; uname -n")
    assert r.stdout.split() == ["rc=1", "pysandbox"]
    r = run_sandbox("run", "--cap-add", "SYS_ADMIN", "--", "sh", "-c",
                    "hostname newname && uname -n && hostname && "
                    "python3 -c 'import os; print(os.uname().nodename)'")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["newname"] * 3
    assert socket.gethostname() == host_before


def test_sysinfo_is_the_sandbox_view(cc):
    """sysinfo() reports the sandbox's own uptime and process count."""
    exe = cc(SYSINFO_C, "sysinfo")
    r = run_sandbox("run", *mnt(exe), "--", "/mnt/sysinfo")
    assert r.returncode == 0, r.stderr
    uptime, procs = map(int, r.stdout.split())
    assert 0 <= uptime < 30
    assert 1 <= procs <= 20


@pytest.mark.parametrize("extra", [[], ["--no-fastpath"]])
def test_threads_uname_sysinfo(cc, extra):
    """8 threads x 2000 uname+sysinfo calls all succeed with the right nodename."""
    exe = cc(THREADS_C, "threads")
    r = run_sandbox("run", *extra, "--hostname", "thr-host", *mnt(exe), "--", "/mnt/threads", "thr-host")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "failures 0"


def test_pid_namespace(busybox_rootfs):
    """The workload has a small pid and ps sees only sandbox processes."""
    r = run_sandbox("run", "--", "sh", "-c", "echo $$")
    assert int(r.stdout) in (1, 2)
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "ps")
    assert r.returncode == 0, r.stderr
    pids = [int(line.split()[0]) for line in r.stdout.splitlines()[1:]]
    assert pids and max(pids) <= 5 and len(pids) <= 3, r.stdout


def test_net_none_only_lo_up(busybox_rootfs):
    """--net none shows only lo, and lo is up."""
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "sh", "-c",
                    "ls /sys/class/net; cat /sys/class/net/lo/flags; ip -o link")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "lo"
    assert int(lines[1], 16) & 1  # IFF_UP
    links = lines[2:]
    assert len(links) == 1 and "lo:" in links[0] and ",UP" in links[0], r.stdout


@pytest.mark.parametrize("view", ["default", "rootfs"])
def test_net_host_sees_host_interfaces(view, busybox_rootfs):
    """--net host shows the host's interfaces (default view and --rootfs)."""
    rootfs = ["--rootfs", str(busybox_rootfs)] if view == "rootfs" else []
    r = run_sandbox("run", "--net", "host", *rootfs, "--", "ls", "/sys/class/net")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted(os.listdir("/sys/class/net"))


def test_environment():
    """-e KEY=VAL is visible; the sentry's own environment is not."""
    env = {"PATH": os.environ["PATH"], "PYSANDBOX_TEST_MARKER": "marker-5150"}
    r = run_sandbox("run", "-e", "FOO=bar baz", "--", "env", env=env)
    assert r.returncode == 0, r.stderr
    assert "FOO=bar baz" in r.stdout.splitlines()
    assert "marker-5150" not in r.stdout
    assert "PYSANDBOX_TEST_MARKER" not in r.stdout


def test_cwd(tmp_path):
    """--cwd sets the directory; by default it is the caller's when visible, else /."""
    assert run_sandbox("run", "--cwd", "/etc", "--", "pwd").stdout == "/etc\n"
    r = subprocess.run([*RUN, "--", "pwd"], cwd="/usr/lib", capture_output=True, text=True)
    assert r.stdout == "/usr/lib\n"
    r = subprocess.run([*RUN, "--", "pwd"], cwd=tmp_path, capture_output=True, text=True)
    assert r.stdout == "/\n"


def test_tmpfs_writable():
    """--tmpfs DST is a writable, empty directory while / stays read-only."""
    r = run_sandbox("run", "--tmpfs", "/opt", "--", "sh", "-c",
                    "ls -A /opt; echo data > /opt/f && cat /opt/f; touch /usr/x; echo rc=$?")
    assert r.stdout.split() == ["data", "rc=1"]


def test_bind_ro_and_rw(tmp_path):
    """A :ro bind refuses writes; a rw bind's writes appear on the host."""
    (tmp_path / "in.txt").write_text("from host\n")
    r = run_sandbox("run", "--bind", f"{tmp_path}:/mnt:ro", "--", "sh", "-c",
                    "cat /mnt/in.txt; echo x > /mnt/new; echo rc=$?")
    lines = r.stdout.splitlines()
    assert lines[0] == "from host" and lines[-1].startswith("rc=") and lines[-1] != "rc=0", r.stdout
    assert not (tmp_path / "new").exists()
    r = run_sandbox("run", "--bind", f"{tmp_path}:/mnt", "--", "sh", "-c", "echo written > /mnt/new")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "new").read_text() == "written\n"


@pytest.mark.parametrize("sig,name,code", [(signal.SIGTERM, "TERM", 3), (signal.SIGINT, "INT", 4)])
def test_signal_forwarded(sig, name, code):
    """A signal to pysandbox reaches the workload's trap."""
    script = f'trap "echo got {name}; exit {code}" {name}; while :; do sleep 0.1; done'
    p = subprocess.Popen([*RUN, "--", "sh", "-c", script],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        p.send_signal(sig)
        out, err = p.communicate(timeout=10)
    finally:
        p.kill()
        p.wait()
    assert f"got {name}" in out, err
    assert p.returncode == code


def test_strace_emulated():
    """--strace prints execve and uname calls with their results on stderr."""
    r = run_sandbox("run", "--strace", "--", "uname", "-n")
    assert r.stdout == "pysandbox\n"
    assert "execve(" in r.stderr
    assert re.search(r"uname\(.*\) = 0$", r.stderr, re.M), r.stderr
    assert "getpid(" not in r.stderr


def test_strace_all():
    """--strace=all also prints passthrough calls."""
    r = run_sandbox("run", "--strace=all", "--", "python3", "-c", "import os; os.getpid()")
    assert r.returncode == 0, r.stderr
    assert "getpid(" in r.stderr


def test_summary():
    """--summary prints a table that names uname."""
    r = run_sandbox("run", "--summary", "--", "uname", "-a")
    assert r.returncode == 0
    assert re.search(r"^\s+\d+\s+uname\s+emulated", r.stderr, re.M), r.stderr


def test_user_flag():
    """--user UID:GID runs the workload as that uid/gid, without capabilities."""
    r = run_sandbox("run", "--user", "1000:1000", "--", "sh", "-c",
                    "id -u; id -g; grep CapEff /proc/self/status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1000", "1000", "CapEff:", "0000000000000000"]
