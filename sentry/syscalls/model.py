"""The shape of one row of the syscall table.

Every x86_64 syscall number has exactly one Row.  The table is data: the
seccomp filter, the C dispatch array, `pysandbox syscalls` and
docs/syscalls.md are all derived from it, so they cannot drift apart.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field


class Action(enum.Enum):
    PASSTHROUGH = "passthrough"   # allowed in BPF; runs on the host kernel
    EMULATE = "emulated"          # notified; the sentry answers
    OBSERVE = "observed"          # notified, traced, then CONTINUE (kernel boundary confines it)
    DENY = "denied"               # refused in BPF with a fixed errno
    KILL = "kill"                 # kills the process


@dataclass(frozen=True)
class ArgRule:
    """When (args[arg] & mask) != 0, BPF refuses the call with `errno`, or,
    with allow=True, lets it run natively instead of taking the row's action.

    Used for flag words such as clone's namespace flags, or newfstatat's
    AT_EMPTY_PATH (an fstat, nothing to resolve): the value is in a register,
    so BPF can check it without any TOCTOU window.
    """
    arg: int
    mask: int
    errno: int = 0
    allow: bool = False


@dataclass(frozen=True)
class Row:
    nr: int
    name: str
    action: Action
    note: str = ""
    errno: int = 0                       # for DENY
    handler: Callable | None = None   # for EMULATE (and optional for OBSERVE)
    fast: str | None = None           # name of a C fast-path handler, if any
    blocking: bool = False               # handler may sleep: run it off the notify loop
    arg_rules: tuple = field(default_factory=tuple)  # ArgRule..., checked before the action
    # A path call intercepted only under --strict-fs.  In the default fs mode
    # it runs natively: the sentry virtualizes nothing it would touch (the
    # sandbox's mount namespace confines it, the kernel checks the caller's
    # own identity, the synthesized /proc files are bind mounts of the
    # sentry's FUSE filesystem).  See docs/fs-modes.md.
    strict_fs: bool = False

    def action_in(self, strict_fs: bool) -> Action:
        """What this row does in the default fs mode or under --strict-fs."""
        if self.strict_fs and not strict_fs:
            return Action.PASSTHROUGH
        return self.action


def P(nr, name, note="", arg_rules=()):
    return Row(nr, name, Action.PASSTHROUGH, note, arg_rules=tuple(arg_rules))


def E(nr, name, handler, note="", fast=None, blocking=False, arg_rules=()):
    return Row(nr, name, Action.EMULATE, note, handler=handler, fast=fast, blocking=blocking,
               arg_rules=tuple(arg_rules))


def F(nr, name, handler, note="", fast=None, blocking=False, arg_rules=()):
    """A path call: emulated under --strict-fs, passthrough in the default mode."""
    return Row(nr, name, Action.EMULATE, note, handler=handler, fast=fast, blocking=blocking,
               arg_rules=tuple(arg_rules), strict_fs=True)


def O(nr, name, note="", handler=None, fast=None, strict_fs=False):  # noqa: E743 - one letter per action, as the table reads (P E O D)
    return Row(nr, name, Action.OBSERVE, note, handler=handler, fast=fast, strict_fs=strict_fs)


def D(nr, name, errno, note=""):
    return Row(nr, name, Action.DENY, note, errno=errno)
