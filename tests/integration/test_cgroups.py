"""sentry/sandbox/cgroups.py against the real kernel (root): limits are applied and
read back, enforced (OOM kill, fork failure), and every group we create
is gone afterwards -- including when the operations run from a mount
namespace where /sys/fs/cgroup is hidden, as in the sentry after setns()."""
from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sentry.errors import SandboxError
from sentry.sandbox.cgroups import Cgroup, unique_name
from sentry.sandbox.limits import Limits, parse_cpus, parse_memory, parse_pids

MiB = 1 << 20


def host_dirs(name: str) -> list[str]:
    """Every directory called name in any hierarchy (v1, hybrid or pure v2)."""
    return [p for p in glob.glob(f"/sys/fs/cgroup/{name}") + glob.glob(f"/sys/fs/cgroup/*/{name}")
            if os.path.isdir(p)]


def scrub(name: str) -> None:
    """Last-resort cleanup with host paths, for when the code under test failed."""
    for path in host_dirs(name):
        for _ in range(200):
            with open(f"{path}/cgroup.procs") as f:
                pids = [int(p) for p in f.read().split()]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.01)


@pytest.fixture
def groups():
    """make(limits) -> Cgroup; everything made (and every child listed in
    .children) is removed or killed at teardown, and must leave nothing."""
    made, children = [], []

    def make(limits: Limits) -> Cgroup:
        cg = Cgroup.create(unique_name(), limits)
        made.append(cg)
        return cg
    make.children = children
    yield make
    for p in children:
        p.kill()
        p.wait()
    left = []
    for cg in made:
        try:
            cg.remove()
        finally:
            left += host_dirs(cg.name)   # before scrub() could hide a leftover
            scrub(cg.name)
    assert left == []


@pytest.mark.parametrize("text,want", [("256M", 256 * MiB), ("1g", 1 << 30), ("512k", 512 << 10),
                                       ("1048576", 1048576), ("1.5G", 3 << 29), ("64MB", 64 * MiB)])
def test_parse_memory_accepts(text, want):
    assert parse_memory(text) == want


@pytest.mark.parametrize("text", ["", "abc", "-1M", "0", "12X", "1e9", "M", "99999999t"])
def test_parse_memory_rejects(text):
    with pytest.raises(SandboxError, match=re.escape(repr(text))):
        parse_memory(text)


@pytest.mark.parametrize("text,want", [("0.5", 0.5), ("2", 2.0), (" 1.25 ", 1.25)])
def test_parse_cpus_accepts(text, want):
    assert parse_cpus(text) == want


@pytest.mark.parametrize("text", ["0", "-1", "abc", "nan", "inf", "", "0.001"])
def test_parse_cpus_rejects(text):
    with pytest.raises(SandboxError, match=re.escape(repr(text))):
        parse_cpus(text)


def test_parse_pids():
    assert [parse_pids(t) for t in ("1", "10", "4096")] == [1, 10, 4096]
    for text in ("0", "-5", "1.5", "ten", ""):
        with pytest.raises(SandboxError, match=re.escape(repr(text))):
            parse_pids(text)


def test_bad_name_is_refused():
    with pytest.raises(SandboxError, match="bad cgroup name"):
        Cgroup.create("../escape", Limits())


def test_failed_create_removes_what_it_made():
    name = unique_name()
    try:                                 # memory is written first; pids.max refuses 10**9
        with pytest.raises(SandboxError, match=r"pids\.max.*Invalid argument"):
            Cgroup.create(name, Limits(memory=64 * MiB, pids=10**9))
        assert host_dirs(name) == []
    finally:
        scrub(name)


def test_remove_copes_with_a_group_removed_under_it():
    cg = Cgroup.create(unique_name(), Limits(pids=5))
    try:
        for path in cg.host_paths:
            os.rmdir(path)
    finally:
        cg.remove()                      # must not raise
        scrub(cg.name)


def test_limits_read_back_and_remove_leaves_nothing():
    name = unique_name()
    cg = Cgroup.create(name, Limits(memory=64 * MiB, cpus=0.5, pids=20))
    try:
        assert cg.limits() == Limits(memory=64 * MiB, cpus=0.5, pids=20)
        assert sorted(host_dirs(name)) == sorted(cg.host_paths) and cg.host_paths
        memsw = [p for p in host_dirs(name) if os.path.exists(f"{p}/memory.memsw.limit_in_bytes")]
        for p in memsw:    # v1 with swap accounting: swap cannot dodge the limit
            assert open(f"{p}/memory.memsw.limit_in_bytes").read().strip() == str(64 * MiB)
        assert cg.procs() == [] and cg.pids_current() == 0 and cg.oom_kills() == 0
    finally:
        try:
            cg.remove()
        finally:
            left = host_dirs(name)
            scrub(name)
    assert left == []
    cg.remove()                          # idempotent
    with pytest.raises(SandboxError, match="removed"):
        cg.procs()


def test_no_limits_still_makes_every_group(groups):
    cg = groups(Limits())
    assert cg.limits() == Limits()
    p = subprocess.Popen(["sleep", "30"])
    groups.children.append(p)
    cg.add(p.pid)
    assert cg.procs() == [p.pid] and cg.pids_current() == 1 and cg.memory_usage() >= 0
    if cg.version == 1:                  # a member of every controller's hierarchy
        for path in cg.host_paths:
            assert open(f"{path}/cgroup.procs").read().split() == [str(p.pid)]
    cg.remove()
    assert p.wait(timeout=5) == -signal.SIGKILL


ALLOCATE = textwrap.dedent("""
    import sys
    sys.stdin.buffer.read(1)             # wait until we are in the group
    b = bytearray(200 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    print("survived")
""")


def test_memory_limit_oom_kills(groups):
    cg = groups(Limits(memory=64 * MiB))
    p = subprocess.Popen([sys.executable, "-c", ALLOCATE], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    groups.children.append(p)
    cg.add(p.pid)
    p.stdin.write(b"x")
    p.stdin.close()
    out = p.stdout.read()
    assert p.wait(timeout=15) == -signal.SIGKILL, out
    assert b"survived" not in out
    assert cg.oom_kills() >= 1


FORK_30 = 'read x; i=0; while [ $i -lt 30 ]; do sleep 5 >/dev/null 2>&1 & i=$((i+1)); done; echo forked $i'


def test_pids_limit_makes_fork_fail(groups):
    cg = groups(Limits(pids=10))
    p = subprocess.Popen(["/bin/sh", "-c", FORK_30], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    groups.children.append(p)
    cg.add(p.pid)
    out, err = p.communicate("x\n", timeout=10)
    assert re.search(r"can.?t fork|cannot fork|resource temporarily unavailable", err, re.I), (out, err)
    assert "forked 30" not in out
    assert cg.pids_current() <= 10
    sleepers = cg.procs()
    assert 1 <= len(sleepers) <= 10
    cg.remove()
    for pid in sleepers:                 # killed (maybe not yet reaped by init)
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        assert state in ("Z", "X"), (pid, state)


HIDDEN = textwrap.dedent("""
    import json, os, subprocess, sys
    from sentry import native, record
    from sentry.sandbox.cgroups import Cgroup
    from sentry.sandbox.limits import Limits
    from sentry.abi.linux import CLONE_NEWNS, MS_PRIVATE, MS_REC
    cg = Cgroup.create(sys.argv[1], Limits(memory=32 << 20, pids=7))
    native.unshare(CLONE_NEWNS)
    native.mount(None, "/", None, MS_REC | MS_PRIVATE)
    native.mount("tmpfs", "/sys/fs/cgroup", "tmpfs", 0, "size=4k")
    os.chdir("/")
    child = subprocess.Popen(["sleep", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cg.add(child.pid)
        res = {"hidden": os.listdir("/sys/fs/cgroup"), "child": child.pid, "procs": cg.procs(),
               "limits": record.asdict(cg.limits()), "oom": cg.oom_kills(),
               "pids": cg.pids_current(), "mem": cg.memory_usage()}
        cg.remove()
        res["rc"] = child.wait(timeout=5)
    finally:
        child.kill()
    print(json.dumps(res))
""")


def test_operations_work_with_cgroupfs_hidden():
    name = unique_name()
    try:
        out = subprocess.run([sys.executable, "-c", HIDDEN, name], capture_output=True, text=True, timeout=15)
        assert out.returncode == 0, out.stderr
        res = json.loads(out.stdout)
        assert res["hidden"] == []       # the hierarchy really was out of sight
        assert res["procs"] == [res["child"]] and res["pids"] == 1 and res["mem"] >= 0
        assert res["limits"] == {"memory": 32 << 20, "cpus": None, "pids": 7}
        assert res["oom"] == 0 and res["rc"] == -signal.SIGKILL
        assert host_dirs(name) == []
    finally:
        scrub(name)


def test_groups_of_killed_sentries_are_removed_next_time(tmp_path):
    """A sentry killed with SIGKILL cannot remove its cgroup; the next
    sandbox that creates one removes it."""
    import subprocess
    import time

    from conftest import RUN
    p = subprocess.Popen([*RUN, "--memory", "64M", "--", "sleep", "30"])
    time.sleep(1.5)
    mine = [d for d in os.listdir("/sys/fs/cgroup/memory/pysandbox") if d.startswith(f"{p.pid}-")] \
        if os.path.isdir("/sys/fs/cgroup/memory/pysandbox") else \
        [d for d in os.listdir("/sys/fs/cgroup/pysandbox") if d.startswith(f"{p.pid}-")]
    assert mine, "the sandbox's cgroup should exist while it runs"
    p.kill()
    p.wait()
    time.sleep(0.5)
    subprocess.run([*RUN, "--memory", "64M", "--", "true"], check=True)
    roots = [r for r in ("/sys/fs/cgroup/memory/pysandbox", "/sys/fs/cgroup/pysandbox") if os.path.isdir(r)]
    left = [d for r in roots for d in os.listdir(r) if d.startswith(f"{p.pid}-")]
    assert not left, f"orphaned cgroup left behind: {left}"
