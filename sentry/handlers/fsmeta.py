"""Path-taking metadata syscalls: mkdir, mknod, unlink, rmdir, rename, link,
symlink, chmod, chown, truncate, utime*, statfs, the path xattr calls and
inotify_add_watch.

As in fs.py: each handler reads its strings and structs from the tracee
once, checks the notification is still pending, resolves the path as the
tracee would (sentry/vfs/resolve.py: from its cwd or dirfd, inside the sandbox view,
with the tracee's credentials and capabilities) and makes the call itself.
The kernel confines and permission-checks that call; nothing is decided on
a path and then CONTINUEd.

How each call gets its starting directory:
- the *at() forms take our O_PATH fd on the tracee's cwd/dirfd directly
  (Python's os.* with dir_fd, or a raw C call for the flags os lacks:
  renameat2, linkat AT_EMPTY_PATH, fchmodat2, fchownat AT_EMPTY_PATH,
  utimensat);
- the xattr calls use getxattrat & co. (Linux 6.13), which take a dirfd and
  AT_SYMLINK_NOFOLLOW.  os.getxattr has no dir_fd, and fgetxattr does not
  work on an O_PATH fd; on older kernels the C side falls back to the
  method below;
- truncate and inotify_add_watch have no *at() form: the C helper makes the
  call on a fresh thread that unshares its cwd (CLONE_FS) and fchdir()s to
  our fd, so the kernel resolves the tracee's relative path itself;
- statfs: an O_PATH open of the path (it follows symlinks like statfs does),
  then fstatfs;
- inotify_add_watch needs the tracee's inotify fd itself, which no path can
  reach (an anon inode cannot be reopened): pidfd_getfd (needs ptrace
  access, which the sentry has: same uid, and it is the tracee's ancestor).
Two-path calls (rename, link) retry through /proc/self like
vfs.retry_through_self: on ENOENT, a path that may cross it is walked with
"self" meaning the tracee and passed absolute.

Kernel facts relied upon (checked on 6.18):
- A created file's mode is masked with the *tracee's* umask (the sentry runs
  with umask 0).  Unlike the kernel we cannot skip the umask when the parent
  directory has a default POSIX ACL (as fs.open).
- mknod: S_IFDIR is EPERM and an unknown type EINVAL before any lookup.
  Character and block devices are refused here (EPERM), except the 0:0
  character device, the overlayfs whiteout, which the kernel lets any user
  create (since 5.8, like RENAME_WHITEOUT).
- Flag words are checked (EINVAL) before any string is read, xattr names
  before paths: the kernel's order.
- utimensat(dirfd, NULL, ...) is futimens: the fd itself (not an O_PATH fd:
  EBADF), flags must be 0; when both times are UTIME_OMIT nothing, not even
  the path, is looked at.  utimes rejects tv_usec outside [0, 1e6) (EINVAL).
- truncate checks the caller's RLIMIT_FSIZE, and the caller would be the
  sentry: the tracee's limit is checked here (EFBIG; SIGXFSZ is not sent,
  as a signal would interrupt the pending notification).
- Python ignores SIGXFSZ, so the sentry never dies of one.
"""
from __future__ import annotations

import errno
import os
import stat as st

from sentry.vfs import hostproc
from sentry.sandbox.config import host_id
from sentry.errors import SandboxError, SysError, TaskGone
from sentry.handlers import current
from sentry.handlers.fs import umask
from sentry.native import ffi, lib
from sentry.platform.base import Task
from sentry.vfs.resolve import (AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, base, int32, may_cross_self,
                        read_path, retry_through_self, walk)

AT_REMOVEDIR, AT_SYMLINK_FOLLOW = 0x200, 0x400
RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT = 1, 2, 4
UTIME_OMIT = (1 << 30) - 2
XATTR_NAME_MAX, XATTR_SIZE_MAX, XATTR_LIST_MAX = 255, 65536, 65536
XATTR_CREATE, XATTR_REPLACE = 1, 2
IN_ALL_BITS = 0xF700EFFF         # every IN_* bit inotify_add_watch knows (ALL_INOTIFY_BITS)
IN_DONT_FOLLOW, IN_MASK_CREATE, IN_MASK_ADD = 0x02000000, 0x10000000, 0x20000000
PIDFD_THREAD = 0o200             # O_EXCL (Linux 6.9)
STATFS_SIZE, TIMESPEC2_SIZE = 120, 32


def _strings_read(t: Task) -> None:
    """After reading tracee memory, before acting on it (see platform/base.py)."""
    if not t.valid():
        raise TaskGone()


def _path(t: Task, addr: int) -> bytes:
    path = read_path(t, addr)
    if not path:
        raise SysError(errno.ENOENT)
    return path


def _check(rc: int) -> int:
    if rc < 0:
        raise SysError(-rc)
    return rc


def _at(t, dirfd, path, flags, call) -> int:
    """Run a raw C call(dirfd, path) -> result | -errno as the tracee would
    and return its result.  flags: the AT_EMPTY_PATH/AT_SYMLINK_NOFOLLOW
    the call itself gets."""
    if not path:
        if not flags & AT_EMPTY_PATH:
            raise SysError(errno.ENOENT)
        b = base(t, dirfd, b"")
        try:
            return _check(call(b.fd, b""))
        finally:
            b.close()

    def op(d, p):
        rc = call(AT_FDCWD if d is None else d, p)
        if rc == -errno.ENOENT:
            raise FileNotFoundError(errno.ENOENT, "")
        return _check(rc)
    return retry_through_self(t, dirfd, path, op, follow_last=not flags & AT_SYMLINK_NOFOLLOW)


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
    return _check(rc)


# -- mkdir, mknod -----------------------------------------------------------

def mkdir(t: Task) -> int:
    return _mkdir(t, AT_FDCWD, t.arg(0), t.arg(1) & 0xFFFF)


def mkdirat(t: Task) -> int:
    return _mkdir(t, int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFF)


def _mkdir(t, dirfd, addr, mode):
    path = _path(t, addr)
    _strings_read(t)
    mode &= 0o7777 & ~umask(t.pid)
    retry_through_self(t, dirfd, path, lambda d, p: os.mkdir(p, mode, dir_fd=d), follow_last=False)
    return 0


def mknod(t: Task) -> int:
    return _mknod(t, AT_FDCWD, t.arg(0), t.arg(1) & 0xFFFF, t.arg(2) & 0xFFFFFFFF)


def mknodat(t: Task) -> int:
    return _mknod(t, int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFF, t.arg(3) & 0xFFFFFFFF)


def _mknod(t, dirfd, addr, mode, dev):
    kind = st.S_IFMT(mode)
    if kind == st.S_IFDIR:
        raise SysError(errno.EPERM)
    if kind not in (0, st.S_IFREG, st.S_IFIFO, st.S_IFSOCK, st.S_IFCHR, st.S_IFBLK):
        raise SysError(errno.EINVAL)
    if kind == st.S_IFBLK or kind == st.S_IFCHR and dev != 0:
        raise SysError(errno.EPERM)        # no device nodes in the sandbox
    path = _path(t, addr)
    _strings_read(t)
    mode &= ~umask(t.pid)
    retry_through_self(t, dirfd, path, lambda d, p: os.mknod(p, mode, dev, dir_fd=d), follow_last=False)
    return 0


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
    path = _path(t, addr)
    _strings_read(t)
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
    old = _path(t, old_addr)
    new = _path(t, new_addr)
    _strings_read(t)
    return _two(t, olddirfd, old, newdirfd, new, lambda od, o, nd, n: lib.sb_renameat2(od, o, nd, n, flags))


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
    new = _path(t, new_addr)
    _strings_read(t)
    return _two(t, olddirfd, old, newdirfd, new, lambda od, o, nd, n: lib.sb_linkat(od, o, nd, n, flags),
                follow_old=bool(flags & AT_SYMLINK_FOLLOW))


def symlink(t: Task) -> int:
    return _symlink(t, t.arg(0), AT_FDCWD, t.arg(1))


def symlinkat(t: Task) -> int:
    return _symlink(t, t.arg(0), int32(t.arg(1)), t.arg(2))


def _symlink(t, target_addr, dirfd, addr):
    target = _path(t, target_addr)       # stored as is: never resolved
    path = _path(t, addr)
    _strings_read(t)
    retry_through_self(t, dirfd, path, lambda d, p: os.symlink(target, p, dir_fd=d), follow_last=False)
    return 0


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
    _strings_read(t)
    _at(t, dirfd, path, flags, lambda d, p: lib.sb_fchmodat2(d, p, mode, flags))
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
    _strings_read(t)
    _at(t, dirfd, path, flags, lambda d, p: lib.sb_fchownat(d, p, uid, gid, flags))
    return 0


# -- truncate ---------------------------------------------------------------

def truncate(t: Task) -> int:
    length = t.arg(1)
    if length >> 63:
        raise SysError(errno.EINVAL)
    path = _path(t, t.arg(0))
    _strings_read(t)
    limit = _fsize_limit(t.pid)
    if limit is not None and length > limit:
        # The kernel refuses to *grow* a file past RLIMIT_FSIZE.
        sb = ffi.new("char[]", 144)                       # struct stat; st_size at 48
        _at(t, AT_FDCWD, path, 0, lambda d, p: lib.sb_fstatat_raw(d, p, sb, 0))
        if length > int.from_bytes(ffi.buffer(sb)[48:56], "little"):
            raise SysError(errno.EFBIG)
    _at(t, AT_FDCWD, path, 0, lambda d, p: lib.sb_truncate_at(d, p, length))
    return 0


def _fsize_limit(tid: int) -> int | None:
    """The tracee's soft RLIMIT_FSIZE, None if unlimited."""
    for line in hostproc.read(f"{tid}/limits").decode().splitlines():
        if line.startswith("Max file size"):
            soft = line[len("Max file size"):].split()[0]
            return None if soft == "unlimited" else int(soft)
    return None


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
    _strings_read(t)
    buf = ffi.NULL if times is None else ffi.new("char[]", times)
    _at(t, dirfd, path, flags, lambda d, p: lib.sb_utimensat(d, p, buf, flags))
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


# -- statfs -----------------------------------------------------------------

def statfs(t: Task) -> int:
    path, buf_addr = read_path(t, t.arg(0)), t.arg(1)
    _strings_read(t)
    buf = ffi.new("char[]", STATFS_SIZE)
    _at(t, AT_FDCWD, path, 0, lambda d, p: lib.sb_statfs_at(d, p, buf))
    t.write(buf_addr, ffi.buffer(buf)[:])
    return 0


# -- extended attributes ----------------------------------------------------

def _xattr_name(t, addr) -> bytes:
    """import_xattr_name(): EFAULT, or ERANGE for "" or a name over 255."""
    if addr == 0:
        raise SysError(errno.EFAULT)
    try:
        name = t.read_cstr(addr, XATTR_NAME_MAX + 1)
    except OSError as e:
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
    _strings_read(t)
    size = min(size, XATTR_SIZE_MAX)
    buf = ffi.new("char[]", max(size, 1))
    n = _at(t, AT_FDCWD, path, flags, lambda d, p: lib.sb_getxattr_at(d, p, flags, name, buf, size))
    if size and n:
        t.write(value_addr, ffi.buffer(buf, n)[:])
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
    _strings_read(t)
    _at(t, AT_FDCWD, path, flags, lambda d, p: lib.sb_setxattr_at(d, p, flags, name, value, size, xflags))
    return 0


def listxattr(t: Task) -> int:
    return _listxattr(t, t.arg(0), t.arg(1), t.arg(2), 0)


def llistxattr(t: Task) -> int:
    return _listxattr(t, t.arg(0), t.arg(1), t.arg(2), AT_SYMLINK_NOFOLLOW)


def _listxattr(t, addr, list_addr, size, flags):
    path = read_path(t, addr)
    _strings_read(t)
    size = min(size, XATTR_LIST_MAX)
    buf = ffi.new("char[]", max(size, 1))
    n = _at(t, AT_FDCWD, path, flags, lambda d, p: lib.sb_listxattr_at(d, p, flags, buf, size))
    if size and n:
        t.write(list_addr, ffi.buffer(buf, n)[:])
    return n


def removexattr(t: Task) -> int:
    return _removexattr(t, t.arg(0), t.arg(1), 0)


def lremovexattr(t: Task) -> int:
    return _removexattr(t, t.arg(0), t.arg(1), AT_SYMLINK_NOFOLLOW)


def _removexattr(t, addr, name_addr, flags):
    name = _xattr_name(t, name_addr)
    path = read_path(t, addr)
    _strings_read(t)
    _at(t, AT_FDCWD, path, flags, lambda d, p: lib.sb_removexattr_at(d, p, flags, name))
    return 0


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
        _strings_read(t)
        flags = AT_SYMLINK_NOFOLLOW if mask & IN_DONT_FOLLOW else 0
        return _at(t, AT_FDCWD, path, flags, lambda d, p: lib.sb_inotify_add_watch_at(ifd, d, p, mask))
    finally:
        os.close(ifd)


def _their_fd(t, fd) -> int:
    """A copy of the tracee's fd (pidfd_getfd): the same open file."""
    if fd < 0:
        raise SysError(errno.EBADF)
    try:
        pidfd = os.pidfd_open(t.pid, PIDFD_THREAD)     # this thread's fd table
    except OSError as e:
        if e.errno != errno.EINVAL:                     # before 6.9: the thread group's
            raise
        pidfd = os.pidfd_open(int(hostproc.status_field(t.pid, "Tgid")))
    try:
        return _check(lib.sb_pidfd_getfd(pidfd, fd))
    finally:
        os.close(pidfd)
