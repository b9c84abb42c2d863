"""Synthesized /proc files: the sandbox's limits instead of the host's.

The sentry answers an open of one of these paths by putting render()'s bytes
in a memfd and handing the sandbox that fd, as LXCFS does with a FUSE mount,
so free, nproc, top and df describe the sandbox.  render() is pure: the
sentry gathers everything into a View, and read_host() is the only way to
the host's files (tests pass fixed text).

Kernel facts relied upon:
- /proc/meminfo (fs/proc/meminfo.c show_val_kb): "Key:" padded to 16
  columns, the value right-aligned in 8 (a wider value spills), then " kB";
  the HugePages_* lines are counts with no unit.
- memcg charges page cache, shmem, slab, page tables and kernel stacks to
  the cgroup, so the sandbox's share of any of them is part of its usage.
- /proc/cpuinfo on x86 (show_cpuinfo) is one block per online cpu, opening
  with "processor\\t: N" and closed by a blank line.
- /proc/stat: an aggregate "cpu  " line, then one "cpuN" line per online
  cpu, columns in USER_HZ ticks.  "btime" is the host's boot time: ps adds
  each process's starttime (field 22 of /proc/PID/stat, ticks since *host*
  boot) to it, so it must stay the host's.
- /proc/uptime: the second field is idle time summed over every cpu, so it
  may exceed the first.
- /proc/loadavg: "%lu.%02lu %lu.%02lu %lu.%02lu %u/%d %d\\n", the last three
  being running/total threads and the last pid allocated.
- /proc/mounts and mountinfo (fs/proc_namespace.c): paths, sources and
  types escape space, tab, newline and backslash as \\ooo octal.  mountinfo
  is "id parent major:minor root mountpoint options [optional...] - fstype
  source superoptions"; the root mount's parent is outside the namespace,
  and container runtimes show it as its own id.
- procfs looks pid directories up with name_to_int, which refuses leading
  zeros, so "/proc/012" does not exist.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable

from sentry.record import record


@record
class View:
    """Everything the renderers need; the sentry fills it."""
    read_host: Callable[[str], bytes]       # read_host("meminfo") -> the host's /proc/meminfo
    memory_limit: int | None                # bytes, None = unlimited
    memory_usage: int | None                # bytes used by the sandbox's cgroup, None = unknown
    cpus: float | None                      # cpu limit (e.g. 0.5), None = unlimited
    uptime: float                           # seconds since the sandbox started
    nr_threads: int                         # threads in the sandbox
    nr_running: int                         # running threads in the sandbox
    last_pid: int                           # highest pid in the sandbox pid namespace
    hostname: str
    mounts: list[tuple[str, str, str, str]]  # (source, mountpoint, fstype, options), root first
    release: str = ""                       # what uname -r says in the sandbox
    version: str = ""                       # what uname -v says
    memory_cache: int | None = None         # bytes of the cgroup's page cache, None = unknown


SYNTHESIZED = frozenset({
    "/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime",
    "/proc/loadavg", "/proc/mounts", "/proc/sys/kernel/hostname",
    "/sys/devices/system/cpu/online", "/proc/version", "/proc/sys/kernel/osrelease",
})

# /proc/PID/{mounts,mountinfo} and /proc/PID/task/TID/{mounts,mountinfo}.
# "self" and "thread-self" are the caller's to resolve: they name the
# *reader*, which only the caller knows.
PER_PID = re.compile(
    r"/proc/[1-9][0-9]*(?:/task/[1-9][0-9]*)?/(?P<file>mounts|mountinfo)")


def render(path: str, view: View) -> bytes | None:
    """The content the sandbox should read at path, or None if we do not
    synthesize that path.  Raises whatever view.read_host raises."""
    fn = _FIXED.get(path)
    if fn is not None:
        return fn(view)
    m = PER_PID.fullmatch(path)
    if m is None:
        return None
    return _mountinfo(view) if m["file"] == "mountinfo" else _mounts(view)


def _cpu_online(view: View) -> bytes:
    """glibc's get_nprocs() (os.cpu_count, sysconf) reads this file."""
    n = online_cpus(view.cpus, _host_cpu_count(view.read_host("stat").decode()))
    return b"0\n" if n == 1 else f"0-{n - 1}\n".encode()


def is_synthesized(path: str) -> bool:
    """render(path, ...) is not None: lets the caller skip building a View
    (which costs cgroup reads and a process walk) for every other open."""
    return path in SYNTHESIZED or PER_PID.fullmatch(path) is not None


def online_cpus(cpus: float | None, host_count: int) -> int:
    """How many cpus the sandbox is shown: a quota of 1.5 cpus needs two to
    run on, as LXCFS rounds it; never more than the host has, never none."""
    want = host_count if cpus is None else math.ceil(cpus)
    return max(1, min(want, host_count))


# --- meminfo ----------------------------------------------------------------

_KB_LINE = re.compile(r"([^:]+):(\s*)(\d+) kB")

# Not amounts of RAM (address space, commit accounting, page sizes, the
# kernel's linear map): left as the host's.
_NOT_RAM = re.compile(r"Vmalloc\w*|CommitLimit|Committed_AS|Hugepagesize|DirectMap\w*")


def _meminfo(view: View) -> bytes:
    host = view.read_host("meminfo").decode("latin-1")
    lines = host.split("\n")
    values = {}
    for line in lines:
        m = _KB_LINE.fullmatch(line)
        if m:
            values[m[1]] = int(m[3])
    total = values.get("MemTotal")
    limit = view.memory_limit
    # A limit of 0 is the Sandbox dataclass's "none".  A limit at or above
    # the host's RAM changes nothing the sandbox could observe.
    if not limit or total is None or limit // 1024 >= total:
        return host.encode("latin-1")
    total = limit // 1024
    if view.memory_usage is None:
        free = total          # nothing known to be used: claim none is
        ceiling = total
    else:
        free = max(0, limit - view.memory_usage) // 1024
        # The sandbox's cache, shmem, slab... are charged to its cgroup, so
        # none can exceed what it uses; capping at MemTotal only would let
        # free(1) show more buff/cache than the sandbox has used.
        ceiling = total - free
    new = {"MemTotal": total, "MemFree": free,
           # LXCFS adds the cgroup's reclaimable cache; we do not read
           # memory.stat, so only what is free is known to be available.
           "MemAvailable": free,
           # We give the sandbox no swap.
           "SwapTotal": 0, "SwapFree": 0, "SwapCached": 0,
           # free(1) adds Buffers + Cached + SReclaimable as buff/cache and
           # subtracts them from used: their sum must fit in what is used.
           # Cached is the cgroup's page cache (memory.stat), as LXCFS shows
           # it; unknown, all of what is used.  Not all of it: busybox free
           # takes MemFree from sysinfo(2), a moment earlier, and would show
           # a negative "used" as soon as the cache grew in between.
           "Buffers": 0, "SReclaimable": 0, "KReclaimable": 0,
           "Cached": min(values.get("Cached", 0) if view.memory_cache is None else view.memory_cache // 1024,
                         ceiling)}
    out = []
    for line in lines:
        m = _KB_LINE.fullmatch(line)
        if m is None:
            out.append(line)
            continue
        key, old = m[1], int(m[3])
        if key in new:
            value = new[key]
        elif _NOT_RAM.fullmatch(key):
            value = old
        else:
            value = min(old, ceiling)
        if value == old:
            out.append(line)      # byte-for-byte the host's
            continue
        # Keep the kernel's columns: the new number right-aligned where the
        # old one ended, with at least one space after the colon.
        digits = str(value)
        width = max(len(m[2]) + len(m[3]), len(digits) + 1)
        out.append(f"{key}:{digits.rjust(width)} kB")
    return "\n".join(out).encode("latin-1")


# --- cpuinfo, stat, uptime, loadavg ----------------------------------------

_PROCESSOR = re.compile(r"processor(\s*):\s*\d+")
_CPU_LINE = re.compile(r"cpu(\d+)((?: \d+)+)")


def _cpuinfo(view: View) -> bytes:
    host = view.read_host("cpuinfo").decode("latin-1")
    blocks = host.split("\n\n")
    n = online_cpus(view.cpus, sum(1 for b in blocks if _PROCESSOR.match(b)))
    out, seen = [], 0
    for block in blocks:
        m = _PROCESSOR.match(block)
        if m is None:
            out.append(block)     # not a cpu's (trailer, the final "")
            continue
        if seen == n:
            continue
        lines = block.split("\n")
        lines[0] = f"processor{m[1]}: {seen}"
        for i, line in enumerate(lines):
            key, sep, _ = line.partition(":")
            # Topology as one package holding exactly the cpus we show, so
            # tools that divide siblings by cores see no phantom cpus.
            if sep and key.rstrip() in ("siblings", "cpu cores"):
                lines[i] = f"{key}: {n}"
        out.append("\n".join(lines))
        seen += 1
    return "\n\n".join(out).encode("latin-1")


def _host_cpu_count(stat: str) -> int:
    return sum(1 for line in stat.split("\n") if _CPU_LINE.fullmatch(line))


def _stat(view: View) -> bytes:
    host = view.read_host("stat").decode("latin-1")
    lines = host.split("\n")
    n = online_cpus(view.cpus, _host_cpu_count(host))
    kept: list[list[int]] = []
    for line in lines:
        m = _CPU_LINE.fullmatch(line)
        if m and len(kept) < n:
            kept.append([int(v) for v in m[2].split()])
    # The aggregate is the sum of what we show, so tools that compute a
    # percentage as per-cpu / aggregate still add up to 100%.
    columns = max((len(k) for k in kept), default=0)
    total = [sum(k[i] for k in kept if i < len(k)) for i in range(columns)]
    out, cpu = [], 0
    for line in lines:
        word = line.split(" ", 1)[0]
        if word == "cpu":
            out.append("cpu  " + " ".join(map(str, total)))
        elif _CPU_LINE.fullmatch(line):
            if cpu < n:
                out.append(f"cpu{cpu} " + " ".join(map(str, kept[cpu])))
                cpu += 1
        elif word == "procs_running":
            out.append(f"procs_running {view.nr_running}")
        elif word == "procs_blocked":
            out.append("procs_blocked 0")   # not tracked per sandbox
        else:
            out.append(line)      # intr, ctxt, btime, processes, softirq
    return "\n".join(out).encode("latin-1")


def _uptime(view: View) -> bytes:
    # Idle time is not tracked per sandbox: estimate every shown cpu as idle
    # all along.  Tools use it only as a ratio to uptime.
    n = online_cpus(view.cpus, _host_cpu_count(view.read_host("stat").decode("latin-1")))
    return b"%.2f %.2f\n" % (view.uptime, view.uptime * n)


def _loadavg(view: View) -> bytes:
    # The load average is not tracked per sandbox and reads 0, as in gVisor;
    # the thread counts and last pid are the sandbox's own.
    return b"0.00 0.00 0.00 %d/%d %d\n" % (view.nr_running, view.nr_threads, view.last_pid)


def _hostname(view: View) -> bytes:
    return view.hostname.encode() + b"\n"


# --- mounts, mountinfo -----------------------------------------------------

def escape(field: str) -> bytes:
    """The kernel's mangle(): space, tab, newline and backslash as \\ooo, so
    a line still splits on spaces.  Non-UTF-8 names arrive as surrogate
    escapes (os.fsdecode) and leave as their original bytes."""
    raw = os.fsencode(field)
    for ch in b"\\ \t\n":      # backslash first, or its own escapes double
        raw = raw.replace(bytes([ch]), b"\\%03o" % ch)
    return raw


def _mounts(view: View) -> bytes:
    return b"".join(b"%s %s %s %s 0 0\n" % (escape(src or "none"), escape(mp),
                                           escape(fstype), escape(opts))
                    for src, mp, fstype, opts in view.mounts)


def _parents(mountpoints: list[str]) -> list[int]:
    """Each mount's parent id (ids count from 1 in list order): the latest
    earlier mount at or above its mountpoint, as the kernel's tree has it
    (a later mount on the same path stacks on the earlier one).  The root,
    and anything with no mount above it, hangs from 1."""
    parents = []
    for i, mp in enumerate(mountpoints):
        parent = 1
        for j in range(i - 1, -1, -1):
            above = mountpoints[j]
            if mp == above or above == "/" or mp.startswith(above.rstrip("/") + "/"):
                parent = j + 1
                break
        parents.append(parent)
    return parents


def _mountinfo(view: View) -> bytes:
    mps = [mp for _, mp, _, _ in view.mounts]
    out = []
    for i, ((src, mp, fstype, opts), parent) in enumerate(zip(view.mounts, _parents(mps))):
        # 0:0 for every mount: the same on every read, never a host device
        # number.  Tools that match it against st_dev find no match.
        sup = b"ro" if "ro" in opts.split(",") else b"rw"
        out.append(b"%d %d 0:0 / %s %s - %s %s %s\n" % (
            i + 1, parent, escape(mp), escape(opts), escape(fstype),
            escape(src or "none"), sup))
    return b"".join(out)


_FIXED: dict[str, Callable[[View], bytes]] = {
    "/proc/meminfo": _meminfo,
    "/proc/cpuinfo": _cpuinfo,
    "/proc/stat": _stat,
    "/proc/uptime": _uptime,
    "/proc/loadavg": _loadavg,
    "/proc/mounts": _mounts,
    "/proc/sys/kernel/hostname": _hostname,
    "/sys/devices/system/cpu/online": _cpu_online,
    "/proc/version": lambda v: f"Linux version {v.release} (pysandbox@pysandbox) (gcc) {v.version}\n".encode(),
    "/proc/sys/kernel/osrelease": lambda v: f"{v.release}\n".encode(),
}
assert frozenset(_FIXED) == SYNTHESIZED
