"""--strace: one line per intercepted syscall, like `runsc --strace`.

    [   3] openat(AT_FDCWD, "/etc/passwd", 0x80000, 0) = 3
    [   1] uname(0x7ffc6f0e5a40) = 0
    [   1] execve("/bin/ls", ["ls", "-l"], 0x7ffd...) = <host>

Argument names and types come from python-ptrace's syscall prototypes.
Strings (`char *`) and argv vectors are read from tracee memory for display
only; no decision is taken on them.  Calls answered with CONTINUE run on the
host after the line is printed, so their result shows as `<host>`.
The pid printed is the one the sandbox sees (its pid namespace's).
"""
from __future__ import annotations

import errno
import os
import sys

from sentry.vfs import hostproc
from sentry.errors import SysError
from sentry.platform.base import ANSWERED, CONTINUE
from sentry.syscalls import table

STRING_TYPES = {"const char *", "char *"}
VECTOR_TYPES = {"const char *const *", "char **"}
AT_FDCWD = 0xFFFFFF9C


def prototypes():
    from ptrace.syscall.prototypes import SYSCALL_PROTOTYPES
    return SYSCALL_PROTOTYPES


class Tracer:
    def __init__(self, sandbox, out=None):
        self.sandbox = sandbox
        self.out = out or sys.stderr
        self.protos = prototypes()
        self.vpids: dict[int, int] = {}
        self.pending: dict[int, str] = {}

    def enter(self, t) -> None:
        # Format on entry: memory may change once the syscall has run.
        self.pending[t.pid] = self.format_call(t)

    def exit(self, t, result) -> None:
        call = self.pending.pop(t.pid, "?")
        self.out.write(f"[{self.vpid(t.pid):>5}] {call} = {format_result(result)}\n")
        self.out.flush()

    def vpid(self, tid: int) -> int:
        """The tid as the sandbox sees it (last field of NSpid)."""
        v = self.vpids.get(tid)
        if v is None:
            try:
                v = int(hostproc.status_field(tid, "NSpid").split()[-1])
            except (OSError, AttributeError, ValueError):
                pass
            v = v or tid
            self.vpids[tid] = v
        return v

    def format_call(self, t) -> str:
        row = table.BY_NR.get(t.nr)
        name = row.name if row else f"syscall_{t.nr}"
        proto = self.protos.get(name)
        if proto is None:
            return f"{name}({', '.join(hex(t.arg(i)) for i in range(6))})"
        args = [self.format_arg(t, ctype, pname, t.arg(i)) for i, (ctype, pname) in enumerate(proto[1])]
        return f"{name}({', '.join(args)})"

    def format_arg(self, t, ctype: str, pname: str, value: int) -> str:
        try:
            if ctype in STRING_TYPES and pname in ("filename", "pathname", "path", "name", "oldname", "newname", "specialfile"):
                return _quote(t.read_cstr(value, 256)) if value else "NULL"
            if ctype in VECTOR_TYPES and pname == "argv":
                return self.format_argv(t, value)
        except OSError:
            return hex(value)
        if pname in ("dfd", "dirfd", "olddfd", "newdfd") and value & 0xFFFFFFFF == AT_FDCWD:
            return "AT_FDCWD"
        if ctype in ("int", "unsigned int", "size_t", "umode_t", "pid_t", "uid_t", "gid_t", "long", "unsigned long") \
                and "*" not in ctype:
            v = value & 0xFFFFFFFF if ctype in ("int", "unsigned int", "umode_t", "pid_t", "uid_t", "gid_t") else value
            if ctype in ("int", "pid_t", "long") and v >> (31 if ctype != "long" else 63):
                v -= 1 << (32 if ctype != "long" else 64)
            return oct(v) if ctype == "umode_t" else str(v)
        return hex(value)

    def format_argv(self, t, addr: int, limit: int = 8) -> str:
        items = []
        for i in range(limit + 1):
            ptr = int.from_bytes(t.read(addr + 8 * i, 8), "little")
            if ptr == 0:
                break
            if i == limit:
                items.append("...")
                break
            items.append(_quote(t.read_cstr(ptr, 256)))
        return "[" + ", ".join(items) + "]"


def format_result(result) -> str:
    if result is CONTINUE:
        return "<host>"
    if result is ANSWERED:
        return "<fd injected>"
    if isinstance(result, SysError):
        return f"-1 {errno.errorcode.get(result.errno, result.errno)} ({os.strerror(result.errno)})"
    if isinstance(result, int):
        return str(result)
    return repr(result)


def _quote(b: bytes) -> str:
    s = b.decode("utf-8", "backslashreplace")
    if len(s) > 64:
        s = s[:64] + "..."
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def print_summary(sb, out=None) -> None:
    """--summary: what the sentry was asked, per syscall, like `strace -c`."""
    out = out or sys.stderr
    s = sb.sentry
    rows = [(count, nr) for nr, count in s.counts().items()]
    rows.sort(reverse=True)
    total = s.fast + s.slow
    out.write(f"\npysandbox: {total} intercepted syscalls "
              f"({s.fast} answered in C, {s.slow} in Python)\n")
    out.write(f"  {'calls':>8}  {'syscall':<18} {'action':<11}\n")
    for count, nr in rows:
        row = table.BY_NR.get(nr)
        out.write(f"  {count:>8}  {row.name if row else nr:<18} {row.action.value if row else '?':<11}\n")
    out.flush()
