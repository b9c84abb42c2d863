"""`pysandbox cri`: the CRI v1 server (a thin layer over cri_handler.server)."""
from __future__ import annotations

import os

from sentry.errors import SandboxError


def cri(args) -> int:
    from cri_handler import config
    if os.geteuid() != 0:
        raise SandboxError("pysandbox cri needs root (it creates namespaces, mounts and cgroups)")
    cfg = config.load(args.config, listen=args.listen, root=args.root, state_dir=args.state_dir)
    from cri_handler.server import serve, setup_logging
    setup_logging(args.log_level)
    return serve(cfg)
