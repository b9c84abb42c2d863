"""Pod networking for the CRI server: CNI when configured, else a built-in bridge.

The CRI server creates the pod's namespaces (netns.py), then calls
PodNetworkManager.setup() with the netns path, and teardown() when the pod
stops.  Which mode a pod gets is decided at setup: CNI if cni_conf_dir holds
a config file (what real nodes do; see cni.py), the built-in bridge
otherwise.  A broken CNI config is an error, never a silent fallback.

State: `<state_dir>/pods/<pod_id>.json` records the mode, netns, the
exact CNI config and args (and, once ADD succeeded, its result) or the
built-in veth and bridge.  It is written *before* anything is created, so a
teardown after a crash or a server restart removes what was made, with the
config used at ADD time even if the conf dir changed since.  setup() and
teardown() of one pod must not run concurrently (the CRI server serialises
per pod); different pods may, in threads or processes.

Kernel facts relied on by the built-in mode:

- A veth pair is created with its peer directly in the pod netns
  (IFLA_NET_NS_FD in the peer's info), so the peer may be named eth0 there
  while the host has its own eth0.  Deleting either end deletes both; the
  pair also dies with the pod netns.  Interface names are at most 15 bytes
  (IFNAMSIZ - 1): host ends are `pysb` + 11 hex digits of a hash.
- Ports of one bridge are one L2 segment: pods on it reach each other
  without forwarding.  If br_netfilter is loaded, bridged frames still pass
  the iptables FORWARD chain, whose policy may be DROP (Docker sets it), so
  the FORWARD ACCEPT rules below matter even for pod-to-pod traffic.
- The gateway is the bridge's address (the CIDR's first host); the pod's
  default route points at it.  Egress beyond the node needs
  net.ipv4.ip_forward=1 (set when the bridge is made, as the CNI bridge
  plugin does with isGateway) and a MASQUERADE of the pod CIDR.
- hostPort: nat PREROUTING (from outside) and OUTPUT (from the node) jump,
  for local destination addresses (-m addrtype --dst-type LOCAL), to a
  per-bridge chain of DNAT rules, one per mapping, tagged with a comment
  naming the pod, which is how teardown finds them (also after a restart).
  Reaching a hostPort at 127.0.0.1 from the node DNATs a packet with a
  loopback source out of the bridge: the kernel drops that as martian
  unless route_localnet=1 on the bridge, and the pod could not answer it,
  so it is MASQUERADEd to the bridge address.  Hairpin (a pod reaching its
  own hostPort) is not set up.  Without an iptables binary the built-in
  mode refuses hostPort mappings with NetworkError; IPv4 only.
- IPAM is a JSON file of leases per bridge, read-modify-written under an
  flock held for the whole setup or teardown (the lock also serialises
  bridge and iptables changes), so no two processes hand out one address.
  It records /proc/sys/kernel/random/boot_id: pods never survive a reboot,
  so leases from an earlier boot are dropped.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import socket
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from pyroute2 import IPRoute, NetlinkError

from . import cni
from .cni import CNIPluginError
from .netns import DEFAULT_RUN_DIR, NetworkError, check_netns, check_pod_id, pod_ns_paths, run_in_netns

__all__ = ["NetworkError", "CNIPluginError", "PortMapping", "PodNetworkStatus", "PodNetworkManager"]

DEFAULT_STATE_DIR = "/var/lib/pysandbox/network"
DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d"
DEFAULT_CNI_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")
DEFAULT_BRIDGE = "pysb0"
PROTOCOLS = ("tcp", "udp", "sctp")
IPTABLES_WAIT_S = "10"


@dataclass(frozen=True)
class PortMapping:
    """A CRI PortMapping.  host_port 0 means "not published" and is
    skipped, as containerd does; protocol is tcp, udp or sctp (any case)."""
    container_port: int
    host_port: int
    protocol: str = "tcp"
    host_ip: str = ""


@dataclass(frozen=True)
class PodNetworkStatus:
    ip: str
    ifname: str
    gateway: str
    mode: str                       # "cni" or "builtin"
    additional_ips: tuple[str, ...] = ()


class PodNetworkManager:
    def __init__(self, run_dir: str = DEFAULT_RUN_DIR, state_dir: str = DEFAULT_STATE_DIR,
                 cni_conf_dir: str = DEFAULT_CNI_CONF_DIR, cni_bin_dirs=DEFAULT_CNI_BIN_DIRS,
                 pod_cidr: str = "10.88.0.0/16", bridge: str = DEFAULT_BRIDGE, ifname: str = "eth0"):
        """run_dir is where netns.py keeps pod namespaces (the default
        netns path); state_dir holds records, leases and locks."""
        if not 0 < len(bridge.encode()) <= 15 or not bridge.isascii() or "/" in bridge or " " in bridge:
            raise NetworkError(f"invalid bridge name {bridge!r} (1-15 ASCII characters)")
        self.run_dir, self.state_dir = run_dir, state_dir
        self.cni_conf_dir, self.cni_bin_dirs = cni_conf_dir, tuple(cni_bin_dirs)
        self.pod_cidr = _parse_cidr(pod_cidr)
        self.bridge, self.ifname = bridge, ifname
        search = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
        self.iptables = shutil.which("iptables", path=search)
        os.makedirs(os.path.join(state_dir, "pods"), 0o700, exist_ok=True)
        os.makedirs(os.path.join(state_dir, "ipam"), 0o700, exist_ok=True)

    # --- the API the CRI server calls -------------------------------------

    def status(self) -> tuple[bool, str]:
        """(ready, reason) for the CRI NetworkReady condition."""
        try:
            net = self._cni_config()
        except NetworkError as e:
            return False, str(e)
        if net is None:
            return True, f"built-in bridge {self.bridge}, pod CIDR {self.pod_cidr}"
        try:
            cni.require_plugins(net, self.cni_bin_dirs)
        except NetworkError as e:
            return False, str(e)
        return True, f"CNI network {net.name!r} from {net.source}"

    def setup(self, pod_id: str, netns_path: str | None = None, port_mappings=(), name: str = "",
              namespace: str = "", uid: str = "") -> PodNetworkStatus:
        """Attach the pod's netns to the network and return its address.
        Raises NetworkError (CNIPluginError for a failing plugin); on failure
        nothing is left: no veth, lease, iptables rule or record.  Calling it
        again for a pod already set up returns the recorded status."""
        check_pod_id(pod_id)
        netns_path = netns_path or pod_ns_paths(pod_id, self.run_dir).net
        mappings = _check_mappings(port_mappings)
        rec = self._read_record(pod_id)
        if rec is not None:
            if rec.get("status") and rec["netns"] == netns_path:
                return _status_from(rec["status"])
            self.teardown(pod_id)        # a half-done earlier attempt
        check_netns(netns_path)
        net = self._cni_config()
        if net is not None:
            return self._setup_cni(pod_id, netns_path, net, mappings, name, namespace, uid)
        return self._setup_builtin(pod_id, netns_path, mappings)

    def teardown(self, pod_id: str, netns_path: str | None = None, port_mappings=None) -> None:
        """Undo setup().  Idempotent: a pod never set up, or already torn
        down, is fine.  What setup recorded is what gets removed, so the
        arguments beyond pod_id are accepted only for symmetry with setup.
        If a plugin's DEL fails, the record is kept so a retry can finish."""
        check_pod_id(pod_id)
        rec = self._read_record(pod_id)
        if rec is None:
            return
        if rec["mode"] == "cni":
            net = cni.parse_config(rec["config"], f"cached config of pod {pod_id}")
            # Plugins accept an empty CNI_NETNS on DEL once the netns is gone.
            netns = rec["netns"] if os.path.exists(rec["netns"]) else ""
            cni.delete(net, self._cni_runtime(pod_id, netns, rec), self.cni_bin_dirs, rec.get("result"))
        else:
            self._teardown_builtin(pod_id, rec)
        self._drop_record(pod_id)

    def pod_status(self, pod_id: str) -> PodNetworkStatus | None:
        """The recorded status of a set-up pod (survives restarts), or None."""
        rec = self._read_record(check_pod_id(pod_id))
        return _status_from(rec["status"]) if rec and rec.get("status") else None

    def check(self, pod_id: str) -> None:
        """Verify the pod's attachment (CNI CHECK, or the built-in veth and
        lease); raises NetworkError naming what is wrong."""
        rec = self._read_record(check_pod_id(pod_id))
        if not rec or not rec.get("status"):
            raise NetworkError(f"pod {pod_id}: network is not set up")
        if rec["mode"] == "cni":
            net = cni.parse_config(rec["config"], f"cached config of pod {pod_id}")
            cni.check(net, self._cni_runtime(pod_id, rec["netns"], rec), self.cni_bin_dirs, rec["result"])
            return
        with IPRoute() as ipr:
            if not ipr.link_lookup(ifname=rec["veth"]):
                raise NetworkError(f"pod {pod_id}: host veth {rec['veth']} is missing")
        if self._ipam_load(rec["bridge"])["leases"].get(pod_id) != rec["status"]["ip"]:
            raise NetworkError(f"pod {pod_id}: lease for {rec['status']['ip']} is missing")

    def update_pod_cidr(self, cidr: str) -> None:
        """CRI UpdateRuntimeConfig: the CIDR new built-in pods draw from.
        Refused while built-in pods hold leases in the old one.  CNI mode
        ignores it (the plugins' own IPAM config decides)."""
        new = _parse_cidr(cidr)
        if new == self.pod_cidr:
            return
        with self._lock(self.bridge):
            leases = self._ipam_load(self.bridge)["leases"]
            if leases:
                raise NetworkError(f"cannot change pod CIDR from {self.pod_cidr} to {new}: "
                                   f"{len(leases)} pod(s) on bridge {self.bridge} still use it")
            # The masquerade rule names the old CIDR; it is re-added on next setup.
            self._remove_node_rules(self.bridge)
            self.pod_cidr = new

    def remove_builtin_network(self) -> None:
        """Delete the built-in bridge and its iptables rules (node cleanup;
        idempotent).  Refused while pods still hold leases on it.  The
        ip_forward sysctl is left as it is."""
        with self._lock(self.bridge):
            leases = self._ipam_load(self.bridge)["leases"]
            if leases:
                raise NetworkError(f"bridge {self.bridge} still has {len(leases)} pod(s): {', '.join(leases)}")
            self._remove_node_rules(self.bridge)
            with IPRoute() as ipr:
                for index in ipr.link_lookup(ifname=self.bridge):
                    ipr.link("del", index=index)

    # --- CNI mode ----------------------------------------------------------

    def _cni_config(self) -> cni.NetworkList | None:
        path = cni.find_config(self.cni_conf_dir)
        return cni.load_config(path) if path else None

    def _cni_runtime(self, pod_id: str, netns: str, rec: dict) -> cni.Runtime:
        return cni.Runtime(pod_id, netns, rec["ifname"], tuple(tuple(a) for a in rec["args"]),
                           rec["capability_args"])

    def _setup_cni(self, pod_id, netns_path, net, mappings, name, namespace, uid) -> PodNetworkStatus:
        args = [["K8S_POD_NAMESPACE", namespace], ["K8S_POD_NAME", name],
                ["K8S_POD_INFRA_CONTAINER_ID", pod_id], ["K8S_POD_UID", uid]]
        cni.cni_args(args)       # refuse bad values before anything runs
        cni.require_plugins(net, self.cni_bin_dirs)   # before the record: DEL could not run either
        caps = {"portMappings": [_cni_port(m) for m in mappings]} if mappings else {}
        rec = {"mode": "cni", "netns": netns_path, "ifname": self.ifname, "config": net.to_json(),
               "source": net.source, "args": args, "capability_args": caps, "result": None}
        self._write_record(pod_id, rec)
        rt = self._cni_runtime(pod_id, netns_path, rec)
        result = None
        try:
            result = cni.add(net, rt, self.cni_bin_dirs)
            addr = cni.pod_address(result, self.ifname)
        except NetworkError as e:
            try:
                cni.delete(net, rt, self.cni_bin_dirs, result)
            except NetworkError as cleanup:
                raise NetworkError(f"{e}; cleanup by DEL also failed (retry teardown): {cleanup}") from e
            self._drop_record(pod_id)
            raise
        status = PodNetworkStatus(addr.ip, addr.ifname, addr.gateway, "cni", addr.additional_ips)
        rec.update(result=result, status=asdict(status))
        self._write_record(pod_id, rec)
        return status

    # --- built-in mode -----------------------------------------------------

    def _setup_builtin(self, pod_id, netns_path, mappings) -> PodNetworkStatus:
        if mappings and not self.iptables:
            raise NetworkError(f"pod {pod_id}: the built-in network needs iptables for hostPort mappings, "
                               "and no iptables binary was found")
        if any(":" in m.host_ip for m in mappings):
            raise NetworkError(f"pod {pod_id}: the built-in network is IPv4 only (IPv6 hostIP given)")
        veth = "pysb" + hashlib.sha256(f"{self.bridge}/{pod_id}".encode()).hexdigest()[:11]
        rec = {"mode": "builtin", "netns": netns_path, "ifname": self.ifname, "bridge": self.bridge,
               "veth": veth, "port_mappings": [asdict(m) for m in mappings]}
        self._write_record(pod_id, rec)
        try:
            with self._lock(self.bridge):
                gateway = self._ensure_bridge()
                ip = self._ipam_allocate(self.bridge, pod_id)
                self._attach(netns_path, veth, ip, gateway)
                for m in mappings:
                    self._add_hostport(pod_id, ip, m)
        except BaseException as e:
            try:
                self._teardown_builtin(pod_id, rec)
                self._drop_record(pod_id)
            except Exception as cleanup:
                raise NetworkError(f"pod {pod_id}: built-in network setup failed: {e}; "
                                   f"cleanup also failed (retry teardown): {cleanup}") from e
            if isinstance(e, (OSError, NetlinkError)):
                raise NetworkError(f"pod {pod_id}: built-in network setup failed: {e}") from e
            raise
        status = PodNetworkStatus(str(ip), self.ifname, str(gateway), "builtin")
        rec["status"] = asdict(status)
        self._write_record(pod_id, rec)
        return status

    def _teardown_builtin(self, pod_id: str, rec: dict) -> None:
        bridge = rec["bridge"]
        with self._lock(bridge):
            if self.iptables:
                self._delete_tagged("nat", _hostport_chain(bridge), _pod_tag(bridge, pod_id))
            try:
                with IPRoute() as ipr:
                    for index in ipr.link_lookup(ifname=rec["veth"]):
                        ipr.link("del", index=index)       # takes the pod's eth0 with it
            except NetlinkError as e:
                if e.code != errno.ENODEV:                 # gone meanwhile (netns removed)
                    raise NetworkError(f"pod {pod_id}: cannot delete veth {rec['veth']}: {e}") from e
            self._ipam_release(bridge, pod_id)

    def _ensure_bridge(self) -> ipaddress.IPv4Address:
        """Create/refresh the bridge: up, addressed with the gateway (only),
        forwarding on, node iptables rules in place.  Returns the gateway."""
        gateway = next(self.pod_cidr.hosts())
        plen = self.pod_cidr.prefixlen
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=self.bridge)
            if not found:
                ipr.link("add", ifname=self.bridge, kind="bridge")
                found = ipr.link_lookup(ifname=self.bridge)
            (index,) = found
            (link,) = ipr.get_links(index)
            info = link.get_attr("IFLA_LINKINFO")
            if info is None or info.get_attr("IFLA_INFO_KIND") != "bridge":
                raise NetworkError(f"{self.bridge} exists and is not a bridge")
            have = False
            for a in ipr.get_addr(index=index, family=socket.AF_INET):
                addr = a.get_attr("IFA_ADDRESS")
                if (addr, a["prefixlen"]) == (str(gateway), plen):
                    have = True
                else:                               # left from an earlier pod CIDR
                    ipr.addr("del", index=index, address=addr, prefixlen=a["prefixlen"])
            if not have:
                ipr.addr("add", index=index, address=str(gateway), prefixlen=plen)
            ipr.link("set", index=index, state="up")
        _write_sysctl("net/ipv4/ip_forward", "1")
        if self.iptables:
            _write_sysctl(f"net/ipv4/conf/{self.bridge}/route_localnet", "1")
            self._ensure_node_rules()
        return gateway

    def _attach(self, netns_path: str, veth: str, ip, gateway) -> None:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with IPRoute() as ipr:
                (bridge_index,) = ipr.link_lookup(ifname=self.bridge)
                ipr.link("add", ifname=veth, kind="veth", peer={"ifname": self.ifname, "net_ns_fd": fd})
                (index,) = ipr.link_lookup(ifname=veth)
                ipr.link("set", index=index, master=bridge_index, state="up")
        finally:
            os.close(fd)
        run_in_netns(netns_path, _configure_pod_side, self.ifname, str(ip), self.pod_cidr.prefixlen,
                     str(gateway))

    # --- built-in IPAM -----------------------------------------------------

    def _ipam_path(self, bridge: str) -> str:
        return os.path.join(self.state_dir, "ipam", f"{bridge}.json")

    def _ipam_load(self, bridge: str) -> dict:
        boot_id = _boot_id()
        try:
            with open(self._ipam_path(bridge)) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = None
        except ValueError as e:
            raise NetworkError(f"IPAM file {self._ipam_path(bridge)} is corrupt: {e}") from e
        if not data or data.get("boot_id") != boot_id:
            data = {"boot_id": boot_id, "last": "", "leases": {}}
        return data

    def _ipam_allocate(self, bridge: str, pod_id: str) -> ipaddress.IPv4Address:
        """Next free address after the last one handed out (round robin, so
        a just-freed address is not reused at once).  Caller holds the lock."""
        data = self._ipam_load(bridge)
        if pod_id in data["leases"]:
            return ipaddress.IPv4Address(data["leases"][pod_id])
        hosts = list(self.pod_cidr.hosts())[1:]          # the first is the gateway
        taken = set(data["leases"].values())
        last = ipaddress.IPv4Address(data["last"]) if data["last"] else None
        start = hosts.index(last) + 1 if last in hosts else 0
        for ip in hosts[start:] + hosts[:start]:
            if str(ip) not in taken:
                data["leases"][pod_id] = data["last"] = str(ip)
                _write_json(self._ipam_path(bridge), data)
                return ip
        raise NetworkError(f"pod CIDR {self.pod_cidr} has no free address ({len(taken)} leased)")

    def _ipam_release(self, bridge: str, pod_id: str) -> None:
        data = self._ipam_load(bridge)
        if data["leases"].pop(pod_id, None) is not None:
            _write_json(self._ipam_path(bridge), data)

    @contextmanager
    def _lock(self, bridge: str):
        fd = os.open(os.path.join(self.state_dir, f"{bridge}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- built-in iptables -------------------------------------------------

    def _node_rules(self, bridge: str) -> list[tuple[str, str, list[str]]]:
        tag = ["-m", "comment", "--comment", f"pysandbox:{bridge}"]
        to_chain = ["-m", "addrtype", "--dst-type", "LOCAL", *tag, "-j", _hostport_chain(bridge)]
        return [
            ("nat", "PREROUTING", to_chain),
            ("nat", "OUTPUT", to_chain),
            ("nat", "POSTROUTING", ["-s", str(self.pod_cidr), "!", "-o", bridge, *tag, "-j", "MASQUERADE"]),
            ("nat", "POSTROUTING", ["-s", "127.0.0.0/8", "-o", bridge, *tag, "-j", "MASQUERADE"]),
            ("filter", "FORWARD", ["-i", bridge, *tag, "-j", "ACCEPT"]),
            ("filter", "FORWARD", ["-o", bridge, *tag, "-j", "ACCEPT"]),
        ]

    def _ensure_node_rules(self) -> None:
        if self._ipt("-t", "nat", "-S", _hostport_chain(self.bridge), check=False).returncode != 0:
            self._ipt("-t", "nat", "-N", _hostport_chain(self.bridge))
        for table, chain, rule in self._node_rules(self.bridge):
            if self._ipt("-t", table, "-C", chain, *rule, check=False).returncode != 0:
                self._ipt("-t", table, "-A", chain, *rule)

    def _remove_node_rules(self, bridge: str) -> None:
        if not self.iptables:
            return
        tag = f"pysandbox:{bridge}"
        for table, chain in (("nat", "PREROUTING"), ("nat", "OUTPUT"), ("nat", "POSTROUTING"),
                             ("filter", "FORWARD")):
            self._delete_tagged(table, chain, tag)
        chain = _hostport_chain(bridge)
        if self._ipt("-t", "nat", "-S", chain, check=False).returncode == 0:
            self._ipt("-t", "nat", "-F", chain)
            self._ipt("-t", "nat", "-X", chain)

    def _add_hostport(self, pod_id: str, ip, m: PortMapping) -> None:
        chain = _hostport_chain(self.bridge)
        for rule in self._rules("nat", chain):
            if _opt(rule, "-p") == m.protocol and _opt(rule, "--dport") == str(m.host_port) \
                    and (not m.host_ip or _opt(rule, "-d") in (None, f"{m.host_ip}/32")):
                raise NetworkError(f"pod {pod_id}: host port {m.host_port}/{m.protocol} is already "
                                   f"mapped ({_opt(rule, '--comment')})")
        dest = ["-d", m.host_ip] if m.host_ip else []
        self._ipt("-t", "nat", "-A", chain, "-p", m.protocol, *dest, "-m", m.protocol,
                  "--dport", str(m.host_port), "-m", "comment", "--comment", _pod_tag(self.bridge, pod_id),
                  "-j", "DNAT", "--to-destination", f"{ip}:{m.container_port}")

    def _rules(self, table: str, chain: str) -> list[list[str]]:
        proc = self._ipt("-t", table, "-S", chain, check=False)
        return [shlex.split(line) for line in proc.stdout.splitlines() if line.startswith("-A ")]

    def _delete_tagged(self, table: str, chain: str, tag: str) -> None:
        for rule in self._rules(table, chain):
            if _opt(rule, "--comment") == tag:
                self._ipt("-t", table, "-D", *rule[1:])

    def _ipt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.iptables, "-w", IPTABLES_WAIT_S, *args], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise NetworkError(f"iptables {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    # --- records -----------------------------------------------------------

    def _record_path(self, pod_id: str) -> str:
        return os.path.join(self.state_dir, "pods", f"{pod_id}.json")

    def _read_record(self, pod_id: str) -> dict | None:
        try:
            with open(self._record_path(pod_id)) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise NetworkError(f"pod {pod_id}: network record {self._record_path(pod_id)} is corrupt: {e}") from e

    def _write_record(self, pod_id: str, rec: dict) -> None:
        _write_json(self._record_path(pod_id), rec)

    def _drop_record(self, pod_id: str) -> None:
        try:
            os.unlink(self._record_path(pod_id))
        except FileNotFoundError:
            pass


def _configure_pod_side(ifname: str, ip: str, prefixlen: int, gateway: str) -> None:
    """Runs in a thread inside the pod netns (run_in_netns)."""
    with IPRoute() as ipr:
        (index,) = ipr.link_lookup(ifname=ifname)
        ipr.addr("add", index=index, address=ip, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")
        ipr.route("add", dst="0.0.0.0/0", gateway=gateway)


def _parse_cidr(cidr: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError as e:
        raise NetworkError(f"invalid pod CIDR {cidr!r}: {e}") from None
    if net.version != 4 or net.prefixlen > 29:
        raise NetworkError(f"pod CIDR {cidr!r}: the built-in network wants IPv4 with prefix length <= 29")
    return net


def _check_mappings(port_mappings) -> list[PortMapping]:
    out = []
    for m in port_mappings or ():
        proto = str(m.protocol or "tcp").lower()
        if proto not in PROTOCOLS:
            raise NetworkError(f"port mapping {m}: protocol must be one of {', '.join(PROTOCOLS)}")
        if not 0 < m.container_port < 65536 or not 0 <= m.host_port < 65536:
            raise NetworkError(f"port mapping {m}: ports must be in 1..65535")
        if m.host_ip:
            try:
                ipaddress.ip_address(m.host_ip)
            except ValueError:
                raise NetworkError(f"port mapping {m}: invalid host_ip") from None
        if m.host_port:                        # 0: not published on the node
            out.append(PortMapping(m.container_port, m.host_port, proto, m.host_ip or ""))
    return out


def _cni_port(m: PortMapping) -> dict:
    d = {"hostPort": m.host_port, "containerPort": m.container_port, "protocol": m.protocol}
    if m.host_ip:
        d["hostIP"] = m.host_ip
    return d


def _status_from(d: dict) -> PodNetworkStatus:
    return PodNetworkStatus(d["ip"], d["ifname"], d["gateway"], d["mode"], tuple(d.get("additional_ips", ())))


def _hostport_chain(bridge: str) -> str:
    return f"PYSB-HP-{bridge}"                 # <= 23 characters: iptables allows 28


def _pod_tag(bridge: str, pod_id: str) -> str:
    return f"pysandbox:{bridge}:{pod_id}"


def _opt(rule: list[str], flag: str) -> str | None:
    """The value after flag in an `iptables -S` rule, or None."""
    try:
        return rule[rule.index(flag) + 1]
    except (ValueError, IndexError):
        return None


def _boot_id() -> str:
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def _write_sysctl(name: str, value: str) -> None:
    path = f"/proc/sys/{name}"
    with open(path) as f:
        if f.read().strip() == value:
            return
    with open(path, "w") as f:
        f.write(value)


def _write_json(path: str, data) -> None:
    # Write-then-rename: a crash leaves the old or the new file, never half.
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)
