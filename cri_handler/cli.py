"""`pysandbox cri`: the CRI v1 server (a thin layer over cri_handler.server).

Registered as a `pysandbox` command through the entry point group
"pysandbox.commands" (pyproject.toml), so the sentry package never imports
the daemon.
"""
from __future__ import annotations

import os

from sentry.errors import SandboxError


def register(sub) -> None:
    """Add the `cri` parser to pysandbox's subcommands."""
    k = sub.add_parser("cri", help="serve the Kubernetes CRI (v1) for RuntimeClass handler pysandbox",
                       description="Serve the CRI v1 RuntimeService and ImageService over gRPC, for a "
                                   "kubelet (--container-runtime-endpoint) or crictl.  Flags override "
                                   "the config file (TOML; see cri_handler/config.py).")
    k.add_argument("--listen", metavar="URL", default=None,
                   help="unix:///PATH or tcp://HOST:PORT (default: unix:///run/pysandbox/pysandbox.sock)")
    k.add_argument("--root", metavar="DIR", default=None,
                   help="images and CRI metadata (default: /var/lib/pysandbox)")
    k.add_argument("--state-dir", metavar="DIR", default=None,
                   help="namespaces, bundles, OCI runtime state (default: /run/pysandbox)")
    k.add_argument("--config", metavar="FILE", default=None, help="a TOML config file")
    k.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    k.set_defaults(func=cri)


def _not_served(cfg) -> None:
    """The server replaces a stale socket at its path; a live one is another
    server's, and taking its path away would cut its clients off."""
    import socket
    path = cfg.socket_path
    if path is None or not os.path.exists(path):
        return
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1.0)
        s.connect(path)
    except OSError:
        return                    # nobody listens: stale
    finally:
        s.close()
    raise SandboxError(f"listen {cfg.listen}: another server is listening there")


def cri(args) -> int:
    from cri_handler import config
    if os.geteuid() != 0:
        raise SandboxError("pysandbox cri needs root (it creates namespaces, mounts and cgroups)")
    cfg = config.load(args.config, listen=args.listen, root=args.root, state_dir=args.state_dir)
    _not_served(cfg)
    from cri_handler.server import serve, setup_logging
    setup_logging(args.log_level)
    return serve(cfg)
