"""Calls that change directory entries: mkdir, mknod, unlink, rmdir,
rename, link, symlink, and their *at forms.  The sentry makes each call
itself, in the sandbox view, as the tracee (see common.py); but mknod,
intercepted in both fs modes only to refuse device nodes, runs natively.

Kernel facts relied upon (checked on 6.18):
- A created entry's mode is masked with the *tracee's* umask.  Unlike the
  kernel we cannot skip the umask when the parent directory has a default
  POSIX ACL.
- mknod: character and block devices are refused here (EPERM), except the
  0:0 character device, the overlayfs whiteout, which the kernel lets any
  user create (since 5.8, like RENAME_WHITEOUT).  The kernel does the rest
  (S_IFDIR EPERM, an unknown type EINVAL), and a sandbox with CAP_MKNOD
  cannot reach a device through it.
- Flag words are checked (EINVAL) before any string is read: the kernel's
  order.
- Two-path calls (rename, link) retry through /proc/self like the others:
  on ENOENT, a path that may cross it is walked with "self" meaning the
  tracee and passed absolute (common.two).
"""
from __future__ import annotations

import errno
import os
import stat as st

from sentry import native
from sentry.abi.linux import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_REMOVEDIR,
    AT_SYMLINK_FOLLOW,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
)
from sentry.errors import SysError
from sentry.handlers.common import path_arg, strings_read, two, umask
from sentry.platform.base import CONTINUE, Reply, Task
from sentry.vfs.resolve import int32, read_path, retry_through_self

# -- mkdir, mknod -----------------------------------------------------------

def mkdir(t: Task) -> int:
    return _mkdir(t, AT_FDCWD, t.arg(0), t.arg(1) & 0xFFFF)


def mkdirat(t: Task) -> int:
    return _mkdir(t, int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFF)


def _mkdir(t, dirfd, addr, mode):
    path = path_arg(t, addr)
    strings_read(t)
    mode &= 0o7777 & ~umask(t.pid)
    retry_through_self(t, dirfd, path, lambda d, p: os.mkdir(p, mode, dir_fd=d), follow_last=False)
    return 0


def mknod(t: Task) -> Reply:
    return _mknod(t.arg(1) & 0xFFFF, t.arg(2) & 0xFFFFFFFF)


def mknodat(t: Task) -> Reply:
    return _mknod(t.arg(2) & 0xFFFF, t.arg(3) & 0xFFFFFFFF)


def _mknod(mode: int, dev: int) -> Reply:
    """Devices are refused; anything else the kernel makes, as the caller:
    its umask and default ACLs, its chroot, and its own Landlock domain, which
    the sentry making the node would bypass.  Decided on register values
    only, so CONTINUE is safe."""
    kind = st.S_IFMT(mode)
    if kind == st.S_IFBLK or kind == st.S_IFCHR and dev != 0:
        raise SysError(errno.EPERM)        # no device nodes in the sandbox
    return CONTINUE


# -- unlink, rmdir ----------------------------------------------------------

def unlink(t: Task) -> int:
    return _unlink(t, AT_FDCWD, t.arg(0), 0)


def rmdir(t: Task) -> int:
    return _unlink(t, AT_FDCWD, t.arg(0), AT_REMOVEDIR)


def unlinkat(t: Task) -> int:
    flags = int32(t.arg(2))
    if flags & ~AT_REMOVEDIR:
        raise SysError(errno.EINVAL)
    return _unlink(t, int32(t.arg(0)), t.arg(1), flags)


def _unlink(t, dirfd, addr, flags):
    path = path_arg(t, addr)
    strings_read(t)
    remove = os.rmdir if flags & AT_REMOVEDIR else os.unlink
    retry_through_self(t, dirfd, path, lambda d, p: remove(p, dir_fd=d), follow_last=False)
    return 0


# -- rename, link, symlink --------------------------------------------------

def rename(t: Task) -> int:
    return _rename(t, AT_FDCWD, t.arg(0), AT_FDCWD, t.arg(1), 0)


def renameat(t: Task) -> int:
    return _rename(t, int32(t.arg(0)), t.arg(1), int32(t.arg(2)), t.arg(3), 0)


def renameat2(t: Task) -> int:
    flags = t.arg(4) & 0xFFFFFFFF
    if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) \
            or flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) and flags & RENAME_EXCHANGE:
        raise SysError(errno.EINVAL)
    return _rename(t, int32(t.arg(0)), t.arg(1), int32(t.arg(2)), t.arg(3), flags)


def _rename(t, olddirfd, old_addr, newdirfd, new_addr, flags):
    old = path_arg(t, old_addr)
    new = path_arg(t, new_addr)
    strings_read(t)
    return two(t, olddirfd, old, newdirfd, new, lambda od, o, nd, n: native.renameat2(od, o, nd, n, flags))


def link(t: Task) -> int:
    return _link(t, AT_FDCWD, t.arg(0), AT_FDCWD, t.arg(1), 0)


def linkat(t: Task) -> int:
    flags = int32(t.arg(4))
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise SysError(errno.EINVAL)
    return _link(t, int32(t.arg(0)), t.arg(1), int32(t.arg(2)), t.arg(3), flags)


def _link(t, olddirfd, old_addr, newdirfd, new_addr, flags):
    old = read_path(t, old_addr)
    if not old and not flags & AT_EMPTY_PATH:
        raise SysError(errno.ENOENT)
    new = path_arg(t, new_addr)
    strings_read(t)
    return two(t, olddirfd, old, newdirfd, new, lambda od, o, nd, n: native.linkat(od, o, nd, n, flags),
                follow_old=bool(flags & AT_SYMLINK_FOLLOW))


def symlink(t: Task) -> int:
    return _symlink(t, t.arg(0), AT_FDCWD, t.arg(1))


def symlinkat(t: Task) -> int:
    return _symlink(t, t.arg(0), int32(t.arg(1)), t.arg(2))


def _symlink(t, target_addr, dirfd, addr):
    target = path_arg(t, target_addr)       # stored as is: never resolved
    path = path_arg(t, addr)
    strings_read(t)
    retry_through_self(t, dirfd, path, lambda d, p: os.symlink(target, p, dir_fd=d), follow_last=False)
    return 0
