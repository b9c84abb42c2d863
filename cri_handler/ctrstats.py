"""Container stats (ContainerStats, ListContainerStats, and the per-container
part of PodSandboxStats): CPU and memory from the container's cgroup, the
writable layer from the disk.

CRI facts relied upon (api.proto):
- usage_core_nano_seconds is cumulative CPU time; usage_nano_cores is a
  rate, which needs two samples: the first call for a container has none.
- working_set_bytes is usage minus inactive file pages (the kubelet's and
  cAdvisor's definition), available_bytes the limit minus the working set.
- ListContainerStats returns the stats of running containers only.

Kernel facts relied upon:
- cgroup v1 memory.stat has total_inactive_file (hierarchical) and
  inactive_file (this group only); v2 has inactive_file (hierarchical).
"""
from __future__ import annotations

import os
import time

from cri_handler.rootfs import disk_usage
from cri_handler.store import RUNNING, ContainerRecord
from cri_handler.v1 import api_pb2
from sentry.errors import SandboxError


def container_stats(rec: ContainerRecord, samples: dict[str, tuple[int, int]]):
    """The ContainerStats of rec; samples (id -> (time, cpu ns)) keeps the
    previous CPU sample per container for the rate."""
    now = time.time_ns()
    cs = api_pb2.ContainerStats()
    a = cs.attributes
    a.id = rec.id
    a.metadata.name, a.metadata.attempt = rec.name, rec.attempt
    a.labels.update(rec.labels)
    a.annotations.update(rec.annotations)
    cpu_ns = usage = working = 0
    if rec.state == RUNNING:
        cpu_ns, usage, working = _cgroup_usage(rec.cgroups_path)
    cs.cpu.timestamp = now
    cs.cpu.usage_core_nano_seconds.value = cpu_ns
    prev = samples.get(rec.id)
    if prev and now > prev[0] and cpu_ns >= prev[1]:
        cs.cpu.usage_nano_cores.value = int((cpu_ns - prev[1]) * 1e9 / (now - prev[0]))
    samples[rec.id] = (now, cpu_ns)
    cs.memory.timestamp = now
    cs.memory.usage_bytes.value = usage
    cs.memory.working_set_bytes.value = working
    limit = int(rec.resources.get("memory_limit_in_bytes", 0) or 0)
    if limit:
        cs.memory.available_bytes.value = max(0, limit - working)
    used, inodes = disk_usage(os.path.join(rec.upper, "upper"))
    wl = cs.writable_layer
    wl.timestamp = now
    wl.fs_id.mountpoint = rec.rootfs
    wl.used_bytes.value, wl.inodes_used.value = used, inodes
    return cs


def process_count(rec: ContainerRecord) -> int:
    if rec.state != RUNNING:
        return 0
    from sentry.sandbox.cgroups import Cgroup
    try:
        cg = Cgroup.attach(rec.cgroups_path)
    except SandboxError:
        return 0
    try:
        return len(cg.procs())
    except OSError:
        return 0
    finally:
        cg.close()


def _cgroup_usage(path: str) -> tuple[int, int, int]:
    """(cpu ns, memory usage, working set) of the container's cgroup; zeros if gone."""
    from sentry.sandbox.cgroups import Cgroup
    try:
        cg = Cgroup.attach(path)
    except SandboxError:
        return 0, 0, 0
    try:
        cpu = cg.cpu_usage_ns()
        usage = cg.memory_usage()
        inactive = 0
        for host in cg.host_paths:
            stat_file = os.path.join(host, "memory.stat")
            if os.path.exists(stat_file):
                with open(stat_file) as f:
                    for line in f:
                        k, _, v = line.partition(" ")
                        if k in ("total_inactive_file", "inactive_file"):
                            inactive = int(v)
                            if k == "total_inactive_file":
                                break
                break
        return cpu, usage, max(0, usage - inactive)
    except (OSError, ValueError, SandboxError):
        return 0, 0, 0
    finally:
        cg.close()
