"""`pysandbox run`: flags -> RunConfig -> sentry.sandbox.run."""
from __future__ import annotations

import os

from sentry.errors import SandboxError
from sentry.sandbox.config import RunConfig, normalise, parse_bind


def _user(spec: str | None) -> tuple[int, int]:
    if spec is None:
        return 0, 0
    uid, _, gid = spec.partition(":")
    ids = (uid, gid or uid)
    # (uid_t)-1 means "unchanged" to setresuid(2): not an id anyone can be.
    if not all(i.isascii() and i.isdigit() and int(i) < (1 << 32) - 1 for i in ids):
        raise SandboxError(f"--user {spec!r}: expected numeric UID[:GID], each from 0 to 4294967294")
    return int(ids[0]), int(ids[1])


def _limit(flag: str, parser: str, text: str | None):
    if text is None:
        return None
    try:
        from sentry.sandbox import limits
        return getattr(limits, parser)(text)
    except SandboxError as e:
        raise SandboxError(f"{flag}: {e}") from None


def run(args) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    uid, gid = _user(args.user)
    env, cwd, layers = args.env, args.cwd, []
    if args.image is not None:
        if args.rootfs is not None:
            raise SandboxError("--image and --rootfs are mutually exclusive")
        from sentry.cli.images import open_store
        from sentry.images.runimage import resolve
        img = resolve(open_store(args.root), args.image, argv, args.env, args.cwd,
                      None if args.user is None else (uid, gid))
        argv, env, cwd, layers, uid, gid = img.argv, img.env, img.cwd, img.layers, img.uid, img.gid
    elif args.root is not None:
        raise SandboxError("--root selects the image store: it needs --image")
    cfg = RunConfig(
        argv=argv, rootfs=args.rootfs, layers=layers, hostname=args.hostname, release=args.release,
        net=args.net, env=env, cwd=cwd,
        binds=[parse_bind(b) for b in args.bind], tmpfs=args.tmpfs, tty=args.tty,
        strace=args.strace, summary=args.summary, fastpath=args.fastpath, strict_fs=args.strict_fs,
        platform=args.platform, cap_add=args.cap_add, cap_drop=args.cap_drop,
        uid=uid, gid=gid, read_only=args.read_only, persist=args.persist,
        masks=args.mask, ro_paths=args.ro,
        memory=_limit("--memory", "parse_memory", args.memory),
        cpus=_limit("--cpus", "parse_cpus", args.cpus),
        pids=_limit("--pids", "parse_pids", args.pids),
    )
    normalise(cfg)
    if os.geteuid() != 0:
        raise SandboxError("pysandbox run needs root (it creates namespaces and mounts)")
    from sentry.cli.main import imports_done
    from sentry.sandbox.lifecycle import run as run_sandbox
    imports_done()
    return run_sandbox(cfg)
