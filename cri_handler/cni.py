"""Running CNI plugins: the runtime's half of the CNI spec (0.3.x-1.0.0).

Protocol facts relied on (CNI SPEC.md, versions 0.4.0 and 1.0.0):

- A network configuration list is JSON: {"cniVersion", "name", "plugins":
  [{"type", ...}, ...], optional "disableCheck"}.  A single-plugin ".conf"
  is the plugin object itself carrying name and cniVersion; we lift it into
  a list of one.  The runtime picks the first file in lexical order among
  *.conflist, *.conf, *.json (libcni's extensions), as containerd does.
- A plugin is the executable named by "type" in the first CNI_PATH
  directory that has it.  Its parameters are environment variables:
  CNI_COMMAND (ADD, DEL, CHECK), CNI_CONTAINERID, CNI_NETNS (a path;
  may be empty for DEL when the namespace is gone), CNI_IFNAME, CNI_ARGS
  ("K=V;K=V", the Kubernetes keys K8S_POD_NAME, K8S_POD_NAMESPACE,
  K8S_POD_UID, K8S_POD_INFRA_CONTAINER_ID, plus IgnoreUnknown=1 so plugins
  that do not know them do not fail) and CNI_PATH (':'-joined).
- Its stdin is the plugin's object with the list's "name" and
  "cniVersion" added, "prevResult" (the previous plugin's result: chained
  on ADD; the cached final ADD result on DEL and CHECK), and
  "runtimeConfig" holding only the capabilities the plugin declares
  ("capabilities": {"portMappings": true} gets runtimeConfig.portMappings).
- ADD runs the plugins in order, DEL in reverse.  DEL must be tolerant of
  resources already gone, so it is run over the whole list even after a
  partial ADD (that is the cleanup when ADD fails; prevResult is then
  absent, which plugins must accept) and a failing DEL does not stop the
  others.  CHECK exists from 0.4.0 and is skipped when
  disableCheck is true.
- Success is exit status 0 (ADD prints a result object).  Failure is a
  non-zero exit and an error object on stdout: {"cniVersion", "code",
  "msg", "details"}; stderr is free-form logging.
- Results (0.3.0 onward) list "interfaces" [{name, mac, sandbox}] and
  "ips" [{address "a.b.c.d/len", gateway, interface: index into
  interfaces}].  The pod's address is one whose interface lies in the
  sandbox (has "sandbox" set); IPv4 is preferred for the primary IP, the
  rest are additional IPs (CRI's additional_ips).  Pre-0.3 results ("ip4")
  are not understood, so those versions are refused up front.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from dataclasses import dataclass, field

from .netns import NetworkError

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
CONF_EXTENSIONS = (".conflist", ".conf", ".json")
PLUGIN_TIMEOUT_S = 60
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
# A plugin type is looked up as a file name in CNI_PATH: no '/' or '..'.
_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin")


class CNIPluginError(NetworkError):
    """A plugin failed: carries the spec's error fields."""

    def __init__(self, plugin: str, command: str, network: str, msg: str, code: int | None = None,
                 details: str = ""):
        self.plugin, self.command, self.network = plugin, command, network
        self.msg, self.code, self.details = msg, code, details
        text = f"CNI plugin {plugin!r} failed on {command} for network {network!r}: {msg}"
        if details:
            text += f": {details}"
        if code is not None:
            text += f" (code {code})"
        super().__init__(text)


@dataclass(frozen=True)
class NetworkList:
    name: str
    cni_version: str
    plugins: tuple[dict, ...]
    disable_check: bool = False
    source: str = ""

    def to_json(self) -> dict:
        """The conflist form, as cached for DEL after a restart."""
        return {"cniVersion": self.cni_version, "name": self.name, "disableCheck": self.disable_check,
                "plugins": list(self.plugins)}


@dataclass(frozen=True)
class Runtime:
    """What the runtime passes to every plugin of one attachment."""
    container_id: str
    netns: str
    ifname: str = "eth0"
    args: tuple[tuple[str, str], ...] = ()
    capability_args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PodAddress:
    ip: str
    prefix_len: int
    gateway: str
    ifname: str
    additional_ips: tuple[str, ...] = ()


def find_config(conf_dir: str) -> str | None:
    """The config file to use: first by name among the CNI extensions."""
    try:
        names = sorted(n for n in os.listdir(conf_dir) if n.endswith(CONF_EXTENSIONS))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise NetworkError(f"cannot list CNI config dir {conf_dir}: {e.strerror}") from e
    for n in names:
        if os.path.isfile(os.path.join(conf_dir, n)):
            return os.path.join(conf_dir, n)
    return None


def load_config(path: str) -> NetworkList:
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except OSError as e:
        raise NetworkError(f"cannot read CNI config {path}: {e.strerror}") from e
    except ValueError as e:
        raise NetworkError(f"invalid CNI config {path}: not JSON: {e}") from e
    return parse_config(data, path)


def parse_config(data, source: str = "<config>") -> NetworkList:
    """Validate a conflist (or single-plugin conf) object."""
    def bad(why: str):
        return NetworkError(f"invalid CNI config {source}: {why}")
    if not isinstance(data, dict):
        raise bad("top level is not an object")
    if "plugins" in data:
        plugins = data["plugins"]
        if not isinstance(plugins, list) or not plugins:
            raise bad('"plugins" must be a non-empty list')
    elif "type" in data:
        plugins = [{k: v for k, v in data.items() if k not in ("name", "cniVersion")}]
    else:
        raise bad('neither "plugins" (a conflist) nor "type" (a single plugin conf)')
    name, version = data.get("name"), data.get("cniVersion")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise bad(f'"name" {name!r} is missing or not [A-Za-z0-9][A-Za-z0-9_.-]*')
    if version not in SUPPORTED_VERSIONS:
        raise bad(f'"cniVersion" {version!r} is not one of {", ".join(SUPPORTED_VERSIONS)}')
    for i, p in enumerate(plugins):
        if not isinstance(p, dict):
            raise bad(f"plugin #{i} is not an object")
        if not isinstance(p.get("type"), str) or not _TYPE.fullmatch(p["type"]):
            raise bad(f'plugin #{i} has a missing or invalid "type" {p.get("type")!r}')
        if not isinstance(p.get("capabilities", {}), dict):
            raise bad(f'plugin #{i} ({p["type"]}): "capabilities" is not an object')
    disable_check = data.get("disableCheck", False)
    if not isinstance(disable_check, bool):
        raise bad('"disableCheck" is not a boolean')
    return NetworkList(name, version, tuple(plugins), disable_check, source)


def find_plugin(ptype: str, bin_dirs) -> str:
    for d in bin_dirs:
        path = os.path.join(d, ptype)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise NetworkError(f"CNI plugin {ptype!r} not found in {':'.join(bin_dirs)}")


def require_plugins(net: NetworkList, bin_dirs) -> None:
    """Raise NetworkError naming every plugin of net not in bin_dirs."""
    missing = []
    for p in net.plugins:
        try:
            find_plugin(p["type"], bin_dirs)
        except NetworkError:
            missing.append(p["type"])
    if missing:
        raise NetworkError(f"CNI network {net.name!r} ({net.source}): plugin(s) {', '.join(missing)} "
                           f"not found in {':'.join(bin_dirs)}")


def add(net: NetworkList, rt: Runtime, bin_dirs) -> dict:
    """ADD every plugin in order, each given the previous one's result;
    return the final result.  Every plugin is looked up before any runs.
    On failure the caller cleans up with delete() over the whole list."""
    require_plugins(net, bin_dirs)
    result = None
    for plugin in net.plugins:
        result = _exec(net, plugin, "ADD", rt, bin_dirs, result)
    return result


def delete(net: NetworkList, rt: Runtime, bin_dirs, prev_result: dict | None = None) -> None:
    """DEL every plugin in reverse order; all are tried, then the first
    failure (with a count of the others) is raised."""
    errors = []
    for plugin in reversed(net.plugins):
        try:
            _exec(net, plugin, "DEL", rt, bin_dirs, prev_result)
        except NetworkError as e:
            errors.append(e)
    if errors:
        more = f" (and {len(errors) - 1} more DEL failures)" if len(errors) > 1 else ""
        raise NetworkError(f"{errors[0]}{more}") from errors[0]


def check(net: NetworkList, rt: Runtime, bin_dirs, prev_result: dict) -> None:
    """CHECK every plugin in order (a no-op before 0.4.0 or with disableCheck)."""
    if net.disable_check or net.cni_version in ("0.3.0", "0.3.1"):
        return
    for plugin in net.plugins:
        _exec(net, plugin, "CHECK", rt, bin_dirs, prev_result)


def pod_address(result: dict, ifname: str) -> PodAddress:
    """The pod's IP, gateway and interface from an ADD result."""
    ifaces = result.get("interfaces") or []
    entries = result.get("ips") or []

    def iface(e):
        i = e.get("interface")
        ok = isinstance(i, int) and 0 <= i < len(ifaces) and isinstance(ifaces[i], dict)
        return ifaces[i] if ok else None
    in_pod = [e for e in entries if isinstance(e, dict) and (iface(e) or {}).get("sandbox")]
    candidates = in_pod or [e for e in entries if isinstance(e, dict)]
    parsed = []
    for e in candidates:
        try:
            parsed.append((ipaddress.ip_interface(e.get("address", "")), e))
        except ValueError:
            raise NetworkError(f"CNI result has an invalid address {e.get('address')!r}") from None
    if not parsed:
        raise NetworkError(f"CNI result has no IP address for {ifname}: {json.dumps(result)[:300]}")
    parsed.sort(key=lambda pe: pe[0].version)    # IPv4 first, stable otherwise
    addr, entry = parsed[0]
    name = (iface(entry) or {}).get("name") or ifname
    return PodAddress(str(addr.ip), addr.network.prefixlen, str(entry.get("gateway") or ""), name,
                      tuple(str(a.ip) for a, _ in parsed[1:]))


def cni_args(pairs) -> str:
    for k, v in pairs:
        if not k or any(c in f"{k}{v}" for c in ";=\0"):
            raise NetworkError(f"CNI_ARGS entry {k}={v!r} may not contain ';', '=' or NUL")
    return ";".join(f"{k}={v}" for k, v in (("IgnoreUnknown", "1"), *pairs))


def _exec(net: NetworkList, plugin: dict, command: str, rt: Runtime, bin_dirs, prev_result):
    ptype = plugin["type"]
    path = find_plugin(ptype, bin_dirs)
    conf = dict(plugin, name=net.name, cniVersion=net.cni_version)
    if prev_result is not None:
        conf["prevResult"] = prev_result
    caps = plugin.get("capabilities", {})
    rc = {k: v for k, v in rt.capability_args.items() if caps.get(k)}
    if rc:
        conf["runtimeConfig"] = {**(plugin.get("runtimeConfig") or {}), **rc}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    # Plugins exec iptables, ip, ...: make sure a daemon's short PATH has sbin.
    have = env.get("PATH", "").split(":")
    env["PATH"] = ":".join([p for p in have if p] + [p for p in _SBIN if p not in have])
    env.update(CNI_COMMAND=command, CNI_CONTAINERID=rt.container_id, CNI_NETNS=rt.netns,
               CNI_IFNAME=rt.ifname, CNI_ARGS=cni_args(rt.args), CNI_PATH=":".join(bin_dirs))
    try:
        proc = subprocess.run([path], input=json.dumps(conf).encode(), capture_output=True, env=env,
                              cwd="/", timeout=PLUGIN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CNIPluginError(ptype, command, net.name, f"no answer within {PLUGIN_TIMEOUT_S} s") from None
    except OSError as e:
        raise CNIPluginError(ptype, command, net.name, f"cannot run {path}: {e.strerror}") from e
    if proc.returncode != 0:
        raise _plugin_error(ptype, command, net.name, proc)
    if command != "ADD":
        return None
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise CNIPluginError(ptype, command, net.name, f"result is not a JSON object: {proc.stdout[:200]!r}")
    return result


def _plugin_error(ptype: str, command: str, network: str, proc) -> CNIPluginError:
    try:
        err = json.loads(proc.stdout)
    except ValueError:
        err = None
    if isinstance(err, dict) and err.get("msg"):
        code = err.get("code") if isinstance(err.get("code"), int) else None
        return CNIPluginError(ptype, command, network, str(err["msg"]), code, str(err.get("details") or ""))
    tail = (proc.stderr or proc.stdout).decode(errors="replace").strip()[-300:]
    return CNIPluginError(ptype, command, network, f"exit status {proc.returncode}: {tail or 'no output'}")
