"""The sandbox's root filesystem view, built in its own mount namespace.

Runs in the sandbox's init (pid 1 of the new pid namespace), as real root,
after unshare(CLONE_NEWNS) and before the workload exists.

Kernel facts relied upon (Documentation/filesystems/sharedsubtree.rst):
- unshare(CLONE_NEWNS) within the same user namespace copies every mount
  into its original's peer group: a shared host mount stays shared with
  the host's, so mounts would propagate both ways.  MS_REC|MS_SLAVE on
  "/" first turns each such copy into a slave of that group (a copy with
  no peer and no master, of a private mount, stays private): from then on
  nothing mounted in this namespace reaches the host, while the host's
  mounts still arrive.  That link is what rslave and rshared binds need;
  MS_REC|MS_PRIVATE would cut it for good.
- A bind of a slave mount is a slave of the same master, a bind of a
  private one private.  MS_SLAVE on a private mount has no master to
  follow and leaves it private; MS_SHARED on a slave makes it "shared and
  slave": a new peer group of this namespace that still only receives
  from the host.  So no propagation flag set here sends anything out.
- The view's base is made MS_REC|MS_PRIVATE at once (or what
  rootfsPropagation says): nothing of the host's reaches the sandbox but
  through a bind or a root that asks for it.
- pivot_root(2) fails with EINVAL when the new root is a shared mount:
  shared root propagation is applied after it, as runc does.
- MS_REMOUNT|MS_BIND|MS_RDONLY, and mount_setattr(2) without AT_RECURSIVE,
  change only the mount at the path: mounts below it stay writable (an
  OCI "ro" bind, as runc).  mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)
  makes the whole tree read-only at once, or fails leaving it unchanged
  ("rro", the CLI's :ro).  mount_setattr leaves the other per-mount flags
  (nosuid, nodev, noexec, atime) as they are; a remount resets those it is
  not given.
- A mount propagated in later gets the flags of the mount it copies, not
  those of the mount it lands under: a read-only slave bind, even a
  recursively read-only one, can gain writable mounts below it (so the
  CRI refuses recursive_read_only without private propagation).
- A proc mount belongs to the pid namespace of the process that mounts it,
  so this must run inside the new pid namespace.
- pivot_root(".", ".") stacks the old root on top of the new one; a lazy
  umount of "." then detaches the old root, leaving no host path reachable
  through the mount tree.
- openat2(RESOLVE_IN_ROOT) resolves a path as if the dirfd were "/": an
  image's symlink (even "/../../etc") cannot lead a mount target out of the
  rootfs.  Mounting onto /proc/self/fd/N of an O_PATH fd mounts on that
  very inode, so nothing can swap the path between check and mount.
"""
from __future__ import annotations

import errno
import os
import stat

from sentry import native
from sentry.abi.linux import (
    MNT_DETACH,
    MOUNT_ATTR_RDONLY,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SHARED,
    MS_SLAVE,
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
)
from sentry.errors import SandboxError
from sentry.record import record
from sentry.sandbox import synthesized

STAGING = "/tmp"                 # in our private mount ns only
DEFAULT_ROOT = STAGING + "/root"

# Like runc's defaults: files that expose or poke the host kernel.
MASKED = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
          "/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/sys/firmware",
          "/proc/kmsg"]        # the host's kernel log, for a privileged (CAP_SYSLOG) container
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0)]
DEV_LINKS = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
             ("ptmx", "pts/ptmx")]


@record(frozen=True)
class Bind:
    src: str
    dst: str
    readonly: bool = False
    recursive_ro: bool = True     # with readonly: the mounts below too (CLI :ro, OCI "rro"); else the top only
    recursive: bool = True        # MS_REC: the mounts below src come along (OCI "rbind"; "bind" alone: not)
    # mount(2) propagation flags applied in order to the new mount, as runc
    # applies an OCI mount's propagation options; the default: rprivate.
    propagation: tuple[int, ...] = (MS_REC | MS_PRIVATE,)


@record(frozen=True)
class Device:
    """An OCI linux.devices entry: a node made in the sandbox's /dev."""
    path: str          # /dev/...
    kind: str          # "c" or "b"
    major: int
    minor: int
    mode: int = 0o666
    uid: int = 0
    gid: int = 0


def setup(cfg) -> None:
    """Build the view cfg (a normalised RunConfig) asks for and pivot into
    it.  Raises SandboxError naming the path at fault."""
    native.mount(None, "/", None, MS_REC | MS_SLAVE)     # out: nothing; in: kept for the binds
    # Hold every bind source before anything is mounted over the host paths
    # (the staging tmpfs hides the host's /tmp).
    sources = [_open_source(b) for b in cfg.binds]
    held = {p: os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            for p in (cfg.rootfs, cfg.persist, *cfg.layers) if p}
    native.mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700")
    synthesized_dir = None
    if cfg.proc_fuse_fd >= 0:           # the default fs mode (sentry/sandbox/synthesized.py)
        synthesized_dir = synthesized.mount_in(STAGING, cfg.proc_fuse_fd)
    root = DEFAULT_ROOT
    os.mkdir(root)
    if cfg.rootfs_direct:
        # An OCI bundle's rootfs, used as it is (the engine made it, often
        # an overlay snapshot already); mount points are made in it.
        native.mount(f"/proc/self/fd/{held[cfg.rootfs]}", root, None, MS_BIND | MS_REC)
    elif cfg.rootfs is None and not cfg.layers:
        # The host root, read-only.
        native.mount("/", root, None, MS_BIND | MS_REC)
        native.make_tree_readonly(root)
    else:
        _mount_overlay(cfg, root, held)
    root_propagation = cfg.root_propagation or MS_REC | MS_PRIVATE
    if not root_propagation & MS_SHARED:
        native.mount(None, root, None, root_propagation)
    for fd in held.values():
        os.close(fd)
    create = cfg.rootfs_direct
    if cfg.private_tmp:
        with _target(root, "/tmp", True, create) as t:
            native.mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    with _target(root, "/dev", True, create) as t:
        native.mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536k")
    with _target(root, "/dev", True, False) as t:    # now the new tmpfs
        _mount_dev(t, cfg)
    with _target(root, "/proc", True, create) as t:
        native.mount("proc", t, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if os.path.isdir(root + "/sys"):
        _mount_sysfs(root + "/sys")
    if synthesized_dir is not None:     # before the binds, masks and read-only /proc/sys
        synthesized.bind_over(synthesized_dir, lambda target: _optional_target(root, target))
    for b, fd in zip(cfg.binds, sources):
        _bind(root, b, fd, create)
        os.close(fd)
    for t in cfg.tmpfs:
        size = f",size={t.size}" if t.size else ""
        with _target(root, t.dst, True, create) as path:
            native.mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" + size)
    _mask(root, MASKED + list(cfg.masks), READONLY + list(cfg.ro_paths))
    if cfg.sysctl_net_rw and os.path.isdir(root + "/proc/sys/net"):
        # Its own mount, writable: the rest of /proc/sys stays read-only.
        native.mount(root + "/proc/sys/net", root + "/proc/sys/net", None, MS_BIND)
        native.mount_setattr(root + "/proc/sys/net", attr_clr=MOUNT_ATTR_RDONLY)
    if cfg.rootfs_direct and cfg.cwd:
        with _target(root, cfg.cwd, True, True):
            pass                   # runc makes a missing process.cwd too
    if cfg.rootfs_direct and cfg.read_only:
        # The root's own mount only (runc's root.readonly), its flags kept.
        native.mount_setattr(root, attr_set=MOUNT_ATTR_RDONLY)

    os.chdir(root)
    native.pivot_root(".", ".")
    native.umount(".", MNT_DETACH)
    os.chdir("/")
    if root_propagation & MS_SHARED:
        native.mount(None, "/", None, root_propagation)


def _mount_overlay(cfg, root: str, held: dict[str, int]) -> None:
    """--rootfs DIR as the lower layer of an overlay: DIR is never written;
    or --image's unpacked layers as the lowers, top first (they carry
    overlayfs whiteouts and opaque xattrs, see sentry.oci.unpack).
    The upper layer is a tmpfs that dies with the mount namespace, or
    --persist DIR's upper/ and work/ (same filesystem, as overlayfs needs)."""
    if cfg.persist:
        upper = f"/proc/self/fd/{held[cfg.persist]}/upper"
        work = f"/proc/self/fd/{held[cfg.persist]}/work"
    else:
        upper, work = STAGING + "/upper", STAGING + "/work"
        os.mkdir(upper)
        os.mkdir(work)
    # The host paths may be under the staging /tmp: use the held fds.
    lowers = cfg.layers or [cfg.rootfs]
    lower = ":".join(_ovl(f"/proc/self/fd/{held[layer]}") for layer in lowers)
    opts = f"lowerdir={lower},upperdir={_ovl(upper)},workdir={_ovl(work)}"
    what = "--image" if cfg.layers else f"--rootfs {cfg.rootfs}"
    try:
        native.mount("overlay", root, "overlay", 0, opts)
    except OSError as e:
        raise SandboxError(f"{what}: cannot build the copy-on-write view "
                           f"(overlayfs: {e.strerror})") from None
    if cfg.layers:
        # Images often lack the mount points; make them in the upper layer.
        # mkdir never follows a symlink in its last component.
        for d in ("/proc", "/dev", "/tmp", "/sys"):
            try:
                os.mkdir(root + d, 0o755)
            except FileExistsError:
                pass
    if cfg.read_only:
        native.mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def _ovl(path: str) -> str:
    """overlayfs splits its options on ',' and ':'; escape them."""
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def table(cfg) -> list[tuple[str, str, str, str]]:
    """The mount table as the sandbox sees it in /proc/mounts: no host paths."""
    if cfg.rootfs_direct:
        rows = [("rootfs", "/", "rootfs", ("ro" if cfg.read_only else "rw") + ",relatime")]
    elif cfg.rootfs is None and not cfg.layers:
        rows = [("rootfs", "/", "rootfs", "ro,relatime")]
    else:
        rows = [("overlay", "/", "overlay", ("ro" if cfg.read_only else "rw") + ",relatime")]
    if cfg.private_tmp:
        rows.append(("tmpfs", "/tmp", "tmpfs", "rw,nosuid,nodev,relatime"))
    rows += [("tmpfs", "/dev", "tmpfs", "rw,nosuid,noexec,relatime,size=65536k,mode=755"),
             ("devpts", "/dev/pts", "devpts", "rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666"),
             ("shm", "/dev/shm", "tmpfs", "rw,nosuid,nodev,noexec,relatime"),
             ("proc", "/proc", "proc", "rw,nosuid,nodev,noexec,relatime"),
             ("sysfs", "/sys", "sysfs", "ro,nosuid,nodev,noexec,relatime")]
    if cfg.mqueue:
        rows.append(("mqueue", "/dev/mqueue", "mqueue", "rw,nosuid,nodev,noexec,relatime"))
    rows += [("none", b.dst, "bind", "ro" if b.readonly else "rw") for b in cfg.binds]
    rows += [("tmpfs", t.dst, "tmpfs", "rw,nosuid,nodev,relatime" + (f",size={t.size // 1024}k" if t.size else ""))
             for t in cfg.tmpfs]
    return rows


def _mount_sysfs(path: str) -> None:
    """A sysfs of the sandbox's network namespace, read-only.  With the host
    network and the host root, `path` already shows that very sysfs (through
    the read-only bind) and the kernel refuses to stack it on itself."""
    try:
        native.mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise


def _mount_dev(dev: str, cfg) -> None:
    """Our own /dev: a tmpfs with the usual nodes, a private devpts, shm,
    mqueue when asked, and the OCI config's extra devices.  dev is the
    fresh tmpfs (a /proc/self/fd path)."""
    for name, major, minor in DEVICES:
        os.mknod(f"{dev}/{name}", 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(f"{dev}/{name}", 0o666)   # mknod honours the umask
    for name, target in DEV_LINKS:
        os.symlink(target, f"{dev}/{name}")
    os.mkdir(f"{dev}/pts")
    native.mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620,gid=5")
    os.mkdir(f"{dev}/shm")
    native.mount("tmpfs", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777")
    if cfg.mqueue:
        os.mkdir(f"{dev}/mqueue")
        native.mount("mqueue", f"{dev}/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for d in cfg.devices:
        rel = d.path[len("/dev/"):]
        if os.path.dirname(rel):
            os.makedirs(f"{dev}/{os.path.dirname(rel)}", 0o755, exist_ok=True)
        kind = stat.S_IFCHR if d.kind == "c" else stat.S_IFBLK
        try:
            os.unlink(f"{dev}/{rel}")      # the config may redefine a default node
        except FileNotFoundError:
            pass
        os.mknod(f"{dev}/{rel}", d.mode & 0o7777 | kind, os.makedev(d.major, d.minor))
        os.chmod(f"{dev}/{rel}", d.mode & 0o7777)
        os.chown(f"{dev}/{rel}", d.uid, d.gid)


class _target:
    """`with _target(root, "/a/b", is_dir, create) as path:` an O_PATH fd on
    root/a/b resolved inside root (symlinks included, never out of it), as
    a /proc/self/fd path to mount on.  Missing components are made when
    `create` (directories; the last one a file unless is_dir)."""

    def __init__(self, root: str, path: str, is_dir: bool, create: bool):
        self.root, self.path, self.is_dir, self.create = root, path, is_dir, create
        self.fd = -1

    def __enter__(self) -> str:
        rfd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.fd = _resolve(rfd, self.path, self.is_dir, self.create)
        finally:
            os.close(rfd)
        return f"/proc/self/fd/{self.fd}"

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


def _openat2_path(dirfd: int, path: str) -> int:
    return native.openat2(dirfd, path, os.O_PATH | os.O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)


def _resolve(rfd: int, path: str, is_dir: bool, create: bool) -> int:
    try:
        return _openat2_path(rfd, path)
    except FileNotFoundError:
        if not create:
            where = "a directory" if is_dir else "a file"
            raise SandboxError(f"{path} does not exist as {where} in the sandbox view; "
                               "it is needed as a mount point") from None
    parent, leaf = os.path.split(path.rstrip("/"))
    pfd = _resolve(rfd, parent or "/", True, True)
    try:
        if is_dir:
            os.mkdir(leaf, 0o755, dir_fd=pfd)
        else:
            os.close(os.open(leaf, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=pfd))
    except FileExistsError:
        pass
    finally:
        os.close(pfd)
    return _openat2_path(rfd, path)


class _optional_target(_target):
    """A file to mount over if the view has it (None otherwise)."""

    def __init__(self, root: str, path: str):
        super().__init__(root, path, False, False)

    def __enter__(self):
        try:
            return super().__enter__()
        except SandboxError:
            self.fd = -1
            return None

    def __exit__(self, *exc) -> None:
        if self.fd >= 0:
            os.close(self.fd)


def _open_source(b: Bind) -> int:
    try:
        return os.open(b.src, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        raise SandboxError(f"--bind source {b.src}: {e.strerror}") from None


def _bind(root: str, b: Bind, fd: int, create: bool) -> None:
    src = f"/proc/self/fd/{fd}"
    with _target(root, b.dst, os.path.isdir(src), create) as target:
        if os.path.isdir(src) != os.path.isdir(target):
            raise SandboxError(f"--bind {b.src}:{b.dst}: one is a directory and the other is not")
        native.mount(src, target, None, MS_BIND | (MS_REC if b.recursive else 0))
    # Again: the fd above names the mount point, not the new mount.
    with _target(root, b.dst, os.path.isdir(src), False) as target:
        for flags in b.propagation:
            native.mount(None, target, None, flags)
        if b.readonly:
            native.mount_setattr(target, recursive=b.recursive_ro, attr_set=MOUNT_ATTR_RDONLY)


def _mask(root: str, masked, readonly) -> None:
    # Each path once: an OCI config repeats runc's defaults, which are ours,
    # and a second mount would stack on the first (two lines in mountinfo).
    masked, readonly = dict.fromkeys(masked), dict.fromkeys(readonly)
    for path in masked:
        p = root + path
        if os.path.isdir(p):
            native.mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
        elif os.path.exists(p):
            native.mount(root + "/dev/null", p, None, MS_BIND)
    for path in readonly:
        p = root + path
        if os.path.exists(p):
            native.mount(p, p, None, MS_BIND | MS_REC)
            native.make_tree_readonly(p)
