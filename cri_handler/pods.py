"""Pod sandboxes: RunPodSandbox, StopPodSandbox, RemovePodSandbox, status, list, stats.

A pod has no process of its own (no pause container): it is
- its net, ipc and uts namespaces, held by bind mounts (cri_handler.netns)
  at <state_dir>/ns/<pod_id>/{net,ipc,uts};
- its network attachment (cri_handler.network: CNI or the built-in bridge);
- its directory <state_dir>/pods/<pod_id>/ with hostname, hosts and
  resolv.conf, bind-mounted into each of its containers;
- a cgroup parent its containers' cgroups go under (the kubelet's
  cgroup_parent, else <cgroup_root>/<pod_id>);
- its record (cri_handler.store);
- with namespace_options.pid NODE (hostPID), nothing more: its containers
  run in the host's pid namespace (cri_handler.ocispec), each ended by its
  cgroup (sentry/sandbox/lifecycle.py);
- when its config's namespace_options.pid is POD (what the kubelet sends
  for shareProcessNamespace, and the proto default of clients that leave
  namespace_options unset), a pod init (cri_handler.podinit): pid 1 of a
  pid namespace its containers asking for pid POD join, as containerd's
  containers join the pause container's.  Its pid and start time are in the
  record, so a restarted server finds it; stop and remove kill it.
READY from RunPodSandbox until StopPodSandbox; NOTREADY after.  Stop and
remove are idempotent: an unknown id is fine (it may be gone already).
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import socket
import time
from dataclasses import asdict

from google.protobuf import json_format

from cri_handler import ctrstats, netns, ocispec, podinit
from cri_handler.errors import InvalidArgument, NotFound, Unimplemented
from cri_handler.network import PortMapping
from cri_handler.store import POD_NOTREADY, POD_READY, PodRecord
from cri_handler.v1 import api_pb2

log = logging.getLogger(__name__)

HANDLERS = ("pysandbox", "")
HOSTS_BASE = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
_PROTOCOLS = {api_pb2.TCP: "tcp", api_pb2.UDP: "udp", api_pb2.SCTP: "sctp"}
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,62})?")


def to_json(msg) -> dict:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


class Pods:
    def __init__(self, rt):
        self.rt = rt

    # -- RunPodSandbox ----------------------------------------------------------------

    def run(self, req) -> str:
        rt = self.rt
        handler = req.runtime_handler
        if handler not in HANDLERS:
            raise InvalidArgument(f"runtime_handler {handler!r}: unknown; this runtime serves "
                                  f"{' and '.join(repr(h) for h in HANDLERS)}")
        if not req.HasField("config"):
            raise InvalidArgument("config: missing")
        cfg = req.config
        md = cfg.metadata
        if not cfg.HasField("metadata") or not md.name:
            raise InvalidArgument("config.metadata.name: missing")
        if not md.namespace:
            raise InvalidArgument("config.metadata.namespace: missing")
        opts = cfg.linux.security_context.namespace_options
        if opts.pid == api_pb2.TARGET:
            raise Unimplemented("config.linux.security_context.namespace_options.pid TARGET: not supported "
                                "(POD, CONTAINER and NODE are)")
        if opts.pid not in (api_pb2.POD, api_pb2.CONTAINER, api_pb2.NODE):
            raise InvalidArgument(f"config.linux.security_context.namespace_options.pid {opts.pid}: "
                                  "not a NamespaceMode")
        host_network = opts.network == api_pb2.NODE
        hostname = cfg.hostname or (socket.gethostname() if host_network else _hostname_from(md.name))
        if not _HOSTNAME.fullmatch(hostname) or len(hostname.encode()) > netns.HOST_NAME_MAX:
            raise InvalidArgument(f"config.hostname {cfg.hostname!r}: expected a DNS name of at most 64 bytes")
        if cfg.log_directory and not os.path.isabs(cfg.log_directory):
            raise InvalidArgument(f"config.log_directory {cfg.log_directory!r}: must be an absolute path")
        mappings = self._port_mappings(cfg)
        cgroup_parent = cfg.linux.cgroup_parent
        if cgroup_parent and (not cgroup_parent.startswith("/") or ":" in cgroup_parent
                              or ".." in cgroup_parent.split("/")):
            raise InvalidArgument(f"config.linux.cgroup_parent {cgroup_parent!r}: expected an absolute "
                                  "cgroupfs path (the systemd cgroup driver is not supported)")
        for key in cfg.linux.sysctls:
            if host_network and key.startswith("net."):
                raise InvalidArgument(f"config.linux.sysctls.{key}: net.* sysctls need the pod's own network")
        # linux.overhead/resources: the kubelet sizes the pod cgroup itself (cgroupfs driver).

        pod_id = secrets.token_hex(32)
        name_key = f"pod:{md.name}_{md.namespace}_{md.uid}_{md.attempt}"
        rt.reserve_name(name_key, pod_id)
        rec = PodRecord(id=pod_id, name=md.name, namespace=md.namespace, uid=md.uid, attempt=md.attempt,
                        created_at=time.time_ns(), state=POD_READY, runtime_handler=handler,
                        config=to_json(cfg), hostname=hostname, host_network=host_network,
                        host_ipc=opts.ipc == api_pb2.NODE, host_pid=opts.pid == api_pb2.NODE,
                        pod_dir=os.path.join(rt.cfg.state_dir, "pods", pod_id),
                        cgroup_parent=cgroup_parent or f"{rt.cfg.cgroup_root}/{pod_id}",
                        own_cgroup_parent=not cgroup_parent)
        try:
            with rt.op_lock(pod_id):
                self._create(rec, cfg, mappings)
        except BaseException:
            rt.release_name(name_key)
            raise
        with rt.mu:
            rt.pods[pod_id] = rec
        log.info("pod ready", extra={"pod": pod_id, "pod_name": f"{md.namespace}/{md.name}", "ip": rec.ip})
        return pod_id

    def _create(self, rec: PodRecord, cfg, mappings) -> None:
        rt = self.rt
        made_ns = made_net = False
        share_pid = cfg.linux.security_context.namespace_options.pid == api_pb2.POD
        try:
            os.makedirs(rec.pod_dir, 0o711)
            if cfg.log_directory:
                os.makedirs(cfg.log_directory, 0o755, exist_ok=True)
            _write(os.path.join(rec.pod_dir, "hostname"), rec.hostname + "\n")
            _write(os.path.join(rec.pod_dir, "resolv.conf"), _resolv_conf(cfg.dns_config, rec.host_network))
            # A privileged pod with a network of its own: its namespaces are
            # owned by a user namespace of its own, which its privileged
            # containers join (cri_handler/ocispec.py).
            own_userns = cfg.linux.security_context.privileged and not rec.host_network
            paths = netns.create_pod_namespaces(rec.id, rec.hostname, rt.cfg.state_dir,
                                                user_mapping=ocispec.PRIVILEGED_IDS if own_userns else None)
            made_ns = True
            rec.namespaces = {"net": paths.net, "ipc": paths.ipc, "uts": paths.uts}
            if paths.user is not None:
                rec.namespaces["user"] = paths.user
            rt.meta.save_pod(rec)                # from here on a restart can clean up
            if share_pid:
                rec.pid_init_pid, rec.pid_init_start = podinit.start(rec.cgroup_parent)
                rt.meta.save_pod(rec)
            if not rec.host_network:
                md = cfg.metadata
                status = rt.net.setup(rec.id, paths.net, mappings, md.name, md.namespace, md.uid)
                made_net = True
                rec.ip, rec.additional_ips = status.ip, list(status.additional_ips)
                rec.network_ready = True
            _write(os.path.join(rec.pod_dir, "hosts"), _hosts(rec))
            rt.meta.save_pod(rec)
        except BaseException:
            if rec.pid_init_pid:
                _quietly(podinit.stop, rec.pid_init_pid, rec.pid_init_start, rec.cgroup_parent)
            if made_net:
                _quietly(rt.net.teardown, rec.id)
            if made_ns:
                _quietly(netns.remove_pod_namespaces, rec.id, rt.cfg.state_dir)
            shutil.rmtree(rec.pod_dir, ignore_errors=True)
            rt.meta.delete_pod(rec.id)
            raise

    @staticmethod
    def _port_mappings(cfg) -> list[PortMapping]:
        out = []
        for i, m in enumerate(cfg.port_mappings):
            if not 0 < m.container_port < 65536:
                raise InvalidArgument(f"config.port_mappings[{i}].container_port {m.container_port}: "
                                      "expected 1-65535")
            if not 0 <= m.host_port < 65536:
                raise InvalidArgument(f"config.port_mappings[{i}].host_port {m.host_port}: expected 0-65535")
            out.append(PortMapping(m.container_port, m.host_port, _PROTOCOLS.get(m.protocol, "tcp"), m.host_ip))
        return out

    # -- StopPodSandbox / RemovePodSandbox --------------------------------------------

    def stop(self, pod_id: str) -> None:
        rt = self.rt
        if not pod_id:
            raise InvalidArgument("pod_sandbox_id: missing")
        rec = rt.find_pod(pod_id)
        if rec is None:
            return                                  # already removed: fine (idempotent)
        with rt.op_lock(rec.id):
            for ctr in rt.containers_of(rec.id):
                rt.ctrs.kill_now(ctr.id)
            if rec.pid_init_pid:
                # After the containers: its exit would SIGKILL their members of
                # the namespace, with no chance of a clean exit status.
                podinit.stop(rec.pid_init_pid, rec.pid_init_start, rec.cgroup_parent)
            if rec.network_ready:
                rt.net.teardown(rec.id)
                with rt.mu:
                    rec.network_ready = False
                    rt.meta.save_pod(rec)
            if rec.state != POD_NOTREADY:
                with rt.mu:
                    rec.state = POD_NOTREADY
                    rt.meta.save_pod(rec)
                log.info("pod stopped", extra={"pod": rec.id})

    def remove(self, pod_id: str) -> None:
        rt = self.rt
        if not pod_id:
            raise InvalidArgument("pod_sandbox_id: missing")
        rec = rt.find_pod(pod_id)
        if rec is None:
            return
        self.stop(rec.id)
        with rt.op_lock(rec.id):
            for ctr in rt.containers_of(rec.id):
                rt.ctrs.remove(ctr.id)
            netns.remove_pod_namespaces(rec.id, rt.cfg.state_dir)
            if rec.pid_init_pid:                 # again: its cgroup leaf, if a straggler kept it
                podinit.stop(rec.pid_init_pid, rec.pid_init_start, rec.cgroup_parent)
            shutil.rmtree(rec.pod_dir, ignore_errors=True)
            if rec.own_cgroup_parent:
                _remove_cgroup_dirs(rec.cgroup_parent)
            with rt.mu:
                rt.pods.pop(rec.id, None)
                rt.meta.delete_pod(rec.id)
                rt.release_id(rec.id)
        log.info("pod removed", extra={"pod": rec.id})

    # -- status and list -------------------------------------------------------------

    def status(self, pod_id: str, verbose: bool):
        rt = self.rt
        if not pod_id:
            raise InvalidArgument("pod_sandbox_id: missing")
        rec = rt.find_pod(pod_id)
        if rec is None:
            raise NotFound(f"pod sandbox {pod_id!r} not found")
        resp = api_pb2.PodSandboxStatusResponse(status=self.to_status(rec), timestamp=time.time_ns())
        for ctr in rt.containers_of(rec.id):
            resp.containers_statuses.append(rt.ctrs.to_status(rt.ctrs.refresh(ctr.id) or ctr))
        if verbose:
            info = asdict(rec)
            info.pop("config", None)
            resp.info["info"] = json.dumps({**info, "config": rec.config}, sort_keys=True)
        return resp

    def to_status(self, rec: PodRecord):
        s = api_pb2.PodSandboxStatus(
            id=rec.id, state=api_pb2.SANDBOX_READY if rec.state == POD_READY else api_pb2.SANDBOX_NOTREADY,
            created_at=rec.created_at, runtime_handler=rec.runtime_handler)
        s.metadata.CopyFrom(_metadata(rec))
        if rec.ip and not rec.host_network:
            s.network.ip = rec.ip
            for ip in rec.additional_ips:
                s.network.additional_ips.add(ip=ip)
        opts = rec.config.get("linux", {}).get("security_context", {}).get("namespace_options", {})
        s.linux.namespaces.options.CopyFrom(json_format.ParseDict(opts, api_pb2.NamespaceOption(),
                                                                  ignore_unknown_fields=True))
        s.labels.update(rec.labels)
        s.annotations.update(rec.annotations)
        return s

    def list(self, flt) -> list:
        rt = self.rt
        with rt.mu:
            pods = list(rt.pods.values())
        out = []
        for rec in sorted(pods, key=lambda p: p.created_at):
            if flt.id and not rec.id.startswith(flt.id):
                continue
            state = api_pb2.SANDBOX_READY if rec.state == POD_READY else api_pb2.SANDBOX_NOTREADY
            if flt.HasField("state") and flt.state.state != state:
                continue
            if not _labels_match(rec.labels, flt.label_selector):
                continue
            p = api_pb2.PodSandbox(id=rec.id, state=state, created_at=rec.created_at,
                                   runtime_handler=rec.runtime_handler)
            p.metadata.CopyFrom(_metadata(rec))
            p.labels.update(rec.labels)
            p.annotations.update(rec.annotations)
            out.append(p)
        return out

    # -- stats -----------------------------------------------------------------------

    def stats(self, pod_id: str):
        rt = self.rt
        if not pod_id:
            raise InvalidArgument("pod_sandbox_id: missing")
        rec = rt.find_pod(pod_id)
        if rec is None:
            raise NotFound(f"pod sandbox {pod_id!r} not found")
        return self._stats(rec)

    def list_stats(self, flt) -> list:
        with self.rt.mu:
            pods = list(self.rt.pods.values())
        return [self._stats(p) for p in pods
                if (not flt.id or p.id.startswith(flt.id)) and _labels_match(p.labels, flt.label_selector)]

    def _stats(self, rec: PodRecord):
        rt = self.rt
        now = time.time_ns()
        st = api_pb2.PodSandboxStats()
        a = st.attributes
        a.id = rec.id
        a.metadata.CopyFrom(_metadata(rec))
        a.labels.update(rec.labels)
        a.annotations.update(rec.annotations)
        lx = st.linux
        cpu_ns = mem = ws = procs = 0
        nano_cores = 0
        for ctr in rt.containers_of(rec.id):
            cs = rt.ctrs.stats_of(ctr)
            if cs is None:
                continue
            lx.containers.append(cs)
            cpu_ns += cs.cpu.usage_core_nano_seconds.value
            nano_cores += cs.cpu.usage_nano_cores.value
            mem += cs.memory.usage_bytes.value
            ws += cs.memory.working_set_bytes.value
            procs += ctrstats.process_count(ctr)
        lx.cpu.timestamp = now
        lx.cpu.usage_core_nano_seconds.value = cpu_ns
        lx.cpu.usage_nano_cores.value = nano_cores
        lx.memory.timestamp = now
        lx.memory.usage_bytes.value = mem
        lx.memory.working_set_bytes.value = ws
        lx.process.timestamp = now
        lx.process.process_count.value = procs
        if not rec.host_network and rec.state == POD_READY and os.path.exists(rec.namespaces.get("net", "")):
            try:
                ifaces = netns.run_in_netns(rec.namespaces["net"], _read_net_dev)
            except Exception as e:               # a vanished netns: no network stats
                log.debug("no network stats", extra={"pod": rec.id, "error": str(e)})
                ifaces = {}
            lx.network.timestamp = now
            for name, (rx, rxe, tx, txe) in sorted(ifaces.items()):
                if name == "lo":
                    continue
                u = api_pb2.NetworkInterfaceUsage(name=name)
                u.rx_bytes.value, u.rx_errors.value, u.tx_bytes.value, u.tx_errors.value = rx, rxe, tx, txe
                if name == rt.net.ifname:
                    lx.network.default_interface.CopyFrom(u)
                else:
                    lx.network.interfaces.append(u)
        return st

    # -- restart ---------------------------------------------------------------------

    def recover(self, rec: PodRecord) -> None:
        """After a restart: a READY pod whose namespaces are gone (a reboot),
        or whose pod init is (its shared pid namespace died with it), is
        NOTREADY now."""
        gone = not all(os.path.exists(p) for p in rec.namespaces.values())
        if rec.pid_init_pid and not podinit.alive(rec.pid_init_pid, rec.pid_init_start):
            gone = True
        if rec.state == POD_READY and gone:
            rec.state = POD_NOTREADY
            self.rt.meta.save_pod(rec)


def _metadata(rec: PodRecord):
    return api_pb2.PodSandboxMetadata(name=rec.name, uid=rec.uid, namespace=rec.namespace, attempt=rec.attempt)


def labels_match(labels: dict, selector) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


_labels_match = labels_match


def _hostname_from(name: str) -> str:
    h = re.sub(r"[^A-Za-z0-9.-]", "-", name).strip("-.")[:63].rstrip("-.")
    return h or "pod"


def _resolv_conf(dns, host_network: bool) -> str:
    if dns.servers or dns.searches or dns.options:
        lines = [f"nameserver {s}" for s in dns.servers]
        if dns.searches:
            lines.append("search " + " ".join(dns.searches))
        if dns.options:
            lines.append("options " + " ".join(dns.options))
        return "\n".join(lines) + "\n"
    try:                        # no DNS config: the host's, as containerd does
        with open("/etc/resolv.conf") as f:
            return f.read()
    except OSError:
        return ""


def _hosts(rec: PodRecord) -> str:
    if rec.host_network:
        try:
            with open("/etc/hosts") as f:
                return f.read()
        except OSError:
            return HOSTS_BASE
    return HOSTS_BASE + (f"{rec.ip}\t{rec.hostname}\n" if rec.ip else "")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception as e:
        log.warning("cleanup step failed", extra={"step": getattr(fn, "__name__", str(fn)), "error": str(e)})


def _read_net_dev() -> dict[str, tuple[int, int, int, int]]:
    """Runs in a thread inside the pod's netns: /proc/thread-self/net/dev."""
    out = {}
    with open("/proc/thread-self/net/dev") as f:
        for line in f.readlines()[2:]:
            name, _, rest = line.partition(":")
            v = rest.split()
            if len(v) >= 12:
                out[name.strip()] = (int(v[0]), int(v[2]), int(v[8]), int(v[10]))
    return out


def _remove_cgroup_dirs(path: str) -> None:
    """rmdir <hierarchy>/<path> in every mounted hierarchy (empty by now)."""
    from sentry.sandbox.cgroups import CGROUP_ROOT
    roots = [CGROUP_ROOT]
    try:
        roots += [os.path.join(CGROUP_ROOT, d) for d in os.listdir(CGROUP_ROOT)]
    except OSError:
        pass
    rel = path.strip("/")
    for root in roots:
        p = os.path.join(root, rel)
        if os.path.isdir(p):
            try:
                os.rmdir(p)
            except OSError as e:
                log.warning("cannot remove pod cgroup", extra={"path": p, "error": e.strerror})
