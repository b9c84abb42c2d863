"""Nothing of the sentry leaks into the sandbox (fds, environment, its init's
memory), and nothing of the sandbox outlives the sentry."""
import os
import signal
import subprocess
import time

from conftest import RUN, run_sandbox

SECRET = "PYSANDBOX_SECRET"
SECRET_VALUE = "hunter2-7f3a9c"


def test_fds_busybox_rootfs(busybox_rootfs):
    """The workload starts with only stdin, stdout and stderr open (busybox rootfs)."""
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "ls", "/proc/self/fd", input="")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2", "3"]


def test_fds_default_view():
    """The workload starts with only stdin, stdout and stderr open (default view)."""
    r = run_sandbox("run", "--", "ls", "/proc/self/fd", input="")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2", "3"]


def test_callers_extra_fd_not_inherited():
    """An fd the caller passes to pysandbox does not reach the workload."""
    fd = os.open("/etc/hostname", os.O_RDONLY)
    high = os.dup2(fd, 40)
    try:
        r = subprocess.run([*RUN, "--", "ls", "/proc/self/fd"], input="", text=True,
                           capture_output=True, pass_fds=(fd, high))
    finally:
        os.close(fd)
        os.close(high)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2", "3"]


def test_secret_env_not_visible():
    """The sentry's environment is in neither env, /proc/self/environ nor /proc/1/environ."""
    env = {"PATH": os.environ["PATH"], SECRET: SECRET_VALUE}
    r = run_sandbox("run", "--", "sh", "-c",
                    "env; cat /proc/self/environ; cat /proc/1/environ; cat /proc/[0-9]*/environ",
                    env=env)
    assert "PATH=" in r.stdout        # env really ran
    assert SECRET_VALUE not in r.stdout + r.stderr
    assert SECRET not in r.stdout + r.stderr


def test_init_is_not_readable():
    """The sandbox's pid 1 is non-dumpable: its environ and mem cannot be read."""
    r = run_sandbox("run", "--", "sh", "-c",
                    "cat /proc/1/environ >/dev/null; echo environ=$?; "
                    "head -c 16 /proc/1/mem >/dev/null; echo mem=$?; "
                    "ls /proc/1/root/ >/dev/null; echo root=$?; "
                    "grep -E '^(Pid|PPid):' /proc/1/status | tr -d '\\t'")
    lines = r.stdout.split()
    assert [x.split("=")[0] for x in lines[:3]] == ["environ", "mem", "root"], r.stdout
    assert not [x for x in lines[:3] if x.endswith("=0")], r.stdout
    assert "Pid:1" in lines and "PPid:0" in lines, r.stdout


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:          # gone (ENOENT), or going (ESRCH)
        return []


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def host_mounts() -> set[str]:
    """The host's mounts, each as its mountinfo line without the ids (which
    a remount renumbers)."""
    with open("/proc/self/mountinfo") as f:
        return {line.split(" ", 2)[2] for line in f}


def test_sentry_death_kills_sandbox():
    """SIGKILL of the sentry takes the whole sandbox down within 2 s, and
    leaves no mount behind."""
    mounts_before = host_mounts()
    p = subprocess.Popen([*RUN, "--", "sleep", "1000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sleeper = init = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sleeper is None:
            for init in children(p.pid):
                for c in children(init):
                    try:
                        with open(f"/proc/{c}/cmdline", "rb") as f:
                            if f.read().split(b"\0")[0] == b"sleep":
                                sleeper = c
                    except OSError:       # exited between the listing and the read
                        pass
            time.sleep(0.05)
        assert sleeper is not None, "did not find the sandboxed sleep"
        assert os.readlink(f"/proc/{sleeper}/ns/pid") != os.readlink("/proc/self/ns/pid")
        assert os.readlink(f"/proc/{sleeper}/ns/net") != os.readlink("/proc/self/ns/net")
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=5)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and (alive(sleeper) or alive(init)):
            time.sleep(0.05)
        assert not alive(sleeper), "the workload survived its sentry"
        assert not alive(init), "the sandbox init survived its sentry"
    finally:
        p.kill()
        p.wait()
    # A leak is a mount that appears; one that goes away meanwhile is another
    # test's (the suite may share the host with others).
    assert host_mounts() - mounts_before == set()
