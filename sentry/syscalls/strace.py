"""--strace: one line per intercepted syscall, in strace's format.

    [    1] execve("/bin/sh", ["sh", "-c", "cat /etc/hostname"], 0x7ffd3c1e9a28 /* 4 vars */) = ? <host>
    [    1] openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = 3
    [    1] access("/etc/ld.so.preload", R_OK) = -1 ENOENT (No such file or directory)

The pid is the one the sandbox sees (the last field of NSpid).  The
tracer runs inside the dispatcher, before and after the handler: an
exception here would stop the sandbox, so a formatting bug shows in the
line instead (`/* strace: ... */`, the arguments in hex).  How each
argument is shown is sentry/syscalls/strace_format.py's business; this
module pairs a call's entry with its exit and writes the line.

One line per call, written when the call's result is known: the
dispatcher calls enter(t) before the handler runs and exit(t, result) once
it has a result, possibly on a worker thread (a deferred handler) while the
loop goes on serving other threads, so a line never interleaves with
another.  Arguments are formatted at entry (the memory behind a pointer may
change once the call has run); buffers the call fills (readlink's, stat's)
at exit, while the tracee still waits for its reply.

Results the sentry does not know are shown as `?`, strace's mark for a
return it never saw (an exit_group, an execve that replaced the process):
- CONTINUE (observed rows such as execve and chdir, and every passthrough
  call under --strace=all): the kernel runs the call after our reply, and
  neither platform stops the tracee again when it returns (seccomp
  user-notify has no exit notification; the ptrace platform waits only for
  PTRACE_EVENT_SECCOMP, never for syscall-exit stops).  `= ? <host>`.
- An fd installed with SECCOMP_IOCTL_NOTIF_ADDFD|SEND: the ioctl completes
  the call with the new fd, and the platform hands back ANSWERED without
  the number.  `= ? <fd injected>`.  (The ptrace platform's injection
  returns the number, which is printed.)
- A call whose exit never comes (the tracee died mid-call, or ptrace's
  EINTR for an interrupted deferral) is written when the same thread next
  enters a call, as `= ? <unfinished>`, so no call loses its line.

Why execve used to look repeated: the workload's first exec goes through
csrc/spawn.c's exec_path, which tries execve on each $PATH directory in
turn; each try is a real syscall (the misses fail with ENOENT in the
kernel, after our CONTINUE), like execvp's tries under strace.  Under
seccomp_notify that process is still non-dumpable (inherited from init,
before its first execve resets the flag) and the sentry has no
CAP_SYS_PTRACE, so its memory cannot be read: each try prints the same raw
pointers, as strace does for unreadable memory.  Under ptrace it was made
dumpable to be seized, and the tries show their paths.
"""
from __future__ import annotations

import sys
import threading

from sentry.errors import TaskGone
from sentry.syscalls import table
from sentry.syscalls.strace_format import Call, format_entry, format_exit, prototypes
from sentry.vfs import hostproc


class Tracer:
    def __init__(self, sandbox, out=None):
        self.sandbox = sandbox
        self.out = out or sys.stderr
        self.protos = prototypes()
        self.vpids: dict[int, int] = {}
        self.pending: dict[int, Call] = {}      # host tid -> its call in progress
        self.lock = threading.Lock()

    def enter(self, t) -> None:
        call = self.format_call(t)
        with self.lock:
            stale = self.pending.pop(t.pid, None)
            self.pending[t.pid] = call
        if stale is not None:
            self._write(t.pid, f"{stale.name}({', '.join(stale.args)}) = ? <unfinished>")

    def exit(self, t, result) -> None:
        with self.lock:
            call = self.pending.pop(t.pid, None)
        if call is None:        # entered where no enter() was called (a deferral's first leg)
            call = self.format_call(t)
        try:
            line = format_exit(t, call, result)
        except Exception as e:
            line = f"{call.name}({', '.join(call.args)}, /* strace: {e!r} */) = {result!r}"
        self._write(t.pid, line)

    def format_call(self, t) -> Call:
        row = table.BY_NR.get(t.nr)
        name = row.name if row else f"syscall_{t.nr}"
        try:
            return format_entry(t, name, self.protos.get(name))
        except Exception as e:        # a formatting bug: say so in the line (see the header)
            return Call(name, [hex(t.arg(i)) for i in range(6)] + [f"/* strace: {e!r} */"], [])

    def _write(self, tid: int, line: str) -> None:
        text = f"[{self.vpid(tid):>5}] {line}\n"
        with self.lock:
            self.out.write(text)
            self.out.flush()

    def vpid(self, tid: int) -> int:
        """The tid as the sandbox sees it (last field of NSpid)."""
        v = self.vpids.get(tid)
        if v is None:
            try:
                v = int((hostproc.status_field(tid, "NSpid") or "").split()[-1])
            except (OSError, TaskGone, AttributeError, ValueError):
                pass
            v = v or tid
            self.vpids[tid] = v
        return v


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
