"""From a notification to a handler, and from the handler's result to a reply.

The C loop (csrc/notify.c, csrc/ptrace.c) calls the Dispatcher for every
intercepted call it does not answer itself.  The Dispatcher builds the
platform's Task, runs the table's handler and encodes its result (the one
place that turns a handler's answer into a reply; see csrc/sb.h for the
encoding).  Handlers that may block (a FIFO open) run on a worker thread
instead, so the loop goes on serving the sandbox's other threads; how their
answer reaches the tracee is the platform's Deferral:
- seccomp_notify: SEND and ADDFD work from any thread, so the worker answers;
- ptrace: only the tracer thread may touch a tracee, so the worker only does
  the blocking part and the tracer thread finishes it.

Errors (sentry/errors.py): SysError is the tracee's answer; TaskGone means
there is nobody left to answer.  Handlers turn the failures of host calls
they make for the tracee into SysError themselves (vfs.resolve.as_tracee,
Task.read), so an OSError reaching the dispatcher is the sentry's own
failure: the tracee gets EIO and a line says which call and why.  Any
other exception is a sentry bug: it is reported and the sandbox stops.
"""
from __future__ import annotations

import errno
import os
import sys
import threading

# queue.SimpleQueue is this class; the queue module's other classes (and
# their heapq and time imports) cost ~0.6 ms of a `pysandbox run` start.
from _queue import SimpleQueue
from collections.abc import Callable

from sentry import native
from sentry.errors import SysError, TaskGone
from sentry.platform.base import ANSWERED, CONTINUE, Defer, InstallFd, Task, TaskFactory

TYPE_CHECKING = False      # typing is not loaded at run time: ~3 ms of a start (sentry/record.py)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object     # Deferral is an interface for mypy only


class Workers:
    """Threads for handlers that may block.  Daemon threads: one stuck in a
    FIFO open whose tracee was killed must not keep the sentry from
    exiting.  They sleep on a queue, so they never compete for the GIL."""

    def __init__(self, size: int = 8):
        self.size = size
        self.queue: SimpleQueue = SimpleQueue()
        self.threads: list[threading.Thread] = []

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


class Deferral(Protocol):
    """How a platform finishes a call whose handler runs on a worker."""

    def start(self, t: Task, work: Callable | None) -> None:
        """Called on the loop thread: run work() (None: the table's
        handler) off the loop, then get its result to the tracee."""


class Dispatcher:
    """handlers[nr] is the table's handler (None: observe only, CONTINUE);
    numbers in `blocking` always run on a worker.  A platform binds it
    (bind()) before serving: how to make a Task, and its Deferral."""

    def __init__(self, handlers: list, on_fatal: Callable[[str], None], tracer=None,
                 blocking: frozenset = frozenset()):
        self.handlers = handlers
        self.on_fatal = on_fatal
        self.tracer = tracer
        self.blocking = blocking
        self.make_task: TaskFactory = _unbound
        self.deferral: Deferral = _Unbound()
        self.sentry = None

    def bind(self, make_task: TaskFactory, deferral: Deferral, sentry=None) -> None:
        """sentry: the native.Sentry whose tracees the handlers act for
        (None: handlers run with the sentry's own credentials; tests)."""
        self.make_task = make_task
        self.deferral = deferral
        self.sentry = sentry

    def __call__(self, id, pid, nr, args, prefetched=None) -> int:
        t = self.make_task(id, pid, nr, args)
        if prefetched is not None:
            t.prefetched = prefetched
        if nr in self.blocking:
            return self.defer(t, None)
        return self.handle(t)

    def defer(self, t: Task, work: Callable | None) -> int:
        self.deferral.start(t, work)
        return native.PY_DEFERRED

    def _name(self, t: Task) -> str:
        handler = self.handlers[t.nr] if 0 <= t.nr < len(self.handlers) else None
        return f"syscall {t.nr} ({getattr(handler, '__name__', '?')})"

    def run_handler(self, t: Task):
        handler = self.handlers[t.nr] if 0 <= t.nr < len(self.handlers) else None
        return CONTINUE if handler is None else handler(t)

    def handle(self, t: Task, work: Callable | None = None) -> int:
        """Run the handler (or, finishing a deferral, `work`) and encode its
        result."""
        if self.tracer is not None and work is None:
            self.tracer.enter(t)
        try:
            if self.sentry is not None:
                # Every call is made as the calling thread is now (csrc/creds.c),
                # on whichever thread of ours runs it.
                t.chrooted = native.act_as(self.sentry, t.pid)
            result = work() if work is not None else self.run_handler(t)
            if type(result) is Defer:
                return self.defer(t, result.work)
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
            # A host call the handler did not expect to fail: the sentry's
            # failure, not an answer.  The tracee gets EIO and we say so.
            sys.stderr.write(f"pysandbox: {self._name(t)}: the sentry failed ({e}); the call gets EIO\n"
                             f"{_traceback()}")
            result = SysError(errno.EIO)
        except BaseException:     # a sentry bug: loud, and the sandbox stops
            self.on_fatal(f"internal error in the handler for {self._name(t)}:\n{_traceback()}")
            return native.PY_STOP
        if self.tracer is not None:
            self.tracer.exit(t, result)
        return encode(result)


def _traceback() -> str:
    import traceback  # fatal paths only: kept off the start-up
    return traceback.format_exc()


def _unbound(*_args):
    raise RuntimeError("the dispatcher is not bound to a platform (Dispatcher.bind)")


class _Unbound:
    def start(self, t, work) -> None:
        _unbound()


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


def reraise(value, error):
    """What finishing a deferral on another thread runs: the worker's
    result, or its exception raised again here."""
    if error is not None:
        raise error
    return value
