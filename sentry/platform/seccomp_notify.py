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
import sys
import traceback

from sentry.errors import SysError
from sentry.native import check, ffi, lib, mem_read, mem_read_cstr, mem_write
from sentry.platform.base import ANSWERED, CONTINUE

SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1

FAST_KINDS = {"uname": lib.SB_K_UNAME}


class NotifyTask:
    """One notification, seen through the platform interface."""
    __slots__ = ("req", "nr", "pid", "_fd")

    def __init__(self, req, fd):
        self.req = req
        self.nr = req.data.nr
        self.pid = req.pid
        self._fd = fd

    def arg(self, i: int) -> int:
        return self.req.data.args[i]

    def read(self, addr: int, size: int) -> bytes:
        return mem_read(self.pid, addr, size)

    def read_cstr(self, addr: int, max_len: int = 4096) -> bytes:
        return mem_read_cstr(self.pid, addr, max_len)

    def write(self, addr: int, data: bytes) -> None:
        if not self.valid():
            raise SysError(errno.ESRCH)
        mem_write(self.pid, addr, data)

    def valid(self) -> bool:
        return bool(lib.sb_id_valid(self._fd, self.req.id))

    def inject_fd(self, fd: int, cloexec: bool) -> object:
        check(lib.sb_addfd_send(self._fd, self.req.id, fd, 0o2000000 if cloexec else 0), "addfd")
        return ANSWERED


class Dispatcher:
    """Turns a notification into a handler call and the handler's result
    into a reply.  handlers[nr] is the table's handler (or None); numbers in
    `blocking` have handlers that may sleep, so they run on a worker thread
    and answer later, and the loop goes on serving the other threads."""

    def __init__(self, handlers, on_fatal, tracer=None, blocking=frozenset()):
        self.handlers = handlers
        self.tracer = tracer
        self.on_fatal = on_fatal
        self.blocking = blocking
        self.workers = None
        self.fd = -1

    def __call__(self, req, resp) -> int:
        if req.data.nr in self.blocking:
            return self._defer(req)
        return self.handle(NotifyTask(req, self.fd), resp)

    def _defer(self, req) -> int:
        if self.workers is None:
            from concurrent.futures import ThreadPoolExecutor
            self.workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sentry-blocking")
        own = ffi.new("struct seccomp_notif *")
        ffi.memmove(own, req, ffi.sizeof("struct seccomp_notif"))   # req is reused by the loop
        self.workers.submit(self._answer_later, own)
        return lib.SB_DEFERRED

    def _answer_later(self, req) -> None:
        resp = ffi.new("struct seccomp_notif_resp *")
        resp.id = req.id
        if self.handle(NotifyTask(req, self.fd), resp) in (lib.SB_REPLY, lib.SB_STOP):
            lib.sb_respond(self.fd, resp.id, resp.val, resp.error, resp.flags)

    def handle(self, t: NotifyTask, resp) -> int:
        handler = self.handlers[t.nr] if 0 <= t.nr < len(self.handlers) else None
        if self.tracer is not None:
            self.tracer.enter(t)
        try:
            if handler is None:
                result = CONTINUE     # observed: nothing to emulate
            else:
                result = handler(t)
        except SysError as e:
            result = e
        except OSError as e:
            result = SysError(e.errno or errno.EIO)
        except BaseException:     # a sentry bug: loud, and the sandbox stops
            self.on_fatal(f"internal error in the {t.nr} handler:\n{traceback.format_exc()}")
            resp.error = -errno.ENOSYS
            return lib.SB_STOP
        if self.tracer is not None:
            self.tracer.exit(t, result)
        return encode(result, resp)


def encode(result, resp) -> int:
    """The one place where a handler result becomes a reply."""
    if type(result) is int:
        resp.val = result
        return lib.SB_REPLY
    if isinstance(result, SysError):
        resp.error = -result.errno
        return lib.SB_REPLY
    if result is CONTINUE:
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE
        return lib.SB_REPLY
    if result is ANSWERED:
        return lib.SB_DEFERRED
    raise TypeError(f"handler returned {result!r}")   # a bug: fail loudly


_dispatcher: Dispatcher | None = None


@ffi.def_extern(onerror=lambda *exc: _fatal_callback(*exc))
def sb_py_dispatch(req, resp):
    return _dispatcher(req, resp)


def _fatal_callback(exc_type, exc, tb):
    sys.stderr.write("pysandbox: sentry dispatch failed:\n")
    traceback.print_exception(exc_type, exc, tb)
    return lib.SB_STOP


def serve(listener_fd: int, sentry, dispatcher: Dispatcher, kinds: dict[int, int]) -> None:
    """Serve notifications until no task uses the filter any more.

    `sentry` is the struct sb_sentry the C loop uses; kinds maps syscall
    numbers to C fast-path kinds (all others go to Python)."""
    global _dispatcher
    _dispatcher = dispatcher
    dispatcher.fd = listener_fd
    sentry.fd = listener_fd
    for nr, kind in kinds.items():
        sentry.kind[nr] = kind
    err = lib.sb_set_sync_wakeup(listener_fd)
    if err < 0 and err != -errno.EINVAL:
        check(err, "SECCOMP_IOCTL_NOTIF_SET_FLAGS")
    while True:
        rc = lib.sb_serve(sentry)
        if rc == lib.SB_STOP_EINTR:
            continue          # Python has run its signal handlers by now
        if rc in (lib.SB_STOP_GONE, lib.SB_STOP_REQUEST):
            return
        check(rc, "seccomp notify loop")
