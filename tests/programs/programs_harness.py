"""Run one program natively and in the sandbox with identical inputs, and
compare what each produced: exit code, stdout, and the files left in its
working directory.

Both runs see the same absolute working directory, so output that names a
path (git, gcc's objects, nginx's config) can be compared byte for byte:
the native run uses DIR/work, which is then renamed to DIR/native; a fresh
DIR/work with the same inputs is bound read-write over itself into the
sandbox (the default view shows the host root read-only, and DIR lives
under /var/tmp because the sandbox's /tmp is private).  The environment is
the same small fixed set in both runs.

The native run gets its own session, killed at the end, so a server the
script started (in the foreground of a `&`, never daemonised) cannot
outlive the test on the host; in the sandbox everything dies with its init.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import run_sandbox

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "HOME": "/nonexistent",
}


@dataclass
class Outcome:
    where: str
    returncode: int
    stdout: str
    stderr: str
    files: dict[str, str]
    seconds: float


@dataclass
class Program:
    """What to run: `script` (a file in scripts/) with `sh`, after copying
    `inputs` (name -> bytes/str, or a Path to copy) into the working dir."""
    script: str
    inputs: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    timeout: float = 60
    # Paths (relative, prefix match) left out of the file comparison:
    # things whose bytes legitimately differ from run to run (timestamps).
    ignore: tuple = ()


def free_port() -> int:
    """A TCP port free on the host's loopback now (the native run needs
    one; the sandbox has its own network namespace, where any is free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manifest(root: Path, ignore=()) -> dict[str, str]:
    """relative path -> 'dir MODE' | 'file MODE SIZE SHA256' | 'link TARGET'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if any(rel == i or rel.startswith(i.rstrip("/") + "/") for i in ignore):
                continue
            st = p.lstat()
            mode = f"{stat.S_IMODE(st.st_mode):04o}"
            if stat.S_ISLNK(st.st_mode):
                out[rel] = f"link {os.readlink(p)}"
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = f"dir {mode}"
            elif stat.S_ISREG(st.st_mode):
                out[rel] = f"file {mode} {st.st_size} {hashlib.sha256(p.read_bytes()).hexdigest()[:16]}"
            else:
                out[rel] = f"other {stat.S_IFMT(st.st_mode):o} {mode}"
    return out


def _populate(work: Path, prog: Program) -> None:
    work.mkdir(mode=0o755)
    os.chmod(work, 0o755)     # workers running as nobody must reach it
    shutil.copy2(SCRIPTS / prog.script, work / prog.script)
    for name, data in prog.inputs.items():
        dst = work / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            shutil.copy2(data, dst)
        elif isinstance(data, bytes):
            dst.write_bytes(data)
        else:
            dst.write_text(data)


def _run_native(work: Path, prog: Program, env: dict) -> Outcome:
    t0 = time.monotonic()
    p = subprocess.Popen(["sh", prog.script], cwd=work, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=prog.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += f"\n[harness] native run timed out after {prog.timeout}s"
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)   # anything the script left behind
        except ProcessLookupError:
            pass
    return Outcome("native", p.returncode, out, err, {}, time.monotonic() - t0)


def _run_sandboxed(work: Path, prog: Program, env: dict) -> Outcome:
    flags = ["--bind", f"{work}:{work}", "--cwd", str(work)]
    for k, v in env.items():
        flags += ["-e", f"{k}={v}"]
    t0 = time.monotonic()
    try:
        r = run_sandbox("run", *flags, "--", "sh", prog.script, timeout=prog.timeout)
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        rc = -1
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or ""))
        err += f"\n[harness] sandboxed run timed out after {prog.timeout}s"
    return Outcome("sandbox", rc, out, err, {}, time.monotonic() - t0)


def run_both(prog: Program) -> tuple[Outcome, Outcome]:
    """Run natively, then in the sandbox; return (native, sandbox)."""
    env = {**BASE_ENV, **prog.env}
    base = Path(tempfile.mkdtemp(prefix="pysandbox-programs-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    work = base / "work"
    try:
        _populate(work, prog)
        native = _run_native(work, prog, env)
        native.files = manifest(work, prog.ignore)
        work.rename(base / "native")
        _populate(work, prog)
        sandbox = _run_sandboxed(work, prog, env)
        sandbox.files = manifest(work, prog.ignore)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return native, sandbox


def _tail(text: str, n: int = 3000) -> str:
    return text if len(text) <= n else "...\n" + text[-n:]


def _diff(a: list[str], b: list[str], what: str) -> str:
    return "\n".join(difflib.unified_diff(a, b, f"native {what}", f"sandbox {what}", lineterm="", n=2))


def report(native: Outcome, sandbox: Outcome) -> str:
    """A readable account of where the two runs differ."""
    parts = []
    if native.returncode != sandbox.returncode:
        parts.append(f"exit code: native {native.returncode}, sandbox {sandbox.returncode}")
    if native.stdout != sandbox.stdout:
        parts.append(_tail(_diff(native.stdout.splitlines(), sandbox.stdout.splitlines(), "stdout"), 6000))
    if native.files != sandbox.files:
        a = [f"{k}: {v}" for k, v in sorted(native.files.items())]
        b = [f"{k}: {v}" for k, v in sorted(sandbox.files.items())]
        parts.append(_tail(_diff(a, b, "files"), 4000))
    parts.append(f"--- sandbox stderr ({sandbox.seconds:.1f}s):\n{_tail(sandbox.stderr)}")
    parts.append(f"--- native stderr ({native.seconds:.1f}s):\n{_tail(native.stderr, 1500)}")
    return "\n".join(parts)


def assert_same(native: Outcome, sandbox: Outcome, expect_in_stdout=(), min_files: int = 0) -> None:
    """The native run did the real work (exit 0, the expected lines, enough
    files), so two runs that both fail cannot pass; then the sandboxed run
    must have produced exactly the same."""
    problems = []
    if native.returncode != 0:
        problems.append(f"native run exited {native.returncode}")
    problems += [f"native stdout lacks {e!r}" for e in expect_in_stdout if e not in native.stdout]
    if len(native.files) < min_files:
        problems.append(f"native run left {len(native.files)} files, expected at least {min_files}")
    assert not problems, ("the native run itself is wrong (a broken test or host): " + "; ".join(problems)
                          + f"\n--- native stdout:\n{_tail(native.stdout)}\n--- native stderr:\n{_tail(native.stderr)}")
    same = (native.returncode, native.stdout, native.files) == (sandbox.returncode, sandbox.stdout, sandbox.files)
    assert same, "sandboxed run differs from the native run:\n" + report(native, sandbox)
