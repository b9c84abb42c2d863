"""Calls that change a file's mode, owner or size by path: chmod,
fchmodat, fchmodat2, chown, lchown, fchownat, truncate.

Kernel facts relied upon:
- fchmodat(2) has no flags argument; fchmodat2 (6.6) has.
- Under a user namespace the tracee names ids of its own namespace; the
  sentry acts in the host's, so chown ids are translated (an unmapped id is
  EINVAL, as chown(2) says).
- truncate has no *at() form: the C helper makes the call on a fresh
  thread that unshares its cwd (CLONE_FS) and fchdir()s to our fd, so the
  kernel resolves the tracee's relative path itself.
- truncate checks the caller's RLIMIT_FSIZE, and the caller would be the
  sentry: the tracee's limit is checked here (EFBIG; SIGXFSZ is not sent,
  as a signal would interrupt the pending notification).  Python ignores
  SIGXFSZ, so the sentry never dies of one.
"""
from __future__ import annotations

import errno

from sentry import native
from sentry.abi.linux import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW
from sentry.errors import SandboxError, SysError
from sentry.handlers import current
from sentry.handlers.common import at, path_arg, strings_read
from sentry.platform.base import Task
from sentry.sandbox.config import host_id
from sentry.vfs import hostproc
from sentry.vfs.resolve import int32, read_path

# -- chmod, chown -----------------------------------------------------------

def chmod(t: Task) -> int:
    return _chmod(t, AT_FDCWD, t.arg(0), t.arg(1), 0)


def fchmodat(t: Task) -> int:       # the syscall has no flags argument
    return _chmod(t, int32(t.arg(0)), t.arg(1), t.arg(2), 0)


def fchmodat2(t: Task) -> int:
    flags = int32(t.arg(3))
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise SysError(errno.EINVAL)
    return _chmod(t, int32(t.arg(0)), t.arg(1), t.arg(2), flags)


def _chmod(t, dirfd, addr, mode, flags):
    mode &= 0o7777
    path = read_path(t, addr)
    strings_read(t)
    at(t, dirfd, path, flags, lambda d, p: native.fchmodat2(d, p, mode, flags))
    return 0


def chown(t: Task) -> int:
    return _chown(t, AT_FDCWD, t.arg(0), t.arg(1), t.arg(2), 0)


def lchown(t: Task) -> int:
    return _chown(t, AT_FDCWD, t.arg(0), t.arg(1), t.arg(2), AT_SYMLINK_NOFOLLOW)


def fchownat(t: Task) -> int:
    flags = int32(t.arg(4))
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise SysError(errno.EINVAL)
    return _chown(t, int32(t.arg(0)), t.arg(1), t.arg(2), t.arg(3), flags)


def _chown(t, dirfd, addr, uid, gid, flags):
    uid, gid = uid & 0xFFFFFFFF, gid & 0xFFFFFFFF      # (uid_t)-1: unchanged
    sb = current.sandbox
    if sb.uid_map:
        # The tracee names ids of its user namespace; we act in the host's.
        try:
            uid = uid if uid == 0xFFFFFFFF else host_id(sb.uid_map, uid)
            gid = gid if gid == 0xFFFFFFFF else host_id(sb.gid_map, gid)
        except SandboxError:
            raise SysError(errno.EINVAL) from None       # as chown(2) says of an unmapped id
    path = read_path(t, addr)
    strings_read(t)
    at(t, dirfd, path, flags, lambda d, p: native.fchownat(d, p, uid, gid, flags))
    return 0


# -- truncate ---------------------------------------------------------------

def truncate(t: Task) -> int:
    length = t.arg(1)
    if length >> 63:
        raise SysError(errno.EINVAL)
    path = path_arg(t, t.arg(0))
    strings_read(t)
    limit = _fsize_limit(t.pid)
    if limit is not None and length > limit:
        # The kernel refuses to *grow* a file past RLIMIT_FSIZE.
        st = native.Stat()
        at(t, AT_FDCWD, path, 0, lambda d, p: native.fstatat(d, p, st, 0))
        if length > st.size:
            raise SysError(errno.EFBIG)
    at(t, AT_FDCWD, path, 0, lambda d, p: native.truncate_at(d, p, length))
    return 0


def _fsize_limit(tid: int) -> int | None:
    """The tracee's soft RLIMIT_FSIZE, None if unlimited."""
    for line in hostproc.tracee_file(tid, "limits").decode().splitlines():
        if line.startswith("Max file size"):
            soft = line[len("Max file size"):].split()[0]
            return None if soft == "unlimited" else int(soft)
    return None
