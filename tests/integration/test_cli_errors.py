"""Bad input to `pysandbox run`, `syscalls` and `conformance`: exit 125, one
line on stderr naming the problem, no traceback, and nothing left behind
(tests/bad_input.py: processes via a marker in the command line, files
under the test's directory and TMPDIR, mounts naming it, the cgroup a run
names after its pid; and the whole host mount table, below)."""
import os
import uuid

import pytest

from bad_input import Leftovers, assert_fails_well, run
from conftest import BIN, PLATFORM, PYSANDBOX, only_seccomp

MARKER = f"clierr-{uuid.uuid4().hex[:12]}"   # in every command line, for pgrep
OCI = str(BIN / "pysandbox-oci")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """{b}: a directory named after the marker, with a rootfs that has /tmp
    and /dev but no /proc, and files of every wrong kind."""
    b = tmp_path_factory.mktemp(MARKER)
    for d in ("noproc/tmp", "noproc/dev", "dir"):
        (b / d).mkdir(parents=True)
    os.mkfifo(b / "fifo")
    (b / "file").write_text("a file\n")
    (b / "dangling").symlink_to(b / "nonexistent")
    return b


@pytest.fixture(scope="module")
def leftovers(base):
    return Leftovers(base, MARKER)


# (id, run arguments, words the message must contain); "{b}" is the base directory.
CASES = [
    ("unknown-flag", ["--no-such-flag", "--", "true"], ["--no-such-flag"]),
    ("net-bogus", ["--net", "bogus", "--", "true"], ["--net", "bogus"]),
    ("strace-bogus", ["--strace=bogus", "--", "true"], ["--strace", "bogus"]),
    ("rootfs-missing", ["--rootfs", "/nonexistent", "--", "true"], ["--rootfs", "/nonexistent"]),
    ("rootfs-file", ["--rootfs", "{b}/file", "--", "true"], ["--rootfs", "not a directory"]),
    ("rootfs-fifo", ["--rootfs", "{b}/fifo", "--", "true"], ["--rootfs", "not a directory"]),
    ("rootfs-dangling", ["--rootfs", "{b}/dangling", "--", "true"], ["--rootfs", "not a directory"]),
    ("rootfs-no-proc", ["--rootfs", "{b}/noproc", "--", "true"], ["/proc"]),
    ("persist-file", ["--rootfs", "{b}/noproc", "--persist", "{b}/file", "--", "true"], ["--persist"]),
    ("persist-no-rootfs", ["--persist", "{b}/dir", "--", "true"], ["--persist", "--rootfs"]),
    ("read-only-no-rootfs", ["--read-only", "--", "true"], ["--read-only"]),
    ("bind-missing-src", ["--bind", "/nonexistent-src:/mnt", "--", "true"], ["/nonexistent-src"]),
    ("bind-bad-spec", ["--bind", "bad-spec", "--", "true"], ["--bind", "bad-spec"]),
    ("bind-missing-dst", ["--bind", "/etc:/nonexistent-dst", "--", "true"], ["/nonexistent-dst"]),
    ("bind-fifo", ["--bind", "{b}/fifo:/mnt", "--", "true"], ["--bind"]),
    ("tmpfs-relative", ["--tmpfs", "rel/dir", "--", "true"], ["--tmpfs", "rel/dir"]),
    ("tmpfs-size", ["--tmpfs", "/x:size=garbage", "--", "true"], ["--tmpfs", "garbage"]),
    ("mask-relative", ["--mask", "rel", "--", "true"], ["--mask", "rel"]),
    ("cap-add-bogus", ["--cap-add", "NOT_A_CAP", "--", "true"], ["--cap-add", "NOT_A_CAP"]),
    ("cap-drop-empty", ["--cap-drop", "", "--", "true"], ["--cap-drop"]),
    ("user-abc", ["--user", "abc", "--", "true"], ["--user", "abc"]),
    ("user-negative", ["--user", "-1", "--", "true"], ["--user", "-1"]),
    ("user-huge", ["--user", "4294967295", "--", "true"], ["--user", "4294967295"]),
    ("gid-negative", ["--user", "1:-1", "--", "true"], ["--user", "1:-1"]),
    ("hostname-long", ["--hostname", "h" * 65, "--", "true"], ["--hostname"]),
    ("release-long", ["--kernel-release", "r" * 65, "--", "true"], ["--kernel-release"]),
    ("release-empty", ["--kernel-release", "", "--", "true"], ["--kernel-release"]),
    ("env-empty-key", ["-e", "=x", "--", "true"], ["-e", "=x"]),
    ("cwd-relative", ["--cwd", "rel", "--", "true"], ["--cwd", "rel"]),
    ("cwd-missing", ["--cwd", "/nonexistent-cwd", "--", "true"], ["/nonexistent-cwd"]),
    ("memory-garbage", ["--memory", "garbage", "--", "true"], ["--memory", "garbage"]),
    ("memory-negative", ["--memory", "-5", "--", "true"], ["--memory", "-5"]),
    ("memory-empty", ["--memory", "", "--", "true"], ["--memory"]),
    ("cpus-nan", ["--cpus", "nan", "--", "true"], ["--cpus", "nan"]),
    ("cpus-huge", ["--cpus", "99999999999", "--", "true"], ["--cpus", "CFS quota"]),
    ("pids-zero", ["--pids", "0", "--", "true"], ["--pids", "'0'"]),
    ("pids-huge", ["--pids", "5000000", "--", "true"], ["--pids", "PID_MAX_LIMIT"]),
    ("no-command", [], ["command"]),
    ("no-command-dashdash", ["--"], ["command"]),
    ("platform-bogus", ["--platform", "bogus", "--", "true"], ["--platform", "bogus"]),
    ("image-and-rootfs", ["--image", "x", "--rootfs", "{b}/noproc", "--", "true"], ["--image", "--rootfs"]),
]


def run_case(args, base, leftovers):
    args = [a.replace("{b}", str(base)) for a in args]
    if "--platform" not in args:
        args = ["--platform", PLATFORM, *args]
    return run([PYSANDBOX, "run", "--hostname", MARKER[:60], *args], leftovers)


@pytest.mark.parametrize("args,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(args, words, base, leftovers):
    r = run_case(args, base, leftovers)
    assert_fails_well(r, 125, "pysandbox", words)


def mount_table():
    """The host's mounts, less those under pytest temporary directories:
    other test sessions on this machine mount and unmount there while we
    run (ours, under the base directory, the Leftovers check covers)."""
    with open("/proc/self/mountinfo") as f:
        return sorted(line for line in f.read().splitlines() if "/pytest-of-" not in line)


# The cases refused only once the sandbox's start-up has begun (namespaces
# made, mounts under way): the others are refused before anything is made.
LATE = {"rootfs-no-proc", "bind-missing-dst", "bind-fifo", "cwd-missing"}


def test_nothing_left_behind(base, leftovers):
    """After them the host mount table is as it was, not only the lines
    naming the test's directory."""
    before = mount_table()
    for name, args, _ in CASES:
        if name in LATE:
            assert run_case(args, base, leftovers).returncode == 125
    assert mount_table() == before


# `pysandbox` itself, and the commands that start no sandbox.
OTHER = [
    ("no-command", [], ["command"]),
    ("unknown-command", ["bogus"], ["bogus"]),
    ("flag-without-command", ["--bogus"], ["--bogus"]),
    ("syscalls-format", ["syscalls", "--format", "bogus"], ["--format", "bogus"]),
    ("syscalls-format-missing", ["syscalls", "--format"], ["--format"]),
    ("syscalls-extra", ["syscalls", "extra"], ["extra"]),
    ("conformance-platform", ["conformance", "--platform", "bogus"], ["--platform", "bogus"]),
    ("conformance-flag", ["conformance", "--bogus"], ["--bogus"]),
    ("conformance-filter-missing", ["conformance", "--filter"], ["--filter"]),
]


@only_seccomp
@pytest.mark.parametrize("args,words", [c[1:] for c in OTHER], ids=[c[0] for c in OTHER])
def test_other_commands_bad_input(args, words, leftovers):
    r = run([PYSANDBOX, *args], leftovers)
    assert_fails_well(r, 125, "pysandbox", words)


# Paths this user cannot read: as uid 65534 everything under the test's
# directory is (pytest's base directory is 0700 root), and the commands
# that need root say so.
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
UNPRIVILEGED = [
    ("images-root", [PYSANDBOX, "images", "--root", "{b}/dir", "ls"], 125, "pysandbox",
     ["--root", "Permission denied"]),
    ("images-regcfg", [PYSANDBOX, "images", "--root", "/nonexistent/s", "pull", "--registry-config", "{b}/file",
                       "x"], 125, "pysandbox", ["registry config", "Permission denied"]),
    ("oci-root", [OCI, "--root", "{b}/dir", "state", "x"], 1, "pysandbox-oci", ["--root", "Permission denied"]),
    ("oci-log", [OCI, "--log", "{b}/file", "list"], 1, "pysandbox-oci", ["--log", "Permission denied"]),
    ("run", [PYSANDBOX, "run", "--", "true"], 125, "pysandbox", ["needs root"]),
    ("cri", [PYSANDBOX, "cri", "--config", "{b}/file"], 125, "pysandbox", ["needs root"]),
]


@only_seccomp
@pytest.mark.parametrize("argv,status,prog,words", [c[1:] for c in UNPRIVILEGED], ids=[c[0] for c in UNPRIVILEGED])
def test_unreadable_paths(argv, status, prog, words, base, leftovers):
    r = run(NOBODY + [a.replace("{b}", str(base)) for a in argv], leftovers)
    assert_fails_well(r, status, prog, words)
