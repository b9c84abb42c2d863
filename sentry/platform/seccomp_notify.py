"""The seccomp user-notify platform (the default).

Facts about seccomp user notification this module relies on:
- The filter is loaded by the workload itself (csrc/spawn.c) with
  SECCOMP_FILTER_FLAG_NEW_LISTENER; the listener fd comes to us over a
  socketpair.  A notified thread sleeps in the kernel until we SEND a reply.
- The reply is (val, error, flags): error is a negative errno, or flags is
  SECCOMP_USER_NOTIF_FLAG_CONTINUE to let the kernel run the syscall as is.
  CONTINUE re-reads pointer arguments, so it is only used where a
  kernel-enforced boundary confines the call (observe rows), never after a
  decision taken on tracee memory.
- A notification's id stays valid until it is answered or its thread dies;
  SECCOMP_IOCTL_NOTIF_ID_VALID tells which, so a recycled tid is never
  written to (Task.write checks it first).
- SEND and ADDFD may come from any thread of the supervisor: a call
  finished on a worker is answered by the worker itself.
- SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6) keeps the ping-pong on one CPU;
  an older kernel refuses the flag (EINVAL) and we go on without it.
- RECV is interrupted by signals (EINTR): the C loop returns to Python then,
  so Python signal handlers run between notifications.
- The loop runs in the sentry's only busy thread; cffi releases the GIL in C
  and a second busy Python thread would cost every notification a GIL
  hand-over.

Hot path: C receives, looks sb_sentry.kind[nr] up, and either answers in C
or calls the Dispatcher (platform/dispatch.py), which calls the table's
handler.
"""
from __future__ import annotations

import errno

from sentry import native
from sentry.errors import SysError, TaskGone
from sentry.native import check, mem_read, mem_read_cstr
from sentry.platform.base import ANSWERED, Platform, register
from sentry.platform.dispatch import Workers
from sentry.vfs import hostproc


class NotifyTask:
    """One notification, seen through the platform interface.  prefetched
    is (addr, bytes) when a C fast path already read a path at addr before
    handing the call to Python: read_cstr(addr) returns that copy, so the
    handler acts on exactly what C read, and memory is read once."""
    __slots__ = ("id", "pid", "nr", "args", "_fd", "prefetched", "chrooted")

    def __init__(self, fd, id, pid, nr, args):
        self._fd = fd
        self.id = id
        self.pid = pid
        self.nr = nr
        self.args = args
        self.prefetched = None
        self.chrooted = False          # it chrooted: resolve from its root (vfs.resolve)

    def arg(self, i: int) -> int:
        return self.args[i]

    def read(self, addr: int, size: int) -> bytes:
        try:
            return mem_read(self.pid, addr, size)
        except OSError as e:
            raise SysError(e.errno or errno.EIO) from None        # EFAULT

    def read_cstr(self, addr: int, max_len: int = 4096) -> bytes:
        p = self.prefetched
        if p is not None and p[0] == addr and len(p[1]) < max_len:
            return p[1]
        try:
            return mem_read_cstr(self.pid, addr, max_len)
        except OSError as e:
            raise SysError(e.errno or errno.EIO) from None        # EFAULT, ENAMETOOLONG

    def write(self, addr: int, data: bytes) -> None:
        n = native.mem_write_checked(self._fd, self.id, self.pid, addr, data)
        if n != len(data):
            if n == -errno.ESRCH:
                raise TaskGone()
            raise SysError(errno.EFAULT)

    def valid(self) -> bool:
        return native.id_valid(self._fd, self.id)

    def inject_fd(self, fd: int, cloexec: bool) -> object:
        r = native.addfd_send(self._fd, self.id, fd, cloexec)
        if r == -errno.ENOENT:
            raise TaskGone()          # the tracee died, or its call was interrupted
        if r < 0:
            raise SysError(-r)        # EMFILE: the tracee's fd table is full
        return ANSWERED

    def install_fd(self, fd: int, cloexec: bool) -> int:
        r = native.addfd(self._fd, self.id, fd, cloexec)
        if r == -errno.ENOENT:
            raise TaskGone()
        if r < 0:
            raise SysError(-r)
        return r


class AnswerFromWorker:
    """The Deferral of this platform: the worker replies by itself."""

    def __init__(self, dispatcher, listener: int):
        self.dispatcher = dispatcher
        self.listener = listener
        self.workers = Workers()

    def start(self, t, work) -> None:
        self.workers.submit(self._answer, t, work)

    def _answer(self, t, work) -> None:
        work = work or (lambda: self.dispatcher.run_handler(t))
        native.respond(self.listener, t.id, self.dispatcher.handle(t, work))


@register
class SeccompNotify(Platform):
    name = "seccomp"
    intercept = native.A_NOTIFY
    has_listener = True

    def serve(self, sandbox, init_pid: int, listener: int | None, dispatcher) -> None:
        """Serve notifications until no task uses the filter any more."""
        assert listener is not None
        dispatcher.bind(lambda id, pid, nr, args: NotifyTask(listener, id, pid, nr, args),
                        AnswerFromWorker(dispatcher, listener), sandbox.sentry)
        native.set_dispatch(dispatcher)
        sentry = sandbox.sentry
        sentry.listener = listener
        sentry.procfd = hostproc.fd()
        err = native.set_sync_wakeup(listener)
        if err < 0 and err != -errno.EINVAL:
            check(err, "SECCOMP_IOCTL_NOTIF_SET_FLAGS")
        while True:
            rc = native.serve_notify(sentry)
            if rc == native.STOP_EINTR:
                continue          # Python has run its signal handlers by now
            if rc in (native.STOP_GONE, native.STOP_REQUEST):
                return
            check(rc, "seccomp notify loop")
