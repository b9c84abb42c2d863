"""CRI ContainerConfig + the pod + the image config -> an OCI config.json.

One function, `build`, in the load -> validate -> normalise order: every
CRI field we understand is checked here and turned into runtime-spec
fields that pysandbox-oci (sentry/oci/spec.py) accepts; a field asking for
something we cannot give raises InvalidArgument or Unimplemented naming
the field (as `config.linux.security_context.run_as_group`), never
silently dropped.  It does no I/O beyond reading the image's passwd/group
files, a Localhost seccomp profile and /proc/self/mountinfo, so it is
unit-tested without root.

What is mapped, and how (containerd's CRI plugin is the reference for the
choices the CRI leaves open):
- argv: command or the image Entrypoint, then args, or the image Cmd when
  neither command nor args is given (Kubernetes' rule).  env: the image's,
  then the CRI envs (same key: the CRI wins), plus HOSTNAME; PATH defaults.
  cwd: working_dir, else the image WorkingDir, else /.
- user: run_as_user / run_as_username (looked up in the image's
  /etc/passwd; must exist) / else the image's User; run_as_group only with
  one of the first two (the CRI says the runtime MUST error otherwise).
  additionalGids: the primary group, then the user's groups in the
  image's /etc/group (policy Merge; Strict leaves them out), then
  supplemental_groups; ContainerStatus.user reports that list.
- capabilities: Docker's default set (sentry.caps.DEFAULT), minus drop,
  plus add ("ALL" works in both): real host capabilities, inside the
  sentry.  privileged: every capability this host's bounding set allows,
  but in a user namespace of the workload's own (identity-mapped ids
  0-65535, made after its other namespaces): they cover nothing the host
  owns (see sentry/oci/spec.py and csrc/spawn.c).
  no_new_privs as the request says, as containerd does (the kubelet
  sends true for allowPrivilegeEscalation: false, else false): false lets
  a setuid binary gain privileges up to the bounding set, still under the
  sentry's filter; written explicitly, since pysandbox-oci reads an
  absent noNewPrivileges as true.  An exec gets the container's.
- namespaces: mount, pid, ipc, uts, network; network/ipc/uts join the
  pod's held namespaces by path; a NODE network pod has no network entry
  and a NODE ipc pod no ipc entry (the host's: pysandbox-oci, as runc,
  reads a missing ipc or uts entry so; the pod's mode decides for all its
  containers, as containerd's pause container's does).  pid as containerd's WithPodNamespaces: any mode but
  CONTAINER joins the pod's pid namespace, here the one its pod init
  (cri_handler.podinit) holds, by /proc/<init pid>/ns/pid; pysandbox-oci
  makes the container's init a member of it.  A pod holds one only when its
  own config said pid POD (the kubelet sends POD for both or CONTAINER for
  both); POD in a pod without one gets the container's own, as CONTAINER
  does.  NODE (only in a pod created with pid NODE, as network and ipc
  NODE; POD there too, as containerd's join of a hostPID pause container)
  leaves the pid entry out: the host's pid namespace, the container ended
  by its cgroup (sentry/sandbox/lifecycle.py).  TARGET (kubectl debug
  --target) joins the pid namespace of the running container target_id
  names, by its init's /proc/<pid>/ns/pid (containers.py checks the target
  as containerd does: same pod sandbox, running); a pod cannot be TARGET.
- mounts: CRI mounts as binds (host_path must exist; symlinks resolved;
  readonly -> ro: the bind's own mount only, mounts below it on the host
  stay writable, as with containerd and runc; recursive_read_only -> rro,
  all of it, only with readonly and PROPAGATION_PRIVATE, as containerd
  requires), then the pod's /etc/hostname, /etc/hosts and
  /etc/resolv.conf unless a CRI mount covers them.  Propagation as
  containerd maps it: PRIVATE -> rprivate, HOST_TO_CONTAINER -> rslave,
  BIDIRECTIONAL -> rshared; the last two need the host path on a shared
  or slave (HOST_TO_CONTAINER) or shared (BIDIRECTIONAL) mount of the
  host, read from /proc/self/mountinfo (cri_handler.hostmounts), else
  FailedPrecondition naming the mount.  BIDIRECTIONAL carries host mounts
  in only: no container can mount anything (the sentry's filter refuses
  mount(2) to all, privileged ones too), and nothing mounted in its
  namespace propagates out (sentry/sandbox/mounts.py).
- resources: memory_limit_in_bytes, cpu_quota/cpu_period, cpu_shares,
  cpuset; oom_score_adj -> process.oomScoreAdj.
- security: masked/readonly paths (runc's defaults when the request has
  none; none when privileged), readonly_rootfs, pod sysctls, seccomp
  (RuntimeDefault: DEFAULT_PROFILE stacked on the sentry's filter;
  Unconfined or unset: the sentry's filter only; Localhost: the JSON file
  at localhost_ref, validated here).
"""
from __future__ import annotations

import errno
import json
import os
import stat

from cri_handler import hostmounts, podinit
from cri_handler.errors import FailedPrecondition, InvalidArgument, Unimplemented
from cri_handler.v1 import api_pb2
from sentry.errors import SandboxError
from sentry.sandbox import caps

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_SECCOMP_PROFILE = 1 << 20
# containerd's mapping of the CRI's propagation to OCI mount options.
PROPAGATION = {api_pb2.PROPAGATION_PRIVATE: "rprivate", api_pb2.PROPAGATION_HOST_TO_CONTAINER: "rslave",
               api_pb2.PROPAGATION_BIDIRECTIONAL: "rshared"}

# runc's (and containerd's) defaults, used when the request names none.
DEFAULT_MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                        "/sys/firmware"]
DEFAULT_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# RuntimeDefault: the sentry's own filter always applies (it already refuses
# the mount family, bpf, ptrace, kexec, module loading, ...).  On top of it
# this profile refuses, with EPERM, what Docker's default profile refuses
# and ours might still let through: the kernel keyring, NUMA policy and
# page moving, personality changes other than the Linux ones, userfaultfd,
# process_vm_* across processes, kcmp, quotactl, acct, name_to_handle_at,
# and the clock setters.  Unknown names are skipped by the compiler.
DEFAULT_PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [
        {"names": ["acct", "add_key", "request_key", "keyctl", "bpf", "clock_adjtime", "clock_settime",
                   "settimeofday", "create_module", "delete_module", "finit_module", "init_module",
                   "get_kernel_syms", "query_module", "get_mempolicy", "set_mempolicy", "mbind",
                   "move_pages", "migrate_pages", "ioperm", "iopl", "kcmp", "kexec_file_load",
                   "kexec_load", "lookup_dcookie", "name_to_handle_at", "open_by_handle_at",
                   "nfsservctl", "perf_event_open", "pivot_root", "process_vm_readv",
                   "process_vm_writev", "ptrace", "quotactl", "reboot", "swapon", "swapoff", "sysfs",
                   "_sysctl", "uselib", "userfaultfd", "ustat", "vm86", "vm86old", "fsopen",
                   "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount", "umount2",
                   "mount_setattr"],
         "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
        # personality: only PER_LINUX (0), PER_LINUX32 (8) and queries (0xffffffff).
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM,
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"},
                  {"index": 0, "value": 8, "op": "SCMP_CMP_NE"},
                  {"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_NE"}]},
    ],
}

NS_POD, NS_CONTAINER, NS_NODE, NS_TARGET = (api_pb2.POD, api_pb2.CONTAINER, api_pb2.NODE, api_pb2.TARGET)
_MODE_NAMES = {NS_POD: "POD", NS_CONTAINER: "CONTAINER", NS_NODE: "NODE", NS_TARGET: "TARGET"}


class Built:
    """build()'s result: the config and what ContainerStatus and exec need."""

    def __init__(self, spec: dict, user: dict, env: list[str], cwd: str, bounding: list[str],
                 argv: list[str]):
        self.spec, self.user, self.env, self.cwd, self.bounding, self.argv = spec, user, env, cwd, bounding, argv


PRIVILEGED_IDS = (0, 0, 65536)       # (inside, outside, size): ids mapped to themselves
PRIVILEGED_MAPPING = dict(zip(("containerID", "hostID", "size"), PRIVILEGED_IDS))

def build(config, *, container_id: str, pod, image, rootfs: str, cgroups_path: str,
          pod_files: dict[str, str], readonly_rootfs_default: bool = False,
          target_pid_ns: str | None = None) -> Built:
    """config: api_pb2.ContainerConfig; pod: store.PodRecord (host_network,
    namespaces, hostname, config); image: sentry.oci.store.Image; rootfs:
    the prepared root directory; pod_files: container path -> host file
    (/etc/hostname, /etc/hosts, /etc/resolv.conf)."""
    linux = config.linux
    sc = linux.security_context
    img_cfg = (image.config or {}).get("config") or {}
    layers = list(dict.fromkeys(reversed(image.layers)))        # top first

    argv = _argv(config, img_cfg)
    env = _env(config, img_cfg, pod.hostname)
    cwd = config.working_dir or img_cfg.get("WorkingDir") or "/"
    if not cwd.startswith("/"):
        raise InvalidArgument(f"config.working_dir {cwd!r}: must be an absolute path")
    uid, gid, groups = _user(sc, img_cfg, layers, image.ref)
    bounding = _capabilities(sc)

    if config.tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")        # what containerd's oci.WithTTY adds
    process = {
        "terminal": bool(config.tty),
        "user": {"uid": uid, "gid": gid, **({"additionalGids": groups} if groups else {})},
        "args": argv,
        "env": env,
        "cwd": cwd,
        "capabilities": {k: bounding for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": bool(sc.no_new_privs),
    }
    if linux.resources.oom_score_adj:
        adj = linux.resources.oom_score_adj
        if not -1000 <= adj <= 1000:
            raise InvalidArgument(f"config.linux.resources.oom_score_adj {adj}: must be in -1000..1000")
        process["oomScoreAdj"] = adj

    readonly = sc.readonly_rootfs or readonly_rootfs_default
    spec = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": readonly},
        "hostname": pod.hostname,
        "mounts": _mounts(config, pod_files, readonly),
        "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": config.metadata.name,
            "io.kubernetes.cri.sandbox-id": pod.id,
            "io.kubernetes.cri.sandbox-name": pod.name,
            "io.kubernetes.cri.sandbox-namespace": pod.namespace,
            "io.kubernetes.cri.image-name": image.ref,
        },
        "linux": {
            "namespaces": _namespaces(sc, pod, target_pid_ns),
            "cgroupsPath": cgroups_path,
            "resources": resources_to_oci(linux.resources),
            "maskedPaths": [] if sc.privileged else _paths(sc.masked_paths, DEFAULT_MASKED_PATHS,
                                                            "masked_paths"),
            "readonlyPaths": [] if sc.privileged else _paths(sc.readonly_paths, DEFAULT_READONLY_PATHS,
                                                              "readonly_paths"),
            "sysctl": dict(pod.config.get("linux", {}).get("sysctls", {})),
        },
    }
    if sc.privileged and not pod_privileged(pod):
        raise InvalidArgument("config.linux.security_context.privileged: the pod sandbox is not "
                              "privileged (its config.linux.security_context.privileged is false), "
                              "as containerd requires")
    userns = pod.namespaces.get("user")
    if userns or sc.privileged:
        # A privileged pod's user namespace owns its network, ipc and uts
        # namespaces (netns.py).  Every container of the pod joins it, ids
        # mapped to themselves so files keep their owners, and has there
        # the capabilities it was given: a privileged one every one, so a
        # bridge, routes and /proc/sys/net are its to change; the others
        # Docker's set.  None of them stays outside it: the kernel gives a
        # process of the parent namespace whose euid owns a user namespace
        # every capability in it, so a root container outside it would
        # run the pod's network too.  A privileged container of a pod on
        # the host's network gets a user namespace of its own, owning
        # nothing.  Either way the host's clock, kernel, network and
        # mounts stay out of reach.
        spec["linux"]["namespaces"].append({"type": "user", "path": userns} if userns else {"type": "user"})
        spec["linux"]["uidMappings"] = [dict(PRIVILEGED_MAPPING)]
        spec["linux"]["gidMappings"] = [dict(PRIVILEGED_MAPPING)]
    seccomp = _seccomp(sc)
    if seccomp is not None:
        spec["linux"]["seccomp"] = seccomp
    devices = _devices(config, sc.privileged)
    if devices:
        spec["linux"]["devices"] = devices
    return Built(spec, {"uid": uid, "gid": gid, "groups": groups}, env, cwd, bounding, argv)


def process_for_exec(rec, argv: list[str], terminal: bool = False) -> dict:
    """The OCI process object `pysandbox-oci exec --process` takes: the
    container's user, env, cwd, capabilities and no_new_privs with another argv."""
    user = rec.user or {"uid": 0, "gid": 0}
    return {
        "terminal": terminal,
        "user": {"uid": user.get("uid", 0), "gid": user.get("gid", 0),
                 **({"additionalGids": user["groups"]} if user.get("groups") else {})},
        "args": list(argv),
        "env": list(rec.env),
        "cwd": rec.cwd or "/",
        "capabilities": {k: list(rec.exec_caps) for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": rec.no_new_privs,
    }


def resources_to_oci(r) -> dict:
    """LinuxContainerResources -> OCI linux.resources (what is set only)."""
    out: dict = {}
    if r.memory_limit_in_bytes < 0:
        raise InvalidArgument("linux.resources.memory_limit_in_bytes: must not be negative")
    if r.memory_limit_in_bytes:
        out["memory"] = {"limit": r.memory_limit_in_bytes}
        if r.memory_swap_limit_in_bytes:
            out["memory"]["swap"] = r.memory_swap_limit_in_bytes
    cpu: dict = {}
    if r.cpu_quota > 0:
        cpu["quota"] = r.cpu_quota
    if r.cpu_period:
        if r.cpu_period < 0:
            raise InvalidArgument("linux.resources.cpu_period: must not be negative")
        cpu["period"] = r.cpu_period
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if r.cpuset_cpus:
        cpu["cpus"] = r.cpuset_cpus
    if r.cpuset_mems:
        cpu["mems"] = r.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    return out


def _argv(config, img_cfg: dict) -> list[str]:
    command, args = list(config.command), list(config.args)
    if not command:
        command = list(img_cfg.get("Entrypoint") or [])
        if not args:
            args = list(img_cfg.get("Cmd") or [])
    argv = command + args
    if not argv:
        raise InvalidArgument("config.command: empty, and the image has no Entrypoint or Cmd")
    if any("\0" in a for a in argv):
        raise InvalidArgument("config.command/args: contains a NUL byte")
    return argv


def _env(config, img_cfg: dict, hostname: str) -> list[str]:
    env: dict[str, str] = {}
    for e in img_cfg.get("Env") or []:
        if isinstance(e, str) and "=" in e:
            k, v = e.split("=", 1)
            env[k] = v
    if hostname:
        env.setdefault("HOSTNAME", hostname)
    for i, kv in enumerate(config.envs):
        if not kv.key or "=" in kv.key or "\0" in kv.key + kv.value:
            raise InvalidArgument(f"config.envs[{i}].key {kv.key!r}: must be non-empty, without '=' or NUL")
        env[kv.key] = kv.value
    env.setdefault("PATH", DEFAULT_PATH)
    return [f"{k}={v}" for k, v in env.items()]


def _user(sc, img_cfg: dict, layers: list[str], ref: str) -> tuple[int, int, list[int]]:
    from sentry.images import runimage
    has_uid = sc.HasField("run_as_user")
    if sc.HasField("run_as_group") and not has_uid and not sc.run_as_username:
        raise InvalidArgument("config.linux.security_context.run_as_group: set without run_as_user or "
                              "run_as_username (the CRI requires an error)")
    if has_uid and sc.run_as_username:
        raise InvalidArgument("config.linux.security_context: run_as_user and run_as_username are both set")
    if has_uid:
        if not 0 <= sc.run_as_user.value < 1 << 32:
            raise InvalidArgument(f"config.linux.security_context.run_as_user {sc.run_as_user.value}: "
                                  "not a valid uid")
        spec = str(sc.run_as_user.value)
    elif sc.run_as_username:
        spec = sc.run_as_username
    else:
        spec = img_cfg.get("User") or ""
    try:
        uid, gid, _home = runimage._user(layers, spec, ref)
    except SandboxError as e:
        field = "run_as_username" if sc.run_as_username else "image User"
        raise InvalidArgument(f"config.linux.security_context.{field}: {e}") from None
    if sc.HasField("run_as_group"):
        if not 0 <= sc.run_as_group.value < 1 << 32:
            raise InvalidArgument(f"config.linux.security_context.run_as_group {sc.run_as_group.value}: "
                                  "not a valid gid")
        gid = sc.run_as_group.value
    # The primary group leads the list (containerd's ensureAdditionalGids):
    # ContainerStatus.user then lists every group the process has, as
    # Kubernetes expects, and setgroups() gets the same.
    groups: list[int] = [gid]
    if sc.supplemental_groups_policy == api_pb2.Merge:
        groups += _image_groups(layers, uid)
    for g in sc.supplemental_groups:
        if not 0 <= g < 1 << 32:
            raise InvalidArgument(f"config.linux.security_context.supplemental_groups: {g} is not a valid gid")
        groups.append(int(g))
    return uid, gid, list(dict.fromkeys(groups))


def _image_groups(layers: list[str], uid: int) -> list[int]:
    """Groups of the image's /etc/group listing uid's user name as a member."""
    from sentry.images import runimage
    name = next((r[0] for r in runimage._table(layers, "etc/passwd") if len(r) > 2 and r[2] == str(uid)), None)
    if name is None:
        return []
    out = []
    for row in runimage._table(layers, "etc/group"):
        if len(row) > 3 and name in row[3].split(",") and row[2].isdigit():
            out.append(int(row[2]))
    return out


def pod_privileged(pod) -> bool:
    """The pod's config.linux.security_context.privileged (as stored)."""
    return bool(pod.config.get("linux", {}).get("security_context", {}).get("privileged"))


def _capabilities(sc) -> list[str]:
    if sc.privileged:
        return sorted("CAP_" + c for c in caps.host_bounding())
    add = list(sc.capabilities.add_capabilities) + list(sc.capabilities.add_ambient_capabilities)
    drop = list(sc.capabilities.drop_capabilities)
    try:
        got = caps.resolve(add, drop)
    except SandboxError as e:
        raise InvalidArgument(f"config.linux.security_context.capabilities: {e}") from None
    return sorted("CAP_" + c for c in got)


def _namespaces(sc, pod, target_pid_ns: str | None = None) -> list[dict]:
    opts = sc.namespace_options
    pid = opts.pid
    if pid == NS_TARGET and not target_pid_ns:
        raise InvalidArgument("config.linux.security_context.namespace_options.pid TARGET: no target "
                              "container's namespace (target_id)")
    if pid not in _MODE_NAMES:
        raise InvalidArgument(f"config.linux.security_context.namespace_options.pid {pid}: not a NamespaceMode")
    if pid == NS_NODE and not getattr(pod, "host_pid", False):
        raise InvalidArgument("config.linux.security_context.namespace_options.pid NODE: the pod "
                              "was not created with the host pid namespace")
    if opts.network == NS_NODE and not pod.host_network:
        raise InvalidArgument("config.linux.security_context.namespace_options.network NODE: the pod "
                              "was not created with the host network")
    if opts.ipc == NS_NODE and not pod.host_ipc:
        raise InvalidArgument("config.linux.security_context.namespace_options.ipc NODE: the pod "
                              "was not created with the host IPC namespace")
    ns = [{"type": "mount"}]
    pid_ns = pid_namespace(sc, pod, target_pid_ns)
    if pid_ns is not None:       # None: the host's (pysandbox-oci, as runc, reads a missing pid entry so)
        ns.append(pid_ns)
    if pod.host_ipc:
        pass                     # no ipc entry: pysandbox-oci (as runc) then keeps the host's
    elif pod.namespaces.get("ipc"):
        ns.append({"type": "ipc", "path": pod.namespaces["ipc"]})
    else:
        ns.append({"type": "ipc"})
    if not pod.host_network:
        ns.append({"type": "network", "path": pod.namespaces["net"]})
        ns.append({"type": "uts", "path": pod.namespaces["uts"]})
    else:
        ns.append({"type": "uts"})
    return ns


def pid_namespace(sc, pod, target_pid_ns: str | None = None) -> dict | None:
    """The pid entry: the pod's shared namespace for POD when the pod holds
    one; None (no entry: the host's) for NODE, and for POD in a pod whose
    pid namespace is the host's (containerd's POD joins the pause
    container's, which is then the host's); for TARGET the target
    container's, by path (the host's, if the target runs in it: the OCI
    loader reads a path naming the host's namespace so)."""
    mode = sc.namespace_options.pid
    if mode == NS_TARGET:
        return {"type": "pid", "path": target_pid_ns}
    if mode == NS_NODE or (mode == NS_POD and getattr(pod, "host_pid", False)):
        return None
    init = getattr(pod, "pid_init_pid", 0)
    if sc.namespace_options.pid == NS_POD and init:
        return {"type": "pid", "path": podinit.ns_path(init)}
    return {"type": "pid"}


def _mounts(config, pod_files: dict[str, str], readonly_rootfs: bool) -> list[dict]:
    out = []
    seen = set()
    for i, m in enumerate(config.mounts):
        where = f"config.mounts[{i}]"
        dst = os.path.normpath(m.container_path) if m.container_path else ""
        if not dst.startswith("/"):
            raise InvalidArgument(f"{where}.container_path {m.container_path!r}: must be an absolute path")
        if m.HasField("image") and m.image.image:
            raise Unimplemented(f"{where}.image: image volumes are not supported")
        if not m.host_path:
            raise InvalidArgument(f"{where}.host_path: missing")
        if m.uidMappings or m.gidMappings:
            raise Unimplemented(f"{where}: id-mapped mounts are not supported (no user namespaces)")
        src = os.path.realpath(m.host_path)
        if not os.path.exists(src):
            raise InvalidArgument(f"{where}.host_path {m.host_path}: does not exist")
        if m.propagation not in PROPAGATION:
            raise InvalidArgument(f"{where}.propagation {m.propagation}: not a MountPropagation value")
        # As containerd: a mount propagated in later would not be read-only.
        if m.recursive_read_only and not m.readonly:
            raise InvalidArgument(f"{where}.recursive_read_only: needs readonly")
        if m.recursive_read_only and m.propagation != api_pb2.PROPAGATION_PRIVATE:
            raise InvalidArgument(f"{where}.recursive_read_only: needs PROPAGATION_PRIVATE, not "
                                  f"{api_pb2.MountPropagation.Name(m.propagation)}")
        _check_source_propagation(m, src, where)
        options = ["rbind", PROPAGATION[m.propagation], "ro" if m.readonly else "rw"]
        out.append({"destination": dst, "type": "bind", "source": src,
                    "options": options + (["rro"] if m.recursive_read_only else [])})
        seen.add(dst)
    for dst, src in sorted(pod_files.items()):
        if dst not in seen:
            out.append({"destination": dst, "type": "bind", "source": src,
                        "options": ["rbind", "rprivate", "ro" if readonly_rootfs else "rw"]})
    return out


def _check_source_propagation(m, src: str, where: str) -> None:
    """containerd's ensureShared / ensureSharedOrSlave: a private host mount
    has nothing to pass on, so asking for its mounts is a mistake to report."""
    need = {api_pb2.PROPAGATION_HOST_TO_CONTAINER: {"shared", "slave"},
            api_pb2.PROPAGATION_BIDIRECTIONAL: {"shared"}}.get(m.propagation)
    if need is None:
        return
    point, kinds = hostmounts.propagation(src)
    if not kinds & need:
        name = api_pb2.MountPropagation.Name(m.propagation)
        want = "a shared mount" if need == {"shared"} else "a shared or slave mount"
        raise FailedPrecondition(f"{where}.propagation {name}: host_path {m.host_path} is on the mount at "
                                 f"{point}, which is not {want} (see mount --make-shared)")


def _paths(given, default: list[str], name: str) -> list[str]:
    paths = list(given) if given else list(default)
    for p in paths:
        if not p.startswith("/"):
            raise InvalidArgument(f"config.linux.security_context.{name}: {p!r} is not an absolute path")
    return paths


def _seccomp(sc) -> dict | None:
    if sc.privileged:
        return None
    if sc.HasField("seccomp"):
        kind, ref = sc.seccomp.profile_type, sc.seccomp.localhost_ref
        where = "config.linux.security_context.seccomp"
        if kind == api_pb2.SecurityProfile.RuntimeDefault:
            return DEFAULT_PROFILE
        if kind == api_pb2.SecurityProfile.Unconfined:
            return None
        return load_profile(ref, where + ".localhost_ref")
    path = sc.seccomp_profile_path
    where = "config.linux.security_context.seccomp_profile_path"
    if path in ("", "unconfined"):
        return None
    if path in ("runtime/default", "docker/default"):
        return DEFAULT_PROFILE
    if path.startswith("localhost/"):
        return load_profile(path[len("localhost/"):], where)
    raise InvalidArgument(f"{where} {path!r}: expected runtime/default, unconfined or localhost/<path>")


def load_profile(path: str, where: str) -> dict:
    """Read and check a Localhost seccomp profile (an OCI LinuxSeccomp object)."""
    if not path or not os.path.isabs(path):
        raise InvalidArgument(f"{where} {path!r}: must be an absolute path to a seccomp profile")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SECCOMP_PROFILE + 1)
    except OSError as e:
        raise InvalidArgument(f"{where} {path}: {e.strerror}") from None
    if len(data) > MAX_SECCOMP_PROFILE:
        raise InvalidArgument(f"{where} {path}: larger than {MAX_SECCOMP_PROFILE} bytes")
    try:
        profile = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"{where} {path}: not valid JSON: {e}") from None
    if not isinstance(profile, dict):
        raise InvalidArgument(f"{where} {path}: expected a JSON object (an OCI LinuxSeccomp profile)")
    try:
        from sentry.oci.seccomp import compile_profile
        compile_profile(profile).close()
    except SandboxError as e:
        raise InvalidArgument(f"{where} {path}: {e}") from None
    return profile


def _devices(config, privileged: bool) -> list[dict]:
    out = []
    for i, d in enumerate(config.devices):
        where = f"config.devices[{i}]"
        try:
            st = os.stat(d.host_path)
        except OSError as e:
            raise InvalidArgument(f"{where}.host_path {d.host_path!r}: {e.strerror}") from None
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise InvalidArgument(f"{where}.host_path {d.host_path}: not a device")
        dst = d.container_path or d.host_path
        if not dst.startswith("/dev/"):
            raise InvalidArgument(f"{where}.container_path {dst!r}: must be under /dev")
        out.append({"path": dst, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                    "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                    "fileMode": stat.S_IMODE(st.st_mode), "uid": 0, "gid": 0})
    return out


def check_bundle(bundle: str, platform: str | None) -> None:
    """Load the bundle as `pysandbox-oci create` will (sentry.oci.spec), so
    that a config it refuses fails CreateContainer, not StartContainer."""
    from sentry.oci import spec
    try:
        spec.load(bundle, platform or "seccomp")
    except SandboxError as e:
        raise InvalidArgument(f"the container's OCI spec: {e}") from None


def update_bundle_resources(bundle: str, res: dict) -> None:
    """UpdateContainerResources before StartContainer: into config.json, as
    containerd updates the spec of a container without a task."""
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    linux = spec.setdefault("linux", {})
    merged = linux.get("resources", {})
    for key, value in res.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    linux["resources"] = merged
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(spec, f, indent=1)
    os.replace(tmp, path)
