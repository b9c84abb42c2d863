"""uname(2), sethostname(2), setdomainname(2): the sandbox's own UTS view.

The sandbox also has a real UTS namespace underneath; these handlers make the
sentry the one answer, so the release string is configurable and the
hostname is the sandbox's, whatever the kernel below says.  uname is normally
answered in C (csrc/fastpath.c); the handler here serves --strace and
--no-fastpath with identical results.

Linux facts: sethostname checks CAP_SYS_ADMIN first (EPERM), then
0 <= len <= 64 (EINVAL, len is an int), then copies (EFAULT).  The name is
stored NUL-padded; it need not be NUL-terminated in the caller's buffer.
"""
from __future__ import annotations

import errno

from sentry.abi.linux import CAP_SYS_ADMIN
from sentry.errors import SysError, TaskGone
from sentry.handlers import current
from sentry.platform.base import Task
from sentry.sandbox.state import UTS_LEN
from sentry.vfs import hostproc


def uname(t: Task) -> int:
    t.write(t.arg(0), current.sandbox.uts_bytes())
    return 0


def _set_uts(t: Task, field: str) -> int:
    if not has_cap(t.pid, CAP_SYS_ADMIN):
        raise SysError(errno.EPERM)
    length = t.arg(1) & 0xFFFFFFFF
    if length > UTS_LEN:          # also catches a negative int
        raise SysError(errno.EINVAL)
    name = t.read(t.arg(0), length) if length else b""
    if not t.valid():          # read, then check, then act
        raise TaskGone()
    current.sandbox.set_uts(field, name)
    return 0


def sethostname(t: Task) -> int:
    return _set_uts(t, "nodename")


def setdomainname(t: Task) -> int:
    return _set_uts(t, "domainname")


def has_cap(tid: int, cap: int) -> bool:
    """Is cap in the thread's effective set?  /proc/TID/status is the
    kernel's own record, so the tracee cannot forge it."""
    eff = hostproc.status_field(tid, "CapEff")
    return eff is not None and bool(int(eff, 16) >> cap & 1)
