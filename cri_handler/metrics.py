"""CRI metrics: ListMetricDescriptors and ListPodSandboxMetrics, in cAdvisor's
names, types and label keys, so that a kubelet collecting pod and container
metrics from the CRI (PodAndContainerStatsFromCRI) serves the same series
as /metrics/cadvisor would.

CRI facts relied upon (api.proto; the kubelet's
pkg/kubelet/metrics/collectors/cri_metrics.go):
- The kubelet reads the descriptors once, at start, keyed by name; a Metric
  without a descriptor is dropped.  label_values pair with the descriptor's
  label_keys by position.  The value is a uint64, which the kubelet turns
  into a float64: the *_seconds_total counters are whole seconds (as CRI-O
  reports them), since the wire has no fractional value.  timestamp is the
  sampling time (ns); 0 would mean "sampled now".
- Pod-level metrics (the network's, since a pod's containers share its
  network namespace) go in PodSandboxMetrics.metrics, the rest per
  container in container_metrics.
cAdvisor facts (its Prometheus exporter, as the kubelet labels it):
- Labels: container (the container's name; "POD" for the pod's own
  series, as CRI-O does), id (the cgroup path), image, name (the runtime's
  id), namespace and pod; then `cpu` ("total") on the CPU usage counter,
  `interface` on the network ones, `device` on the filesystem ones.
- The network series are per interface, `lo` excluded.  The fs series are
  for the device holding the container's writable layer: usage is what the
  layer holds, limit/inodes are the device's (statvfs).
- container_spec_memory_limit_bytes is 0 without a limit; the CPU quota
  and period series exist only when a quota is set; container_threads_max
  is 0 for "no limit".
Kernel facts relied upon:
- cgroup v1: cpuacct.usage (ns), cpuacct.stat `user`/`system` in USER_HZ
  ticks (sysconf(_SC_CLK_TCK)); memory.usage_in_bytes,
  memory.max_usage_in_bytes, memory.failcnt, memory.stat `total_rss`,
  `total_cache`, `total_mapped_file`, `total_swap` (with swap accounting),
  `total_inactive_file` (hierarchical: the group and its children).
  cgroup v2: cpu.stat `usage_usec`, `user_usec`, `system_usec`;
  memory.current, memory.peak (5.19+), memory.swap.current, memory.stat
  `anon`, `file`, `file_mapped`, `inactive_file`, memory.events `max`
  (times the limit was hit) and `oom_kill`.  Both: pids.current counts
  tasks (threads), pids.max is "max" or a number; the OOM kill count is
  sentry.sandbox.cgroups.Cgroup.oom_kills().  Working set = usage minus
  inactive file pages (the kubelet's and cAdvisor's definition).
- /proc/net/dev, read by a thread inside the pod's network namespace
  (/proc/thread-self/net/dev), has per interface 8 receive fields (bytes,
  packets, errs, drop, ...) then 8 transmit ones.
- /proc/PID/fd lists the open fds of PID; a socket's link reads "socket:[N]".
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from cri_handler import netns
from cri_handler.rootfs import disk_usage
from cri_handler.store import POD_READY, RUNNING, ContainerRecord, PodRecord
from cri_handler.v1 import api_pb2
from sentry.errors import SandboxError

log = logging.getLogger(__name__)

COUNTER, GAUGE = api_pb2.COUNTER, api_pb2.GAUGE
BASE_LABELS = ("container", "id", "image", "name", "namespace", "pod")
POD_CONTAINER = "POD"
NS = 1_000_000_000


@dataclass(frozen=True)
class Desc:
    name: str
    help: str
    type: int
    extra: tuple[str, ...] = ()     # label keys after BASE_LABELS


# (name, help, field of /proc/net/dev)
_NET = [(f"container_network_{d}_{what}_total", f"Cumulative count of {text} {verb}", off + i)
        for d, past, ing, off in (("receive", "received", "receiving", 0),
                                  ("transmit", "transmitted", "transmitting", 8))
        for what, text, verb, i in (("bytes", "bytes", past, 0), ("packets", "packets", past, 1),
                                    ("errors", "errors encountered while", ing, 2),
                                    ("packets_dropped", "packets dropped while", ing, 3))]

DESCRIPTORS = [
    Desc("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", COUNTER, ("cpu",)),
    Desc("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", COUNTER),
    Desc("container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", COUNTER),
    Desc("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless "
         "of when it was accessed", GAUGE),
    Desc("container_memory_working_set_bytes", "Current working set in bytes.", GAUGE),
    Desc("container_memory_rss", "Size of RSS in bytes.", GAUGE),
    Desc("container_memory_cache", "Number of bytes of page cache memory.", GAUGE),
    Desc("container_memory_mapped_file", "Size of memory mapped files in bytes.", GAUGE),
    Desc("container_memory_swap", "Container swap usage in bytes.", GAUGE),
    Desc("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", GAUGE),
    Desc("container_memory_failcnt", "Number of memory usage hits limits", COUNTER),
    Desc("container_oom_events_total", "Count of out of memory events observed for the container", COUNTER),
    Desc("container_spec_memory_limit_bytes", "Memory limit for the container.", GAUGE),
    Desc("container_spec_cpu_quota", "CPU quota of the container.", GAUGE),
    Desc("container_spec_cpu_period", "CPU period of the container.", GAUGE),
    Desc("container_processes", "Number of processes running inside the container.", GAUGE),
    Desc("container_threads", "Number of threads running inside the container", GAUGE),
    Desc("container_threads_max", "Maximum number of threads allowed inside the container, infinity if "
         "value is zero", GAUGE),
    Desc("container_file_descriptors", "Number of open file descriptors for the container.", GAUGE),
    Desc("container_sockets", "Number of open sockets for the container.", GAUGE),
    Desc("container_fs_usage_bytes", "Number of bytes that are consumed by the container on this "
         "filesystem.", GAUGE, ("device",)),
    Desc("container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this "
         "filesystem.", GAUGE, ("device",)),
    Desc("container_fs_inodes_total", "Number of Inodes", GAUGE, ("device",)),
    Desc("container_fs_inodes_free", "Number of available Inodes", GAUGE, ("device",)),
    Desc("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", GAUGE),
    Desc("container_last_seen", "Last time a container was seen by the exporter", GAUGE),
    *(Desc(name, text, COUNTER, ("interface",)) for name, text, _ in _NET),
]
_BY_NAME = {d.name: d for d in DESCRIPTORS}


def descriptors() -> list:
    return [api_pb2.MetricDescriptor(name=d.name, help=d.help, label_keys=[*BASE_LABELS, *d.extra])
            for d in DESCRIPTORS]


class _Sink:
    """Metrics of one object: the base label values, one timestamp."""

    def __init__(self, out, base: tuple[str, ...], now: int):
        self.out, self.base, self.now = out, base, now

    def add(self, name: str, value: int, *extra: str) -> None:
        d = _BY_NAME[name]
        assert len(extra) == len(d.extra), name
        m = self.out.add(name=name, timestamp=self.now, metric_type=d.type,
                         label_values=[*self.base, *extra])
        m.value.value = max(0, int(value))


def pod_metrics(rt, pod: PodRecord):
    """The PodSandboxMetrics of one pod: its network, then its running containers."""
    now = time.time_ns()
    pm = api_pb2.PodSandboxMetrics(pod_sandbox_id=pod.id)
    if not pod.host_network and pod.state == POD_READY and os.path.exists(pod.namespaces.get("net", "")):
        sink = _Sink(pm.metrics, (POD_CONTAINER, pod.cgroup_parent, "", pod.id, pod.namespace, pod.name), now)
        try:
            ifaces = netns.run_in_netns(pod.namespaces["net"], _read_net_dev)
        except Exception as e:                    # a vanished netns: no network series
            log.debug("no network metrics", extra={"pod": pod.id, "error": str(e)})
            ifaces = {}
        for iface, values in sorted(ifaces.items()):
            if iface != "lo":
                for name, _, i in _NET:
                    sink.add(name, values[i], iface)
    for rec in rt.containers_of(pod.id):
        if rec.state == RUNNING:
            cm = pm.container_metrics.add(container_id=rec.id)
            base = (rec.name, rec.cgroups_path, rec.image_name or rec.image, rec.id, pod.namespace, pod.name)
            _container(_Sink(cm.metrics, base, now), rec)
    return pm


def _container(sink: _Sink, rec: ContainerRecord) -> None:
    from sentry.sandbox.cgroups import Cgroup
    try:
        cg = Cgroup.attach(rec.cgroups_path)
    except SandboxError:
        cg = None                                  # exited meanwhile: no cgroup series
    if cg is not None:
        try:
            _cgroup_series(sink, cg)
        except (OSError, ValueError, SandboxError) as e:
            log.debug("cgroup metrics failed", extra={"container": rec.id, "error": str(e)})
        finally:
            cg.close()
    upper = os.path.join(rec.upper, "upper")
    if os.path.isdir(upper):
        used, _inodes = disk_usage(upper)
        st = os.statvfs(upper)
        device = _device_of(upper)
        sink.add("container_fs_usage_bytes", used, device)
        sink.add("container_fs_limit_bytes", st.f_blocks * st.f_frsize, device)
        sink.add("container_fs_inodes_total", st.f_files, device)
        sink.add("container_fs_inodes_free", st.f_ffree, device)
    if rec.started_at:
        sink.add("container_start_time_seconds", rec.started_at // NS)
    sink.add("container_last_seen", sink.now // NS)


def _cgroup_series(sink: _Sink, cg) -> None:
    files = _Files(cg.host_paths)
    mem = files.keyed("memory.stat")
    if cg.version == 2:
        cpu = files.keyed("cpu.stat")
        total, user, system = (cpu.get(k, 0) * 1000 for k in ("usage_usec", "user_usec", "system_usec"))
        usage = files.number("memory.current")
        rss, cache, mapped = mem.get("anon", 0), mem.get("file", 0), mem.get("file_mapped", 0)
        inactive = mem.get("inactive_file", 0)
        swap = files.number("memory.swap.current")
        peak = files.number("memory.peak")
        failcnt = files.keyed("memory.events").get("max", 0)
    else:
        total = files.number("cpuacct.usage")
        ticks = files.keyed("cpuacct.stat")
        hz = os.sysconf("SC_CLK_TCK")
        user, system = ticks.get("user", 0) * NS // hz, ticks.get("system", 0) * NS // hz
        usage = files.number("memory.usage_in_bytes")
        rss, cache, mapped = mem.get("total_rss", 0), mem.get("total_cache", 0), mem.get("total_mapped_file", 0)
        inactive = mem.get("total_inactive_file", mem.get("inactive_file", 0))
        swap = mem.get("total_swap", 0)
        peak = files.number("memory.max_usage_in_bytes")
        failcnt = files.number("memory.failcnt")
    sink.add("container_cpu_usage_seconds_total", total // NS, "total")
    sink.add("container_cpu_user_seconds_total", user // NS)
    sink.add("container_cpu_system_seconds_total", system // NS)
    sink.add("container_memory_usage_bytes", usage)
    sink.add("container_memory_working_set_bytes", max(0, usage - inactive))
    sink.add("container_memory_rss", rss)
    sink.add("container_memory_cache", cache)
    sink.add("container_memory_mapped_file", mapped)
    sink.add("container_memory_swap", swap)
    sink.add("container_memory_max_usage_bytes", peak)
    sink.add("container_memory_failcnt", failcnt)
    sink.add("container_oom_events_total", cg.oom_kills())
    limits = cg.limits()
    sink.add("container_spec_memory_limit_bytes", limits.memory or 0)
    if limits.cpus is not None:
        from sentry.sandbox.limits import PERIOD_US
        period = files.number("cpu.cfs_period_us") if cg.version == 1 else PERIOD_US
        sink.add("container_spec_cpu_period", period)
        sink.add("container_spec_cpu_quota", round(limits.cpus * period))
    procs = cg.procs()
    sink.add("container_processes", len(procs))
    sink.add("container_threads", cg.pids_current())
    sink.add("container_threads_max", limits.pids or 0)
    fds = sockets = 0
    for pid in procs:
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue                               # gone meanwhile
        fds += len(names)
        for n in names:
            try:
                sockets += os.readlink(f"/proc/{pid}/fd/{n}").startswith("socket:")
            except OSError:
                pass
    sink.add("container_file_descriptors", fds)
    sink.add("container_sockets", sockets)


class _Files:
    """The cgroup's files by name, in whichever of its hierarchies has them."""

    def __init__(self, dirs):
        self.dirs = dirs

    def read(self, name: str) -> str | None:
        for d in self.dirs:
            try:
                with open(os.path.join(d, name)) as f:
                    return f.read()
            except FileNotFoundError:
                continue
        return None

    def number(self, name: str) -> int:
        text = (self.read(name) or "0").strip()
        return int(text) if text.isdigit() else 0

    def keyed(self, name: str) -> dict[str, int]:
        out = {}
        for line in (self.read(name) or "").splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                out[k] = int(v)
        return out


def _read_net_dev() -> dict[str, list[int]]:
    """Runs in a thread inside the pod's netns: the 16 counters per interface."""
    out = {}
    with open("/proc/thread-self/net/dev") as f:
        for line in f.readlines()[2:]:
            name, _, rest = line.partition(":")
            v = rest.split()
            if len(v) >= 16:
                out[name.strip()] = [int(x) for x in v[:16]]
    return out


def _device_of(path: str) -> str:
    """The mount source of the filesystem holding path (cAdvisor's `device`)."""
    dev = os.stat(path).st_dev
    want = f"{os.major(dev)}:{os.minor(dev)}"
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[2] == want:
                    return fields[fields.index("-") + 2]
    except (OSError, ValueError, IndexError):
        pass
    return want
