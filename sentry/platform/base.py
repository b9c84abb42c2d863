"""The platform interface: what a platform gives the sentry, and what it
gives syscall handlers.

A Platform (one per intercepting mechanism, registered by name: "seccomp",
"ptrace") says how the filter intercepts a call, how the workload must be
started for it, and serves the sandbox until it ends.  Handlers see only a
Task (one intercepted syscall of one thread), never the platform behind it,
so the same handler serves both platforms.

A handler is `def handler(t: Task) -> int | Reply`:
- return an int >= 0: the syscall succeeds with that value;
- raise SysError(errno) (or OSError from a host call made on the tracee's
  behalf): the syscall fails with that errno;
- return CONTINUE: the host kernel runs the syscall unchanged (only where a
  kernel-enforced boundary confines it; never after deciding on memory);
- return t.inject_fd(...)'s result: the syscall completed with a new fd;
- return Defer(work): work() runs on a worker thread and gives the result.
"""
from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False      # typing is not loaded at run time: ~3 ms of a start (sentry/record.py)
if TYPE_CHECKING:
    from typing import ClassVar, Protocol
else:
    Protocol = object     # Task is an interface for mypy; nothing checks it at run time


class Reply:
    """A handler result that is not a plain return value."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return self.name


CONTINUE = Reply("CONTINUE")   # let the host kernel run the syscall
ANSWERED = Reply("ANSWERED")   # the platform already completed the syscall


class InstallFd(Reply):
    """What deferred work returns for a new file: the platform installs
    `fd` in the tracee (from the right thread) and closes ours."""

    def __init__(self, fd: int, cloexec: bool):
        super().__init__("INSTALL_FD")
        self.fd = fd
        self.cloexec = cloexec


class Defer(Reply):
    """Finish on a worker thread: `work()` may block (a FIFO open, a slow
    filesystem) and returns the handler's real result.  The notify loop
    goes on serving the sandbox's other threads meanwhile."""

    def __init__(self, work):
        super().__init__("DEFER")
        self.work = work


class Task(Protocol):
    """One intercepted syscall.

    nr, pid (host thread id) and arg(i) are copies the kernel took when the
    syscall entered: safe to decide on.  Memory behind a pointer is not: the
    tracee (another thread) may change it at any moment.
    """
    nr: int
    pid: int
    prefetched: tuple[int, bytes] | None   # a path C already read: (addr, bytes)
    chrooted: bool                         # it chrooted: resolve from its root

    def arg(self, i: int) -> int:
        """Argument register i (0..5), as an unsigned 64-bit int."""

    def read(self, addr: int, size: int) -> bytes:
        """Tracee memory.  Raises OSError(EFAULT) if not all readable."""

    def read_cstr(self, addr: int, max_len: int = 4096) -> bytes:
        """A NUL-terminated string.  EFAULT, or ENAMETOOLONG past max_len.
        If the C fast path already read the string at addr (it fell back to
        Python), that copy is returned: memory is read once."""

    def write(self, addr: int, data: bytes) -> None:
        """Write tracee memory, honouring page protections.  EFAULT if not
        all writable.  Checks the task is still the tracee first."""

    def valid(self) -> bool:
        """The syscall is still pending (the tid was not recycled).  Call
        after reading memory and before acting on what was read."""

    def inject_fd(self, fd: int, cloexec: bool) -> Reply:
        """Install our fd in the tracee and complete the syscall with the
        new fd number.  Returns ANSWERED (or that number, where the
        platform completes the call with the handler's result).  SysError
        (EMFILE) if the tracee's fd table is full."""

    def install_fd(self, fd: int, cloexec: bool) -> int:
        """Install our fd in the tracee without completing the syscall:
        the tracee's new fd number, which the handler then returns.  For
        work that must happen after the fd is in place but before the
        tracee runs again.  SysError (EMFILE) if its table is full."""


class Platform:
    """One way of intercepting a sandbox's syscalls.  Subclasses register
    themselves by name (register()) and are chosen with get(name).

    Class attributes (what the rest of the sentry needs to know):
    - name: what --platform and the OCI/CRI configs call it;
    - intercept: the filter action for emulated and observed rows
      (native.A_NOTIFY or A_TRACE; see sentry/syscalls/filter.py);
    - seize_before_filter: the workload stops before loading the filter
      and waits for the sentry to seize it (csrc/spawn.c, the "S" message);
    - has_listener: the workload sends a listener fd once the filter is
      loaded (the "L" message carries one).
    """
    name: ClassVar[str]
    intercept: ClassVar[int]
    seize_before_filter: ClassVar[bool] = False
    has_listener: ClassVar[bool] = False

    def seize(self, pid: int) -> None:
        """Take the workload (stopped before its filter) as a tracee.
        Only called when seize_before_filter."""
        raise NotImplementedError

    def serve(self, sandbox, init_pid: int, listener: int | None, dispatcher) -> None:
        """Serve the sandbox's intercepted calls until no task of it is left.

        Preconditions: the sentry stands in the sandbox's view with the
        workload's identity (sentry/sandbox/lifecycle.py); `dispatcher`
        (platform/dispatch.py) maps notifications to handlers.  Returns when
        the sandbox is gone; raises OSError if the mechanism itself fails
        (the caller then kills the sandbox)."""
        raise NotImplementedError


_REGISTRY: dict[str, type[Platform]] = {}


def register(cls: type[Platform]) -> type[Platform]:
    """Class decorator: make cls available as get(cls.name)."""
    _REGISTRY[cls.name] = cls
    return cls


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get(name: str) -> Platform:
    """A new instance of the platform called name; KeyError if none is."""
    return _REGISTRY[name]()


TaskFactory = Callable[[int, int, int, tuple], Task]
