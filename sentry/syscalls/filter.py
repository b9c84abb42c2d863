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
from sentry.syscalls.model import Action, Row, ValueRule

# Before the sentry is serving, the workload must still be able to make
# these calls without waiting for a reply.
NEEDED_BEFORE_SERVING = frozenset({"sendmsg"})
CMP_MASKED_EQ = 7          # libseccomp's SCMP_CMP_MASKED_EQ: (arg & a) == b
LOW32 = 0xFFFFFFFF


def value_rules(rule: ValueRule, action: int, err: int) -> list[tuple[int, int, int, int]]:
    """A ValueRule as (action, errno, mask, datum) rules, each one masked
    comparison, that together decide every value of the low 32 bits once.

    libseccomp cannot say "not equal" of a masked value, and a rule without
    a condition would swallow the conditional ones beside it.  So the
    refused values are walked as a binary trie from bit 31 down: where a
    branch holds no refused value, one rule gives the whole branch (its
    prefix: the high bits, as mask and datum) the row's action; each
    refused value gets an exact rule.  About 32 rules per refused value,
    fewer where values share a prefix (TIOCSTI and TIOCLINUX share 28 bits).
    """
    refused = sorted({v & LOW32 for v in rule.values})
    out: list[tuple[int, int, int, int]] = []

    def walk(values: list[int], bit: int, mask: int, prefix: int) -> None:
        if bit < 0:
            out.append((A_ERRNO, rule.errno, LOW32, prefix))
            return
        b = 1 << bit
        for side in (0, b):
            branch = [v for v in values if v & b == side]
            if branch:
                walk(branch, bit - 1, mask | b, prefix | side)
            else:
                out.append((action, err, mask | b, prefix | side))

    walk(refused, 31, 0, 0)
    return out


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
            values = [r for r in row.arg_rules if isinstance(r, ValueRule)]
            if values and action != A_ERRNO:
                (rule,) = values          # one per syscall, and no flag rule beside it
                for act, e, mask, datum in value_rules(rule, action, err):
                    rc = f.rule(row.nr, act, e, [(rule.arg, CMP_MASKED_EQ, mask, datum)])
                    if rc < 0:
                        raise OSError(-rc, f"libseccomp refused a value rule for {row.name}")
                continue
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
