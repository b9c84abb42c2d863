"""Compiling the syscall table into a seccomp filter (libseccomp, csrc/filter.c).

- passthrough -> ALLOW, or NOTIFY with --strace=all (traced, then CONTINUE);
- emulate, observe -> NOTIFY (TRACE on the ptrace platform);
- deny -> ERRNO(e);
- numbers the table does not list -> the default action, ERRNO(ENOSYS);
- a non-x86_64 arch (int 0x80) or an x32 number -> KILL_PROCESS.

Under --strace=all, sendmsg stays ALLOW: the workload sends us the listener
fd with it after the filter is loaded, before anyone is serving.
"""
from __future__ import annotations

import errno

from sentry import native
from sentry.native import A_ALLOW, A_ERRNO, A_KILL, A_NOTIFY, FilterCtx
from sentry.syscalls.model import Action, Row

# Before the sentry is serving, the workload must still be able to make
# these calls without waiting for a reply.
NEEDED_BEFORE_SERVING = frozenset({"sendmsg"})


def filter_action(row: Row, trace_all: bool, intercept: int, strict_fs: bool = False,
                  host_pid: bool = False) -> tuple[int, int]:
    """(libseccomp action, errno) for one row; `intercept` is the
    platform's (NOTIFY for seccomp_notify, TRACE for ptrace); host_pid: a
    container in the host's pid namespace (table.HOST_PID_DENIED)."""
    from sentry.syscalls.table import HOST_PID_DENIED, HOST_PID_GUARDED
    if host_pid and row.name in HOST_PID_DENIED:
        return A_ERRNO, HOST_PID_DENIED[row.name]
    if host_pid and row.name in HOST_PID_GUARDED:
        return intercept, 0
    action = row.action_in(strict_fs)
    if action is Action.DENY:
        return A_ERRNO, row.errno
    if action is Action.KILL:
        return A_KILL, 0
    if action is Action.PASSTHROUGH and not (trace_all and row.name not in NEEDED_BEFORE_SERVING):
        return A_ALLOW, 0
    return intercept, 0


def build(rows, trace_all: bool = False, intercept: int = A_NOTIFY, strict_fs: bool = False,
          host_pid: bool = False) -> FilterCtx:
    """The table as a filter; `intercept` is the platform's action for
    emulated and observed rows (Platform.intercept); strict_fs: the fs mode
    (model.Row.fs_mode); host_pid: see filter_action."""
    f = native.filter_new(errno.ENOSYS)
    try:
        for row in rows:
            action, err = filter_action(row, trace_all, intercept, strict_fs, host_pid)
            # An allow-rule on a call that is allowed anyway says nothing.
            rules = [r for r in row.arg_rules if not (r.allow and action == A_ALLOW)]
            if (action, err) == (A_ERRNO, errno.ENOSYS) and not rules:
                continue   # that is the default action; libseccomp refuses a duplicate
            if not rules:
                rc = f.add(row.nr, action, err)
            else:
                (rule,) = rules           # one flag word per syscall is all we use
                bit_action = (A_ALLOW, 0) if rule.allow else (A_ERRNO, rule.errno)
                rc = f.add_flags(row.nr, action, err, rule.arg, rule.mask, *bit_action)
            if rc < 0:
                raise OSError(-rc, f"libseccomp refused the rule for {row.name}")
    except BaseException:
        f.close()
        raise
    return f
