"""open(2), openat(2), creat(2): the sentry opens the file and hands the
tracee the fd (ADDFD|SEND); nothing is decided on the path and CONTINUEd.
The common case is answered in C (csrc/fsfast.c); this serves the rest.

Kernel facts relied upon:
- open(2) of a FIFO blocks until the other end opens.  A stat first finds
  FIFOs, and a FIFO the tracee wants blocking is opened on a worker thread
  (Defer), so the notify loop never waits; a trial O_NONBLOCK open would
  wake a partner waiting on the other end, so there is none.  Other files
  are opened O_NONBLOCK (O_NONBLOCK then cleared), so one swapped for a
  FIFO after the stat cannot stall the loop either.
- The mode of a created file is masked by the *tracee's* umask.
- /proc and /sys files listed in sentry/vfs/procfs.py are answered with a
  memfd holding the sandbox's view (meminfo, cpuinfo, stat, uptime,
  loadavg, mounts, cpu/online).  Which file it is comes from the kernel
  (the link of the fd we opened), never from the tracee's string.
- SECCOMP_IOCTL_NOTIF_ADDFD cannot hand over an O_PATH file; the table lets
  O_PATH opens (a flag in a register) run natively, so none arrive here.
"""
from __future__ import annotations

import errno
import os
import stat as st

from sentry import native
from sentry.abi.linux import (
    AT_FDCWD,
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_NONBLOCK,
    O_PATH,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    PROC_SUPER_MAGIC,
    SYSFS_MAGIC,
)
from sentry.errors import SysError
from sentry.handlers import current
from sentry.handlers.common import umask
from sentry.platform.base import Defer, InstallFd, Task
from sentry.vfs import hostproc, procfs
from sentry.vfs.resolve import int32, read_path, retry_through_self


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
    # All or nothing, as the kernel, which takes the fd number before it
    # creates or truncates anything: a file we create is removed again if
    # the fd cannot reach the tracee (EMFILE), and a truncation waits until
    # the fd is in the tracee's table, before its call returns.
    truncate_after = bool(flags & O_TRUNC) and flags & O_ACCMODE != os.O_RDONLY
    if truncate_after:
        ours &= ~O_TRUNC
    if flags & O_CREAT and not flags & O_EXCL:
        fd, created = _open_or_create(t, dirfd, path, ours, mode, follow)
    else:
        fd = retry_through_self(t, dirfd, path, lambda d, p: os.open(p, ours, mode, dir_fd=d), follow_last=follow)
        created = bool(flags & O_CREAT)                 # with O_EXCL: created, if it worked
    try:
        if not flags & O_PATH:
            if not flags & O_NONBLOCK:
                os.set_blocking(fd, True)
            if flags & O_ACCMODE == os.O_RDONLY and native.fstatfs_type(fd) in (PROC_SUPER_MAGIC, SYSFS_MAGIC):
                fd = _maybe_synthesize(fd)
        try:
            if not truncate_after:
                return t.inject_fd(fd, cloexec)
            number = t.install_fd(fd, cloexec)           # in its table; its call not yet answered
        except SysError:
            if created:
                _remove_created(t, dirfd, path, fd)
            raise
        if st.S_ISREG(os.fstat(fd).st_mode):           # O_TRUNC means nothing to FIFOs and ttys
            os.ftruncate(fd, 0)
        return number
    finally:
        if fd >= 0:
            os.close(fd)


def _open_or_create(t, dirfd, path, ours, mode, follow) -> tuple[int, bool]:
    """(fd, whether this open created the file) for O_CREAT without O_EXCL:
    O_EXCL first; if the name exists (a file, a directory: EISDIR then, a
    symlink: followed as the kernel would), the plain open, which did not
    create it (or, after a race, may have: then we do not claim it)."""
    def opener(extra):
        return lambda d, p: os.open(p, ours | extra, mode, dir_fd=d)
    try:
        return retry_through_self(t, dirfd, path, opener(O_EXCL), follow_last=follow), True
    except SysError as e:
        if e.errno != errno.EEXIST:
            raise
    return retry_through_self(t, dirfd, path, opener(0), follow_last=follow), False


def _remove_created(t, dirfd, path, fd) -> None:
    """Unlink the file this call created, if the path still names it."""
    ours = os.fstat(fd)
    try:
        now = retry_through_self(t, dirfd, path, lambda d, p: os.stat(p, dir_fd=d, follow_symlinks=False),
                                 follow_last=False)
        if (now.st_dev, now.st_ino) == (ours.st_dev, ours.st_ino):
            retry_through_self(t, dirfd, path, lambda d, p: os.unlink(p, dir_fd=d), follow_last=False)
    except SysError:
        pass                      # already gone or replaced: nothing of ours to remove


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
