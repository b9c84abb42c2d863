"""--memory, --cpus and --pids as the workload sees them (synthesized
/proc/meminfo, cpuinfo, /sys/devices/system/cpu/online, free, nproc) and as
the kernel enforces them (OOM kill, fork failure), and no cgroup left behind."""
from __future__ import annotations

import glob
import os
import subprocess
import time

import pytest

from conftest import RUN


def cgroup_dirs() -> set[str]:
    """Every per-sandbox group under the shared pysandbox parents (v1 or v2)."""
    return {p for p in glob.glob("/sys/fs/cgroup/pysandbox/*") + glob.glob("/sys/fs/cgroup/*/pysandbox/*")
            if os.path.isdir(p)}


def owner(group: str) -> int | None:
    """The sentry pid a group is named after (<pid>-<hex>), if it is one of ours."""
    head = os.path.basename(group).split("-")[0]
    return int(head) if head.isdigit() else None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def sandbox():
    """sandbox(*args, input=) -> CompletedProcess; at teardown no group made by
    one of these sentries (named <sentry pid>-<hex>) is left, nor any new
    group whose sentry is dead."""
    before = cgroup_dirs()
    pids = []

    def run(*args, input="", timeout=60):
        p = subprocess.Popen([*RUN, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        pids.append(p.pid)
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            pytest.fail(f"sandbox did not end in {timeout}s: {out!r} {err!r}")
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)
    yield run
    new = cgroup_dirs() - before
    ours = {d for d in new if owner(d) in pids}
    orphans = {d for d in new if owner(d) is not None and not alive(owner(d))}
    assert not ours and not orphans, f"cgroups left behind: {sorted(ours | orphans)}"


def busybox(root, *args):
    return ("--rootfs", str(root), *args)


def test_meminfo_and_free(sandbox, busybox_rootfs):
    r = sandbox(*busybox(busybox_rootfs, "--memory", "256M"), "--",
                "sh", "-c", "grep MemTotal /proc/meminfo; free")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["MemTotal:", "262144", "kB"]
    mem = next(line.split() for line in lines if line.startswith("Mem:"))
    assert mem[1] == "262144", r.stdout
    assert int(mem[2]) >= 0 and 0 <= int(mem[3]) <= 262144, r.stdout


def test_meminfo_default_view_python(sandbox):
    r = sandbox("--memory", "128M", "--", "python3", "-c",
                "import os; print(os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE'))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(128 << 20)]


CPU_SCRIPT = "nproc; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online"


def test_cpus_half_shows_one(sandbox, busybox_rootfs):
    r = sandbox(*busybox(busybox_rootfs, "--cpus", "0.5"), "--", "sh", "-c", CPU_SCRIPT)
    assert r.stdout.split() == ["1", "1", "0"], r.stdout + r.stderr


def test_no_cpu_limit_shows_host(sandbox, busybox_rootfs):
    r = sandbox(*busybox(busybox_rootfs), "--", "sh", "-c", CPU_SCRIPT)
    with open("/sys/devices/system/cpu/online") as f:
        online = f.read().strip()
    assert r.stdout.split() == [str(len(os.sched_getaffinity(0))), str(os.cpu_count()), online], r.stderr
    assert len(os.sched_getaffinity(0)) == os.cpu_count()   # (what the brief compares nproc with)


def test_python_cpu_count_default_view(sandbox):
    r = sandbox("--cpus", "1", "--", "python3", "-c",
                "import os; print(os.cpu_count(), len(os.sched_getaffinity(0)))")
    assert r.stdout.split() == ["1", "1"], r.stdout + r.stderr


def test_oom_exits_137(sandbox, busybox_rootfs):
    t0 = time.monotonic()
    r = sandbox(*busybox(busybox_rootfs, "--memory", "64M"), "--",
                "sh", "-c", 's=x; while true; do s="$s$s"; done')
    assert r.returncode == 137, r.stderr
    assert "out of memory" in r.stderr.lower(), r.stderr
    assert time.monotonic() - t0 < 30


def host_procs_with(marker: str) -> list[int]:
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if marker.encode() in f.read() and alive(int(d)):
                        found.append(int(d))
            except OSError:
                pass
    return found


def test_pids_limit_fork_fails_cleanly(sandbox, busybox_rootfs):
    """An inner shell forks `sleep` until fork fails; the outer one survives
    (using builtins only: the sleeps hold every pid), the sandbox ends
    normally, and nothing is left on the host."""
    marker = "31.4159"
    script = (f'sh -c "while :; do sleep {marker} & done"; echo inner=$?; '
              'set -- /proc/[0-9]*; echo survived; test $# -ge 25 && test $# -le 30 && echo within-limit')
    t0 = time.monotonic()
    r = sandbox(*busybox(busybox_rootfs, "--pids", "30"), "--", "sh", "-c", script, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "can't fork" in r.stderr or "Resource temporarily unavailable" in r.stderr, r.stderr
    assert r.stdout.split() == ["inner=2", "survived", "within-limit"], r.stdout + r.stderr
    assert time.monotonic() - t0 < 20
    deadline = time.monotonic() + 3
    while host_procs_with("sleep\0" + marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host_procs_with("sleep\0" + marker) == []


def test_limits_together_and_no_cgroup_left(sandbox, busybox_rootfs):
    """All three limits on one sandbox, read back from inside."""
    r = sandbox(*busybox(busybox_rootfs, "--memory", "256M", "--cpus", "0.5", "--pids", "100"), "--",
                "sh", "-c", "grep MemTotal /proc/meminfo; nproc")
    assert r.stdout.split() == ["MemTotal:", "262144", "kB", "1"], r.stderr
