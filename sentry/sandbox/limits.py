"""Resource limits as the command lines and configs spell them: --memory,
--cpus, --pids and the OCI/CRI resources, parsed and bounded here so that
a bad value is refused with the flag's name before anything is made.
sentry/sandbox/cgroups.py applies them; this module loads without it.

Kernel facts relied on:
- The CFS bandwidth period is 100 ms by default, and the kernel refuses a
  quota under 1 ms (EINVAL at the write).
- cgroup v1 reports "no memory limit" as a page-aligned number near
  LONG_MAX (9223372036854771712): anything from 2^62 on means none.
"""
from __future__ import annotations

import re

from sentry.errors import SandboxError
from sentry.record import record

PERIOD_US = 100_000
MIN_QUOTA_US = 1_000
UNLIMITED = 1 << 62        # v1 reports "no memory limit" as a number at least this big
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@record
class Limits:
    memory: int | None = None      # bytes
    cpus: float | None = None      # e.g. 0.5
    pids: int | None = None


def parse_memory(text: str) -> int:
    """"256M", "1g", "512k", "1.5G", "1048576" -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", text, re.IGNORECASE)
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()]) if m else 0
    if not 0 < value < UNLIMITED:
        raise SandboxError(f"bad memory limit {text!r}: expected a positive size "
                           "such as 256M, 1g, 512k or 1048576")
    return value


def parse_cpus(text: str) -> float:
    """"0.5", "2" -> CPUs' worth of time per period."""
    value = float(text) if re.fullmatch(r"\s*\d+(\.\d*)?\s*|\s*\.\d+\s*", text) else 0.0
    if value <= 0:
        raise SandboxError(f"bad cpu limit {text!r}: expected a positive number such as 0.5 or 2")
    if value * PERIOD_US < MIN_QUOTA_US:
        # The kernel refuses a quota under 1 ms: say so now, not at create().
        raise SandboxError(f"bad cpu limit {text!r}: the smallest is {MIN_QUOTA_US / PERIOD_US}")
    return value


def parse_pids(text: str) -> int:
    """A positive number of tasks (threads count too)."""
    if not re.fullmatch(r"\s*\d+\s*", text) or int(text) <= 0:
        raise SandboxError(f"bad pids limit {text!r}: expected a positive integer")
    return int(text)
