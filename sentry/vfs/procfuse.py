"""The synthesized /proc and /sys files of sentry/vfs/procfs.py as files of
the FUSE server in sentry/vfs/fuse.py, each to be bind-mounted over its
path in the sandbox's mount namespace (as LXCFS does).

The caller supplies view(reader_pid) -> procfs.View; it is called once per
open (and per re-read from offset 0), on the FUSE serving thread.

Kernel facts relied upon:
- A bind mount can cover a single procfs or sysfs file (runc masks
  /proc/kcore that way); path walks, /proc/self/fd/N reopens and
  /proc/PID/root/... all land on the mount on top.
- /proc/mounts is a symlink to self/mounts: a bind mount onto it would
  follow the link to one process's file, so it is not served here, nor
  are the per-process mounts and mountinfo (not a flat set of names).
"""
from __future__ import annotations

from collections.abc import Callable

from sentry.vfs import procfs
from sentry.vfs.fuse import FileFn

# FUSE file name -> the path it is bind-mounted over.
TARGETS: dict[str, str] = {
    "meminfo": "/proc/meminfo",
    "cpuinfo": "/proc/cpuinfo",
    "stat": "/proc/stat",
    "uptime": "/proc/uptime",
    "loadavg": "/proc/loadavg",
    "version": "/proc/version",
    "osrelease": "/proc/sys/kernel/osrelease",
    "hostname": "/proc/sys/kernel/hostname",
    "cpu_online": "/sys/devices/system/cpu/online",
}
assert set(TARGETS.values()) == procfs.SYNTHESIZED - {"/proc/mounts"}


def files(view: Callable[[int], procfs.View]) -> dict[str, FileFn]:
    """The FUSE files: name -> callable(reader_pid) -> procfs.render()'s bytes."""
    def renderer(path: str) -> FileFn:
        def render(pid: int) -> bytes:
            data = procfs.render(path, view(pid))
            if data is None:     # cannot happen for TARGETS; never serve nothing silently
                raise LookupError(f"procfs does not synthesize {path}")
            return data
        return render
    return {name: renderer(path) for name, path in TARGETS.items()}


def binds(mountpoint: str) -> list[tuple[str, str]]:
    """(source under the FUSE mount, target) for each bind mount to make."""
    return [(f"{mountpoint.rstrip('/')}/{name}", path) for name, path in TARGETS.items()]
