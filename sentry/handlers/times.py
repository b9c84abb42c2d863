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

from sentry import native
from sentry.abi.linux import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, UTIME_OMIT
from sentry.errors import SysError
from sentry.handlers.common import at, strings_read
from sentry.platform.base import Task
from sentry.vfs import hostproc
from sentry.vfs.resolve import int32, read_path

# -- utimensat, utimes, utime -----------------------------------------------

def utimensat(t: Task) -> int:
    dirfd, addr, times_addr, flags = int32(t.arg(0)), t.arg(1), t.arg(2), int32(t.arg(3))
    times = None
    if times_addr:
        times = native.timespecs(t.read(times_addr, 2 * native.TIMESPEC_SIZE))
        if times[0][1] == times[1][1] == UTIME_OMIT:
            return 0                     # nothing to do: not even the path is looked at
    return _utimes(t, dirfd, addr, times, flags)


def futimesat(t: Task) -> int:
    return _timeval_utimes(t, int32(t.arg(0)), t.arg(1), t.arg(2))


def utimes(t: Task) -> int:
    return _timeval_utimes(t, AT_FDCWD, t.arg(0), t.arg(1))


def _timeval_utimes(t, dirfd, addr, times_addr):
    times = None
    if times_addr:
        tv = native.timevals(t.read(times_addr, 2 * native.TIMEVAL_SIZE))
        if not all(0 <= usec < 1000000 for _, usec in tv):
            raise SysError(errno.EINVAL)
        times = [(sec, usec * 1000) for sec, usec in tv]
    return _utimes(t, dirfd, addr, times, 0)


def utime(t: Task) -> int:
    times, times_addr = None, t.arg(1)
    if times_addr:
        actime, modtime = native.utimbuf(t.read(times_addr, native.UTIMBUF_SIZE))
        times = [(actime, 0), (modtime, 0)]
    return _utimes(t, AT_FDCWD, t.arg(0), times, 0)


def _utimes(t, dirfd, addr, times, flags):
    """times: None (now) or [(sec, nsec), (sec, nsec)]."""
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
    at(t, dirfd, path, flags, lambda d, p: native.utimensat(d, p, times, flags))
    return 0


def _not_o_path(t, fd):
    """EBADF unless the tracee's fd is open, and not with O_PATH."""
    if fd < 0:
        raise SysError(errno.EBADF)
    try:
        info = hostproc.read(f"{t.pid}/fdinfo/{fd}").decode()
    except FileNotFoundError:
        raise SysError(errno.EBADF) from None          # (or the thread is gone: nobody reads it)
    for line in info.splitlines():
        if line.startswith("flags:") and int(line.split()[1], 8) & os.O_PATH:
            raise SysError(errno.EBADF)
