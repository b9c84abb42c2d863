"""Signals from a container in the host's pid namespace (OCI without a pid
entry, the CRI's pid NODE): the sandbox's own keepers are not targets.

In its own pid namespace a container cannot name the sentry.  In the
host's it can, and the kernel lets a root container (CAP_KILL) signal any
process, and a non-root one those of its uid, which the sentry serves
with.  Killing the sentry and its watcher (lifecycle.py) together would
leave the container running with no one to end it, against the rule that
the sandbox dies with its sentry.  So, in that mode only, the kill family
is notified and these handlers refuse (EPERM) a target that is the sentry,
the watcher or a thread of either, their process group, or every process
at once (kill -1); anything else runs natively (CONTINUE), with the
kernel's own checks, as under runc with hostPID.

Kernel facts relied on:
- The pid, tgid, tid and pgid arguments are ints in registers: the values
  the kernel acts on, copied when the call entered, so deciding on them
  and replying CONTINUE is safe (no pointer is read).
- kill(pid): pid > 0 one process, 0 the caller's process group, -1 every
  process the caller may signal but init and itself, < -1 the group -pid.
  The container's processes are in a session of their own (init.py), so
  the caller's group is never the sentry's (setpgid cannot join a group
  of another session).
- Any id these calls take may be a thread's: kill and rt_sigqueueinfo
  given a thread's id signal its whole process, and a signal that kills
  (SIGKILL) ends the whole thread group whichever thread gets it.  So every
  id is checked against every thread of the guarded processes.
- The guarded processes live for the whole sandbox, and pids are handed
  out cyclically (up to pid_max), so a target that is not one of them
  cannot become one between this check and the call.
- pidfd_send_signal names its target by an fd, which another thread can
  swap between a check and the call: the table refuses it in this mode
  instead (ENOSYS, so callers fall back to kill(2)).
"""
from __future__ import annotations

import errno
import os

from sentry.errors import SysError
from sentry.handlers import current
from sentry.platform.base import CONTINUE, Reply, Task
from sentry.vfs import hostproc


def _int(t: Task, i: int) -> int:
    """Argument i as the C int the kernel reads (the low 32 bits, signed)."""
    v = t.arg(i) & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _refuse(tid: int) -> None:
    """EPERM if tid is a thread of a guarded process (its leader included)."""
    for pid in current.sandbox.guarded:
        try:
            os.stat(f"{pid}/task/{tid}", dir_fd=hostproc.fd())
        except OSError:
            continue
        raise SysError(errno.EPERM)


def kill(t: Task) -> int | Reply:
    pid = _int(t, 0)
    if pid == -1:
        raise SysError(errno.EPERM)          # it would reach the sentry and the watcher
    if pid < -1 and -pid in current.sandbox.guarded_groups:
        raise SysError(errno.EPERM)
    if pid > 0:
        _refuse(pid)
    return CONTINUE


def first_id(t: Task) -> int | Reply:
    """tkill and rt_sigqueueinfo: (tid or pid, sig, ...)."""
    _refuse(_int(t, 0))
    return CONTINUE


def tgkill(t: Task) -> int | Reply:
    """tgkill and rt_tgsigqueueinfo: (tgid, tid, ...)."""
    _refuse(_int(t, 0))
    _refuse(_int(t, 1))
    return CONTINUE
