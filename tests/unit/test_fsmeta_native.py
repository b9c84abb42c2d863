"""The C helpers behind the path handlers (sentry/handlers/), in-process
through sentry.native: calls made from a directory fd, including the xattr
fallback used before Linux 6.13 (a thread with its own cwd)."""
import errno
import os

import pytest

from sentry import native
from sentry.abi.linux import AT_FDCWD, AT_SYMLINK_NOFOLLOW


@pytest.fixture(params=["xattrat", "thread"])
def xattr_mode(request):
    native.use_xattrat(request.param == "xattrat")
    yield request.param
    native.use_xattrat(True)


@pytest.fixture
def dirfd(tmp_path):
    (tmp_path / "f").write_text("0123456789")
    os.symlink("f", tmp_path / "s")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_xattrs_from_a_dirfd(dirfd, xattr_mode, tmp_path):
    cwd = os.getcwd()
    assert native.setxattr_at(dirfd, b"f", 0, b"user.k", b"value", 0) == 0
    assert native.setxattr_at(dirfd, b"f", 0, b"user.k", b"v", 1) == -errno.EEXIST   # XATTR_CREATE
    assert native.getxattr_at(dirfd, b"f", 0, b"user.k", None) == 5
    assert native.getxattr_at(dirfd, b"f", 0, b"user.k", bytearray(2)) == -errno.ERANGE
    buf = bytearray(64)
    assert native.getxattr_at(dirfd, b"s", 0, b"user.k", buf) == 5          # follows
    assert buf[:5] == b"value"
    assert native.getxattr_at(dirfd, b"s", AT_SYMLINK_NOFOLLOW, b"user.k", buf) == -errno.ENODATA
    n = native.listxattr_at(dirfd, b"f", 0, buf)
    assert buf[:n] == b"user.k\0"
    assert native.removexattr_at(dirfd, b"f", 0, b"user.k") == 0
    assert native.removexattr_at(dirfd, b"f", 0, b"user.k") == -errno.ENODATA
    assert native.getxattr_at(dirfd, b"nope", 0, b"user.k", buf) == -errno.ENOENT
    path = str(tmp_path / "f").encode()
    assert native.setxattr_at(AT_FDCWD, path, 0, b"user.abs", b"x", 0) == 0
    assert os.getxattr(path, "user.abs") == b"x"
    assert os.getcwd() == cwd            # the caller's cwd never moves


def test_truncate_and_statfs_from_a_dirfd(dirfd, tmp_path):
    assert native.truncate_at(dirfd, b"s", 3) == 0
    assert (tmp_path / "f").read_text() == "012"
    assert native.truncate_at(dirfd, b"nope", 3) == -errno.ENOENT
    assert native.truncate_at(dirfd, b".", 3) == -errno.EISDIR
    sf = native.Statfs()
    assert native.statfs_at(dirfd, b"s", sf) == 0
    assert sf.type == native.fstatfs_type(dirfd)
    assert native.statfs_at(dirfd, b"nope", sf) == -errno.ENOENT
    f = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        assert native.truncate_at(f, b"x", 0) == -errno.ENOTDIR    # fchdir to a file
    finally:
        os.close(f)


def test_stat_structs_by_field(tmp_path):
    """Stat and Statx expose the kernel's own struct by field name."""
    (tmp_path / "g").write_bytes(b"x" * 1234)
    st, sx = native.Stat(), native.Statx()
    assert native.fstatat(AT_FDCWD, str(tmp_path / "g").encode(), st, 0) == 0
    assert native.statx(AT_FDCWD, str(tmp_path / "g").encode(), 0, 0xFFF, sx) == 0
    ref = os.stat(tmp_path / "g")
    assert (st.uid, st.gid, st.size) == (ref.st_uid, ref.st_gid, 1234)
    assert (sx.uid, sx.gid) == (ref.st_uid, ref.st_gid)
    assert len(st.bytes()) == 144 and len(sx.bytes()) == 256     # x86_64 struct stat, struct statx


def test_timespecs_and_openat2(tmp_path):
    raw = (5).to_bytes(8, "little", signed=True) + (6).to_bytes(8, "little") + \
        (7).to_bytes(8, "little", signed=True) + (8).to_bytes(8, "little")
    assert native.timespecs(raw) == [(5, 6), (7, 8)]
    root = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        os.symlink("/etc", tmp_path / "out")
        with pytest.raises(FileNotFoundError):      # /etc resolved inside tmp_path: absent
            native.openat2(root, "out/passwd", os.O_PATH, 0x10)   # RESOLVE_IN_ROOT
    finally:
        os.close(root)
