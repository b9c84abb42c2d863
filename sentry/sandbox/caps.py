"""Capability names and the default set the workload keeps.

The default is Docker's and runc's unprivileged set.  Capabilities are real
host capabilities (there is no user namespace by default), so CAP_SYS_ADMIN
and friends are never in the default; the seccomp filter refuses the mount
family, bpf, ptrace and the rest whatever the capabilities say.
"""
from __future__ import annotations

from sentry.abi.linux import CAP, CAPABILITIES
from sentry.errors import SandboxError

NAMES = list(CAPABILITIES)
NUMBER = CAP

DEFAULT = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
    "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
    "AUDIT_WRITE",
})


# What the kernel checks when a process opens, stats or changes a file.
FILE_CAPS = frozenset({"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID"})


def parse(name: str) -> str:
    """'cap_sys_admin', 'SYS_ADMIN' -> 'SYS_ADMIN'; 'ALL' is allowed."""
    n = name.upper().removeprefix("CAP_")
    if n != "ALL" and n not in NUMBER:
        raise SandboxError(f"unknown capability {name!r}")
    return n


def host_bounding() -> frozenset[str]:
    """What our own bounding set allows: no sandbox can get more."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                bits = int(line.split()[1], 16)
                return frozenset(n for n, i in NUMBER.items() if bits >> i & 1)
    return frozenset(NAMES)


def resolve(add=(), drop=()) -> frozenset[str]:
    """DEFAULT, less `drop`, plus `add`; 'ALL' means every capability this
    host can grant.  Raises SandboxError for one it cannot."""
    avail = host_bounding()
    caps = set(DEFAULT)
    for name in map(parse, drop):
        caps = set() if name == "ALL" else caps - {name}
    for name in map(parse, add):
        if name == "ALL":
            caps |= avail
        elif name not in avail:
            raise SandboxError(f"capability {name} is not in this host's bounding set; it cannot be granted")
        else:
            caps.add(name)
    return frozenset(caps & avail)


def mask(caps) -> int:
    return sum(1 << NUMBER[c] for c in caps)
