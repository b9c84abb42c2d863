"""The lookups that only read: stat, lstat, newfstatat, statx, access and
faccessat(2), readlink(at), statfs.  The result goes back as the kernel's own
struct bytes, written into tracee memory.  stat and statx are answered in C
(csrc/fsfast.c) in the common case; this serves the rest.

Kernel facts relied upon:
- glibc's fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH); the table lets
  AT_EMPTY_PATH calls run natively in BPF (a register test), so only real
  lookups reach these handlers.
- Under a user namespace, stat shows owners as that namespace maps them
  (an unmapped id as the overflow id 65534); the sentry stats in the
  host's, so the ids are translated here.
- readlink of /proc/self names the *reader*: resolved for the tracee
  (vfs.resolve.SelfLink).
- statfs follows symlinks: an O_PATH open of the path, then fstatfs.
"""
from __future__ import annotations

import errno
import os

from sentry import native
from sentry.abi.linux import AT_FDCWD, AT_SYMLINK_NOFOLLOW
from sentry.errors import SysError
from sentry.handlers import current
from sentry.handlers.common import at, strings_read
from sentry.platform.base import Task
from sentry.vfs.resolve import SelfLink, as_tracee, base, int32, read_path, retry_through_self


def stat(t: Task) -> int:
    return _fstatat(t, AT_FDCWD, t.arg(0), t.arg(1), 0)


def lstat(t: Task) -> int:
    return _fstatat(t, AT_FDCWD, t.arg(0), t.arg(1), AT_SYMLINK_NOFOLLOW)


def newfstatat(t: Task) -> int:
    return _fstatat(t, int32(t.arg(0)), t.arg(1), t.arg(2), t.arg(3) & 0xFFFFFFFF)


def _fstatat(t, dirfd, addr, buf_addr, flags):
    path = read_path(t, addr)
    st = native.Stat()
    at(t, dirfd, path, flags, lambda d, p: native.fstatat(d, p, st, flags))
    _own_ids(st)
    t.write(buf_addr, st.bytes())
    return 0


def statx(t: Task) -> int:
    dirfd, addr, flags = int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFFFFFF
    mask, buf_addr = t.arg(3) & 0xFFFFFFFF, t.arg(4)
    path = read_path(t, addr)
    sx = native.Statx()
    at(t, dirfd, path, flags, lambda d, p: native.statx(d, p, flags, mask, sx))
    _own_ids(sx)
    t.write(buf_addr, sx.bytes())
    return 0


OVERFLOW_ID = 65534               # what the kernel shows for an id the namespace does not map


def _own_ids(st) -> None:
    """Owner ids as the tracee's user namespace shows them: the sentry
    stats in the host's (with no user namespace, nothing to do)."""
    sb = current.sandbox
    if sb.uid_map:
        st.uid, st.gid = _inside(sb.uid_map, st.uid), _inside(sb.gid_map, st.gid)


def _inside(mapping, host: int) -> int:
    for inside, outside, size in mapping:
        if outside <= host < outside + size:
            return inside + host - outside
    return OVERFLOW_ID




# -- access -----------------------------------------------------------------

def access(t: Task) -> int:
    return _access(t, AT_FDCWD, t.arg(0), t.arg(1) & 0xFFFFFFFF, 0)


def faccessat(t: Task) -> int:
    return _access(t, int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFFFFFF, 0)


def faccessat2(t: Task) -> int:
    return _access(t, int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFFFFFF, t.arg(3) & 0xFFFFFFFF)


def _access(t, dirfd, addr, mode, flags):
    if mode & ~0o7:
        raise SysError(errno.EINVAL)
    path = read_path(t, addr)
    at(t, dirfd, path, flags, lambda d, p: native.faccessat2(d, p, mode, flags))
    return 0


# -- readlink ---------------------------------------------------------------

def readlink(t: Task) -> int:
    return _readlink(t, AT_FDCWD, t.arg(0), t.arg(1), int32(t.arg(2)))


def readlinkat(t: Task) -> int:
    return _readlink(t, int32(t.arg(0)), t.arg(1), t.arg(2), int32(t.arg(3)))


def _readlink(t, dirfd, addr, buf_addr, size):
    if size <= 0:
        raise SysError(errno.EINVAL)
    path = read_path(t, addr)
    if not path:
        b = base(t, dirfd, b"")
        try:
            target = as_tracee(lambda: os.readlink(b"", dir_fd=b.fd)) if b.fd != AT_FDCWD else None
        finally:
            b.close()
        if target is None:
            raise SysError(errno.ENOENT)
    else:
        try:
            target = retry_through_self(t, dirfd, path, lambda d, p: os.readlink(p, dir_fd=d), follow_last=False)
        except SelfLink as link:
            target = link.target
    data = target[:size]
    t.write(buf_addr, data)
    return len(data)


def statfs(t: Task) -> int:
    path, buf_addr = read_path(t, t.arg(0)), t.arg(1)
    strings_read(t)
    sf = native.Statfs()
    at(t, AT_FDCWD, path, 0, lambda d, p: native.statfs_at(d, p, sf))
    t.write(buf_addr, sf.bytes())
    return 0
