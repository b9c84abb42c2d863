"""The C helpers of sentry/handlers/fsmeta.py, in-process: calls made from
a directory fd, including the xattr fallback used before Linux 6.13 (a
thread with its own cwd)."""
import errno
import os

import pytest

from sentry.abi.linux import AT_FDCWD, AT_SYMLINK_NOFOLLOW
from sentry.native import ffi, lib



@pytest.fixture(params=["xattrat", "thread"])
def xattr_mode(request):
    lib.sb_xattrat(request.param == "xattrat")
    yield request.param
    lib.sb_xattrat(1)


@pytest.fixture
def dirfd(tmp_path):
    (tmp_path / "f").write_text("0123456789")
    os.symlink("f", tmp_path / "s")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_xattrs_from_a_dirfd(dirfd, xattr_mode, tmp_path):
    cwd = os.getcwd()
    assert lib.sb_setxattr_at(dirfd, b"f", 0, b"user.k", b"value", 5, 0) == 0
    assert lib.sb_setxattr_at(dirfd, b"f", 0, b"user.k", b"v", 1, 1) == -errno.EEXIST   # XATTR_CREATE
    buf = ffi.new("char[]", 64)
    assert lib.sb_getxattr_at(dirfd, b"f", 0, b"user.k", ffi.NULL, 0) == 5
    assert lib.sb_getxattr_at(dirfd, b"f", 0, b"user.k", buf, 2) == -errno.ERANGE
    assert lib.sb_getxattr_at(dirfd, b"s", 0, b"user.k", buf, 64) == 5          # follows
    assert ffi.buffer(buf, 5)[:] == b"value"
    assert lib.sb_getxattr_at(dirfd, b"s", AT_SYMLINK_NOFOLLOW, b"user.k", buf, 64) == -errno.ENODATA
    n = lib.sb_listxattr_at(dirfd, b"f", 0, buf, 64)
    assert ffi.buffer(buf, n)[:] == b"user.k\0"
    assert lib.sb_removexattr_at(dirfd, b"f", 0, b"user.k") == 0
    assert lib.sb_removexattr_at(dirfd, b"f", 0, b"user.k") == -errno.ENODATA
    assert lib.sb_getxattr_at(dirfd, b"nope", 0, b"user.k", buf, 64) == -errno.ENOENT
    path = str(tmp_path / "f").encode()
    assert lib.sb_setxattr_at(AT_FDCWD, path, 0, b"user.abs", b"x", 1, 0) == 0
    assert os.getxattr(path, "user.abs") == b"x"
    assert os.getcwd() == cwd            # the caller's cwd never moves


def test_truncate_and_statfs_from_a_dirfd(dirfd, tmp_path):
    assert lib.sb_truncate_at(dirfd, b"s", 3) == 0
    assert (tmp_path / "f").read_text() == "012"
    assert lib.sb_truncate_at(dirfd, b"nope", 3) == -errno.ENOENT
    assert lib.sb_truncate_at(dirfd, b".", 3) == -errno.EISDIR
    buf = ffi.new("char[]", 120)
    assert lib.sb_statfs_at(dirfd, b"s", buf) == 0
    assert int.from_bytes(ffi.buffer(buf, 8)[:], "little") == lib.sb_fstatfs_type(dirfd)
    assert lib.sb_statfs_at(dirfd, b"nope", buf) == -errno.ENOENT
    f = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        assert lib.sb_truncate_at(f, b"x", 0) == -errno.ENOTDIR    # fchdir to a file
    finally:
        os.close(f)
