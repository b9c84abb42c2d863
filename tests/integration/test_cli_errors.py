"""Bad input to `pysandbox run`: exit 125, a message naming the problem, no
traceback, and nothing left behind (processes, host mounts)."""
import subprocess
import uuid

import pytest

from conftest import run_sandbox

MARKER = f"clierr-{uuid.uuid4().hex[:12]}"   # in every command line, for pgrep


@pytest.fixture(scope="module")
def no_proc_rootfs(tmp_path_factory):
    """A rootfs with /tmp and /dev but no /proc."""
    root = tmp_path_factory.mktemp("noproc")
    (root / "tmp").mkdir()
    (root / "dev").mkdir()
    return root


# (id, run arguments, words the message must contain); "{noproc}" is replaced.
CASES = [
    ("unknown-flag", ["--no-such-flag", "--", "true"], ["--no-such-flag"]),
    ("net-bogus", ["--net", "bogus", "--", "true"], ["--net", "bogus"]),
    ("rootfs-missing", ["--rootfs", "/nonexistent", "--", "true"], ["--rootfs", "/nonexistent"]),
    ("rootfs-no-proc", ["--rootfs", "{noproc}", "--", "true"], ["/proc"]),
    ("bind-missing-src", ["--bind", "/nonexistent-src:/mnt", "--", "true"], ["/nonexistent-src"]),
    ("bind-bad-spec", ["--bind", "bad-spec", "--", "true"], ["--bind", "bad-spec"]),
    ("bind-missing-dst", ["--bind", "/etc:/nonexistent-dst", "--", "true"], ["/nonexistent-dst"]),
    ("tmpfs-relative", ["--tmpfs", "rel/dir", "--", "true"], ["--tmpfs", "rel/dir"]),
    ("cap-add-bogus", ["--cap-add", "NOT_A_CAP", "--", "true"], ["NOT_A_CAP"]),
    ("user-abc", ["--user", "abc", "--", "true"], ["--user", "abc"]),
    ("no-command", [], ["command"]),
    ("no-command-dashdash", ["--"], ["command"]),
    ("platform-bogus", ["--platform", "bogus", "--", "true"], ["bogus"]),
    ("cwd-missing", ["--cwd", "/nonexistent-cwd", "--", "true"], ["/nonexistent-cwd"]),
]


def run_case(args, noproc):
    args = [a.replace("{noproc}", str(noproc)) for a in args]
    return run_sandbox("run", "--hostname", MARKER, *args, timeout=30)


@pytest.mark.parametrize("args,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(args, words, no_proc_rootfs):
    """Exit 125, the problem named on stderr, no traceback, no stdout."""
    r = run_case(args, no_proc_rootfs)
    assert r.returncode == 125, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stdout == ""
    assert "error" in r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def mount_table():
    with open("/proc/self/mountinfo") as f:
        return sorted(f.read().splitlines())


def test_nothing_left_behind(no_proc_rootfs):
    """After every bad invocation no pysandbox process remains and the host
    mount table is unchanged."""
    before = mount_table()
    for _, args, _ in CASES:
        assert run_case(args, no_proc_rootfs).returncode == 125
    left = subprocess.run(["pgrep", "-a", "-f", MARKER], capture_output=True, text=True)
    assert left.stdout == "", f"processes left behind:\n{left.stdout}"
    assert mount_table() == before
