"""What the sentry knows about its one sandbox, shared by the handlers.

The utsname lives in C memory (struct sb_sentry.uts) so the C fast path for
uname(2) and the Python handlers for sethostname(2) read and write the same
bytes.
"""
from __future__ import annotations

import time

from sentry import native
from sentry.errors import SandboxError, TaskGone
from sentry.record import field, record
from sentry.vfs import hostproc

TYPE_CHECKING = False      # typing is not loaded at run time: ~3 ms of a start (sentry/record.py)
if TYPE_CHECKING:
    from sentry.sandbox.cgroups import Cgroup

UTS_LEN = native.UTS_LEN


@record
class Sandbox:
    hostname: str = "pysandbox"
    release: str = "6.1.0-pysandbox"
    strace: str | None = None          # None, "emulated" or "all"
    fastpath: bool = True
    strict_fs: bool = False            # every path call emulated (model.Row.strict_fs)
    started: float = field(default_factory=time.monotonic)
    init_pid: int = 0                  # host pid of the sandbox's pid 1
    memory_limit: int = 0              # bytes; 0 means none
    cpus: float | None = None          # cpu limit, None means none
    cgroup: Cgroup | None = None       # when limits are set
    mounts: list = field(default_factory=list)   # (source, mountpoint, fstype, options), as shown inside
    uid_map: list = field(default_factory=list)  # the workload's user namespace, if any (RunConfig)
    gid_map: list = field(default_factory=list)
    # The host's pid namespace (RunConfig.host_pid): signals to these are
    # refused (handlers/signals.py); the sentry, its watcher, and for an
    # exec the container's sentry and watcher too.
    host_pid: bool = False
    watcher_pid: int = 0
    guarded: frozenset = frozenset()
    guarded_groups: frozenset = frozenset()
    sentry: native.Sentry = field(default_factory=native.Sentry, repr=False)   # what the C loop serves with
    _uts: bytes | None = field(default=None, repr=False)
    _info_cache: dict | None = field(default=None, repr=False)

    def __post_init__(self):
        for name, value in (("sysname", "Linux"), ("release", self.release),
                            ("version", "#1 SMP PREEMPT_DYNAMIC pysandbox"),
                            ("machine", "x86_64"), ("domainname", "(none)"), ("nodename", self.hostname)):
            self.sentry.set_uts(name, value.encode())

    def uts_bytes(self) -> bytes:
        """struct utsname as bytes, cached: uname is hot, changes are rare."""
        if self._uts is None:
            self._uts = self.sentry.uts_bytes()
        return self._uts

    def set_uts(self, name: str, value: bytes) -> None:
        self.sentry.set_uts(name, value)
        self._uts = None

    def proc_view(self):
        """What sentry/vfs/procfs.py needs to render the sandbox's /proc files."""
        from sentry.vfs import procfs  # imported before the sentry leaves the host (see sandbox.py)
        pids = self.pids()
        memory_limit, cpus = self.memory_limit or None, self.cpus
        cache = None
        if self.cgroup is not None:
            # Read back: `pysandbox-oci update` may have changed them since.
            try:
                limits = self.cgroup.limits()
                memory_limit, cpus = limits.memory, limits.cpus
                cache = self.cgroup.memory_cache() if limits.memory else None
            except (OSError, SandboxError, ValueError):     # a removed group: keep the start values
                pass
        return procfs.View(
            read_host=hostproc.read, memory_limit=memory_limit,
            memory_usage=self.memory_usage() if self.cgroup is not None else None,
            cpus=cpus, uptime=self.uptime(), nr_threads=self.threads(), nr_running=1,
            last_pid=max((_vpid(p) for p in pids), default=1),
            hostname=self.sentry.uts("nodename").decode(errors="replace"),
            mounts=self.mounts, release=self.release,
            version=self.sentry.uts("version").decode(errors="replace"), memory_cache=cache)

    def info(self) -> dict[str, int]:
        """What sysinfo(2) shows (handlers/sysinfo.py), cheaply: see there."""
        now = time.monotonic()
        c = self._info_cache
        if c is None:
            c = self._info_cache = {"at": -1.0, "usage": None, "tasks": None, "limit": None, "threads": (-1.0, 0)}
            if self.cgroup is not None:
                c["usage"], c["tasks"] = self.cgroup.counter("memory"), self.cgroup.counter("pids")
        if now - c["at"] > 1.0:                     # limits: read back at most once a second
            c["at"] = now
            c["limit"] = self.memory_limit or None
            if self.cgroup is not None:
                try:
                    c["limit"] = self.cgroup.limits().memory
                except (OSError, SandboxError):     # a removed group: keep the start value
                    pass
        host = native.host_sysinfo()
        limit = c["limit"]
        if c["tasks"] is not None:
            procs = c["tasks"]()
        else:                                       # no pids cgroup: count, at most once a second
            at, n = c["threads"]
            if now - at > 1.0:
                c["threads"] = (now, self.threads())
            procs = c["threads"][1]
        if not limit or limit >= host["totalram"]:
            return dict(host, procs=procs)
        usage = c["usage"]() if c["usage"] is not None else 0
        free = max(0, limit - usage)
        return {"totalram": limit, "freeram": free, "sharedram": min(host["sharedram"], limit - free),
                "bufferram": 0, "totalswap": 0, "freeswap": 0, "procs": procs}

    def memory_usage(self) -> int:
        return self.cgroup.memory_usage() if self.cgroup is not None else 0

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def pids(self) -> list[int]:
        """Host pids of every process in the sandbox, found by walking the
        process tree below its init (the kernel keeps it current)."""
        out, todo = [], [self.init_pid] if self.init_pid else []
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for tid in hostproc.listdir(f"{pid}/task"):
                    todo.extend(int(c) for c in hostproc.read(f"{pid}/task/{tid}/children").split())
            except OSError:
                pass   # exited while we looked
        return out

    def threads(self) -> int:
        n = 0
        for pid in self.pids():
            try:
                n += len(hostproc.listdir(f"{pid}/task"))
            except OSError:
                pass
        return n


def _vpid(pid: int) -> int:
    try:
        return int((hostproc.status_field(pid, "NSpid") or "").split()[-1])
    except (OSError, TaskGone, AttributeError, ValueError):
        return 1
