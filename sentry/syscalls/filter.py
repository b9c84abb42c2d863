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

from sentry.native import ffi, lib
from sentry.syscalls.model import Action, Row

# Before the sentry is serving, the workload must still be able to make
# these calls without waiting for a reply.
NEEDED_BEFORE_SERVING = frozenset({"sendmsg"})


class Filter:
    """An owned scmp_filter_ctx."""

    def __init__(self, ctx):
        self.ctx = ctx

    def close(self) -> None:
        if self.ctx != ffi.NULL:
            lib.sb_filter_free(self.ctx)
            self.ctx = ffi.NULL


def filter_action(row: Row, trace_all: bool, intercept: int) -> tuple[int, int]:
    """(libseccomp action, errno) for one row; `intercept` is NOTIFY
    (seccomp_notify platform) or TRACE (ptrace platform)."""
    if row.action is Action.DENY:
        return lib.SB_A_ERRNO, row.errno
    if row.action is Action.KILL:
        return lib.SB_A_KILL, 0
    if row.action is Action.PASSTHROUGH and not (trace_all and row.name not in NEEDED_BEFORE_SERVING):
        return lib.SB_A_ALLOW, 0
    return intercept, 0


def build(rows, trace_all: bool = False, platform: str = "seccomp") -> Filter:
    ctx = lib.sb_filter_new(errno.ENOSYS)
    if ctx == ffi.NULL:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    f = Filter(ctx)
    intercept = lib.SB_A_TRACE if platform == "ptrace" else lib.SB_A_NOTIFY
    try:
        for row in rows:
            action, err = filter_action(row, trace_all, intercept)
            if (action, err) == (lib.SB_A_ERRNO, errno.ENOSYS) and not row.arg_rules:
                continue   # that is the default action; libseccomp refuses a duplicate
            if not row.arg_rules:
                rc = lib.sb_filter_add(ctx, row.nr, action, err)
            else:
                (rule,) = row.arg_rules   # one flag word per syscall is all we use
                bit_action = (lib.SB_A_ALLOW, 0) if rule.allow else (lib.SB_A_ERRNO, rule.errno)
                rc = lib.sb_filter_add_flags(ctx, row.nr, action, err, rule.arg, rule.mask, *bit_action)
            if rc < 0:
                raise OSError(-rc, f"libseccomp refused the rule for {row.name}")
    except BaseException:
        f.close()
        raise
    return f
