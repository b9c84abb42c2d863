"""The shape of one row of the syscall table.

Every x86_64 syscall number has exactly one Row.  The table is data: the
seccomp filter, the C dispatch array, `pysandbox syscalls` and
docs/syscalls.md are all derived from it, so they cannot drift apart.
"""
from __future__ import annotations

import enum
from collections.abc import Callable

from sentry.record import field, record


class Action(enum.Enum):
    PASSTHROUGH = "passthrough"   # allowed in BPF; runs on the host kernel
    EMULATE = "emulated"          # notified; the sentry answers
    OBSERVE = "observed"          # notified, traced, then CONTINUE (kernel boundary confines it)
    DENY = "denied"               # refused in BPF with a fixed errno
    KILL = "kill"                 # kills the process


@record(frozen=True)
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


@record(frozen=True)
class ValueRule:
    """When the low 32 bits of args[arg] are one of `values`, BPF refuses the
    call with `errno`; any other value takes the row's action.

    For an int argument naming an operation (ioctl's request): the kernel
    reads only the low 32 bits, so a match on the whole register could be
    dodged by setting the high ones (filter.value_rules compiles it).
    """
    arg: int
    values: tuple
    errno: int


@record(frozen=True)
class Row:
    nr: int
    name: str
    action: Action
    note: str = ""
    errno: int = 0                       # for DENY
    handler: Callable | None = None   # for EMULATE (and optional for OBSERVE)
    fast: str | None = None           # name of a C fast-path handler, if any
    blocking: bool = False               # handler may sleep: run it off the notify loop
    arg_rules: tuple = field(default_factory=tuple)  # ArgRule or ValueRule, checked before the action
    # The fs mode the row's action applies in; in the other it is
    # PASSTHROUGH.  "strict": a path call intercepted only under --strict-fs
    # (in the default mode the sandbox's mount namespace confines it, the
    # kernel checks the caller's own identity, and the synthesized /proc
    # files are bind mounts of the sentry's FUSE filesystem).  "default":
    # intercepted only in the default mode (where those FUSE files need
    # it).  None: both.  See docs/fs-modes.md.
    fs_mode: str | None = None

    def action_in(self, strict_fs: bool) -> Action:
        """What this row does in the default fs mode or under --strict-fs."""
        if self.fs_mode is not None and self.fs_mode != ("strict" if strict_fs else "default"):
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
               arg_rules=tuple(arg_rules), fs_mode="strict")


def O(nr, name, note="", handler=None, fast=None, fs_mode=None):  # noqa: E743 - one letter per action, as the table reads (P E O D)
    return Row(nr, name, Action.OBSERVE, note, handler=handler, fast=fast, fs_mode=fs_mode)


def D(nr, name, errno, note="", fs_mode=None):
    return Row(nr, name, Action.DENY, note, errno=errno, fs_mode=fs_mode)
