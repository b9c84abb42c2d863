"""Path-taking filesystem syscalls: open, stat, access, readlink families.

Each handler reads the path (EFAULT, ENAMETOOLONG), resolves it as the
tracee would (sentry/vfs/resolve.py: from its cwd or dirfd, inside the sandbox view,
with the tracee's credentials), does the call itself and hands back the
result: an fd through ADDFD|SEND, or the kernel's own struct bytes written
into tracee memory.  Nothing is decided on the path and then CONTINUEd.

Kernel facts relied upon:
- glibc's fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH); the table lets
  AT_EMPTY_PATH calls run natively in BPF (a register test), so only real
  lookups reach these handlers.
- open(2) of a FIFO blocks until the other end opens.  A stat first finds
  FIFOs, and a FIFO the tracee wants blocking is opened on a worker thread
  (Defer), so the notify loop never waits; a trial O_NONBLOCK open would
  wake a partner waiting on the other end, so there is none.  Other files
  are opened O_NONBLOCK (O_NONBLOCK then cleared), so one swapped for a
  FIFO after the stat cannot stall the loop either.
- The mode of a created file is masked by the *tracee's* umask
  (/proc/TID/status "Umask"); the sentry runs with umask 0.
- /proc and /sys files listed in sentry/vfs/procfs.py are answered with a memfd
  holding the sandbox's view (meminfo, cpuinfo, stat, uptime, loadavg,
  mounts, cpu/online).  Which file it is comes from the kernel (the link of
  the fd we opened), never from the tracee's string.
"""
from __future__ import annotations

import errno
import os
import stat as st

from sentry.vfs import hostproc, procfs
from sentry.errors import SysError
from sentry.handlers import current
from sentry.native import ffi, lib
from sentry.platform.base import Defer, InstallFd, Task
from sentry.vfs.resolve import SelfLink, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, base, int32, read_path, retry_through_self

O_ACCMODE, O_WRONLY, O_CREAT, O_NOCTTY, O_TRUNC = 0o3, 0o1, 0o100, 0o400, 0o1000
O_NONBLOCK, O_CLOEXEC, O_PATH, O_TMPFILE = 0o4000, 0o2000000, 0o10000000, 0o20200000
PROC_SUPER_MAGIC, SYSFS_MAGIC = 0x9FA0, 0x62656572
STAT_SIZE, STATX_SIZE = 144, 256


# -- open -------------------------------------------------------------------

def open(t: Task) -> int:      # noqa: A001 - the syscall's name
    return _open(t, AT_FDCWD, t.arg(0), t.arg(1) & 0xFFFFFFFF, t.arg(2) & 0o7777)


def openat(t: Task) -> int:
    return _open(t, int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFFFFFF, t.arg(3) & 0o7777)


def creat(t: Task) -> int:
    return _open(t, AT_FDCWD, t.arg(0), O_CREAT | O_WRONLY | O_TRUNC, t.arg(1) & 0o7777)


def _open(t: Task, dirfd: int, addr: int, flags: int, mode: int):
    path = read_path(t, addr)
    if not path:
        raise SysError(errno.ENOENT)
    if flags & O_CREAT or flags & O_TMPFILE == O_TMPFILE:
        mode &= ~umask(t.pid)
    cloexec = bool(flags & O_CLOEXEC)
    follow = not flags & 0o400000                               # O_NOFOLLOW
    if not flags & (O_PATH | O_NONBLOCK) and _is_fifo(t, dirfd, path, follow):
        # Opening a FIFO waits for the other end: do it on a worker, and
        # without a trial open, which would itself wake a waiting partner.
        return Defer(lambda: _open_blocking(t, dirfd, path, flags, mode, cloexec))
    ours = flags | O_CLOEXEC | O_NOCTTY
    if not flags & O_PATH:
        ours |= O_NONBLOCK   # a FIFO swapped in since the probe must not block us
    fd = retry_through_self(t, dirfd, path, lambda d, p: os.open(p, ours, mode, dir_fd=d), follow_last=follow)
    try:
        if not flags & O_PATH:
            if not flags & O_NONBLOCK:
                os.set_blocking(fd, True)
            if flags & O_ACCMODE == os.O_RDONLY and lib.sb_fstatfs_type(fd) in (PROC_SUPER_MAGIC, SYSFS_MAGIC):
                fd = _maybe_synthesize(fd)
        return t.inject_fd(fd, cloexec)
    finally:
        if fd >= 0:
            os.close(fd)


def _is_fifo(t, dirfd: int, path: bytes, follow: bool) -> bool:
    try:
        mode = retry_through_self(t, dirfd, path, lambda d, p: os.stat(p, dir_fd=d, follow_symlinks=follow).st_mode,
                                  follow_last=follow)
    except (OSError, SysError):
        return False          # the open itself will report the error
    return st.S_ISFIFO(mode)


def _open_blocking(t, dirfd, path, flags, mode, cloexec):
    """Runs on a worker: may wait for the FIFO's other end."""
    fd = retry_through_self(t, dirfd, path, lambda d, p: os.open(p, flags | O_CLOEXEC | O_NOCTTY, mode, dir_fd=d))
    return InstallFd(fd, cloexec)


def _maybe_synthesize(fd: int) -> int:
    """Swap a procfs fd for a memfd holding the sandbox's view, if the file
    is one we synthesize.  The canonical path comes from the kernel (the
    link of our own fd), not from the tracee's string."""
    path = os.readlink(f"{os.getpid()}/fd/{fd}", dir_fd=hostproc.fd())
    if not procfs.is_synthesized(path):
        return fd
    data = procfs.render(path, current.sandbox.proc_view())
    if data is None:
        return fd
    mem = os.memfd_create("pysandbox-proc", os.MFD_CLOEXEC)
    try:
        os.write(mem, data)
        ro = hostproc.open(f"{os.getpid()}/fd/{mem}", os.O_RDONLY)   # a read-only description
    finally:
        os.close(mem)
    os.close(fd)
    return ro


def umask(tid: int) -> int:
    value = hostproc.status_field(tid, "Umask")
    return int(value, 8) if value else 0o022


# -- stat -------------------------------------------------------------------

def stat(t: Task) -> int:
    return _fstatat(t, AT_FDCWD, t.arg(0), t.arg(1), 0)


def lstat(t: Task) -> int:
    return _fstatat(t, AT_FDCWD, t.arg(0), t.arg(1), AT_SYMLINK_NOFOLLOW)


def newfstatat(t: Task) -> int:
    return _fstatat(t, int32(t.arg(0)), t.arg(1), t.arg(2), t.arg(3) & 0xFFFFFFFF)


def _fstatat(t, dirfd, addr, buf_addr, flags):
    path = read_path(t, addr)
    buf = ffi.new("char[]", STAT_SIZE)
    _lookup(t, dirfd, path, flags, lambda d, p: lib.sb_fstatat_raw(d, p, buf, flags))
    t.write(buf_addr, _own_ids(ffi.buffer(buf)[:], STAT_UID))
    return 0


def statx(t: Task) -> int:
    dirfd, addr, flags = int32(t.arg(0)), t.arg(1), t.arg(2) & 0xFFFFFFFF
    mask, buf_addr = t.arg(3) & 0xFFFFFFFF, t.arg(4)
    path = read_path(t, addr)
    buf = ffi.new("char[]", STATX_SIZE)
    _lookup(t, dirfd, path, flags, lambda d, p: lib.sb_statx_raw(d, p, flags, mask, buf))
    t.write(buf_addr, _own_ids(ffi.buffer(buf)[:], STATX_UID))
    return 0


STAT_UID, STATX_UID = 28, 20      # offsets of st_uid / stx_uid; the gid follows each
OVERFLOW_ID = 65534               # what the kernel shows for an id the namespace does not map


def _own_ids(data: bytes, at: int) -> bytes:
    """Owner ids as the tracee's user namespace shows them: the sentry
    stats in the host's (with no user namespace, nothing to do)."""
    sb = current.sandbox
    if not sb.uid_map:
        return data
    uid, gid = (int.from_bytes(data[at + i:at + i + 4], "little") for i in (0, 4))
    ids = b"".join(_inside(m, v).to_bytes(4, "little") for m, v in ((sb.uid_map, uid), (sb.gid_map, gid)))
    return data[:at] + ids + data[at + 8:]


def _inside(mapping, host: int) -> int:
    for inside, outside, size in mapping:
        if outside <= host < outside + size:
            return inside + host - outside
    return OVERFLOW_ID


def _lookup(t, dirfd, path, flags, call):
    """Run a raw C call(dirfd, path) -> 0 | -errno as the tracee would."""
    if not path:
        if not flags & AT_EMPTY_PATH:
            raise SysError(errno.ENOENT)
        b = base(t, dirfd, b"")
        try:
            _check(call(b.fd, b""))
        finally:
            b.close()
        return

    def op(d, p):
        rc = call(AT_FDCWD if d is None else d, p)
        if rc == -errno.ENOENT:
            raise FileNotFoundError(errno.ENOENT, "")
        return _check(rc)
    retry_through_self(t, dirfd, path, op, follow_last=not flags & AT_SYMLINK_NOFOLLOW)


def _check(rc: int) -> int:
    if rc < 0:
        raise SysError(-rc)
    return rc


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
    _lookup(t, dirfd, path, flags, lambda d, p: lib.sb_faccessat2(d, p, mode, flags))
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
            target = os.readlink(b"", dir_fd=b.fd) if b.fd != AT_FDCWD else None
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
