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
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields

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


def load(path: str | None, **overrides) -> Config:
    cfg = Config()
    if path:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as e:
            raise SandboxError(f"--config {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise SandboxError(f"--config {path}: not valid TOML: {e}") from None
        _apply(cfg, data, path)
    for k, v in overrides.items():
        if v is not None:
            setattr(cfg, k, v)
    _check(cfg)
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
                if not isinstance(v, want):
                    raise SandboxError(f"{path}: network.{k}: expected a {want.__name__}")
                setattr(cfg.network, k, v)
            continue
        if key not in known:
            raise SandboxError(f"{path}: {key}: unknown key")
        if not isinstance(value, str):
            raise SandboxError(f"{path}: {key}: expected a string")
        setattr(cfg, key, value)


def _check(cfg: Config) -> None:
    if not (cfg.listen.startswith("unix://") or cfg.listen.startswith("tcp://")):
        raise SandboxError(f"listen {cfg.listen!r}: expected unix:///path or tcp://host:port")
    if cfg.socket_path is not None and not os.path.isabs(cfg.socket_path):
        raise SandboxError(f"listen {cfg.listen!r}: the socket path must be absolute")
    for name in ("root", "state_dir"):
        setattr(cfg, name, os.path.abspath(getattr(cfg, name)))
    if cfg.platform not in ("seccomp", "ptrace"):
        raise SandboxError(f"platform {cfg.platform!r}: expected seccomp or ptrace")
    if not cfg.cgroup_root.startswith("/") or ":" in cfg.cgroup_root:
        raise SandboxError(f"cgroup_root {cfg.cgroup_root!r}: expected an absolute cgroupfs path")
    host, _, port = cfg.stream_address.rpartition(":")
    if not host or not port.isdigit():
        raise SandboxError(f"stream_address {cfg.stream_address!r}: expected HOST:PORT")
