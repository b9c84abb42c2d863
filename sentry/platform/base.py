"""The interface every platform gives to syscall handlers.

Handlers see only a Task (one intercepted syscall of one thread), never the
platform behind it, so the same handler serves seccomp_notify and ptrace.

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

from typing import Protocol


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

    def arg(self, i: int) -> int:
        """Argument register i (0..5), as an unsigned 64-bit int."""

    def read(self, addr: int, size: int) -> bytes:
        """Tracee memory.  Raises OSError(EFAULT) if not all readable."""

    def read_cstr(self, addr: int, max_len: int = 4096) -> bytes:
        """A NUL-terminated string.  EFAULT, or ENAMETOOLONG past max_len."""

    def write(self, addr: int, data: bytes) -> None:
        """Write tracee memory, honouring page protections.  EFAULT if not
        all writable.  Checks the task is still the tracee first."""

    def valid(self) -> bool:
        """The syscall is still pending (the tid was not recycled).  Call
        after reading memory and before acting on what was read."""

    def inject_fd(self, fd: int, cloexec: bool) -> Reply:
        """Install our fd in the tracee and complete the syscall with the
        new fd number.  Returns ANSWERED."""
