"""Errors, as values.

- SysError(errno) is what a handler raises to make the tracee's syscall fail.
  It is turned into the reply's error field in exactly one place, the
  platform's dispatcher.  OSError with an errno from a host call made on the
  tracee's behalf is treated the same way.  Any other exception in a handler
  is a sentry bug: the dispatcher reports it loudly and stops the sandbox; it
  never silently becomes some errno.
- SandboxError is a problem with what the user asked for (bad flag, missing
  rootfs, ...).  The CLI prints it without a traceback and exits 125, like
  runc and docker do for errors of the runtime itself.
"""
import errno
import os


class SysError(Exception):
    def __init__(self, err: int):
        super().__init__(err)
        self.errno = err

    def __str__(self):
        return f"{errno.errorcode.get(self.errno, self.errno)} ({os.strerror(self.errno)})"


class TaskGone(Exception):
    """The tracee died (or its syscall was interrupted) while we handled
    it: there is nobody to answer."""


class SandboxError(Exception):
    """A user-facing error; the message names the problem."""


EXIT_SANDBOX_ERROR = 125
