"""Setting a file's times by path: utimensat, utimes, futimesat, utime.

Kernel facts relied upon:
- utimensat(dirfd, NULL, ...) is futimens: the fd itself (not an O_PATH fd:
  EBADF), flags must be 0; when both times are UTIME_OMIT nothing, not even
  the path, is looked at.
- utimes rejects tv_usec outside [0, 1e6) (EINVAL); the timevals become
  timespecs for utimensat.  utime's struct utimbuf has whole seconds only.
"""
from __future__ import annotations

import errno
import os

from sentry.abi.linux import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, UTIME_OMIT
from sentry.errors import SysError
from sentry.handlers.common import at, strings_read
from sentry.native import ffi, lib
from sentry.platform.base import Task
from sentry.vfs import hostproc
from sentry.vfs.resolve import int32, read_path
TIMESPEC2_SIZE = 32


# -- utimensat, utimes, utime -----------------------------------------------

def utimensat(t: Task) -> int:
    dirfd, addr, times_addr, flags = int32(t.arg(0)), t.arg(1), t.arg(2), int32(t.arg(3))
    times = None
    if times_addr:
        times = t.read(times_addr, TIMESPEC2_SIZE)
        nsec = int.from_bytes(times[8:16], "little"), int.from_bytes(times[24:32], "little")
        if nsec == (UTIME_OMIT, UTIME_OMIT):
            return 0                     # nothing to do: not even the path is looked at
    return _utimes(t, dirfd, addr, times, flags)


def futimesat(t: Task) -> int:
    return _timeval_utimes(t, int32(t.arg(0)), t.arg(1), t.arg(2))


def utimes(t: Task) -> int:
    return _timeval_utimes(t, AT_FDCWD, t.arg(0), t.arg(1))


def _timeval_utimes(t, dirfd, addr, times_addr):
    times = None
    if times_addr:
        raw = t.read(times_addr, 32)          # struct timeval[2]
        words = [int.from_bytes(raw[i:i + 8], "little", signed=True) for i in range(0, 32, 8)]
        if not (0 <= words[1] < 1000000 and 0 <= words[3] < 1000000):
            raise SysError(errno.EINVAL)
        times = b"".join(v.to_bytes(8, "little", signed=True)
                         for v in (words[0], words[1] * 1000, words[2], words[3] * 1000))
    return _utimes(t, dirfd, addr, times, 0)


def utime(t: Task) -> int:
    times, times_addr = None, t.arg(1)
    if times_addr:
        raw = t.read(times_addr, 16)          # struct utimbuf: actime, modtime
        times = raw[0:8] + bytes(8) + raw[8:16] + bytes(8)
    return _utimes(t, AT_FDCWD, t.arg(0), times, 0)


def _utimes(t, dirfd, addr, times, flags):
    """times: None (now) or two struct timespec as the kernel takes them."""
    if addr == 0 and dirfd != AT_FDCWD:
        # futimens: the fd itself, which must not be an O_PATH fd.
        if flags:
            raise SysError(errno.EINVAL)
        _not_o_path(t, dirfd)
        path, flags = b"", AT_EMPTY_PATH
    else:
        if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
            raise SysError(errno.EINVAL)
        path = read_path(t, addr)
    strings_read(t)
    buf = ffi.NULL if times is None else ffi.new("char[]", times)
    at(t, dirfd, path, flags, lambda d, p: lib.sb_utimensat(d, p, buf, flags))
    return 0


def _not_o_path(t, fd):
    """EBADF unless the tracee's fd is open, and not with O_PATH."""
    if fd < 0:
        raise SysError(errno.EBADF)
    try:
        info = hostproc.read(f"{t.pid}/fdinfo/{fd}").decode()
    except FileNotFoundError:
        raise SysError(errno.EBADF) from None
    for line in info.splitlines():
        if line.startswith("flags:") and int(line.split()[1], 8) & os.O_PATH:
            raise SysError(errno.EBADF)
