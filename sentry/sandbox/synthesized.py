"""The synthesized /proc and /sys files of the default fs mode, as the
kernel's own files: the sentry serves a FUSE filesystem of them
(sentry/vfs/fuse.py, contents from sentry/vfs/procfs.py via procfuse) on a
thread of its own, and the sandbox's init mounts it and bind-mounts each
file over its path, so the workload reads /proc/meminfo & co. sized from the
sandbox's limits without a single intercepted path call (the LXCFS way).
Under --strict-fs the sentry answers the opens itself instead (a memfd,
handlers/fileopen.py); an OCI exec joins a container whose binds exist.

Kernel facts relied upon:
- setns(CLONE_NEWNS) fails with EINVAL for a caller whose fs struct is
  shared with another thread; the serving thread therefore unshares
  CLONE_FS before anything else, and start() returns only once it has, so
  the sentry's main thread can still join the sandbox's mount namespace.
- A thread cannot be created while the caller's pid namespace for children
  differs from its own (sentry/sandbox/lifecycle.py): start() runs after
  the fork of the sandbox's init.
- Reading /dev/fuse before a mount uses the connection fails with EPERM;
  mount(2) returns before INIT is answered, and every lookup waits for the
  server.  So the serving thread reads (1 ms naps on EPERM) until init has
  mounted, and init's bind mounts block until it answers.
- The connection lives while the sentry holds /dev/fuse and a mount of it
  exists; the bind mounts survive the detach of the staging mount at
  pivot_root.  Init's inherited copy of the fd is closed before the
  workload starts, like every fd it holds.  If the sentry dies the sandbox
  dies with it; readers in between get ENOTCONN, never the host's file.
- Bind mounts cover the paths wherever they are reached from: through
  /proc/self/root, /proc/PID/root, an O_PATH fd reopened via /proc/self/fd,
  or a dirfd on /proc, a lookup lands on the mount on top.
"""
from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable

from sentry import native
from sentry.abi.linux import CLONE_FS, MS_BIND
from sentry.errors import SysError
from sentry.handlers import current
from sentry.platform.base import CONTINUE
from sentry.vfs import fuse, hostproc, procfs, procfuse

STAGING_DIR = "synthesized"          # in init's private staging tmpfs (mounts.STAGING)


class Server:
    """The sentry's side: the /dev/fuse connection and its serving thread."""

    def __init__(self):
        self.fd = fuse.open_device()
        self.thread: threading.Thread | None = None
        self.server: fuse.FuseServer | None = None
        self.stopped = threading.Event()

    def start(self, view: Callable[[], procfs.View]) -> None:
        """Serve the files, rendered from view() at each open, on a daemon
        thread; returns once that thread has its own fs struct."""
        self.server = fuse.FuseServer(self.fd, procfuse.files(lambda _pid: view()))
        ready = threading.Event()
        failed: list[BaseException] = []

        def run():
            try:
                native.unshare(CLONE_FS)
            except BaseException as e:    # then the main thread's setns would fail: say why
                failed.append(e)
                ready.set()
                self.server.close()
                return
            ready.set()
            # Fail closed: however this thread ends, the connection goes with
            # it, so a reader gets ENOTCONN (and init's binds an error) instead
            # of waiting forever for a server that is gone.
            try:
                while not self.stopped.is_set():      # until init has mounted the connection
                    try:
                        if not self.server.handle_one():
                            return
                        break
                    except PermissionError:
                        time.sleep(0.001)
                else:
                    return
                self.server.serve()
            finally:
                self.server.close()
        self.thread = threading.Thread(target=run, name="sentry-procfs", daemon=True)
        self.thread.start()
        ready.wait()
        if failed:
            raise failed[0]

    def close(self) -> None:
        """The sandbox ended (or never started): stop waiting for a mount.
        Before start(), the fd is ours to close; after, the server's."""
        self.stopped.set()
        if self.thread is None and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


FUSE_SUPER_MAGIC = 0x65735546


def device_in_view() -> int:
    """st_dev of the synthesized files as the sandbox sees them (the sentry
    stands in its view), 0 if /proc/meminfo is not one (--strict-fs, an
    exec)."""
    try:
        fd = os.open("/proc/meminfo", os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        return os.fstat(fd).st_dev if native.fstatfs_type(fd) == FUSE_SUPER_MAGIC else 0
    finally:
        os.close(fd)


def source_check(t):
    """The Python form of the C fast path "synth_source" (--strace,
    --no-fastpath): EINVAL for sendfile/splice/copy_file_range from a
    synthesized file, else the kernel runs the call."""
    fd = t.arg(1 if t.nr == SENDFILE_NR else 0) & 0xFFFFFFFF
    dev = current.sandbox.sentry.synth_dev
    if dev and fd < 0x80000000:
        try:
            f = hostproc.open(f"{t.pid}/fd/{fd}", os.O_PATH)
        except OSError:
            return CONTINUE
        try:
            if os.fstat(f).st_dev == dev:
                raise SysError(errno.EINVAL)
        finally:
            os.close(f)
    return CONTINUE


SENDFILE_NR = 40


def mount_in(staging: str, dev_fd: int) -> str:
    """Init's side, part one: mount the connection at staging/STAGING_DIR
    (read-only); returns that directory."""
    where = os.path.join(staging, STAGING_DIR)
    os.mkdir(where, 0o700)
    fuse.mount(where, dev_fd)
    return where


def bind_over(where: str, target_fd_path) -> None:
    """Init's side, part two: bind each file over its path in the new
    root; target_fd_path(path) is a context manager giving a path that
    names the target inode (mounts._target), or None if it does not exist
    in this view (no /sys, a kernel without the file)."""
    for src, target in procfuse.binds(where):
        with target_fd_path(target) as t:
            if t is not None:
                native.mount(src, t, None, MS_BIND)
