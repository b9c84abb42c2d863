"""Extended attributes by path: getxattr, setxattr, listxattr,
removexattr and their l* forms (the f* forms run natively).

Kernel facts relied upon:
- The calls use getxattrat & co. (Linux 6.13), which take a dirfd and
  AT_SYMLINK_NOFOLLOW.  os.getxattr has no dir_fd, and fgetxattr does not
  work on an O_PATH fd; on older kernels the C side falls back to running
  the call from a thread whose cwd is our fd.
- import_xattr_name(): the name is checked (EFAULT; ERANGE for "" or one
  over 255 bytes) before the path is looked up.  Values are at most 64 KiB
  (E2BIG on set; a larger get buffer is clamped).
"""
from __future__ import annotations

import errno

from sentry import native
from sentry.abi.linux import (
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    XATTR_CREATE,
    XATTR_LIST_MAX,
    XATTR_NAME_MAX,
    XATTR_REPLACE,
    XATTR_SIZE_MAX,
)
from sentry.errors import SysError
from sentry.handlers.common import at, strings_read
from sentry.platform.base import Task
from sentry.vfs.resolve import int32, read_path

# -- extended attributes ----------------------------------------------------

def _xattr_name(t, addr) -> bytes:
    """import_xattr_name(): EFAULT, or ERANGE for "" or a name over 255."""
    if addr == 0:
        raise SysError(errno.EFAULT)
    try:
        name = t.read_cstr(addr, XATTR_NAME_MAX + 1)
    except SysError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise SysError(errno.ERANGE) from None
        raise
    if not name:
        raise SysError(errno.ERANGE)
    return name


def getxattr(t: Task) -> int:
    return _getxattr(t, t.arg(0), t.arg(1), t.arg(2), t.arg(3), 0)


def lgetxattr(t: Task) -> int:
    return _getxattr(t, t.arg(0), t.arg(1), t.arg(2), t.arg(3), AT_SYMLINK_NOFOLLOW)


def _getxattr(t, addr, name_addr, value_addr, size, flags):
    name = _xattr_name(t, name_addr)
    path = read_path(t, addr)
    strings_read(t)
    buf = bytearray(min(size, XATTR_SIZE_MAX))
    n = at(t, AT_FDCWD, path, flags, lambda d, p: native.getxattr_at(d, p, flags, name, buf))
    if buf and n:
        t.write(value_addr, bytes(buf[:n]))
    return n


def setxattr(t: Task) -> int:
    return _setxattr(t, t.arg(0), t.arg(1), t.arg(2), t.arg(3), int32(t.arg(4)), 0)


def lsetxattr(t: Task) -> int:
    return _setxattr(t, t.arg(0), t.arg(1), t.arg(2), t.arg(3), int32(t.arg(4)), AT_SYMLINK_NOFOLLOW)


def _setxattr(t, addr, name_addr, value_addr, size, xflags, flags):
    if xflags & ~(XATTR_CREATE | XATTR_REPLACE):
        raise SysError(errno.EINVAL)
    name = _xattr_name(t, name_addr)
    if size > XATTR_SIZE_MAX:
        raise SysError(errno.E2BIG)
    value = t.read(value_addr, size) if size else b""
    path = read_path(t, addr)
    strings_read(t)
    at(t, AT_FDCWD, path, flags, lambda d, p: native.setxattr_at(d, p, flags, name, value, xflags))
    return 0


def listxattr(t: Task) -> int:
    return _listxattr(t, t.arg(0), t.arg(1), t.arg(2), 0)


def llistxattr(t: Task) -> int:
    return _listxattr(t, t.arg(0), t.arg(1), t.arg(2), AT_SYMLINK_NOFOLLOW)


def _listxattr(t, addr, list_addr, size, flags):
    path = read_path(t, addr)
    strings_read(t)
    buf = bytearray(min(size, XATTR_LIST_MAX))
    n = at(t, AT_FDCWD, path, flags, lambda d, p: native.listxattr_at(d, p, flags, buf))
    if buf and n:
        t.write(list_addr, bytes(buf[:n]))
    return n


def removexattr(t: Task) -> int:
    return _removexattr(t, t.arg(0), t.arg(1), 0)


def lremovexattr(t: Task) -> int:
    return _removexattr(t, t.arg(0), t.arg(1), AT_SYMLINK_NOFOLLOW)


def _removexattr(t, addr, name_addr, flags):
    name = _xattr_name(t, name_addr)
    path = read_path(t, addr)
    strings_read(t)
    at(t, AT_FDCWD, path, flags, lambda d, p: native.removexattr_at(d, p, flags, name))
    return 0
