"""RuntimeService: the shared state of the CRI server, and the servicer over it.

`Runtime` owns what pods.py and containers.py share:
- the records in memory (`pods`, `containers`) and on disk (`meta`),
  guarded by `mu` (short critical sections only: never held across a
  subprocess or a network call);
- a lock per pod and per container id (`op_lock`) that serialises the
  lifecycle calls of one object, so StopContainer's grace period does not
  block ContainerStatus or the calls of other objects;  lock order: a
  pod's before its containers';
- the names the CRI says are unique (pod: name, namespace, uid, attempt;
  container: name and attempt within its pod), reserved until removal;
- the OCI runtime, the network manager, the image store, the event bus
  and the exit monitor.

`RuntimeServicer` is thin: each RPC calls the owner (Pods, Containers,
Images) and builds the response; server.wrap maps exceptions to status
codes.

Facts relied upon:
- The kubelet's UpdateRuntimeConfig pod_cidr is the node's PodCIDRs joined
  by commas (two on a dual-stack node); see pod_cidr_for_bridge.
- A gRPC server stream sends its headers with its first message unless the
  handler sends them earlier: GetContainerEvents sends them once subscribed,
  so a client that waits for them (grpcio: initial_metadata()) misses none
  of the events of what it does next.
- Status.features.supplemental_groups_policy: the kubelet rejects pods with
  supplementalGroupsPolicy Strict unless the runtime sets it.
- Status.runtime_handlers[].features.recursive_read_only_mounts: the
  kubelet rejects recursiveReadOnly: Enabled mounts, and treats IfPossible
  as plain read-only, unless the pod's handler reports it.
"""
from __future__ import annotations

import logging
import os
import queue
import select
import threading

from cri_handler import metrics
from cri_handler.containers import Containers
from cri_handler.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unimplemented
from cri_handler.images import Images
from cri_handler.ociruntime import OciRuntime
from cri_handler.pods import HANDLERS, Pods
from cri_handler.store import MetadataStore
from cri_handler.v1 import api_pb2, api_pb2_grpc
from sentry.images.store import Store

log = logging.getLogger(__name__)

RUNTIME_NAME = "pysandbox"
RUNTIME_API_VERSION = "v1"
STREAM_CHUNK = 100          # items per Stream* response


def runtime_version() -> str:
    from importlib import metadata
    try:
        return metadata.version("pysandbox")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class Runtime:
    def __init__(self, cfg, oci: OciRuntime | None = None, network=None):
        self.cfg = cfg
        os.makedirs(cfg.state_dir, 0o711, exist_ok=True)
        for d in ("pods", "containers"):
            os.makedirs(os.path.join(cfg.state_dir, d), 0o711, exist_ok=True)
        self.meta = MetadataStore(cfg.root)
        self.oci = oci or OciRuntime(os.path.join(cfg.state_dir, "oci"), cfg.oci_runtime or None, cfg.platform)
        if network is None:
            from cri_handler.network import PodNetworkManager
            n = cfg.network
            network = PodNetworkManager(run_dir=cfg.state_dir, state_dir=os.path.join(cfg.state_dir, "network"),
                                        cni_conf_dir=n.cni_conf_dir, cni_bin_dirs=n.cni_bin_dirs,
                                        pod_cidr=n.pod_cidr, bridge=n.bridge)
        self.net = network
        self.image_svc = Images(Store(cfg.root), cfg.registry_config, in_use=self._image_users)
        self.mu = threading.RLock()
        self.pods: dict = {}
        self.containers: dict = {}
        self._names: dict[str, str] = {}           # name key -> id
        self._op_locks: dict[str, threading.Lock] = {}
        self.events = EventBus()
        self.pods_svc = Pods(self)
        self.ctrs = Containers(self)
        self.monitor = ExitMonitor(self)

    # -- names and locks --------------------------------------------------------------

    def reserve_name(self, key: str, oid: str) -> None:
        with self.mu:
            other = self._names.get(key)
            if other is not None and other != oid:
                kind = "pod sandbox" if key.startswith("pod:") else "container"
                raise AlreadyExists(f"the {kind} name {key[4:]!r} is reserved for {other}")
            self._names[key] = oid

    def release_name(self, key: str) -> None:
        with self.mu:
            self._names.pop(key, None)

    def release_id(self, oid: str) -> None:
        with self.mu:
            for k in [k for k, v in self._names.items() if v == oid]:
                del self._names[k]
            self._op_locks.pop(oid, None)

    def op_lock(self, oid: str) -> threading.Lock:
        with self.mu:
            return self._op_locks.setdefault(oid, threading.Lock())

    # -- lookups (a full id, or a unique prefix, as crictl passes them) ----------------

    def _find(self, table: dict, oid: str, kind: str):
        with self.mu:
            rec = table.get(oid)
            if rec is not None or not oid:
                return rec
            hits = [r for k, r in table.items() if k.startswith(oid)]
        if len(hits) > 1:
            raise InvalidArgument(f"{kind} id prefix {oid!r} is ambiguous: it matches {len(hits)}")
        return hits[0] if hits else None

    def find_pod(self, oid: str):
        return self._find(self.pods, oid, "pod sandbox")

    def find_container(self, oid: str):
        return self._find(self.containers, oid, "container")

    def containers_of(self, pod_id: str) -> list:
        with self.mu:
            return [c for c in self.containers.values() if c.pod_id == pod_id]

    def _image_users(self, image_id: str) -> list[str]:
        with self.mu:
            return [c.id[:12] for c in self.containers.values() if c.image_id == image_id]

    # -- start-up ---------------------------------------------------------------------

    def recover(self) -> None:
        """Load the records of an earlier run and reconcile them with what
        is alive (see store.py)."""
        pods, containers = self.meta.load()
        with self.mu:
            for p in pods:
                self.pods[p.id] = p
                self._names[f"pod:{p.name}_{p.namespace}_{p.uid}_{p.attempt}"] = p.id
            for c in containers:
                if c.pod_id not in self.pods:
                    log.warning("dropping the record of a container without its pod",
                                extra={"container": c.id, "pod": c.pod_id})
                    self.meta.delete_container(c.id)
                    continue
                self.containers[c.id] = c
                pod = self.pods[c.pod_id]
                self._names[f"ctr:{c.name}_{pod.name}_{pod.namespace}_{pod.uid}_{c.attempt}"] = c.id
        for p in pods:
            self.pods_svc.recover(p)
        for c in list(self.containers.values()):
            self.ctrs.recover(c)
        log.info("recovered state", extra={"pods": len(self.pods), "containers": len(self.containers)})

    def close(self) -> None:
        self.monitor.stop()
        self.events.close()
        close = getattr(self.oci, "close", None)      # the launcher (a test's fake has none)
        if close is not None:
            close()


def pod_cidr_for_bridge(value: str) -> str:
    """The CIDR of UpdateRuntimeConfig the built-in bridge takes, or "".

    The kubelet sends the node's pod CIDRs joined by commas (one per IP
    family on a dual-stack node).  The bridge is IPv4 only: it takes the
    first IPv4 CIDR; with none (an IPv6-only node) the update is ignored,
    as containerd ignores it without a CNI config template.  A malformed
    entry is INVALID_ARGUMENT."""
    import ipaddress
    found = ""
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            net = ipaddress.ip_network(part, strict=False)
        except ValueError as e:
            raise InvalidArgument(f"runtime_config.network_config.pod_cidr {value!r}: {e}") from None
        if net.version == 4 and not found:
            found = part
    if value.strip() and not found:
        log.info("no IPv4 pod CIDR in UpdateRuntimeConfig: the built-in bridge keeps its own",
                 extra={"pod_cidr": value})
    return found


class EventBus:
    """GetContainerEvents: every subscriber gets every event from its
    subscription on; a slow subscriber loses the oldest (bounded queue)."""

    def __init__(self, depth: int = 1000):
        self.depth = depth
        self._subs: list[queue.Queue] = []
        self._lock = threading.Lock()

    def subscribe(self) -> queue.Queue:
        q = queue.Queue(self.depth)
        with self._lock:
            self._subs.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            if q in self._subs:
                self._subs.remove(q)

    def publish(self, ev) -> None:
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            while True:
                try:
                    q.put_nowait(ev)
                    break
                except queue.Full:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass

    def close(self) -> None:
        with self._lock:
            subs, self._subs = self._subs, []
        for q in subs:
            try:
                q.put_nowait(None)
            except queue.Full:
                q.get_nowait()
                q.put_nowait(None)


class ExitMonitor:
    """One thread waiting (epoll) on a pidfd per live sentry; when one
    exits, the container's record is refreshed at once (and the STOPPED
    event published), without anybody polling."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self._ep = select.epoll()
        self._fds: dict[int, str] = {}
        self._by_id: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._ep.register(self._wake_r, select.EPOLLIN)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="exit-monitor")
        self._thread.start()

    def watch(self, cid: str) -> None:
        st = self.rt.oci.state(cid)
        if st.status in ("stopped", "absent") or not st.pid:
            return
        try:
            fd = os.pidfd_open(st.pid)
        except OSError:
            return
        from sentry.oci.container import start_time
        if start_time(st.pid) != st.pid_start:
            os.close(fd)
            return
        with self._lock:
            if cid in self._by_id or self._stopped:
                os.close(fd)
                return
            self._fds[fd] = cid
            self._by_id[cid] = fd
            self._ep.register(fd, select.EPOLLIN)

    def forget(self, cid: str) -> None:
        with self._lock:
            fd = self._by_id.pop(cid, None)
            if fd is not None:
                self._fds.pop(fd, None)
                try:
                    self._ep.unregister(fd)
                except OSError:
                    pass
                os.close(fd)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        os.write(self._wake_w, b"x")
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                ready = self._ep.poll()
            except InterruptedError:
                continue
            for fd, _ in ready:
                if fd == self._wake_r:
                    return
                with self._lock:
                    cid = self._fds.get(fd)
                if cid is None:
                    continue
                self.forget(cid)
                try:
                    self.rt.ctrs.refresh(cid)
                except Exception:
                    log.exception("refreshing an exited container failed", extra={"container": cid})


class RuntimeServicer(api_pb2_grpc.RuntimeServiceServicer):
    def __init__(self, rt: Runtime, streams=None):
        self.rt = rt
        self.streams = streams

    # -- runtime ---------------------------------------------------------------------

    def Version(self, request, context):
        return api_pb2.VersionResponse(version="0.1.0", runtime_name=RUNTIME_NAME,
                                       runtime_version=runtime_version(),
                                       runtime_api_version=RUNTIME_API_VERSION)

    def Status(self, request, context):
        ready, reason = self.rt.net.status()
        resp = api_pb2.StatusResponse()
        resp.status.conditions.add(type="RuntimeReady", status=True)
        net = resp.status.conditions.add(type="NetworkReady", status=ready)
        if not ready:
            net.reason, net.message = "NetworkPluginNotReady", reason
        for name in HANDLERS:
            # recursive_read_only: mount_setattr(AT_RECURSIVE) in the sandbox's
            # start-up (sentry/sandbox/mounts.py); the kubelet refuses
            # recursiveReadOnly mounts on handlers that do not report it.
            handler = resp.runtime_handlers.add(name=name)
            handler.features.recursive_read_only_mounts = True
            handler.features.user_namespaces = False      # pod user namespaces: not supported
        # Strict and Merge are both served (ocispec) and ContainerStatus.user is
        # reported; without this the kubelet refuses pods asking for Strict.
        resp.features.supplemental_groups_policy = True
        if request.verbose:
            import json
            resp.info["config"] = json.dumps({"root": self.rt.cfg.root, "state_dir": self.rt.cfg.state_dir,
                                              "oci_runtime": self.rt.oci.binary, "platform": self.rt.cfg.platform,
                                              "network": reason})
        return resp

    def UpdateRuntimeConfig(self, request, context):
        cidr = pod_cidr_for_bridge(request.runtime_config.network_config.pod_cidr)
        if cidr:
            from cri_handler.netns import NetworkError
            try:
                self.rt.net.update_pod_cidr(cidr)
            except NetworkError as e:
                if "invalid pod CIDR" in str(e) or "wants IPv4" in str(e):
                    raise InvalidArgument(f"runtime_config.network_config.pod_cidr: {e}") from None
                raise FailedPrecondition(str(e)) from None
        return api_pb2.UpdateRuntimeConfigResponse()

    def RuntimeConfig(self, request, context):
        resp = api_pb2.RuntimeConfigResponse()
        resp.linux.cgroup_driver = api_pb2.CGROUPFS
        return resp

    # -- pods -------------------------------------------------------------------------

    def RunPodSandbox(self, request, context):
        return api_pb2.RunPodSandboxResponse(pod_sandbox_id=self.rt.pods_svc.run(request))

    def StopPodSandbox(self, request, context):
        self.rt.pods_svc.stop(request.pod_sandbox_id)
        return api_pb2.StopPodSandboxResponse()

    def RemovePodSandbox(self, request, context):
        self.rt.pods_svc.remove(request.pod_sandbox_id)
        return api_pb2.RemovePodSandboxResponse()

    def PodSandboxStatus(self, request, context):
        return self.rt.pods_svc.status(request.pod_sandbox_id, request.verbose)

    def ListPodSandbox(self, request, context):
        return api_pb2.ListPodSandboxResponse(items=self.rt.pods_svc.list(request.filter))

    def StreamPodSandboxes(self, request, context):
        items = self.rt.pods_svc.list(request.filter)
        for i in range(0, len(items), STREAM_CHUNK):
            yield api_pb2.StreamPodSandboxesResponse(pod_sandboxes=items[i:i + STREAM_CHUNK])

    def PodSandboxStats(self, request, context):
        return api_pb2.PodSandboxStatsResponse(stats=self.rt.pods_svc.stats(request.pod_sandbox_id))

    def ListPodSandboxStats(self, request, context):
        return api_pb2.ListPodSandboxStatsResponse(stats=self.rt.pods_svc.list_stats(request.filter))

    def StreamPodSandboxStats(self, request, context):
        items = self.rt.pods_svc.list_stats(request.filter)
        for i in range(0, len(items), STREAM_CHUNK):
            yield api_pb2.StreamPodSandboxStatsResponse(pod_sandbox_stats=items[i:i + STREAM_CHUNK])

    def UpdatePodSandboxResources(self, request, context):
        # The kubelet has already resized the pod cgroup (cgroupfs driver); the
        # CRI makes this best effort.  Nothing of ours depends on it.
        if not request.pod_sandbox_id:
            raise InvalidArgument("pod_sandbox_id: missing")
        if self.rt.find_pod(request.pod_sandbox_id) is None:
            raise NotFound(f"pod sandbox {request.pod_sandbox_id!r} not found")
        return api_pb2.UpdatePodSandboxResourcesResponse()

    # -- containers -------------------------------------------------------------------

    def CreateContainer(self, request, context):
        return api_pb2.CreateContainerResponse(container_id=self.rt.ctrs.create(request))

    def StartContainer(self, request, context):
        self.rt.ctrs.start(request.container_id)
        return api_pb2.StartContainerResponse()

    def StopContainer(self, request, context):
        self.rt.ctrs.stop(request.container_id, request.timeout)
        return api_pb2.StopContainerResponse()

    def RemoveContainer(self, request, context):
        self.rt.ctrs.remove(request.container_id)
        return api_pb2.RemoveContainerResponse()

    def ListContainers(self, request, context):
        return api_pb2.ListContainersResponse(containers=self.rt.ctrs.list(request.filter))

    def StreamContainers(self, request, context):
        items = self.rt.ctrs.list(request.filter)
        for i in range(0, len(items), STREAM_CHUNK):
            yield api_pb2.StreamContainersResponse(containers=items[i:i + STREAM_CHUNK])

    def ContainerStatus(self, request, context):
        return self.rt.ctrs.status(request.container_id, request.verbose)

    def UpdateContainerResources(self, request, context):
        self.rt.ctrs.update_resources(request.container_id, request.linux)
        return api_pb2.UpdateContainerResourcesResponse()

    def ReopenContainerLog(self, request, context):
        self.rt.ctrs.reopen_log(request.container_id)
        return api_pb2.ReopenContainerLogResponse()

    def ExecSync(self, request, context):
        return self.rt.ctrs.exec_sync(request.container_id, request.cmd, request.timeout)

    def ContainerStats(self, request, context):
        return api_pb2.ContainerStatsResponse(stats=self.rt.ctrs.stats(request.container_id))

    def ListContainerStats(self, request, context):
        return api_pb2.ListContainerStatsResponse(stats=self.rt.ctrs.list_stats(request.filter))

    def StreamContainerStats(self, request, context):
        items = self.rt.ctrs.list_stats(request.filter)
        for i in range(0, len(items), STREAM_CHUNK):
            yield api_pb2.StreamContainerStatsResponse(container_stats=items[i:i + STREAM_CHUNK])

    def CheckpointContainer(self, request, context):
        raise Unimplemented("CheckpointContainer: checkpointing is not supported by pysandbox")

    def GetContainerEvents(self, request, context):
        q = self.rt.events.subscribe()
        # The headers tell a client that it is subscribed: whatever it does
        # after receiving them (initial_metadata() in grpcio) has its events.
        context.send_initial_metadata(())
        def gone():                                      # the client went away
            try:
                q.put_nowait(None)
            except queue.Full:
                pass                                     # the loop sees is_active() false
        context.add_callback(gone)
        try:
            while True:
                ev = q.get()
                if ev is None or not context.is_active():
                    return
                yield ev
        finally:
            self.rt.events.unsubscribe(q)

    def ListMetricDescriptors(self, request, context):
        return api_pb2.ListMetricDescriptorsResponse(descriptors=metrics.descriptors())

    def ListPodSandboxMetrics(self, request, context):
        return api_pb2.ListPodSandboxMetricsResponse(pod_metrics=self._pod_metrics())

    def StreamPodSandboxMetrics(self, request, context):
        items = self._pod_metrics()
        for i in range(0, len(items), STREAM_CHUNK):
            yield api_pb2.StreamPodSandboxMetricsResponse(pod_sandbox_metrics=items[i:i + STREAM_CHUNK])

    def _pod_metrics(self) -> list:
        with self.rt.mu:
            pods = list(self.rt.pods.values())
        return [metrics.pod_metrics(self.rt, p) for p in pods]

    # -- streaming ----------------------------------------------------------------------

    def Exec(self, request, context):
        rec = self.rt.ctrs.running(request.container_id)
        try:
            url = self._streams().register_exec(rec.id, list(request.cmd), request.tty, request.stdin,
                                                request.stdout, request.stderr)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        return api_pb2.ExecResponse(url=url)

    def Attach(self, request, context):
        rec = self.rt.ctrs.running(request.container_id)
        if request.tty and not rec.tty:
            raise FailedPrecondition(f"container {rec.id} was not created with a tty: attach without tty")
        if request.stdin and not rec.config.get("stdin"):
            raise FailedPrecondition(f"container {rec.id} was not created with stdin")
        if not rec.attach_dir and not rec.log_path and (request.stdout or request.stderr):
            raise FailedPrecondition(f"container {rec.id} has no log, tty or stdin: there is nothing to attach to")
        try:
            url = self._streams().register_attach(rec.id, request.tty, request.stdin, request.stdout,
                                                  request.stderr)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        return api_pb2.AttachResponse(url=url)

    def PortForward(self, request, context):
        if not request.pod_sandbox_id:
            raise InvalidArgument("pod_sandbox_id: missing")
        pod = self.rt.find_pod(request.pod_sandbox_id)
        if pod is None:
            raise NotFound(f"pod sandbox {request.pod_sandbox_id!r} not found")
        try:
            url = self._streams().register_portforward(pod.id, list(request.port))
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        return api_pb2.PortForwardResponse(url=url)

    def _streams(self):
        if self.streams is None:
            raise Unimplemented("the streaming server is not running")
        return self.streams
