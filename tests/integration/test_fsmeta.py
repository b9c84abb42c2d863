"""The metadata syscalls the sentry emulates (sentry/handlers/ (dirs, attrs, times, xattr, inotify)):
the same C program (fsmeta.c: one line per case, success and error) runs
natively on a tmpfs and in the sandbox on its /tmp tmpfs, with the same
identity, and must print the same lines."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import run_sandbox
from sentry.sandbox import caps

SOURCE = (Path(__file__).parent / "fsmeta.c").read_text()

# Lines where the sandbox differs from the host on purpose: device nodes are
# never created in the sandbox, whatever its capabilities (natively, uid 0
# with CAP_MKNOD creates them).
SANDBOX_ONLY = {"mknod.chr": "mknod.chr -1 EPERM", "mknod.blk": "mknod.blk -1 EPERM"}

DEFAULT_CAPS = f"caps:{caps.mask(caps.resolve()):x}"
MODES = {
    # program argument -> pysandbox flags giving the sandbox that identity
    "root": ["--cap-add", "ALL"],
    DEFAULT_CAPS: [],
    "user": ["--user", "1000:1000"],
}


def _tmpfs(path: str) -> bool:
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path and line.split()[2] == "tmpfs" for line in f)


@pytest.fixture(scope="module")
def exe(cc, tmp_path_factory):
    """The program, in a directory uid 1000 may enter (bound at /mnt)."""
    d = tmp_path_factory.mktemp("fsmeta-bin")
    d.chmod(0o755)
    return Path(shutil.copy2(cc(SOURCE, "fsmeta"), d))


@pytest.fixture(scope="module")
def outputs(exe):
    """mode -> (native lines, sandbox lines), each run once."""
    if not _tmpfs("/dev/shm"):
        pytest.skip("the native reference run needs /dev/shm on tmpfs, like the sandbox's /tmp")
    cache = {}

    def get(mode):
        if mode not in cache:
            base = tempfile.mkdtemp(dir="/dev/shm", prefix="fsmeta-")
            try:
                os.chmod(base, 0o1777)
                native = subprocess.run([str(exe), base, mode], capture_output=True, text=True, timeout=60)
            finally:
                shutil.rmtree(base)
            assert native.returncode == 0, native.stderr
            boxed = run_sandbox("run", *MODES[mode], "--bind", f"{exe.parent}:/mnt:ro", "--",
                                f"/mnt/{exe.name}", "/tmp", mode)
            assert boxed.returncode == 0, boxed.stdout + boxed.stderr
            cache[mode] = native.stdout.splitlines(), boxed.stdout.splitlines()
        return cache[mode]
    return get


@pytest.mark.parametrize("mode", list(MODES), ids=["root-all-caps", "root-default-caps", "user-1000"])
def test_same_as_native(outputs, mode):
    """Every case gives the same result, errno and file state in the sandbox
    as natively (except SANDBOX_ONLY)."""
    native, boxed = outputs(mode)
    assert len(native) > 300
    for name, line in SANDBOX_ONLY.items():
        assert [x for x in boxed if x.split()[0] == name] == [line]
    keep = lambda lines: [x for x in lines if x.split()[0] not in SANDBOX_ONLY]  # noqa: E731
    assert keep(boxed) == keep(native)


def test_user_umask_and_owner(outputs):
    """With --user 1000:1000 created files belong to 1000:1000 and the
    tracee's umask (027) applies, not the sentry's (0)."""
    _, boxed = outputs("user")
    lines = set(boxed)
    assert "id uid=1000 gid=1000" in lines
    for expected in ("mkdir.ok mode=40750 uid=1000 gid=1000",
                     "mkdirat.ok mode=40700 uid=1000 gid=1000",
                     "mknod.fifo mode=10640 uid=1000 gid=1000",
                     "mknod.reg mode=100640 uid=1000 gid=1000",
                     "mknod.sock mode=140750 uid=1000 gid=1000",
                     "linkat.tmpfile mode=100640 uid=1000 gid=1000"):
        assert any(x.startswith(expected + " ") for x in lines), expected
    # No privilege leaks through the sentry: a uid-1000 tracee cannot give files away.
    assert "chown.other -1 EPERM" in lines
    assert "truncate.readonly -1 EACCES" in lines


def test_on_overlay_rootfs(busybox_rootfs):
    """The calls work on the copy-on-write rootfs (overlayfs) and never reach
    the rootfs directory itself."""
    script = ("cd /data && mkdir -p a/b && touch a/f && ln a/f a/h && ln -s f a/s && mv a/h a/g "
              "&& chmod 0600 a/g && truncate -s 3 a/g && mkfifo a/p && rm a/s && rmdir a/b "
              "&& mv hello.txt hi.txt && ls -l a | sed 1d | cut -c1-10 && wc -c < a/g && ls")
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["-rw-------", "-rw-------", "prw-r--r--", "3", "a", "hi.txt"]
    assert sorted(os.listdir(busybox_rootfs / "data")) == ["hello.txt"]
