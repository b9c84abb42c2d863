"""An OCI bundle's config.json: load -> validate -> normalise, in one place.

The result is a RunConfig (what sentry.sandbox runs) plus the few things
only the OCI runtime needs (hooks, annotations).  Every error names the
field, as `process.args` or `mounts[3].type`.  Unknown fields are ignored,
as runc does, so newer configs still load; a known field asking for
something we cannot give is an error, never silently dropped.

What is mapped, and how (runtime-spec config.md, config-linux.md):
- process: args, env (exactly as given), cwd, user (uid, gid,
  additionalGids), capabilities (the bounding set is the one mask the
  workload keeps: bounding = permitted = effective for uid 0), rlimits,
  terminal, oomScoreAdj, noNewPrivileges (absent means false, as the
  runtime spec and runc read it: Go's runtime-spec omits a false value, so
  containerd's configs say it only when true; false lets a setuid binary
  gain privileges, up to the bounding set and still under the sentry's
  filter).
- root: path (relative to the bundle) and readonly; used as it is (the
  engine prepared it), not through our copy-on-write layer.
- mounts: bind, tmpfs (size=), mqueue.  proc, sysfs, devpts, the
  /dev tmpfs and /dev/shm are always ours; cgroup mounts are not made.
  A bind brings the mounts below its source along ("rbind", or type
  bind alone), or not ("bind" without "rbind"), as runc.  Its "ro" makes
  only its own mount read-only (the mounts below it stay writable, as
  with runc), "rro" the whole tree; runc's propagation
  options (r)private, (r)slave, (r)shared, (r)unbindable are applied in
  order (none: rprivate, where runc inherits rootfsPropagation, rslave
  by default).  linux.rootfsPropagation takes the same names.
  sentry/sandbox/mounts.py says what each does here: host mounts reach
  the container through a slave or shared bind, but nothing made in the
  container's namespace ever propagates to the host.
- linux.namespaces: mount is always new; network, uts and ipc are new,
  joined by path (a pod's), or absent (the host's, as runc does); pid is
  new, and the container's process is its pid 1 (cfg.pid1, as with runc:
  sentry/sandbox/init.py), or joined by path (a pod sharing its processes:
  the container's init is then not that namespace's pid 1; a path naming
  one of our sentries means its container's), or absent: the host's
  (cfg.host_pid, containerd's hostPID; sentry/sandbox/lifecycle.py says
  what then ends the sandbox: its cgroup).  user (new, with mappings) puts the
  workload alone in a user namespace made last, so its capabilities cover
  nothing the host owns (csrc/spawn.c).  time, and a mount or user path,
  are refused.
- linux.cgroupsPath and resources.memory.limit, cpu.quota/period,
  pids.limit; cpu.shares and device rules are accepted and not enforced.
- linux.maskedPaths, readonlyPaths, sysctl (namespaced keys only),
  devices, seccomp (sentry.oci.seccomp).

Checked here because the kernel would refuse them later, deep in the
sandbox's start-up (sentry.sandbox.config has the uname and cgroup limits):
- No string the sandbox hands to the kernel (args, env, paths, hostname)
  may hold a NUL: C strings end there.
- A namespace path must be an nsfs file of the kind named: stat(2) shows
  one as a regular file (so no device or FIFO is ever opened to ask), and
  ioctl(fd, NS_GET_NSTYPE) on it answers the CLONE_NEW* flag of its
  namespace (Linux 4.11), failing (ENOTTY) on any other file, where
  setns(2) would fail.
- A device number is a 12-bit major and a 20-bit minor (MAJOR/MINOR in
  linux/kdev_t.h); a file mode is at most 0o7777.
- A CFS period is 1 ms to 1 s (min/max_cfs_quota_period).
"""
from __future__ import annotations

import fcntl
import os
import stat

from sentry import inputs
from sentry.abi.linux import MS_PRIVATE, MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE, RLIMIT
from sentry.errors import SandboxError
from sentry.record import field, record
from sentry.sandbox import caps
from sentry.sandbox.config import DEFAULT_PATH, MAX_QUOTA_US, PID_MAX_LIMIT, RunConfig, Tmpfs, _sandbox_path
from sentry.sandbox.mounts import Bind, Device

OURS = {"/proc": {"proc"}, "/dev": {"tmpfs"}, "/dev/pts": {"devpts"}, "/dev/shm": {"tmpfs", "shm", "bind"},
        "/sys": {"sysfs", "bind"}, "/sys/fs/cgroup": {"cgroup", "cgroup2"}}
IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
               "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
NS_GET_NSTYPE = 0xB703           # _IO(0xb7, 0x3), linux/nsfs.h
NS_GET_USERNS = 0xB701           # _IO(0xb7, 0x1): an fd of the user namespace owning it
NS_FLAGS = {"pid": 0x20000000, "network": 0x40000000, "ipc": 0x08000000, "uts": 0x04000000,
            "mount": 0x00020000, "cgroup": 0x02000000, "user": 0x10000000}
MAX_HOOK_TIMEOUT = 1 << 31       # seconds; more than that is no timeout anyone means
# runc's names for mount propagation (libcontainer/specconv), as mount(2) flags.
PROPAGATION = {"private": MS_PRIVATE, "rprivate": MS_REC | MS_PRIVATE, "slave": MS_SLAVE,
               "rslave": MS_REC | MS_SLAVE, "shared": MS_SHARED, "rshared": MS_REC | MS_SHARED,
               "unbindable": MS_UNBINDABLE, "runbindable": MS_REC | MS_UNBINDABLE}


@record
class Hook:
    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None

    def to_json(self) -> dict:
        return {"path": self.path, "args": self.args, "env": self.env, "timeout": self.timeout}


@record
class Spec:
    cfg: RunConfig
    annotations: dict[str, str]
    hooks: dict[str, list[Hook]]
    oom_score_adj: int | None = None
    raw: dict = field(default_factory=dict)


def load(bundle: str, platform: str = "seccomp") -> Spec:
    inputs.check_dir(bundle, "bundle", must_exist=True)
    path = os.path.join(bundle, "config.json")
    if not os.path.lexists(path):
        raise SandboxError(f"{path}: no such file (the bundle has no config.json)")
    data = inputs.read_file(path, "")
    raw = inputs.decode_json(data, path)
    if not isinstance(raw, dict):
        raise SandboxError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    return from_dict(raw, os.path.abspath(bundle), platform)


def _no_nul(value, where: str) -> None:
    """Every string under value (keys too), with the path to it in the error."""
    if isinstance(value, str):
        if "\0" in value:
            raise SandboxError(f"{where}: contains a NUL byte")
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k, f"{where} (a key)")
            _no_nul(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_nul(v, f"{where}[{i}]")


def check_process(process) -> None:
    """What _process cannot see by type alone; exec runs it on a process.json."""
    if not isinstance(process, dict):
        raise SandboxError("process: expected an object")
    _no_nul(process, "process")


def _get(obj: dict, key: str, kind, where: str, default=None):
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SandboxError(f"{where}{key}: expected {_describe(names)}, got {type(value).__name__}")
    return value


def _describe(kind: str) -> str:
    return {"str": "a string", "list": "a list", "dict": "an object", "int": "an integer",
            "bool": "true or false"}.get(kind, kind)


def _strings(items, where: str) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise SandboxError(f"{where}: expected a list of strings")
    return items


def from_dict(raw: dict, bundle: str, platform: str = "seccomp") -> Spec:
    for key in ("process", "root", "hostname", "mounts", "linux", "hooks"):
        _no_nul(raw.get(key), key)
    version = _get(raw, "ociVersion", str, "", "")
    if not version.startswith("1."):
        raise SandboxError(f"ociVersion {version!r}: only runtime-spec 1.x is supported")
    process = _get(raw, "process", dict, "")
    if process is None:
        raise SandboxError("process: missing (create needs a process to run)")
    root = _get(raw, "root", dict, "")
    if root is None or not _get(root, "path", str, "root."):
        raise SandboxError("root.path: missing")
    rootfs = root["path"] if os.path.isabs(root["path"]) else os.path.join(bundle, root["path"])
    if not os.path.isdir(rootfs):
        raise SandboxError(f"root.path {root['path']}: not a directory")
    linux = _get(raw, "linux", dict, "", {})
    cfg = RunConfig(argv=[], rootfs=os.path.realpath(rootfs), rootfs_direct=True, private_tmp=False,
                    read_only=_get(root, "readonly", bool, "root.", False), platform=platform)
    _process(cfg, process)
    _namespaces(cfg, linux)
    hostname = _get(raw, "hostname", str, "", "")
    if hostname and "uts" in cfg.host_ns:
        raise SandboxError("hostname: setting it needs a uts namespace in linux.namespaces "
                           "(without one the container shares the host's)")
    if hostname:
        if len(hostname.encode()) > 64 or "/" in hostname:
            raise SandboxError(f"hostname {hostname!r}: must be at most 64 bytes without '/'")
        cfg.hostname = hostname
    else:
        cfg.hostname = ""      # keep what the uts namespace has: filled in by the runtime
    if cfg.uid_map:
        from sentry.sandbox.config import host_id
        for ids, mapping, what in (([cfg.uid], cfg.uid_map, "uid"), ([cfg.gid, *cfg.groups], cfg.gid_map, "gid")):
            for i in ids:
                try:
                    host_id(mapping, i)
                except SandboxError:
                    raise SandboxError(f"process.user: {what} {i} is not mapped by linux.{what}Mappings") from None
    _mounts(cfg, _get(raw, "mounts", list, "", []), bundle)
    _linux(cfg, linux)
    hooks = _hooks(_get(raw, "hooks", dict, "", {}))
    annotations = _get(raw, "annotations", dict, "", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
        raise SandboxError("annotations: keys and values must be strings")
    oom = process.get("oomScoreAdj")
    if oom is not None and (not isinstance(oom, int) or not -1000 <= oom <= 1000):
        raise SandboxError("process.oomScoreAdj: expected an integer from -1000 to 1000")
    if platform not in ("seccomp", "ptrace"):
        raise SandboxError(f"platform {platform!r}: expected seccomp or ptrace")
    return Spec(cfg=cfg, annotations=annotations, hooks=hooks, oom_score_adj=oom, raw=raw)


def _process(cfg: RunConfig, p: dict) -> None:
    cfg.argv = _strings(p.get("args"), "process.args")
    if not cfg.argv:
        raise SandboxError("process.args: empty (nothing to run)")
    cfg.env = _strings(p.get("env") or [], "process.env")
    cfg.check_exec = True
    if not any(e.startswith("PATH=") for e in cfg.env):
        cfg.env = [f"PATH={DEFAULT_PATH}"] + cfg.env     # what runc's exec lookup falls back on too
    cwd = _get(p, "cwd", str, "process.", "/")
    if not cwd.startswith("/"):
        raise SandboxError(f"process.cwd {cwd!r}: must be an absolute path")
    cfg.cwd = cwd
    cfg.tty = _get(p, "terminal", bool, "process.", False)
    cfg.no_new_privs = _get(p, "noNewPrivileges", bool, "process.", False)
    user = _get(p, "user", dict, "process.", {})
    cfg.uid = _id(user.get("uid", 0), "process.user.uid")
    cfg.gid = _id(user.get("gid", 0), "process.user.gid")
    cfg.groups = [_id(g, f"process.user.additionalGids[{i}]")
                  for i, g in enumerate(_get(user, "additionalGids", list, "process.user.", []))]
    capabilities = _get(p, "capabilities", dict, "process.", None)
    if capabilities is None:
        cfg.cap_mask = 0
    else:
        names = capabilities.get("bounding")
        if names is None:
            names = capabilities.get("effective") or []
        names = _strings(names, "process.capabilities.bounding")
        try:
            wanted = {caps.parse(n) for n in names}
        except SandboxError as e:
            raise SandboxError(f"process.capabilities.bounding: {e}") from None
        # One this host cannot grant is left out, as runc does with a warning.
        cfg.cap_mask = caps.mask(wanted & caps.host_bounding())
    for i, r in enumerate(_get(p, "rlimits", list, "process.", [])):
        where = f"process.rlimits[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("type"), str) or r["type"] not in RLIMIT:
            raise SandboxError(f"{where}.type: expected one of RLIMIT_NOFILE, RLIMIT_NPROC, ...")
        soft, hard = r.get("soft"), r.get("hard")
        if not (isinstance(soft, int) and isinstance(hard, int) and 0 <= soft <= hard < 1 << 64):
            raise SandboxError(f"{where}: soft and hard must be integers with soft <= hard")
        cfg.rlimits.append((RLIMIT[r["type"]], _rlim(soft), _rlim(hard)))


def _rlim(v: int) -> int:
    return -1 if v >= (1 << 63) else v       # RLIM_INFINITY, as Python's resource module spells it


def _id(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 32:
        raise SandboxError(f"{where}: expected an integer id")
    return value


def _namespaces(cfg: RunConfig, linux: dict) -> None:
    seen = {}
    for i, ns in enumerate(_get(linux, "namespaces", list, "linux.", [])):
        where = f"linux.namespaces[{i}]"
        if not isinstance(ns, dict) or not isinstance(ns.get("type"), str):
            raise SandboxError(f"{where}.type: missing")
        kind, path = ns["type"], _get(ns, "path", str, where + ".", "")
        if kind in seen:
            raise SandboxError(f"{where}: namespace {kind} is listed twice")
        seen[kind] = path
        if kind == "time":
            raise SandboxError(f"{where}: time namespaces are not supported")
        if kind not in ("pid", "network", "mount", "ipc", "uts", "cgroup", "user"):
            raise SandboxError(f"{where}.type: unknown namespace type {kind!r}")
        if path and kind in ("mount", "cgroup"):
            raise SandboxError(f"{where}: joining an existing {kind} namespace ({path}) is not supported; "
                               "every container gets its own")
        if path:
            if not os.path.isabs(path):
                raise SandboxError(f"{where}.path {path!r}: must be absolute")
            _check_nsfs(path, kind, where)
            if kind == "user":
                _joinable_userns(linux, path, where)
                cfg.userns_path = path      # only the workload joins it, last (csrc/spawn.c)
            else:
                cfg.join["net" if kind == "network" else kind] = path
    # No pid entry: the host's pid namespace, as runc reads it (containerd's
    # hostPID pause container; its other containers name it by path, which
    # sentry/oci/launch.py turns into the same); the lifetime is then the
    # cgroup's.
    cfg.host_pid = "pid" not in seen
    cfg.pid1 = "pid" in seen and "pid" not in cfg.join   # a pid namespace of its own: the container is its pid 1
    cfg.net = "none" if "network" in seen else "host"
    cfg.host_ns = frozenset(k for k in ("ipc", "uts") if k not in seen)   # as runc: absent means the host's
    if "user" in seen:
        cfg.uid_map = _mapping(linux, "uidMappings")
        cfg.gid_map = _mapping(linux, "gidMappings")
        # Its own network, owned by the user namespace it joins, and
        # CAP_NET_ADMIN there (a privileged container in a privileged CRI
        # pod): it may change that network's settings, and no other's.
        # Not without the capability: root of that namespace passes the
        # sysctl files' permission check, and some of them check no more.
        net = cfg.join.get("net")
        cfg.sysctl_net_rw = bool(cfg.userns_path and net and cfg.cap_mask & caps.mask({"NET_ADMIN"})
                                 and _owned_by(net, cfg.userns_path))
    elif linux.get("uidMappings") or linux.get("gidMappings"):
        raise SandboxError("linux.uidMappings: given without a user namespace in linux.namespaces")


def _check_nsfs(path: str, kind: str, where: str) -> None:
    not_ns = f"{where}.path {path}: not a namespace file (such as /proc/PID/ns/...)"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):     # nsfs files are; never open a device or FIFO
            raise SandboxError(not_ns)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as e:
        raise SandboxError(f"{where}.path {path}: {e.strerror}") from None
    try:
        got = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        raise SandboxError(not_ns) from None
    finally:
        os.close(fd)
    if got != NS_FLAGS[kind]:
        have = next((k for k, v in NS_FLAGS.items() if v == got), hex(got))
        raise SandboxError(f"{where}.path {path}: is a {have} namespace (type is {kind})")


def _joinable_userns(linux: dict, path: str, where: str) -> None:
    if not (linux.get("uidMappings") and linux.get("gidMappings")):
        # The sentry translates ids by them; a joined namespace's own maps
        # cannot be read from its nsfs file.
        raise SandboxError("linux.uidMappings, linux.gidMappings: needed with a user namespace "
                           f"joined by path ({path}), saying how that namespace maps ids")
    if _same_file(path, "/proc/self/ns/user"):
        raise SandboxError(f"{where}.path {path}: is the host's user namespace; leave the user "
                           "entry out to run in it")


def _same_file(a: str, b: str) -> bool:
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _owned_by(ns_path: str, userns_path: str) -> bool:
    """Whether the user namespace at userns_path owns the namespace at
    ns_path (both checked nsfs files)."""
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        owner = fcntl.ioctl(fd, NS_GET_USERNS)
    except OSError:
        return False                  # EPERM: owned by a namespace above ours
    finally:
        os.close(fd)
    try:
        return _same_file(f"/proc/self/fd/{owner}", userns_path)
    finally:
        os.close(owner)


def cpu_period(period, where: str) -> int:
    """A CFS period in microseconds; absent or 0: the default 100 ms."""
    if period is None or period == 0:
        return 100_000
    if not 1_000 <= period <= 1_000_000:
        raise SandboxError(f"{where} {period}: must be from 1000 to 1000000 microseconds")
    return period


def _mapping(linux: dict, key: str) -> list[tuple[int, int, int]]:
    """An OCI id mapping; the kernel takes at most 340 lines and no overlaps."""
    items = linux.get(key)
    if not isinstance(items, list) or not items:
        raise SandboxError(f"linux.{key}: a user namespace needs at least one mapping")
    out = []
    for i, m in enumerate(items):
        try:
            a, b, n = int(m["containerID"]), int(m["hostID"]), int(m["size"])
        except (KeyError, TypeError, ValueError):
            raise SandboxError(f"linux.{key}[{i}]: expected containerID, hostID and size") from None
        if min(a, b) < 0 or n <= 0 or max(a, b) + n > 1 << 32:
            raise SandboxError(f"linux.{key}[{i}]: ids out of range")
        out.append((a, b, n))
    spans = sorted(out)
    if len(out) > 340 or any(x[0] + x[2] > y[0] for x, y in zip(spans, spans[1:])):
        raise SandboxError(f"linux.{key}: too many or overlapping ranges")
    return out


def _mounts(cfg: RunConfig, mounts: list, bundle: str) -> None:
    for i, m in enumerate(mounts):
        where = f"mounts[{i}]"
        if not isinstance(m, dict):
            raise SandboxError(f"{where}: expected an object")
        dst = _get(m, "destination", str, where + ".", "")
        if not dst.startswith("/"):
            raise SandboxError(f"{where}.destination {dst!r}: must be an absolute path")
        try:
            dst = _sandbox_path(f"{where}.destination", dst)
        except SandboxError as e:
            raise SandboxError(str(e)) from None
        kind = _get(m, "type", str, where + ".", "")
        options = _strings(m.get("options") or [], f"{where}.options")
        src = _get(m, "source", str, where + ".", "")
        is_bind = kind == "bind" or "bind" in options or "rbind" in options
        if dst in OURS and (kind in OURS[dst] or is_bind):
            continue                      # the sandbox always makes its own
        if kind == "mqueue" and dst == "/dev/mqueue":
            cfg.mqueue = True
        elif is_bind:
            if not src:
                raise SandboxError(f"{where}.source: missing for a bind mount")
            src = src if os.path.isabs(src) else os.path.join(bundle, src)
            if not os.path.exists(src):
                raise SandboxError(f"{where}.source {src}: does not exist")
            cfg.binds.append(_bind(src, dst, options))
        elif kind == "tmpfs":
            size = None
            for opt in options:
                if opt.startswith("size="):
                    from sentry.sandbox.limits import parse_memory
                    try:
                        size = parse_memory(opt[5:])
                    except SandboxError:
                        raise SandboxError(f"{where}.options: bad size {opt!r}") from None
            cfg.tmpfs.append(Tmpfs(dst, size))
        else:
            raise SandboxError(f"{where}.type {kind!r} at {dst}: not supported "
                               "(bind, tmpfs and mqueue are; proc, sysfs, devpts are always provided)")


def _bind(src: str, dst: str, options: list[str]) -> Bind:
    """runc's reading of a bind's options: the last of ro and rw wins, rro
    is read-only all the way down, propagation flags apply in their order."""
    readonly = False
    for opt in options:
        if opt in ("ro", "rw"):
            readonly = opt == "ro"
    rro = "rro" in options
    propagation = tuple(PROPAGATION[o] for o in options if o in PROPAGATION) or (MS_REC | MS_PRIVATE,)
    return Bind(src, dst, readonly or rro, recursive_ro=rro, recursive="rbind" in options or "bind" not in options,
                propagation=propagation)


def _linux(cfg: RunConfig, linux: dict) -> None:
    propagation = _get(linux, "rootfsPropagation", str, "linux.", "")
    if propagation:
        if propagation not in PROPAGATION:
            raise SandboxError(f"linux.rootfsPropagation {propagation!r}: expected one of "
                               f"{', '.join(PROPAGATION)}")
        cfg.root_propagation = PROPAGATION[propagation]
    path = _get(linux, "cgroupsPath", str, "linux.", "")
    if path:
        if not path.startswith("/"):
            raise SandboxError(f"linux.cgroupsPath {path!r}: expected an absolute cgroupfs path "
                               "(the systemd driver's slice:prefix:name form is not supported)")
        cfg.cgroup_path = path
    res = _get(linux, "resources", dict, "linux.", {})
    mem = _get(res, "memory", dict, "linux.resources.", {})
    limit = _get(mem, "limit", int, "linux.resources.memory.", None)
    if limit is not None and limit >= 1 << 63:
        raise SandboxError(f"linux.resources.memory.limit {limit}: out of range (an int64)")
    if limit is not None and limit > 0:
        cfg.memory = limit
    cpu = _get(res, "cpu", dict, "linux.resources.", {})
    quota = _get(cpu, "quota", int, "linux.resources.cpu.", None)
    period = cpu_period(_get(cpu, "period", int, "linux.resources.cpu.", None), "linux.resources.cpu.period")
    if quota is not None and quota > 0:
        from sentry.sandbox.limits import PERIOD_US
        cfg.cpus = quota / period
        if cfg.cpus * PERIOD_US > MAX_QUOTA_US:
            raise SandboxError(f"linux.resources.cpu.quota {quota}: more than the kernel's largest CFS quota")
    pids = _get(_get(res, "pids", dict, "linux.resources.", {}), "limit", int, "linux.resources.pids.", None)
    if pids is not None and pids > PID_MAX_LIMIT:
        raise SandboxError(f"linux.resources.pids.limit {pids}: at most {PID_MAX_LIMIT} (the kernel's PID_MAX_LIMIT)")
    if pids is not None and pids > 0:
        cfg.pids = pids
    cfg.masks = [_sandbox_path("linux.maskedPaths[]", p) for p in
                 _strings(linux.get("maskedPaths") or [], "linux.maskedPaths")]
    cfg.ro_paths = [_sandbox_path("linux.readonlyPaths[]", p) for p in
                    _strings(linux.get("readonlyPaths") or [], "linux.readonlyPaths")]
    for key, value in _get(linux, "sysctl", dict, "linux.", {}).items():
        if not isinstance(value, str):
            raise SandboxError(f"linux.sysctl.{key}: the value must be a string")
        own_net = cfg.net == "none"
        own_ipc = "ipc" not in cfg.host_ns
        if not (((key in IPC_SYSCTLS or key.startswith("fs.mqueue.")) and own_ipc)
                or (key.startswith("net.") and own_net)):
            raise SandboxError(f"linux.sysctl.{key}: not a sysctl of the container's own namespaces "
                               "(net.* with its own network, kernel.shm*/msg*/sem, fs.mqueue.*)")
        if ".." in key or "/" in key:
            raise SandboxError(f"linux.sysctl.{key}: malformed key")
        cfg.sysctls[key] = value
    for i, d in enumerate(_get(linux, "devices", list, "linux.", [])):
        where = f"linux.devices[{i}]"
        if not isinstance(d, dict):
            raise SandboxError(f"{where}: expected an object")
        path = _get(d, "path", str, where + ".", "")
        if not path.startswith("/dev/") or ".." in path.split("/") or path.split("/")[2] in ("fd", "pts", "shm"):
            raise SandboxError(f"{where}.path {path!r}: must be under /dev")
        kind = _get(d, "type", str, where + ".", "")
        if kind not in ("c", "u", "b"):
            raise SandboxError(f"{where}.type {kind!r}: only c, u and b devices are supported")
        major, minor = _get(d, "major", int, where + ".", 0), _get(d, "minor", int, where + ".", 0)
        mode = _get(d, "fileMode", int, where + ".", 0o666)
        if not (0 <= major < 1 << 12 and 0 <= minor < 1 << 20):
            raise SandboxError(f"{where}: major {major}, minor {minor}: out of range (12 and 20 bits)")
        if not 0 <= mode <= 0o7777:
            raise SandboxError(f"{where}.fileMode {mode}: expected permission bits (0 to 0o7777)")
        cfg.devices.append(Device(path, "b" if kind == "b" else "c", major, minor, mode,
                                  _id(d.get("uid", 0), where + ".uid"), _id(d.get("gid", 0), where + ".gid")))
    if linux.get("seccomp") is not None:
        from sentry.oci.seccomp import compile_profile
        cfg.seccomp_profile = compile_profile(_seccomp_shape(linux["seccomp"]))


_SECCOMP = {"defaultAction": str, "defaultErrnoRet": int, "architectures": list, "flags": list,
            "listenerPath": str, "listenerMetadata": str, "syscalls": list}
_SECCOMP_RULE = {"names": list, "name": str, "action": str, "errnoRet": int, "args": list}
_SECCOMP_ARG = {"index": int, "value": int, "valueTwo": int, "op": str}


def _seccomp_shape(sc):
    """The types of a LinuxSeccomp object, so that sentry.oci.seccomp (which
    checks the values) never trips over a wrong one."""
    def typed(obj, fields, where):
        if not isinstance(obj, dict):
            raise SandboxError(f"{where}: expected an object")
        for key, kind in fields.items():
            _get(obj, key, kind, where + ".", None)
        return obj
    typed(sc, _SECCOMP, "linux.seccomp")
    for key in ("architectures", "flags"):
        _strings(sc.get(key) or [], f"linux.seccomp.{key}")
    for i, rule in enumerate(sc.get("syscalls") or []):
        where = f"linux.seccomp.syscalls[{i}]"
        typed(rule, _SECCOMP_RULE, where)
        _strings(rule.get("names") or [], where + ".names")
        for j, arg in enumerate(rule.get("args") or []):
            typed(arg, _SECCOMP_ARG, f"{where}.args[{j}]")
    return sc


def _hooks(raw: dict) -> dict[str, list[Hook]]:
    hooks: dict[str, list[Hook]] = {}
    for kind, items in raw.items():
        if kind not in HOOK_KINDS:
            raise SandboxError(f"hooks.{kind}: unknown hook kind")
        if not isinstance(items, list):
            raise SandboxError(f"hooks.{kind}: expected a list")
        if items and kind in ("createContainer", "startContainer"):
            raise SandboxError(f"hooks.{kind}: hooks that run inside the container are not supported")
        out = hooks.setdefault("createRuntime" if kind == "prestart" else kind, [])
        for i, h in enumerate(items):
            where = f"hooks.{kind}[{i}]"
            if not isinstance(h, dict) or not isinstance(h.get("path"), str) or not os.path.isabs(h["path"]):
                raise SandboxError(f"{where}.path: expected an absolute path")
            timeout = h.get("timeout")
            if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)
                                        or not 0 < timeout <= MAX_HOOK_TIMEOUT):
                raise SandboxError(f"{where}.timeout: expected a positive number of seconds (at most 2^31)")
            out.append(Hook(h["path"], _strings(h.get("args") or [], f"{where}.args"),
                            _strings(h.get("env") or [], f"{where}.env"), timeout))
    return hooks
