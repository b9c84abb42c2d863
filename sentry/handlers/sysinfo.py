"""sysinfo(2): the sandbox's view of uptime, processes and memory.

struct sysinfo on x86_64 is 112 bytes:
    long uptime; unsigned long loads[3];
    unsigned long totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    unsigned short procs, pad; unsigned long totalhigh, freehigh;
    unsigned int mem_unit; char _f[0];
uptime is the sandbox's own; procs counts the sandbox's threads (the kernel's
nr_threads); loads are not tracked per sandbox and read 0 (gVisor does the
same); memory is the host's until a cgroup limit applies.
"""
from __future__ import annotations

import os
import struct

from sentry.handlers import current
from sentry.platform.base import Task

SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")
assert SYSINFO.size == 112


def meminfo() -> dict[str, int]:
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            out[key] = int(rest.split()[0]) * 1024
    return out


def sysinfo(t: Task) -> int:
    sb = current.sandbox
    mem = meminfo()
    limit = sb.memory_limit or mem["MemTotal"]
    total = min(limit, mem["MemTotal"])
    free = min(mem["MemFree"], total)
    threads = sum(len(os.listdir(f"/proc/{p}/task")) for p in _alive(sb.pids()))
    data = SYSINFO.pack(int(sb.uptime()), 0, 0, 0,
                        total, free, mem.get("Shmem", 0), mem.get("Buffers", 0), 0, 0,
                        min(threads, 0xFFFF), 0, 0, 0, 1)
    t.write(t.arg(0), data)
    return 0


def _alive(pids):
    return [p for p in pids if os.path.isdir(f"/proc/{p}/task")]
