"""`pysandbox run`: flags -> RunConfig -> sentry.sandbox.run."""
from __future__ import annotations

import os

from sentry import cgroups
from sentry.config import RunConfig, normalise, parse_bind
from sentry.errors import SandboxError


def _user(spec: str | None) -> tuple[int, int]:
    if spec is None:
        return 0, 0
    uid, _, gid = spec.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise SandboxError(f"--user {spec!r}: expected numeric UID[:GID]") from None


def run(args) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    uid, gid = _user(args.user)
    cfg = RunConfig(
        argv=argv, rootfs=args.rootfs, hostname=args.hostname, release=args.release,
        net=args.net, env=args.env, cwd=args.cwd,
        binds=[parse_bind(b) for b in args.bind], tmpfs=args.tmpfs, tty=args.tty,
        strace=args.strace, summary=args.summary, fastpath=args.fastpath,
        platform=args.platform, cap_add=args.cap_add, cap_drop=args.cap_drop,
        uid=uid, gid=gid, read_only=args.read_only, persist=args.persist,
        masks=args.mask, ro_paths=args.ro,
        memory=cgroups.parse_memory(args.memory) if args.memory else None,
        cpus=cgroups.parse_cpus(args.cpus) if args.cpus else None,
        pids=cgroups.parse_pids(args.pids) if args.pids else None,
    )
    normalise(cfg)
    if os.geteuid() != 0:
        raise SandboxError("pysandbox run needs root (it creates namespaces and mounts)")
    from sentry.sandbox import run as run_sandbox
    return run_sandbox(cfg)
