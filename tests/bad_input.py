"""Checking that bad input to a command line fails well (the developer
guide's rule): exactly one line on stderr naming the problem, no traceback,
the entry point's exit status, nothing on stdout, and nothing left behind.

"Left behind" is checked against a snapshot taken just before the command:
- every file and directory under the test's base directory (all of a test's
  inputs, stores and state directories live there, and TMPDIR points into
  it, so a stray temporary file shows up too);
- host mounts whose line in mountinfo names the base directory (bind
  mounts of a rootfs or a bundle, nsfs mounts of a namespace kept by path);
- processes whose command line carries the test's marker (the base
  directory's name is the marker, and every command gets a path under it);
- cgroups: those a `pysandbox run` names after its pid (pysandbox/PID-*),
  and everything under the cgroup parents the test names.

Output goes through files, not pipes: a process that should not be there
and kept our stdout would otherwise hang the test instead of failing it.
"""
from __future__ import annotations

import glob
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOTS = ["/sys/fs/cgroup"] + sorted(glob.glob("/sys/fs/cgroup/*/"))


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    pid: int


@dataclass(frozen=True)
class Snapshot:
    files: frozenset
    mounts: frozenset
    procs: frozenset
    cgroups: frozenset


class Leftovers:
    def __init__(self, base: Path, marker: str, cgroup_parents=(), ignore=()):
        self.base, self.marker = base, marker
        self.cgroup_parents = list(cgroup_parents)
        self.ignore = {str(base / i) for i in ignore}
        self.tmp = base / "tmp"
        self.tmp.mkdir(exist_ok=True)

    def env(self) -> dict:
        return {**os.environ, "TMPDIR": str(self.tmp)}

    def snapshot(self) -> Snapshot:
        files = set()
        for top, dirs, names in os.walk(self.base):
            dirs[:] = [d for d in dirs if os.path.join(top, d) not in self.ignore]
            files.update(os.path.join(top, n) for n in dirs + names if os.path.join(top, n) not in self.ignore)
        with open("/proc/self/mountinfo") as f:
            mounts = {line for line in f if str(self.base) in line}
        pgrep = subprocess.run(["pgrep", "-f", self.marker], capture_output=True, text=True)
        procs = {int(p) for p in pgrep.stdout.split()}
        cgroups = set()
        for parent in self.cgroup_parents:
            for root in CGROUP_ROOTS:
                cgroups.update(d for d in glob.glob(os.path.join(root, parent.strip("/"), "**/"), recursive=True))
        return Snapshot(frozenset(files), frozenset(mounts), frozenset(procs), frozenset(cgroups))

    def check(self, before: Snapshot, pid: int) -> None:
        after = self.snapshot()
        for what in ("files", "mounts", "procs", "cgroups"):
            new = sorted(map(str, getattr(after, what) - getattr(before, what)))
            assert not new, f"{what} left behind: {new}"
        gone = sorted(map(str, before.files - after.files))
        assert not gone, f"files removed: {gone}"
        mine = [d for root in CGROUP_ROOTS for d in glob.glob(os.path.join(root, "pysandbox", f"{pid}-*"))]
        assert not mine, f"cgroups left behind: {mine}"


def run(argv, leftovers: Leftovers, input: str | None = None, timeout: float = 30) -> Result:
    """Run argv (with TMPDIR in the base directory), and check that it left
    nothing behind."""
    before = leftovers.snapshot()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
        proc = subprocess.Popen([str(a) for a in argv], stdin=stdin, stdout=out, stderr=err, text=True,
                                env=leftovers.env())
        try:
            proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{argv} did not finish in {timeout} s") from None
        out.seek(0)
        err.seek(0)
        r = Result(proc.returncode, out.read(), err.read(), proc.pid)
    leftovers.check(before, r.pid)
    return r


def assert_fails_well(r: Result, status: int, prog: str, words=()) -> None:
    """One line on stderr, from `prog`, naming every word; the exit status;
    no traceback, no stdout."""
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = r.stderr.splitlines()
    assert r.returncode == status, (r.returncode, r.stderr)
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{r.stderr}"
    assert lines[0].startswith(prog + ":"), lines[0]
    assert r.stdout == "", r.stdout
    for w in words:
        assert w in lines[0], (w, lines[0])
