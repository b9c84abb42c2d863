"""What the path handlers share.

Every path handler follows one order: read its strings and structs from the
tracee once, check the notification is still pending (strings_read: the
tid may have been recycled), resolve the path as the tracee would
(sentry/vfs/resolve.py: from its cwd or dirfd, inside the sandbox view,
with the tracee's credentials and capabilities) and make the call itself.
The kernel confines and permission-checks that call; nothing is decided on
a path and then CONTINUEd.

How a call gets its starting directory: the *at() forms take our O_PATH fd
on the tracee's cwd or dirfd (an absolute path uses AT_FDCWD: our cwd and
root are the sandbox root).  Raw C calls (csrc/sysdeps.c) return -errno;
`at` and `two` run them as the tracee would, retrying through /proc/self
(which only the tracee can resolve) on ENOENT.

Kernel fact: a created file's mode is masked with the *tracee's* umask
(/proc/TID/status "Umask"); the sentry runs with umask 0.
"""
from __future__ import annotations

import errno

from sentry.abi.linux import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW
from sentry.errors import SysError, TaskGone
from sentry.platform.base import Task
from sentry.vfs import hostproc
from sentry.vfs.resolve import base, in_tracee_root, may_cross_self, read_path, retry_through_self, walk


def strings_read(t: Task) -> None:
    """After reading tracee memory, before acting on it (see platform/base.py)."""
    if not t.valid():
        raise TaskGone()


def path_arg(t: Task, addr: int) -> bytes:
    path = read_path(t, addr)
    if not path:
        raise SysError(errno.ENOENT)
    return path


def check(rc: int) -> int:
    if rc < 0:
        raise SysError(-rc)
    return rc


def at(t, dirfd, path, flags, call) -> int:
    """Run a raw C call(dirfd, path) -> result | -errno as the tracee would
    and return its result.  flags: the AT_EMPTY_PATH/AT_SYMLINK_NOFOLLOW
    the call itself gets."""
    if not path:
        if not flags & AT_EMPTY_PATH:
            raise SysError(errno.ENOENT)
        b = base(t, dirfd, b"")
        try:
            return check(call(b.fd, b""))
        finally:
            b.close()

    def op(d, p):
        rc = call(AT_FDCWD if d is None else d, p)
        if rc == -errno.ENOENT:
            raise FileNotFoundError(errno.ENOENT, "")
        return check(rc)
    return retry_through_self(t, dirfd, path, op, follow_last=not flags & AT_SYMLINK_NOFOLLOW)


def two(t, olddirfd, old, newdirfd, new, call, follow_old=False) -> int:
    if getattr(t, "chrooted", False):
        return in_tracee_root(t, lambda: _two(t, olddirfd, old, newdirfd, new, call, follow_old))
    return _two(t, olddirfd, old, newdirfd, new, call, follow_old)


def _two(t, olddirfd, old, newdirfd, new, call, follow_old=False) -> int:
    """Run a raw C call(olddirfd, old, newdirfd, new) -> 0 | -errno as the
    tracee would.  An empty old path is the old dirfd itself (the caller
    allows that only with AT_EMPTY_PATH)."""
    def attempt(walked):
        owned, args = [], []
        try:
            for dirfd, path, follow in ((olddirfd, old, follow_old), (newdirfd, new, False)):
                if walked and path and may_cross_self(path):
                    args += [AT_FDCWD, walk(t, dirfd, path, follow)]
                else:
                    b = base(t, dirfd, path)
                    owned.append(b)
                    args += [b.fd, path]
            return call(*args)
        finally:
            for b in owned:
                b.close()
    rc = attempt(False)
    if rc == -errno.ENOENT and (may_cross_self(old) or may_cross_self(new)):
        rc = attempt(True)
    return check(rc)



def umask(tid: int) -> int:
    value = hostproc.status_field(tid, "Umask")
    return int(value, 8) if value else 0o022
