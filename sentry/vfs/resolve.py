"""Resolving a tracee's path the way the kernel would, from the sentry.

The sentry serves from inside the sandbox's mount namespace (see
sentry/sandbox/lifecycle.py), so its "/" *is* the sandbox root and its own lookups are
confined by the kernel: no `..`, symlink or bind leads out.  It also holds
the workload's uid, gids and capabilities while serving, so the kernel's
permission checks on what it opens are the ones the tracee would get.

What differs between the tracee and the sentry, and is handled here:
- the starting point of a relative path: the tracee's cwd or dirfd, reached
  through the host's /proc/TID/cwd and /proc/TID/fd/N (sentry.hostproc);
- /proc/self and /proc/thread-self: in the sandbox's procfs the sentry has no
  pid, so they do not resolve for it.  A lookup that fails with ENOENT and
  may have crossed them (/proc, /dev/fd, /dev/std*, mtab, "self") is walked
  again component by component with "self" meaning the tracee.
Kernel facts: a path is at most PATH_MAX (4096) bytes with its NUL
(ENAMETOOLONG), an empty path is ENOENT unless AT_EMPTY_PATH, and a
relative path with a non-directory dirfd is ENOTDIR.
"""
from __future__ import annotations

import errno
import os
import threading

from sentry import native
from sentry.abi.linux import AT_FDCWD, CLONE_FS, PATH_MAX
from sentry.errors import SysError
from sentry.vfs import hostproc

MAX_SYMLINKS = 40


def int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def read_path(t, addr: int) -> bytes:
    if addr == 0:
        raise SysError(errno.EFAULT)
    return t.read_cstr(addr, PATH_MAX)


class Base:
    """The directory a lookup starts from, as an fd the sentry owns (or
    AT_FDCWD: the sentry's cwd is the sandbox root)."""
    __slots__ = ("fd", "owned")

    def __init__(self, fd: int, owned: bool):
        self.fd = fd
        self.owned = owned

    def close(self):
        if self.owned:
            os.close(self.fd)
            self.owned = False


def base(t, dirfd: int, path: bytes) -> Base:
    if path.startswith(b"/"):
        return Base(AT_FDCWD, False)
    try:
        if dirfd == AT_FDCWD:
            return Base(hostproc.open(f"{t.pid}/cwd", os.O_PATH | os.O_DIRECTORY), True)
        if dirfd < 0:
            raise SysError(errno.EBADF)
        return Base(hostproc.open(f"{t.pid}/fd/{dirfd}", os.O_PATH), True)
    except FileNotFoundError:
        if dirfd == AT_FDCWD:
            raise SysError(errno.ENOENT) from None
        raise SysError(errno.EBADF) from None
    except OSError as e:
        raise SysError(e.errno or errno.EIO) from None


def as_tracee(call, *args):
    """A host call made on the tracee's behalf: its errno is the tracee's
    answer (a SysError), not a failure of the sentry."""
    try:
        return call(*args)
    except OSError as e:
        raise SysError(e.errno or errno.EIO) from None


def may_cross_self(path: bytes) -> bool:
    """Could this lookup have gone through /proc/self?  (See the header.)"""
    return path.startswith((b"/proc", b"/dev/")) or b"self" in path or b"mtab" in path


def vids(tid: int) -> tuple[int, int]:
    """(tgid, tid) as the sandbox's pid namespace numbers them."""
    status = hostproc.tracee_file(tid, "status").decode()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["NStgid"].split()[-1]), int(fields["NSpid"].split()[-1])


class SelfLink(Exception):
    """The path names /proc/self or /proc/thread-self itself, not followed:
    readlink of it must give the tracee's pid ("12", "12/task/13")."""

    def __init__(self, target: bytes):
        super().__init__(target)
        self.target = target


def walk(t, dirfd: int, path: bytes, follow_last: bool) -> bytes:
    """An absolute path with /proc/self and /proc/thread-self replaced by the
    tracee's own pid and every other symlink expanded, following the
    kernel's rules.  A magic link under /proc/PID/ that ends the path is
    left for the kernel; one with more path after it is expanded through
    its link text, which for cwd and root is a path in the sandbox view (the
    sentry stands in the sandbox's mount namespace).  Raises SelfLink for
    an unfollowed /proc/self."""
    if path.startswith(b"/"):
        start = b"/"
    else:
        where = f"{t.pid}/cwd" if dirfd == AT_FDCWD else f"{t.pid}/fd/{dirfd}"
        try:
            start = hostproc.readlink(where).encode()
        except FileNotFoundError:
            raise SysError(errno.ENOENT if dirfd == AT_FDCWD else errno.EBADF) from None
        except OSError as e:
            raise SysError(e.errno or errno.EIO) from None
    tgid, tid = vids(t.pid)
    todo = [c for c in path.split(b"/") if c][::-1]
    done: list[bytes] = [c for c in start.split(b"/") if c]
    links = 0
    while todo:
        comp = todo.pop()
        if comp == b".":
            continue
        if comp == b"..":
            if done:
                done.pop()
            continue
        last = not todo
        if done == [b"proc"] and comp in (b"self", b"thread-self"):
            own = [str(tgid).encode()] + ([b"task", str(tid).encode()] if comp == b"thread-self" else [])
            if last and not follow_last:
                raise SelfLink(b"/".join(own))
            done += own
            continue
        cur = b"/" + b"/".join(done + [comp])
        magic = len(done) >= 3 and done[0] == b"proc" and done[2] in (b"fd", b"map_files") \
            or len(done) == 2 and done[0] == b"proc" and comp in (b"exe", b"cwd", b"root")
        if (magic and last) or (last and not follow_last):
            done.append(comp)
            continue
        try:
            target = os.readlink(cur)
        except OSError as e:
            if e.errno == errno.EINVAL:       # not a symlink
                done.append(comp)
                continue
            raise
        links += 1
        if links > MAX_SYMLINKS:
            raise SysError(errno.ELOOP)
        if target.startswith(b"/"):
            done = []
        todo.extend(c for c in target.split(b"/")[::-1] if c)
    return b"/" + b"/".join(done)


def in_tracee_root(t, fn):
    """fn() on a thread of ours whose root and cwd are the tracee's root:
    how a tracee that chrooted resolves its paths (absolute paths from its
    root, `..` stopping there).  The thread gets its own fs struct
    (unshare(CLONE_FS)) and the creating thread's credentials, which are
    the tracee's (csrc/creds.c); it ends after the call."""
    out: dict = {}

    def run():
        try:
            native.unshare(CLONE_FS)
            rootfd = hostproc.open(f"{t.pid}/root", os.O_PATH | os.O_DIRECTORY)
            try:
                native.enter_root(rootfd)
            finally:
                os.close(rootfd)
            out["value"] = fn()
        except BaseException as e:      # raised again on the calling thread
            out["error"] = e
    th = threading.Thread(target=run, name="sentry-chroot")
    th.start()
    th.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def retry_through_self(t, dirfd: int, path: bytes, op, follow_last: bool = True):
    """Run op(dirfd, path) as the tracee would; on ENOENT for a path that may
    have crossed /proc/self, walk it again with self meaning the tracee.
    A tracee that chrooted gets its own root (in_tracee_root)."""
    if getattr(t, "chrooted", False):
        return in_tracee_root(t, lambda: _retry_through_self(t, dirfd, path, op, follow_last))
    return _retry_through_self(t, dirfd, path, op, follow_last)


def _retry_through_self(t, dirfd: int, path: bytes, op, follow_last: bool):
    b = base(t, dirfd, path)
    try:
        return op(None if b.fd == AT_FDCWD else b.fd, path)
    except FileNotFoundError:
        if not may_cross_self(path):
            raise SysError(errno.ENOENT) from None
    except OSError as e:
        raise SysError(e.errno or errno.EIO) from None
    finally:
        b.close()
    return as_tracee(lambda: op(None, walk(t, dirfd, path, follow_last)))
