"""inotify_add_watch(2): the one inotify call that takes a path.

Kernel facts relied upon:
- It needs the tracee's inotify fd itself, which no path can reach (an anon
  inode cannot be reopened): pidfd_getfd (needs ptrace access, which the
  sentry has: same uid, and it is the tracee's ancestor).  PIDFD_THREAD
  (6.9) gives the calling thread's fd table.
- There is no *at() form: the C helper runs the call from a fresh thread
  whose cwd is our fd (CLONE_FS unshared), so the kernel resolves the
  tracee's relative path itself.
- EINVAL for a mask with no known bit or with both IN_MASK_ADD and
  IN_MASK_CREATE, before the path is read.
"""
from __future__ import annotations

import errno
import os

from sentry import native
from sentry.abi.linux import (
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    IN_ALL_BITS,
    IN_DONT_FOLLOW,
    IN_MASK_ADD,
    IN_MASK_CREATE,
    PIDFD_THREAD,
)
from sentry.errors import SysError, TaskGone
from sentry.handlers.common import at, check, strings_read
from sentry.platform.base import Task
from sentry.vfs import hostproc
from sentry.vfs.resolve import int32, read_path

# -- inotify_add_watch ------------------------------------------------------

def inotify_add_watch(t: Task) -> int:
    fd, addr, mask = int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFFFFFF
    if not mask & IN_ALL_BITS or mask & IN_MASK_ADD and mask & IN_MASK_CREATE:
        raise SysError(errno.EINVAL)
    ifd = _their_fd(t, fd)
    try:
        link = os.readlink(f"{os.getpid()}/fd/{ifd}", dir_fd=hostproc.fd())
        if link != "anon_inode:inotify":
            raise SysError(errno.EINVAL)
        path = read_path(t, addr)
        strings_read(t)
        flags = AT_SYMLINK_NOFOLLOW if mask & IN_DONT_FOLLOW else 0
        return at(t, AT_FDCWD, path, flags, lambda d, p: native.inotify_add_watch_at(ifd, d, p, mask))
    finally:
        os.close(ifd)


def _their_fd(t, fd) -> int:
    """A copy of the tracee's fd (pidfd_getfd): the same open file."""
    if fd < 0:
        raise SysError(errno.EBADF)
    try:
        pidfd = os.pidfd_open(t.pid, PIDFD_THREAD)     # this thread's fd table
    except ProcessLookupError:
        raise TaskGone() from None
    except OSError as e:
        if e.errno != errno.EINVAL:                     # before 6.9: the thread group's
            raise
        pidfd = os.pidfd_open(int(hostproc.status_field(t.pid, "Tgid") or t.pid))
    try:
        return check(native.pidfd_getfd(pidfd, fd))
    finally:
        os.close(pidfd)
