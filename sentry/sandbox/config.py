"""What one sandbox run asks for, validated and normalised in one place.

The CLI (and later the OCI and CRI front ends) fill a RunConfig; `normalise`
checks it and fills defaults, raising SandboxError naming the bad field.

Kernel limits checked here, so they are refused with the flag's name rather
than as an errno from deep in the start-up:
- uname(2)'s fields are 65 bytes with the NUL: a hostname or release of at
  most 64 bytes, none of them NUL.
- pids.max takes at most PID_MAX_LIMIT (4194304 on 64-bit, threads.h), and
  a CFS quota at most 2^44 - 1 us (MAX_BW in kernel/sched/core.c): more is
  EINVAL.
- (uid_t)-1 means "leave unchanged" to setresuid(2): ids go up to 2^32 - 2.
"""
from __future__ import annotations

import os

from sentry import platform as platforms
from sentry.errors import SandboxError
from sentry.record import field, record
from sentry.sandbox import caps
from sentry.sandbox.mounts import Bind

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UTS_MAX = 64
PID_MAX_LIMIT = 4 << 20
MAX_QUOTA_US = (1 << 44) - 1
MAX_ID = (1 << 32) - 2
PLATFORMS = platforms.names()          # "seccomp" (the default), "ptrace"


@record
class RunConfig:
    argv: list[str]
    rootfs: str | None = None
    layers: list[str] = field(default_factory=list)   # --image: unpacked layer dirs, top first
    hostname: str = "pysandbox"
    release: str = "6.1.0-pysandbox"
    net: str = "none"
    env: list[str] = field(default_factory=list)
    cwd: str | None = None
    binds: list[Bind] = field(default_factory=list)
    tmpfs: list = field(default_factory=list)   # "DST[:size=N]" strings, then Tmpfs after normalise
    tty: bool = False
    strace: str | None = None        # None, "emulated", "all"
    summary: bool = False
    fastpath: bool = True
    strict_fs: bool = False          # --strict-fs: every path call mediated by the sentry
    proc_fuse_fd: int = -1           # set by the sentry: its /dev/fuse fd for init to mount (synthesized.py)
    platform: str = "seccomp"
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    uid: int = 0
    gid: int = 0
    read_only: bool = False          # --rootfs view not writable at all
    persist: str | None = None       # keep the writable layer here (DIR/upper, DIR/work)
    masks: list[str] = field(default_factory=list)
    ro_paths: list[str] = field(default_factory=list)
    memory: int | None = None        # bytes
    cpus: float | None = None
    pids: int | None = None
    cap_mask: int = 0                # filled by normalise
    # Set by the OCI front end (sentry/oci/spec.py) only:
    rootfs_direct: bool = False      # use rootfs itself (writable unless read_only), no overlay
    root_propagation: int = 0        # rootfsPropagation's mount(2) flags; 0: MS_REC|MS_PRIVATE
    private_tmp: bool = True         # a fresh tmpfs on /tmp
    mqueue: bool = False             # mount mqueue at /dev/mqueue
    join: dict = field(default_factory=dict)      # "net"/"ipc"/"uts" -> nsfs path to join
    groups: list[int] = field(default_factory=list)   # supplementary gids
    rlimits: list = field(default_factory=list)   # (resource number, soft, hard)
    sysctls: dict = field(default_factory=dict)   # "net.ipv4.ip_forward" -> "1"
    devices: list = field(default_factory=list)   # sentry.mounts.Device
    seccomp_profile: object = None   # sentry.oci.seccomp.Profile, stacked on ours
    cgroup_path: str | None = None   # OCI cgroupsPath: a cgroup even without limits
    exec_in: int = 0                 # OCI exec: host pid of the container's init to join
    uid_map: list = field(default_factory=list)   # [(inside, outside, size)]: a user namespace
    gid_map: list = field(default_factory=list)
    userns_path: str | None = None   # OCI: a user namespace to join (exec: the container's)
    sysctl_net_rw: bool = False      # OCI: /proc/sys/net writable; its userns owns its netns (spec.py)
    host_ns: frozenset = frozenset()  # "ipc"/"uts" the OCI config leaves out: the host's are kept
    pid1: bool = False               # OCI, a pid namespace of its own: the workload is its pid 1 (init.py)
    host_pid: bool = False           # OCI, no pid namespace entry: the host's (lifecycle.py: the cgroup ends it)
    guard_pids: tuple = ()           # OCI exec, host pid: the container's sentry and watcher (handlers/signals.py)
    check_exec: bool = False         # OCI: args[0] must resolve before `create` returns, as runc's lookup
    no_new_privs: bool = True        # OCI process.noNewPrivileges: false lets setuid binaries gain privileges


def host_id(mapping: list, inside: int) -> int:
    """The host id of `inside` under an OCI id mapping (no mapping: itself)."""
    if not mapping:
        return inside
    for start, outside, size in mapping:
        if start <= inside < start + size:
            return outside + inside - start
    raise SandboxError(f"id {inside} is not mapped into the user namespace")


def parse_bind(spec: str) -> Bind:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1] or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise SandboxError(f"--bind {spec!r}: expected SRC:DST or SRC:DST:ro")
    return Bind(os.path.abspath(parts[0]), _sandbox_path("--bind destination", parts[1]),
                len(parts) == 3 and parts[2] == "ro")


@record(frozen=True)
class Tmpfs:
    dst: str
    size: int | None = None    # bytes; None: the kernel's default (half of RAM)


def parse_tmpfs(spec: str) -> Tmpfs:
    """--tmpfs DST or DST:size=64m (k, m, g suffixes)."""
    dst, _, opt = spec.partition(":")
    size = None
    if opt:
        if not opt.startswith("size="):
            raise SandboxError(f"--tmpfs {spec!r}: expected DST or DST:size=N")
        from sentry.sandbox.limits import parse_memory  # the same size syntax as --memory
        try:
            size = parse_memory(opt[5:])
        except SandboxError:
            raise SandboxError(f"--tmpfs {spec!r}: bad size {opt[5:]!r} (e.g. size=64m)") from None
    return Tmpfs(_sandbox_path("--tmpfs", dst), size)


def _sandbox_path(what: str, path: str) -> str:
    if not path.startswith("/"):
        raise SandboxError(f"{what} {path!r} must be an absolute path")
    norm = os.path.normpath(path)
    if ".." in norm.split("/"):
        raise SandboxError(f"{what} {path!r} must not contain '..'")
    return "/" + norm.lstrip("/")


def normalise(cfg: RunConfig, host_env=os.environ) -> RunConfig:
    if not cfg.argv:
        raise SandboxError("no command given (usage: pysandbox run [OPTIONS] -- CMD [ARGS...])")
    if cfg.platform not in PLATFORMS:
        raise SandboxError(f"--platform {cfg.platform!r} is not available (have: {', '.join(PLATFORMS)})")
    if cfg.net not in ("none", "host"):
        raise SandboxError(f"--net {cfg.net!r}: expected 'none' or 'host'")
    if not cfg.hostname or len(cfg.hostname.encode()) > UTS_MAX or "/" in cfg.hostname or "\0" in cfg.hostname:
        raise SandboxError(f"--hostname {cfg.hostname!r}: must be 1 to {UTS_MAX} bytes without '/' or NUL")
    if not cfg.release or len(cfg.release.encode()) > UTS_MAX or "\0" in cfg.release:
        raise SandboxError(f"--kernel-release {cfg.release!r}: must be 1 to {UTS_MAX} bytes without NUL")
    for what, value in (("--user uid", cfg.uid), ("--user gid", cfg.gid)):
        if not 0 <= value <= MAX_ID:
            raise SandboxError(f"{what} {value}: must be from 0 to {MAX_ID}")
    if cfg.pids is not None and not 0 < cfg.pids <= PID_MAX_LIMIT:
        raise SandboxError(f"--pids {cfg.pids}: must be from 1 to {PID_MAX_LIMIT} (the kernel's PID_MAX_LIMIT)")
    if cfg.cpus is not None:
        from sentry.sandbox.limits import PERIOD_US
        if cfg.cpus * PERIOD_US > MAX_QUOTA_US:
            raise SandboxError(f"--cpus {cfg.cpus:g}: at most {MAX_QUOTA_US // PERIOD_US} "
                               "(the kernel's largest CFS quota)")
    if cfg.rootfs is not None:
        if not os.path.isdir(cfg.rootfs):
            raise SandboxError(f"--rootfs {cfg.rootfs}: not a directory")
        cfg.rootfs = os.path.realpath(cfg.rootfs)
        if cfg.rootfs == "/":
            raise SandboxError("--rootfs /: leave --rootfs out to see the host root read-only")
    if cfg.layers:
        if cfg.rootfs is not None:
            raise SandboxError("--image and --rootfs are mutually exclusive")
        for layer in cfg.layers:
            if not os.path.isdir(layer):
                raise SandboxError(f"image layer {layer}: not a directory (import the image again)")
        cfg.layers = [os.path.realpath(layer) for layer in cfg.layers]
    for b in cfg.binds:
        if not os.path.exists(b.src):
            raise SandboxError(f"--bind source {b.src} does not exist")
    cfg.tmpfs = [parse_tmpfs(t) if isinstance(t, str) else t for t in cfg.tmpfs]
    cfg.masks = [_sandbox_path("--mask", p) for p in cfg.masks]
    cfg.ro_paths = [_sandbox_path("--ro", p) for p in cfg.ro_paths]
    if cfg.persist is not None:
        if cfg.rootfs is None and not cfg.layers:
            raise SandboxError("--persist needs --rootfs or --image (the host root is always read-only)")
        cfg.persist = os.path.abspath(cfg.persist)
        if cfg.rootfs and (cfg.persist == cfg.rootfs or cfg.persist.startswith(cfg.rootfs + "/")):
            raise SandboxError(f"--persist {cfg.persist} must not be inside --rootfs")
        try:
            os.makedirs(cfg.persist + "/upper", exist_ok=True)
            os.makedirs(cfg.persist + "/work", exist_ok=True)
        except OSError as e:
            raise SandboxError(f"--persist {cfg.persist}: {e.strerror}") from None
    if cfg.read_only and cfg.rootfs is None and not cfg.layers:
        raise SandboxError("--read-only needs --rootfs or --image (the host root is always read-only)")
    for flag, names in (("--cap-add", cfg.cap_add), ("--cap-drop", cfg.cap_drop)):
        for name in names:
            try:
                caps.parse(name)
            except SandboxError as e:
                raise SandboxError(f"{flag}: {e}") from None
    cfg.cap_mask = caps.mask(caps.resolve(cfg.cap_add, cfg.cap_drop))
    cfg.env = _environment(cfg, host_env)
    if cfg.cwd is None:
        cfg.cwd = _default_cwd() if cfg.rootfs is None and not cfg.layers else "/"
    else:
        cfg.cwd = _sandbox_path("--cwd", cfg.cwd)
    return cfg


def _environment(cfg: RunConfig, host_env) -> list[str]:
    """The workload sees only this, never the sentry's environment."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": cfg.hostname, "HOME": "/root"}
    if cfg.tty:
        env["TERM"] = host_env.get("TERM", "xterm")
    for item in cfg.env:
        key, eq, value = item.partition("=")
        if not key:
            raise SandboxError(f"-e {item!r}: expected KEY=VALUE")
        if not eq:                      # -e KEY passes the caller's value, like docker
            if key not in host_env:
                continue
            value = host_env[key]
        env[key] = value
    return [f"{k}={v}" for k, v in env.items()]


def _default_cwd() -> str:
    """The caller's directory, if the default view shows it (it hides the
    host's /tmp, /dev and /proc behind its own)."""
    try:
        cwd = os.getcwd()
    except OSError:
        return "/"
    hidden = ("/tmp", "/dev", "/proc", "/sys")
    return "/" if any(cwd == h or cwd.startswith(h + "/") for h in hidden) else cwd
