"""The shared namespaces of a pod: net, ipc and uts, held by bind mounts.

A pod's containers join one network, IPC and UTS namespace.  We create the
three up front, before any container exists, and keep them alive without a
pause process by bind-mounting their nsfs files at
`<run_dir>/ns/<pod_id>/{net,ipc,uts}` -- the paths a CRI server hands to CNI
plugins (CNI_NETNS) and to sentries (setns).

Kernel facts relied on:

- Namespaces belong to a task (thread), not a process.  unshare(2) in one
  thread moves only that thread, and CLONE_NEWNET, CLONE_NEWIPC and
  CLONE_NEWUTS are allowed in a multithreaded process (CLONE_NEWNS and
  CLONE_NEWUSER are not).  So a short-lived thread does what `ip netns add`
  does in a child process, without fork(), which is hazardous in a
  multithreaded gRPC server.  setns(2) of a net/ipc/uts ns in a thread is
  likewise allowed and thread-local; the thread then exits, so no pool
  thread is ever left in a pod's namespace.
- /proc/self is the thread-group leader; /proc/thread-self (Linux >= 3.17)
  is the calling thread, whose ns/ links name the namespaces just unshared.
- A namespace lives while a task is in it, an fd refers to it, or a bind
  mount of its nsfs file exists.  Bind-mounting /proc/thread-self/ns/net
  onto a regular file keeps it after the thread exits; umount + unlink frees
  it once the last other reference goes.  The bind target must exist.
- A socket stays bound to the netns it was created in: a netlink socket
  opened in a thread inside the pod netns configures that netns from
  anywhere, and a TCP socket created there talks from there.
- Unmounts propagate only to copies under a *shared* parent mount.  A mount
  namespace made later (a sentry's, a systemd service's) copies our nsfs
  mounts; unless the parent is shared, those copies pin every pod's netns
  for their lifetime.  So, as `ip netns add` does for /run/netns, the
  `<run_dir>/ns` directory is bind-mounted onto itself and made MS_SHARED;
  the self-bind is removed again when the last pod is gone.
  os.path.ismount cannot see a bind mount on the same filesystem (same
  st_dev), so /proc/self/mountinfo is read instead.
- ioctl(fd, NS_GET_NSTYPE) on an nsfs file (Linux >= 4.11) returns its
  CLONE_NEW* type: how a path handed to us is checked to be a netns.
- sethostname(2) changes the caller's UTS namespace only; HOST_NAME_MAX is
  64 bytes.  A new UTS ns starts as a copy of the host's name, so the pod
  name is always set.
- A privileged pod also gets a user namespace of its own, and it must own
  the pod's net, ipc and uts namespaces: a privileged container joins it,
  and its capabilities then reach the pod's network (a bridge, routes,
  /proc/sys/net) but nothing the host's user namespace owns.  Capabilities
  cover the namespaces owned by a user namespace and its descendants, so
  our own (host root) reach them all the same.  When clone(2) is given
  CLONE_NEWUSER with other CLONE_NEW* flags, the kernel makes the user
  namespace first and it owns the others.  A multithreaded process cannot
  unshare(CLONE_NEWUSER) (EINVAL), so a child cloned that way
  (sentry.native.ns_holder) holds them while we write its uid_map and
  gid_map (as root of the parent namespace, no setgroups "deny" is
  needed) and bind-mount its /proc/PID/ns files, then exits.
- Mount/unshare/setns calls go through sentry.native (the one module that
  imports the compiled extension; Python 3.11's os lacks them).
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass

from sentry import native
from sentry.abi.linux import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_SHARED,
    NS_FLAG,
)

NS_GET_NSTYPE = 0xB703          # _IO(0xb7, 0x3)
NS_KINDS = {kind: NS_FLAG[kind] for kind in ("net", "ipc", "uts")}
DEFAULT_RUN_DIR = "/run/pysandbox"
HOST_NAME_MAX = 64
# CRI sandbox ids are 64 hex digits; this also keeps ids safe as path parts.
_POD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class NetworkError(Exception):
    """A pod networking or namespace operation failed; the message names
    the pod and the problem.  Defined here, the lowest layer, so cni.py and
    network.py raise the same type without an import cycle; import it from
    cri_handler.network."""


@dataclass(frozen=True)
class PodNamespaces:
    net: str
    ipc: str
    uts: str
    user: str | None = None       # a privileged pod's: it owns the three above


def check_pod_id(pod_id: str) -> str:
    if not isinstance(pod_id, str) or not _POD_ID.fullmatch(pod_id):
        raise NetworkError(f"invalid pod id {pod_id!r}: want 1-128 of [A-Za-z0-9_.-], not starting with . - _")
    return pod_id


def pod_ns_paths(pod_id: str, run_dir: str = DEFAULT_RUN_DIR) -> PodNamespaces:
    d = os.path.join(run_dir, "ns", check_pod_id(pod_id))
    return PodNamespaces(**{k: os.path.join(d, k) for k in NS_KINDS})


def create_pod_namespaces(pod_id: str, hostname: str, run_dir: str = DEFAULT_RUN_DIR,
                          user_mapping: tuple[int, int, int] | None = None) -> PodNamespaces:
    """Create the pod's net, ipc and uts namespaces, `lo` up and the
    hostname set, pinned at <run_dir>/ns/<pod_id>/{net,ipc,uts}.  With
    user_mapping (inside, outside, size: the same for uids and gids) they
    are owned by a user namespace of the pod's own, mapped so and pinned
    at <run_dir>/ns/<pod_id>/user.

    Raises NetworkError (bad id or hostname, already exists, or a kernel
    call failed); on failure nothing is left: no mount, file or directory."""
    paths = pod_ns_paths(pod_id, run_dir)
    name = hostname.encode() if isinstance(hostname, str) else b""
    if not name or len(name) > HOST_NAME_MAX or b"\0" in name:
        raise NetworkError(f"pod {pod_id}: invalid hostname {hostname!r} (want 1-{HOST_NAME_MAX} bytes)")
    pod_dir = os.path.dirname(paths.net)
    with _ns_dir_lock(run_dir):
        ns_dir = _ensure_shared_dir(run_dir)
        try:
            os.mkdir(pod_dir, 0o711)
        except FileExistsError:
            _release_shared_dir(ns_dir)
            raise NetworkError(f"pod {pod_id}: namespaces already exist at {pod_dir}") from None
        try:
            if user_mapping is not None:
                paths = PodNamespaces(paths.net, paths.ipc, paths.uts, os.path.join(pod_dir, "user"))
            for path in (paths.net, paths.ipc, paths.uts, paths.user):
                if path is not None:
                    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
            if user_mapping is None:
                _in_thread(_unshare_and_pin, paths, hostname)
            else:
                _clone_and_pin(paths, user_mapping)
                _in_thread(_name_and_lo_up, paths, hostname)
        except BaseException as e:
            _remove_pod_dir(pod_dir)
            _release_shared_dir(ns_dir)
            if isinstance(e, OSError):
                raise NetworkError(f"pod {pod_id}: creating namespaces failed: {e}") from e
            raise
    return paths


def remove_pod_namespaces(pod_id: str, run_dir: str = DEFAULT_RUN_DIR) -> None:
    """Unmount and delete the pod's namespace files.  Idempotent: parts
    already gone are fine.  The namespaces themselves die once no process
    (e.g. a sentry) is left in them."""
    paths = pod_ns_paths(pod_id, run_dir)
    with _ns_dir_lock(run_dir):
        _remove_pod_dir(os.path.dirname(paths.net))
        _release_shared_dir(os.path.join(run_dir, "ns"))


def check_netns(path: str) -> str:
    """Raise NetworkError unless path is a network namespace file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise NetworkError(f"network namespace {path} does not exist or cannot be opened: {e.strerror}") from e
    try:
        kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        kind = None                      # ENOTTY: not an nsfs file at all
    finally:
        os.close(fd)
    if kind != CLONE_NEWNET:
        raise NetworkError(f"{path} is not a network namespace")
    return path


def run_in_netns(netns_path: str, fn, *args, **kwargs):
    """Call fn(*args, **kwargs) in a fresh thread that has joined the
    network namespace at netns_path, and return its result (or raise its
    exception).  Sockets fn creates stay in that netns afterwards."""
    try:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise NetworkError(f"cannot open network namespace {netns_path}: {e.strerror}") from e

    def enter_and_call():
        try:
            native.setns(fd, CLONE_NEWNET)
        except OSError as e:
            raise NetworkError(f"{netns_path} is not a network namespace ({e.strerror})") from e
        return fn(*args, **kwargs)
    try:
        return _in_thread(enter_and_call)
    finally:
        os.close(fd)


def _unshare_and_pin(paths: PodNamespaces, hostname: str) -> None:
    """Runs in its own thread: that thread alone enters the new namespaces."""
    native.unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    socket.sethostname(hostname)
    _loopback_up()
    for kind in NS_KINDS:
        native.mount(f"/proc/thread-self/ns/{kind}", getattr(paths, kind), None, MS_BIND)


def _clone_and_pin(paths: PodNamespaces, mapping: tuple[int, int, int]) -> None:
    """A privileged pod's namespaces: the user namespace first, owning the
    rest (see the module header), pinned like the others."""
    pid, release = native.ns_holder(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    try:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(" ".join(map(str, mapping)) + "\n")
        for kind in ("user", *NS_KINDS):
            native.mount(f"/proc/{pid}/ns/{kind}", getattr(paths, kind), None, MS_BIND)
    finally:
        try:
            os.write(release, b"x")
        finally:
            os.close(release)
            os.waitpid(pid, 0)


def _name_and_lo_up(paths: PodNamespaces, hostname: str) -> None:
    """Runs in its own thread: it joins the pod's uts and net namespaces
    (ours, host root, are capabilities over them), names the host and
    brings `lo` up."""
    for kind, flag in (("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET)):
        fd = os.open(getattr(paths, kind), os.O_RDONLY | os.O_CLOEXEC)
        try:
            native.setns(fd, flag)
        finally:
            os.close(fd)
    socket.sethostname(hostname)
    _loopback_up()


def _loopback_up() -> None:
    # The kernel creates lo down in a new netns; 127.0.0.1 needs it up.
    from pyroute2 import IPRoute

    with IPRoute() as ip:
        (index,) = ip.link_lookup(ifname="lo")
        ip.link("set", index=index, state="up")


def _in_thread(fn, *args, **kwargs):
    out: dict = {}

    def body():
        try:
            out["result"] = fn(*args, **kwargs)
        except BaseException as e:   # handed to the caller's thread
            out["error"] = e
    t = threading.Thread(target=body, name="pysandbox-ns", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("result")


def _remove_pod_dir(pod_dir: str) -> None:
    for kind in (*NS_KINDS, "user"):
        path = os.path.join(pod_dir, kind)
        try:
            native.umount(path, MNT_DETACH)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOENT):   # not mounted / gone
                raise NetworkError(f"cannot unmount {path}: {e.strerror}") from e
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(pod_dir)
    except FileNotFoundError:
        pass


@contextmanager
def _ns_dir_lock(run_dir: str):
    # Serialises the shared-mount setup/teardown of <run_dir>/ns between
    # threads and processes; it lives beside, not in, that directory.
    os.makedirs(run_dir, 0o711, exist_ok=True)
    fd = os.open(os.path.join(run_dir, "ns.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _is_mountpoint(path: str) -> bool:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # field 5 is the mount point, with space, tab, newline, backslash as \ooo
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == real:
                return True
    return False


def _ensure_shared_dir(run_dir: str) -> str:
    ns_dir = os.path.join(run_dir, "ns")
    os.makedirs(ns_dir, 0o711, exist_ok=True)
    bound = False
    try:
        if not _is_mountpoint(ns_dir):
            native.mount(ns_dir, ns_dir, None, MS_BIND)
            bound = True
        native.mount(None, ns_dir, None, MS_SHARED)
    except OSError as e:
        if bound:
            native.umount(ns_dir, MNT_DETACH)
        raise NetworkError(f"cannot make {ns_dir} a shared mount: {e.strerror}") from e
    return ns_dir


def _release_shared_dir(ns_dir: str) -> None:
    # Last pod gone: drop the self-bind so nothing of ours stays mounted.
    try:
        if os.listdir(ns_dir) or not _is_mountpoint(ns_dir):
            return
        native.umount(ns_dir, MNT_DETACH)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise NetworkError(f"cannot unmount {ns_dir}: {e.strerror}") from e
