"""The ptrace platform: the fallback where seccomp user-notify is missing or
taken (a nested sandbox that already holds a listener gets EBUSY).

Facts about ptrace this module relies on (more in csrc/ptrace.c):
- The filter is the same table compiled with SECCOMP_RET_TRACE instead of
  USER_NOTIF for emulated and observed rows, so passthrough calls never
  stop; each emulated call costs one ptrace stop (PTRACE_EVENT_SECCOMP).
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
import threading

from sentry.vfs import hostproc
from sentry.errors import SysError, TaskGone
from sentry import native
from sentry.native import check
from sentry.platform import seccomp_notify
from sentry.platform.seccomp_notify import NotifyTask


class PtraceTask(NotifyTask):
    """One seccomp stop, seen through the platform interface."""
    __slots__ = ()
    sentry = None      # the struct sb_sentry * being served (one per process)

    def write(self, addr: int, data: bytes) -> None:
        n = native.mem_write(self.pid, addr, data)
        if n != len(data):
            if n == -errno.ESRCH:
                raise TaskGone()
            raise SysError(errno.EFAULT)

    def valid(self) -> bool:
        return True          # held in a ptrace-stop: it can only die

    def inject_fd(self, fd: int, cloexec: bool) -> int:
        r = native.ptrace_inject_fd(PtraceTask.sentry, self.pid, fd, cloexec)
        if r == -errno.ESRCH:
            raise TaskGone()
        if r < 0:
            raise SysError(-r)
        return r


def _signal_pending(tid: int) -> bool:
    """An unblocked signal waits for this thread (or its process)."""
    try:
        f = {line.split(":")[0]: line.split(":")[1].strip()
             for line in hostproc.read(f"{tid}/status").decode().splitlines() if ":" in line}
        pending = int(f["SigPnd"], 16) | int(f["ShdPnd"], 16)
        return bool(pending & ~int(f["SigBlk"], 16))
    except (OSError, KeyError, ValueError):
        return False


def seize(pid: int) -> None:
    native.ptrace_seize(pid)


def serve(init_pid: int, sentry, dispatcher, kinds: dict[int, int]) -> None:
    """Serve seccomp stops until no tracee is left and init has exited."""
    seccomp_notify.install(dispatcher)
    lock = threading.Lock()
    waiting: dict[int, object] = {}      # id(task) -> task, held in its stop for a worker

    def completed():
        with lock:
            sentry.completed += 1
    dispatcher.on_complete = completed
    defer = dispatcher._defer

    def outstanding(t, work=None):
        with lock:
            sentry.outstanding += 1
            waiting[id(t)] = t
        return defer(t, work)
    dispatcher._defer = outstanding
    PtraceTask.sentry = sentry
    sentry.listener = -1
    sentry.procfd = hostproc.fd()
    for nr, kind in kinds.items():
        sentry.set_kind(nr, kind)
    while True:
        rc, _status = native.ptrace_serve(sentry, init_pid)
        if rc == native.STOP_EINTR:
            with lock:
                sentry.completed = 0      # everything queued so far is drained below
            for t, result in dispatcher.finish_deferred(wanted=lambda t: id(t) in waiting):
                with lock:
                    waiting.pop(id(t), None)
                    sentry.outstanding -= 1
                native.ptrace_complete(sentry, t.pid, result)
            for t in list(waiting.values()):
                if _signal_pending(t.pid):
                    # A signal interrupts a blocking call, as in the kernel:
                    # EINTR now; the worker's late result is dropped.
                    with lock:
                        waiting.pop(id(t), None)
                        sentry.outstanding -= 1
                    native.ptrace_complete(sentry, t.pid, -errno.EINTR)
            continue
        if rc in (native.STOP_GONE, native.STOP_REQUEST):
            return
        check(rc, "ptrace loop")
