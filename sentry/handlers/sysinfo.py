"""sysinfo(2): the sandbox's view of uptime, processes and memory.

struct sysinfo on x86_64 is 112 bytes:
    long uptime; unsigned long loads[3];
    unsigned long totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    unsigned short procs, pad; unsigned long totalhigh, freehigh;
    unsigned int mem_unit; char _f[0];
uptime is the sandbox's own; procs counts the sandbox's threads (the kernel's
nr_threads); loads are not tracked per sandbox and read 0 (gVisor does the
same); memory is /proc/meminfo's, as sentry/vfs/procfs.py renders it for the sandbox.
"""
from __future__ import annotations

import struct

from sentry.handlers import current
from sentry.platform.base import Task
from sentry.vfs import procfs

SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")
assert SYSINFO.size == 112


def meminfo(sb) -> dict[str, int]:
    """The sandbox's /proc/meminfo (procfs renders it), so free(1), which
    mixes sysinfo(2) and /proc/meminfo, sees one consistent picture."""
    out = {}
    for line in procfs.render("/proc/meminfo", sb.proc_view()).decode().splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields:
            out[key] = int(fields[0]) * (1024 if len(fields) > 1 else 1)
    return out


def sysinfo(t: Task) -> int:
    sb = current.sandbox
    mem = meminfo(sb)
    data = SYSINFO.pack(int(sb.uptime()), 0, 0, 0,
                        mem["MemTotal"], mem["MemFree"], mem.get("Shmem", 0), mem.get("Buffers", 0),
                        mem.get("SwapTotal", 0), mem.get("SwapFree", 0),
                        min(sb.threads(), 0xFFFF), 0, 0, 0, 1)
    t.write(t.arg(0), data)
    return 0
