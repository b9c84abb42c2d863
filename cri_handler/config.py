"""The CRI server's configuration: defaults, the TOML file, command-line flags.

    pysandbox cri [--listen URL] [--root DIR] [--state-dir DIR] [--config FILE]

Flags win over the file, the file over the defaults.  The file (TOML,
every key optional):

    listen = "unix:///run/pysandbox/pysandbox.sock"
    root = "/var/lib/pysandbox"            # images and CRI metadata (persistent)
    state_dir = "/run/pysandbox"           # namespaces, bundles, OCI state (gone at reboot)
    stream_address = "127.0.0.1:0"         # the Exec/Attach/PortForward HTTP server
    oci_runtime = ""                       # for create and exec; default: pysandbox-oci beside our Python
    platform = "seccomp"                   # or "ptrace"
    cgroup_root = "/pysandbox-cri"         # pods without a cgroup_parent go under it
    registry_config = ""                   # registries TOML for PullImage (default: /etc/pysandbox/registries.toml)

    [network]
    cni_conf_dir = "/etc/cni/net.d"        # a conflist here: CNI; none: the built-in bridge
    cni_bin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]
    pod_cidr = "10.88.0.0/16"              # built-in bridge only
    bridge = "pysb0"                       # built-in bridge only

Everything is checked here, before the server makes a directory or binds
a socket: a bad value is one line naming the key (or flag) and the server
does not start.  The listen socket's path may hold only a socket, a stale
one from an earlier run (which the server replaces), never another file.
"""
from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass, field, fields

from sentry import inputs
from sentry.errors import SandboxError

DEFAULT_LISTEN = "unix:///run/pysandbox/pysandbox.sock"


@dataclass
class NetworkConfig:
    cni_conf_dir: str = "/etc/cni/net.d"
    cni_bin_dirs: list = field(default_factory=lambda: ["/opt/cni/bin", "/usr/lib/cni"])
    pod_cidr: str = "10.88.0.0/16"
    bridge: str = "pysb0"


@dataclass
class Config:
    listen: str = DEFAULT_LISTEN
    root: str = "/var/lib/pysandbox"
    state_dir: str = "/run/pysandbox"
    stream_address: str = "127.0.0.1:0"
    oci_runtime: str = ""
    platform: str = "seccomp"
    cgroup_root: str = "/pysandbox-cri"
    registry_config: str = ""
    network: NetworkConfig = field(default_factory=NetworkConfig)

    @property
    def socket_path(self) -> str | None:
        return self.listen[len("unix://"):] if self.listen.startswith("unix://") else None


FLAGS = {"listen": "--listen", "root": "--root", "state_dir": "--state-dir"}


def load(path: str | None, **overrides) -> Config:
    cfg = Config()
    source = {}                     # key -> what set it, for messages
    if path is not None:
        data = inputs.read_toml(path, "--config")
        _apply(cfg, data, path)
        source = {k: f"{path}: {k}" for k in data if k != "network"}
    for k, v in overrides.items():
        if v is not None:
            setattr(cfg, k, v)
            source[k] = FLAGS.get(k, k)
    _check(cfg, source)
    return cfg


def _apply(cfg: Config, data: dict, path: str) -> None:
    known = {f.name: f for f in fields(Config)}
    for key, value in data.items():
        if key == "network":
            if not isinstance(value, dict):
                raise SandboxError(f"{path}: [network] must be a table")
            net_known = {f.name for f in fields(NetworkConfig)}
            for k, v in value.items():
                if k not in net_known:
                    raise SandboxError(f"{path}: network.{k}: unknown key")
                want = list if k == "cni_bin_dirs" else str
                if not isinstance(v, want) or (want is list and not all(isinstance(d, str) for d in v)):
                    raise SandboxError(f"{path}: network.{k}: expected "
                                       f"{'a list of strings' if want is list else 'a string'}")
                setattr(cfg.network, k, v)
            continue
        if key not in known:
            raise SandboxError(f"{path}: {key}: unknown key")
        if not isinstance(value, str):
            raise SandboxError(f"{path}: {key}: expected a string")
        setattr(cfg, key, value)


def _check(cfg: Config, source: dict | None = None) -> None:
    def name(key: str) -> str:
        return (source or {}).get(key, key)
    for key in ("listen", "root", "state_dir", "stream_address", "oci_runtime", "platform", "cgroup_root",
                "registry_config"):
        if "\0" in getattr(cfg, key):
            raise SandboxError(f"{name(key)}: contains a NUL byte")
    _check_listen(cfg, name("listen"))
    for key in ("root", "state_dir"):
        if not getattr(cfg, key):
            raise SandboxError(f"{name(key)}: empty path")
        setattr(cfg, key, os.path.abspath(inputs.check_dir(getattr(cfg, key), name(key))))
    if cfg.platform not in ("seccomp", "ptrace"):
        raise SandboxError(f"{name('platform')} {cfg.platform!r}: expected seccomp or ptrace")
    if not cfg.cgroup_root.startswith("/") or ":" in cfg.cgroup_root:
        raise SandboxError(f"{name('cgroup_root')} {cfg.cgroup_root!r}: expected an absolute cgroupfs path")
    host, _, port = cfg.stream_address.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise SandboxError(f"{name('stream_address')} {cfg.stream_address!r}: expected HOST:PORT, "
                           "PORT from 0 to 65535")
    if cfg.oci_runtime:
        inputs.check_file(cfg.oci_runtime, name("oci_runtime"))
        if not os.access(cfg.oci_runtime, os.X_OK):
            raise SandboxError(f"{name('oci_runtime')} {cfg.oci_runtime}: not executable")
    if cfg.registry_config:
        from sentry.images import registries
        registries.load(cfg.registry_config)     # its errors name the file and the key
    _check_network(cfg.network)


def _check_listen(cfg: Config, what: str) -> None:
    if cfg.listen.startswith("tcp://"):
        host, _, port = cfg.listen[len("tcp://"):].rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise SandboxError(f"{what} {cfg.listen!r}: expected tcp://HOST:PORT, PORT from 0 to 65535")
        return
    path = cfg.socket_path
    if path is None:
        raise SandboxError(f"{what} {cfg.listen!r}: expected unix:///path or tcp://host:port")
    if not os.path.isabs(path):
        raise SandboxError(f"{what} {cfg.listen!r}: the socket path must be absolute")
    # sun_path holds 107 bytes and a NUL, and the server binds PATH.PID.tmp first.
    if len(path.encode()) > 107 - len(".4194304.tmp"):
        raise SandboxError(f"{what} {cfg.listen!r}: the socket path is longer than {107 - len('.4194304.tmp')} "
                           "bytes")
    parent = os.path.dirname(path)
    if os.path.lexists(parent) and not os.path.isdir(parent):
        raise SandboxError(f"{what} {cfg.listen!r}: {parent} is not a directory")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise SandboxError(f"{what} {cfg.listen!r}: {e.strerror}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise SandboxError(f"{what} {cfg.listen!r}: {path} exists and is not a socket; refusing to replace it")


def _check_network(net: NetworkConfig) -> None:
    """The built-in bridge's rules (cri_handler/network.py), checked early."""
    try:
        cidr = ipaddress.ip_network(net.pod_cidr, strict=False)
    except ValueError as e:
        raise SandboxError(f"network.pod_cidr {net.pod_cidr!r}: {e}") from None
    if cidr.version != 4 or cidr.prefixlen > 29:
        raise SandboxError(f"network.pod_cidr {net.pod_cidr!r}: the built-in network wants IPv4 "
                           "with prefix length <= 29")
    b = net.bridge
    if not 0 < len(b.encode()) <= 15 or not b.isascii() or "/" in b or any(c.isspace() for c in b) \
            or not b.isprintable():
        raise SandboxError(f"network.bridge {b!r}: expected 1 to 15 ASCII characters, no '/' or spaces")
    dirs = [("cni_conf_dir", net.cni_conf_dir)] + [(f"cni_bin_dirs[{i}]", d) for i, d in enumerate(net.cni_bin_dirs)]
    for key, value in dirs:
        if not value or "\0" in value:
            raise SandboxError(f"network.{key} {value!r}: not a usable path")
