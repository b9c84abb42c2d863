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


def P(nr, name, note="", arg_rules=()):
    return Row(nr, name, Action.PASSTHROUGH, note, arg_rules=tuple(arg_rules))


def E(nr, name, handler, note="", fast=None, blocking=False, arg_rules=()):
    return Row(nr, name, Action.EMULATE, note, handler=handler, fast=fast, blocking=blocking,
               arg_rules=tuple(arg_rules))


def O(nr, name, note="", handler=None, fast=None):  # noqa: E743 - one letter per action, as the table reads (P E O D)
    return Row(nr, name, Action.OBSERVE, note, handler=handler, fast=fast)


def D(nr, name, errno, note=""):
    return Row(nr, name, Action.DENY, note, errno=errno)
