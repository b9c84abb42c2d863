"""Persisted metadata of the CRI server's pods and containers.

Layout under <root>/cri/ (root: `pysandbox cri --root`, default
/var/lib/pysandbox, shared with the image store):

    pods/<id>.json          one PodRecord
    containers/<id>.json    one ContainerRecord

A record is written whole, to a temporary name and renamed over the old
one, so a crash leaves the old or the new record, never half of one.  A
restarted server loads every record and then asks the OCI runtime and the
kernel what is still alive (see runtime.Runtime.recover): the records hold
what only we know (CRI configs, times, names, log paths), the OCI state
directory what only the runtime knows (the sentry's pid, exit.json).

Unknown keys in a record are ignored and missing ones take their default,
so records written by an older server still load.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field, fields

log = logging.getLogger(__name__)

# Pod states (CRI PodSandboxState) and container states (CRI ContainerState),
# as stored: names, not the enum numbers.
POD_READY, POD_NOTREADY = "ready", "notready"
CREATED, RUNNING, EXITED, UNKNOWN = "created", "running", "exited", "unknown"


@dataclass
class PodRecord:
    id: str
    name: str
    namespace: str
    uid: str
    attempt: int
    created_at: int                         # ns since the epoch
    state: str = POD_READY
    runtime_handler: str = ""
    config: dict = field(default_factory=dict)      # PodSandboxConfig as protobuf JSON
    hostname: str = ""
    host_network: bool = False
    host_ipc: bool = False
    host_pid: bool = False                  # namespace_options.pid NODE: its containers see the host's
    pod_dir: str = ""                       # hostname, hosts, resolv.conf for bind mounts
    namespaces: dict = field(default_factory=dict)  # kind -> path held by netns.py
    ip: str = ""
    additional_ips: list = field(default_factory=list)
    network_ready: bool = False             # set up and not yet torn down
    cgroup_parent: str = ""                 # cgroupfs path; containers go under it
    own_cgroup_parent: bool = False         # we made it (no cgroup_parent given): remove it
    pid_init_pid: int = 0                   # the pod init (cri_handler.podinit) holding the shared
    pid_init_start: int = 0                 # pid namespace; its /proc start time, against pid reuse

    @property
    def labels(self) -> dict:
        return self.config.get("labels", {})

    @property
    def annotations(self) -> dict:
        return self.config.get("annotations", {})


@dataclass
class ContainerRecord:
    id: str
    pod_id: str
    name: str
    attempt: int
    created_at: int
    config: dict = field(default_factory=dict)      # ContainerConfig as protobuf JSON
    image: str = ""                         # as the request named it
    image_name: str = ""                    # the store's name for it
    image_id: str = ""                      # what ImageService reports as Image.id
    state: str = CREATED
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    log_path: str = ""                      # "" when the pod has no log_directory
    bundle: str = ""
    rootfs: str = ""                        # the overlay mount point
    upper: str = ""                         # the writable layer (upper + work dirs' parent)
    cgroups_path: str = ""
    relay_pid: int = 0
    relay_start: int = 0                    # /proc start time, against pid reuse
    stdin_fifo: str = ""                    # older servers' stdin; now the relay holds a pipe
    attach_dir: str = ""                    # where the relay's attach.sock is ("": no relay socket)
    tty: bool = False
    resources: dict = field(default_factory=dict)   # LinuxContainerResources as protobuf JSON
    user: dict = field(default_factory=dict)        # {"uid", "gid", "groups"}
    mounts: list = field(default_factory=list)      # CRI Mounts as protobuf JSON
    stop_signal: int = 15
    env: list = field(default_factory=list)         # the process env, for exec
    cwd: str = "/"
    exec_caps: list = field(default_factory=list)   # the bounding set, for exec
    no_new_privs: bool = True               # the container's, for exec (older records: always on)
    launched: bool = True                   # its sentry made (StartContainer; older records: at create)

    @property
    def labels(self) -> dict:
        return self.config.get("labels", {})

    @property
    def annotations(self) -> dict:
        return self.config.get("annotations", {})


class MetadataStore:
    """The records on disk.  Writers hold the server's per-object lock; the
    store itself only makes each write atomic."""

    def __init__(self, root: str):
        self.dir = os.path.join(root, "cri")
        self.pods_dir = os.path.join(self.dir, "pods")
        self.containers_dir = os.path.join(self.dir, "containers")
        for d in (self.pods_dir, self.containers_dir):
            os.makedirs(d, 0o700, exist_ok=True)
        self._lock = threading.Lock()

    def save_pod(self, rec: PodRecord) -> None:
        self._write(self.pods_dir, rec.id, asdict(rec))

    def save_container(self, rec: ContainerRecord) -> None:
        self._write(self.containers_dir, rec.id, asdict(rec))

    def delete_pod(self, pod_id: str) -> None:
        _unlink(os.path.join(self.pods_dir, pod_id + ".json"))

    def delete_container(self, cid: str) -> None:
        _unlink(os.path.join(self.containers_dir, cid + ".json"))

    def load(self) -> tuple[list[PodRecord], list[ContainerRecord]]:
        return (self._load_all(self.pods_dir, PodRecord),
                self._load_all(self.containers_dir, ContainerRecord))

    def _write(self, where: str, rid: str, data: dict) -> None:
        path = os.path.join(where, rid + ".json")
        tmp = f"{path}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @staticmethod
    def _load_all(where: str, kind):
        known = {f.name for f in fields(kind)}
        out = []
        for name in sorted(os.listdir(where)):
            path = os.path.join(where, name)
            if name.endswith(".tmp"):
                _unlink(path)                   # a write cut short by a crash
                continue
            if not name.endswith(".json"):
                continue
            try:
                with open(path) as f:
                    data = json.load(f)
                out.append(kind(**{k: v for k, v in data.items() if k in known}))
            except (OSError, ValueError, TypeError) as e:
                log.error("skipping unreadable record", extra={"path": path, "error": str(e)})
        return out


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
