"""An OCI config's `linux.seccomp` profile, compiled into a second filter.

The workload loads our filter first, then this one (csrc/spawn.c).  Facts
relied upon:
- With several filters the kernel runs them all and takes the action of
  highest precedence (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF
  > TRACE > LOG > ALLOW).  So a profile can refuse what ours allows but can
  never allow what ours refuses or intercepts: it only narrows.
- libseccomp refuses a rule whose action is the filter's default action, so
  such rules are dropped (they would change nothing), as runc drops them.
- libseccomp can compare one argument only once per rule: a syscall entry
  with two conditions on the same argument becomes one rule per condition,
  which is what runc does too.
- SCMP_ACT_NOTIFY needs a listener (and ours is the only one a task may
  have); SCMP_ACT_TRACE needs a tracer, which on the ptrace platform would
  be us.  Both are refused with an error naming the entry.
"""
from __future__ import annotations

import errno as errnos

from sentry import native
from sentry.errors import SandboxError
from sentry.native import FilterCtx

ACTIONS = {
    "SCMP_ACT_ALLOW": native.A_ALLOW, "SCMP_ACT_ERRNO": native.A_ERRNO,
    "SCMP_ACT_KILL": native.A_KILL_THREAD, "SCMP_ACT_KILL_THREAD": native.A_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": native.A_KILL, "SCMP_ACT_TRAP": native.A_TRAP, "SCMP_ACT_LOG": native.A_LOG,
}
UNSUPPORTED_ACTIONS = ("SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE")
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
NATIVE_ARCHES = ("SCMP_ARCH_X86_64",)


Profile = FilterCtx       # an owned libseccomp context built from the profile


def _action(name, errno_ret, where: str) -> tuple[int, int]:
    if name in UNSUPPORTED_ACTIONS:
        raise SandboxError(f"{where}: action {name} is not supported (the sentry owns the "
                           "seccomp listener and the tracer)")
    if name not in ACTIONS:
        raise SandboxError(f"{where}: unknown action {name!r}")
    err = errnos.EPERM if errno_ret is None else errno_ret
    if not isinstance(err, int) or not 0 <= err < 4096:
        raise SandboxError(f"{where}: errnoRet {errno_ret!r} is not an errno number")
    return ACTIONS[name], err if name == "SCMP_ACT_ERRNO" else 0


def compile_profile(spec: dict) -> Profile:
    """Validate and compile an OCI LinuxSeccomp object; raise SandboxError
    naming the field at fault."""
    if not isinstance(spec, dict):
        raise SandboxError("linux.seccomp: expected an object")
    if spec.get("listenerPath"):
        raise SandboxError("linux.seccomp.listenerPath: not supported (the sentry is the listener)")
    arches = spec.get("architectures") or []
    if arches and not any(a in NATIVE_ARCHES for a in arches):
        raise SandboxError(f"linux.seccomp.architectures {arches}: none is x86_64; "
                           "pysandbox runs x86_64 code only (other ABIs are killed)")
    flags = spec.get("flags") or []
    for f in flags:
        if f not in ("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"):
            raise SandboxError(f"linux.seccomp.flags: {f!r} is not supported")
    default, default_err = _action(spec.get("defaultAction"), spec.get("defaultErrnoRet"),
                                   "linux.seccomp.defaultAction")
    try:
        prof = native.filter_new_profile(default, default_err)
    except OSError:
        raise SandboxError("linux.seccomp: libseccomp could not create a filter") from None
    try:
        for i, entry in enumerate(spec.get("syscalls") or []):
            _add_entry(prof, entry, (default, default_err), f"linux.seccomp.syscalls[{i}]")
    except BaseException:
        prof.close()
        raise
    return prof


def _add_entry(prof: Profile, entry, default, where: str) -> None:
    if not isinstance(entry, dict):
        raise SandboxError(f"{where}: expected an object")
    names = entry.get("names") or ([entry["name"]] if entry.get("name") else [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SandboxError(f"{where}.names: expected a list of syscall names")
    action = _action(entry.get("action"), entry.get("errnoRet"), f"{where}.action")
    if action == default:
        return
    args = entry.get("args") or []
    conds = []
    for j, a in enumerate(args):
        try:
            idx, op, value = int(a["index"]), OPS[a["op"]], int(a["value"])
            two = int(a.get("valueTwo") or 0)
        except (KeyError, TypeError, ValueError):
            raise SandboxError(f"{where}.args[{j}]: expected index, value, op (SCMP_CMP_*)") from None
        if not 0 <= idx < 6 or not 0 <= value < 1 << 64 or not 0 <= two < 1 << 64:
            raise SandboxError(f"{where}.args[{j}]: index or value out of range")
        conds.append((idx, op, value, two))
    # One rule when every condition is on its own argument, else one per condition.
    groups = [conds] if len({c[0] for c in conds}) == len(conds) else [[c] for c in conds]
    for name in names:
        nr = native.syscall_number(name)
        if nr < 0:
            continue      # not a syscall on this kernel/arch: nothing to filter (runc skips them too)
        for group in groups:
            rc = prof.rule(nr, action[0], action[1], group)
            if rc < 0:
                raise SandboxError(f"{where}: libseccomp refused the rule for {name}: {errnos.errorcode.get(-rc, rc)}")
