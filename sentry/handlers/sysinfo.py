"""sysinfo(2): the sandbox's view of uptime, processes and memory.

struct sysinfo on x86_64 is 112 bytes:
    long uptime; unsigned long loads[3];
    unsigned long totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    unsigned short procs, pad; unsigned long totalhigh, freehigh;
    unsigned int mem_unit; char _f[0];
uptime is the sandbox's own; procs counts the sandbox's threads (the kernel's
nr_threads); loads are not tracked per sandbox and read 0 (gVisor does the
same).  Memory agrees with the sandbox's /proc/meminfo (sentry/vfs/procfs.py),
so free(1), whichever of the two it reads, sees one picture: under a memory
limit, total is the limit and free is the limit less what the cgroup has
charged, with no swap; else the host's, from the sentry's own sysinfo(2).

Cost: the same order as uname.  Each call reads the host's sysinfo (one
syscall) and, under a cgroup, two kept-open counters (pread); the limits,
which only `pysandbox-oci update` changes, are read back at most once a
second (state.Sandbox.info).
"""
from __future__ import annotations

import struct

from sentry.handlers import current
from sentry.platform.base import Task

SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")
assert SYSINFO.size == 112


def sysinfo(t: Task) -> int:
    sb = current.sandbox
    i = sb.info()
    data = SYSINFO.pack(int(sb.uptime()), 0, 0, 0, i["totalram"], i["freeram"], i["sharedram"],
                        i["bufferram"], i["totalswap"], i["freeswap"], min(i["procs"], 0xFFFF), 0, 0, 0, 1)
    t.write(t.arg(0), data)
    return 0
