"""The ptrace platform: the fallback where seccomp user-notify is missing or
taken (a nested sandbox that already holds a listener gets EBUSY).

Facts about ptrace this module relies on (more in csrc/ptrace.c):
- The filter is the same table compiled with SECCOMP_RET_TRACE instead of
  USER_NOTIF for emulated and observed rows, so passthrough calls never
  stop; each emulated call costs one ptrace stop (PTRACE_EVENT_SECCOMP).
- RET_TRACE with no tracer fails the call, so the workload stops before it
  loads the filter and waits to be seized (seize_before_filter).
- Only the thread that seized a tracee may ptrace it.  Work that may block
  (a FIFO open) runs on a worker while its tracee stays in its ptrace-stop;
  the worker leaves the result in a queue, and the loop, which polls
  (waitpid WNOHANG, 1 ms naps) only while such work is outstanding,
  finishes it on the tracer thread.
- The tracee sits in a ptrace-stop while its syscall is handled, but its
  *other threads* keep running and can rewrite the memory a pointer
  argument points to.  Handlers copy arguments once and act on the copy;
  the mount namespace, pivot_root and dropped capabilities confine the
  calls that run on the host (see docs/SECURITY.md).
- There is no SECCOMP_IOCTL_NOTIF_ADDFD: fds are injected by making the
  tracee receive them over a unix socket (csrc/ptrace.c explains the steps).
"""
from __future__ import annotations

import errno
import os
import queue
import threading

from sentry import native
from sentry.errors import SysError, TaskGone
from sentry.native import check
from sentry.platform.base import InstallFd, Platform, register
from sentry.platform.dispatch import Workers, reraise
from sentry.platform.seccomp_notify import NotifyTask
from sentry.vfs import hostproc


class PtraceTask(NotifyTask):
    """One seccomp stop, seen through the platform interface."""
    __slots__ = ("_sentry",)

    def __init__(self, sentry: native.Sentry, id, pid, nr, args):
        super().__init__(-1, id, pid, nr, args)
        self._sentry = sentry

    def write(self, addr: int, data: bytes) -> None:
        n = native.mem_write(self.pid, addr, data)
        if n != len(data):
            if n == -errno.ESRCH:
                raise TaskGone()
            raise SysError(errno.EFAULT)

    def valid(self) -> bool:
        return True          # held in a ptrace-stop: it can only die

    def inject_fd(self, fd: int, cloexec: bool) -> int:
        r = native.ptrace_inject_fd(self._sentry, self.pid, fd, cloexec)
        if r == -errno.ESRCH:
            raise TaskGone()
        if r < 0:
            raise SysError(-r)
        return r

    install_fd = inject_fd       # the tracee stays in its stop until we reply


def _signal_pending(tid: int) -> bool:
    """An unblocked signal waits for this thread (or its process)."""
    try:
        f = {line.split(":")[0]: line.split(":")[1].strip()
             for line in hostproc.read(f"{tid}/status").decode().splitlines() if ":" in line}
        pending = int(f["SigPnd"], 16) | int(f["ShdPnd"], 16)
        return bool(pending & ~int(f["SigBlk"], 16))
    except (OSError, KeyError, ValueError):
        return False


class FinishOnTracer:
    """The Deferral of this platform.  A worker runs the blocking part and
    queues (task, value, error); the tracer thread, woken by the C loop
    (sentry.completed > 0), finishes every queued task that still waits in
    its stop.  `outstanding` makes the C loop poll instead of block."""

    def __init__(self, dispatcher, sentry: native.Sentry):
        self.dispatcher = dispatcher
        self.sentry = sentry
        self.lock = threading.Lock()
        self.waiting: dict[int, PtraceTask] = {}  # id(task) -> task, held in its stop
        self.completions: queue.SimpleQueue = queue.SimpleQueue()
        self.workers = Workers()

    def start(self, t, work) -> None:
        with self.lock:
            self.sentry.outstanding += 1
            self.waiting[id(t)] = t
        self.workers.submit(self._run, t, work)

    def _run(self, t, work) -> None:
        work = work or (lambda: self.dispatcher.run_handler(t))
        try:
            value, error = work(), None
        except BaseException as e:      # raised again on the tracer thread
            value, error = None, e
        self.completions.put((t, value, error))
        with self.lock:
            self.sentry.completed += 1

    def _release(self, t) -> bool:
        with self.lock:
            if self.waiting.pop(id(t), None) is None:
                return False
            self.sentry.outstanding -= 1
            return True

    def finish(self) -> None:
        """On the tracer thread: complete what the workers finished, and
        interrupt (EINTR) a waiting call whose thread got a signal, as the
        kernel would; a late result for it is then dropped."""
        with self.lock:
            self.sentry.completed = 0      # everything queued so far is drained below
        while not self.completions.empty():
            t, value, error = self.completions.get()
            if not self._release(t):
                if type(value) is InstallFd:
                    os.close(value.fd)     # interrupted meanwhile: never installed
                continue
            result = self.dispatcher.handle(t, work=lambda v=value, e=error: reraise(v, e))
            native.ptrace_complete(self.sentry, t.pid, result)
        for t in list(self.waiting.values()):
            if _signal_pending(t.pid) and self._release(t):
                native.ptrace_complete(self.sentry, t.pid, -errno.EINTR)


@register
class Ptrace(Platform):
    name = "ptrace"
    intercept = native.A_TRACE
    seize_before_filter = True

    def seize(self, pid: int) -> None:
        native.ptrace_seize(pid)

    def serve(self, sandbox, init_pid: int, listener: int | None, dispatcher) -> None:
        """Serve seccomp stops until no tracee is left and init has exited."""
        sentry = sandbox.sentry
        deferral = FinishOnTracer(dispatcher, sentry)
        dispatcher.bind(lambda id, pid, nr, args: PtraceTask(sentry, id, pid, nr, args), deferral, sentry)
        native.set_dispatch(dispatcher)
        sentry.listener = -1
        sentry.procfd = hostproc.fd()
        while True:
            rc, _status = native.ptrace_serve(sentry, init_pid)
            if rc == native.STOP_EINTR:
                deferral.finish()
                continue
            if rc in (native.STOP_GONE, native.STOP_REQUEST):
                return
            check(rc, "ptrace loop")
