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
- SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP keeps the ping-pong on one CPU.
- RECV is interrupted by signals (EINTR): the C loop returns to Python then,
  so Python signal handlers run between notifications.
- The loop runs in the sentry's only busy thread; cffi releases the GIL in C
  and a second busy Python thread would cost every notification a GIL
  hand-over.

Hot path: C receives, looks sb_sentry.kind[nr] up, and either answers in C
or calls `sb_py_dispatch` below, which calls the table's handler.
"""
from __future__ import annotations

import errno
import os
import queue
import threading
import traceback

from sentry.vfs import hostproc
from sentry.errors import SysError, TaskGone
from sentry import native
from sentry.native import check, mem_read, mem_read_cstr
from sentry.platform.base import ANSWERED, CONTINUE, Defer, InstallFd

class NotifyTask:
    """One notification, seen through the platform interface."""
    __slots__ = ("id", "pid", "nr", "args", "_fd")

    def __init__(self, fd, id, pid, nr, args):
        self._fd = fd
        self.id = id
        self.pid = pid
        self.nr = nr
        self.args = args

    def arg(self, i: int) -> int:
        return self.args[i]

    def read(self, addr: int, size: int) -> bytes:
        return mem_read(self.pid, addr, size)

    def read_cstr(self, addr: int, max_len: int = 4096) -> bytes:
        return mem_read_cstr(self.pid, addr, max_len)

    def write(self, addr: int, data: bytes) -> None:
        n = native.mem_write_checked(self._fd, self.id, self.pid, addr, data)
        if n != len(data):
            if n == -errno.ESRCH:
                raise TaskGone()
            raise SysError(errno.EFAULT)

    def valid(self) -> bool:
        return native.id_valid(self._fd, self.id)

    def inject_fd(self, fd: int, cloexec: bool) -> object:
        check(native.addfd_send(self._fd, self.id, fd, cloexec), "addfd")
        return ANSWERED


class Workers:
    """Threads for handlers that may block.  Daemon threads: one stuck in a
    FIFO open whose tracee was killed must not keep the sentry from
    exiting.  They sleep on a queue, so they never compete for the GIL."""

    def __init__(self, size: int):
        self.size = size
        self.queue = queue.SimpleQueue()
        self.threads = []

    def submit(self, fn, *args) -> None:
        if len(self.threads) < self.size:
            th = threading.Thread(target=self._run, name="sentry-blocking", daemon=True)
            th.start()
            self.threads.append(th)
        self.queue.put((fn, args))

    def _run(self) -> None:
        while True:
            fn, args = self.queue.get()
            fn(*args)


class Dispatcher:
    """Turns a notification into a handler call and the handler's result
    into an encoded reply (see csrc/sb.h).  handlers[nr] is the table's
    handler (None: observe only); numbers in `blocking` have handlers that
    may sleep, so they run on a worker thread and answer later while the
    loop goes on serving the sandbox's other threads."""

    def __init__(self, handlers, on_fatal, tracer=None, blocking=frozenset(),
                 task_class=NotifyTask, completions=None):
        self.handlers = handlers
        self.tracer = tracer
        self.on_fatal = on_fatal
        self.blocking = blocking
        self.task_class = task_class
        # None: a worker answers by itself (seccomp_notify: SEND and ADDFD
        # work from any thread).  Else (ptrace: only the tracer thread may
        # touch a tracee) a worker only does the blocking part and leaves
        # (task, value, error) here for the tracer thread to finish.
        self.completions = completions
        self.on_complete = lambda: None
        self.workers = None
        self.fd = -1

    def __call__(self, id, pid, nr, args) -> int:
        t = self.task_class(self.fd, id, pid, nr, args)
        if nr in self.blocking:
            return self._defer(t)
        return self.handle(t)

    def _defer(self, t: NotifyTask, work=None) -> int:
        if self.workers is None:
            self.workers = Workers(8)
        self.workers.submit(self._answer_later, t, work)
        return native.PY_DEFERRED

    def _answer_later(self, t: NotifyTask, work) -> None:
        if self.completions is None:
            native.respond(self.fd, t.id, self.handle(t, work))
            return
        work = work or (lambda: self.handlers[t.nr](t))
        try:
            value, error = work(), None
        except BaseException as e:      # re-raised on the tracer thread, in handle()
            value, error = None, e
        self.completions.put((t, value, error))
        self.on_complete()

    def finish_deferred(self, wanted) -> list[tuple[NotifyTask, int]]:
        """ptrace: (task, encoded result) for every completed deferral whose
        task is still wanted(t); the others' results are dropped (a file
        they opened is closed, never installed)."""
        done = []
        while not self.completions.empty():
            t, value, error = self.completions.get()
            if not wanted(t):
                if type(value) is InstallFd:
                    os.close(value.fd)
                continue
            done.append((t, self.handle(t, work=lambda: _reraise(value, error))))
        return done

    def handle(self, t: NotifyTask, work=None) -> int:
        """Run the handler (or, on a worker, the deferred work) and encode
        its result."""
        handler = self.handlers[t.nr] if 0 <= t.nr < len(self.handlers) else None
        if self.tracer is not None and work is None:
            self.tracer.enter(t)
        try:
            if work is not None:
                result = work()
            else:
                result = CONTINUE if handler is None else handler(t)
            if type(result) is Defer:
                return self._defer(t, result.work)
            if type(result) is InstallFd:       # deferred work hands back a file
                install = result
                try:
                    result = t.inject_fd(install.fd, install.cloexec)
                finally:
                    os.close(install.fd)
        except SysError as e:
            result = e
        except TaskGone:
            return native.PY_DROPPED
        except OSError as e:
            result = SysError(e.errno or errno.EIO)
        except BaseException:     # a sentry bug: loud, and the sandbox stops
            self.on_fatal(f"internal error in the handler for syscall {t.nr}:\n{traceback.format_exc()}")
            return native.PY_STOP
        if self.tracer is not None:
            self.tracer.exit(t, result)
        return encode(result)


def _reraise(value, error):
    if error is not None:
        raise error
    return value


def encode(result) -> int:
    """The one place where a handler's result becomes a reply."""
    if type(result) is int and result >= 0:
        return result
    if isinstance(result, SysError):
        return -result.errno
    if result is CONTINUE:
        return native.PY_CONTINUE
    if result is ANSWERED:
        return native.PY_DEFERRED
    raise TypeError(f"handler returned {result!r}")   # a bug: fail loudly


def install(dispatcher: Dispatcher) -> None:
    """Make `dispatcher` the one the C loop's Python callback calls."""
    native.set_dispatch(dispatcher)


def serve(listener_fd: int, sentry, dispatcher: Dispatcher, kinds: dict[int, int]) -> None:
    """Serve notifications until no task uses the filter any more.

    `sentry` is the struct sb_sentry the C loop uses; kinds maps syscall
    numbers to C fast-path kinds (all others go to Python)."""
    install(dispatcher)
    dispatcher.fd = listener_fd
    sentry.listener = listener_fd
    sentry.procfd = hostproc.fd()
    for nr, kind in kinds.items():
        sentry.set_kind(nr, kind)
    err = native.set_sync_wakeup(listener_fd)
    if err < 0 and err != -errno.EINVAL:
        check(err, "SECCOMP_IOCTL_NOTIF_SET_FLAGS")
    while True:
        rc = native.serve_notify(sentry)
        if rc == native.STOP_EINTR:
            continue          # Python has run its signal handlers by now
        if rc in (native.STOP_GONE, native.STOP_REQUEST):
            return
        check(rc, "seccomp notify loop")
