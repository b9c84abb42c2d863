"""One OCI container on disk, and the create / start / state / kill /
delete steps of its life, as runc defines them.

State directory <root>/<id>/ (root: `pysandbox-oci --root`):

    state.json     written at create: pid (the sentry's), the host pid of
                   the container's pid 1 (init_pid: the workload itself
                   when pid1, else the init above it) and its start time,
                   bundle, created, annotations, cgroup, hooks
    exec.fifo      exists while the container is `created`: the sentry
                   waits reading it; `start` writes a byte, then removes it
    exit.json      written by the sentry when the workload is gone: its
                   status (128+N for a signal), finishedAt, oomKilled

The container's pid in `state` is its sentry's.  The sentry exits with the
workload's status, so an engine's shim that reaps it (as a subreaper, after
`create` has exited) sees the container's exit code, as with runc's init.

Facts relied upon:
- A FIFO opened O_RDWR never blocks the opener and keeps a reader and a
  writer; read() then blocks until someone writes.  open(O_WRONLY|
  O_NONBLOCK) fails with ENXIO when no process has it open for reading,
  which tells `start` the sentry is gone.
- /proc/PID/stat field 22 (start time) differs for a reused pid, so a
  recorded (pid, start time) pair names one process for good.
- A container id is a directory name: at most NAME_MAX (255) bytes.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time

from sentry.errors import SandboxError
from sentry.oci.rfc3339 import rfc3339_nano
from sentry.record import asdict, field, record, required

DEFAULT_ROOT = "/run/pysandbox-oci"
OCI_VERSION = "1.0.2"
_ID = re.compile(r"[A-Za-z0-9_+.-]{1,255}")      # runc's characters (ASCII only), NAME_MAX


def now() -> str:
    return rfc3339_nano(time.time_ns())


def check_id(cid: str) -> str:
    if not _ID.fullmatch(cid or "") or cid in (".", ".."):
        shown = ascii(cid) if len(cid or "") <= 80 else ascii(cid[:80])[:-1] + "...'"
        raise SandboxError(f"invalid container id {shown} (1 to 255 ASCII letters, digits, '_', '+', '-', '.')")
    return cid


@record
class State:
    id: str
    bundle: str
    rootfs: str
    created: str
    pid: int = 0                # the sentry
    pid_start: int = 0          # its start time, against pid reuse
    init_pid: int = 0           # the sandbox's pid 1, host pid
    init_start: int = 0         # its start time, against pid reuse (0: not recorded)
    pid1: bool = False          # init_pid is the container's process itself (sentry.sandbox.init)
    cgroup: str | None = None
    annotations: dict = field(default_factory=dict)
    hooks: dict = field(default_factory=dict)    # kind -> [Hook.to_json()]
    platform: str = "seccomp"
    owner: str = ""
    started: str = ""            # set by the sentry when `start` releases it
    watcher: int = 0             # host pid: the sentry's watcher (sentry/sandbox/lifecycle.py)

    def oci(self, status: str) -> dict:
        """The runtime-spec state object (`state`'s output)."""
        return {"ociVersion": OCI_VERSION, "id": self.id, "pid": self.pid if status != "stopped" else 0,
                "status": status, "bundle": self.bundle, "rootfs": self.rootfs, "created": self.created,
                "owner": self.owner, "annotations": self.annotations}


class Dir:
    """<root>/<id>: paths and reading/writing the files in it."""

    def __init__(self, root: str, cid: str):
        self.root = root
        self.id = check_id(cid)
        self.path = os.path.join(root, cid)

    @property
    def fifo(self) -> str:
        return os.path.join(self.path, "exec.fifo")

    def exists(self) -> bool:
        return os.path.isfile(os.path.join(self.path, "state.json"))

    def load(self) -> State:
        from sentry import inputs
        path = os.path.join(self.path, "state.json")
        try:
            os.lstat(path)
        except FileNotFoundError:
            raise SandboxError(f"container {self.id} does not exist") from None
        except OSError as e:                 # EACCES, ENOTDIR: something is there we cannot read
            raise SandboxError(f"container {self.id}: {path}: {e.strerror}") from None
        try:
            data = inputs.read_json(path, f"container {self.id}: state", limit=1 << 20)
        except SandboxError as e:
            raise SandboxError(f"{e} (delete --force removes it)") from None
        return _state(data, f"container {self.id}: state {path}")

    def save(self, st: State, dir_fd: int | None = None) -> None:
        write_json(dir_fd if dir_fd is not None else self.path, "state.json", asdict(st))

    def exit_info(self) -> dict | None:
        try:
            with open(os.path.join(self.path, "exit.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None


_STATE_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "bundle": str, "rootfs": str, "created": str, "pid": int, "pid_start": int, "init_pid": int,
    "init_start": int, "pid1": bool,
    "cgroup": (str, type(None)), "annotations": dict, "hooks": dict, "platform": str, "owner": str, "started": str,
    "watcher": int}


def _state(data: dict, where: str) -> State:
    """state.json is ours, but a file on disk: check it before trusting a
    pid or a cgroup path in it."""
    known = {k: v for k, v in data.items() if k in _STATE_TYPES}
    needed = required(State)
    for key, kind in _STATE_TYPES.items():
        if key not in known:
            if key in needed:
                raise SandboxError(f"{where}: {key} is missing (delete --force removes it)")
            continue
        if not isinstance(known[key], kind) or (kind is int and isinstance(known[key], bool)):
            raise SandboxError(f"{where}: {key} has the wrong type (delete --force removes it)")
    if any(not 0 <= known.get(k, 0) < 1 << 63 for k in ("pid", "pid_start", "init_pid", "init_start")):
        raise SandboxError(f"{where}: a pid is out of range (delete --force removes it)")
    return State(**known)


def write_json(where, name: str, obj) -> None:
    """Atomically, to a directory path or a directory fd (the sentry writes
    through an fd: by then it lives in the sandbox's mount namespace)."""
    data = json.dumps(obj, indent=1).encode()
    tmp = f".{name}.tmp"
    if isinstance(where, int):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600, dir_fd=where)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=where, dst_dir_fd=where)
    else:
        path = os.path.join(where, tmp)
        with open(path, "wb") as f:
            f.write(data)
        os.rename(path, os.path.join(where, name))


def start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat, or 0 if the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0
    fields = stat.rpartition(")")[2].split()
    if fields[0] in ("Z", "X"):
        return 0
    return int(fields[19])


def alive(st: State) -> bool:
    return st.pid > 0 and start_time(st.pid) == st.pid_start


def status(d: Dir, st: State) -> str:
    if not alive(st):
        return "stopped"
    if os.path.exists(d.fifo):
        return "created"
    if st.cgroup:
        from sentry.sandbox.cgroups import Cgroup
        try:
            cg = Cgroup.attach(st.cgroup)
        except SandboxError:
            return "running" if alive(st) else "stopped"
        try:
            if cg.frozen():
                return "paused"
        except OSError:
            # The group went away after alive() above: the sentry removes it
            # as the container ends, so it has just ended (or is ending).
            return "running" if alive(st) else "stopped"
        finally:
            cg.close()
    return "running"


def workload_pid(st: State) -> int | None:
    """Host pid of the container's process (init itself when pid1, else
    init's child), if it runs yet."""
    if st.pid1:
        alive = st.init_pid and (not st.init_start or start_time(st.init_pid) == st.init_start)
        return st.init_pid if alive else None
    try:
        kids = open(f"/proc/{st.init_pid}/task/{st.init_pid}/children").read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def run_hooks(hooks: list[dict], state: dict, kind: str) -> None:
    """Each hook gets the state JSON on stdin; a failure or timeout is an
    error naming the hook (runtime-spec: createRuntime and poststart
    failures are errors, poststop failures only warnings: the caller
    decides)."""
    if not hooks:
        return                  # without importing subprocess: most containers have none
    import subprocess
    for i, h in enumerate(hooks):
        argv = h.get("args") or [h["path"]]
        env = h.get("env") or []
        try:
            proc = subprocess.run(argv, executable=h["path"], input=json.dumps(state).encode(),
                                  env=dict(e.split("=", 1) for e in env if "=" in e),
                                  capture_output=True, timeout=h.get("timeout"))
        except subprocess.TimeoutExpired:
            raise SandboxError(f"hooks.{kind}[{i}] {h['path']}: timed out after {h.get('timeout')} s") from None
        except OSError as e:
            raise SandboxError(f"hooks.{kind}[{i}] {h['path']}: {e.strerror}") from None
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()[:400]
            raise SandboxError(f"hooks.{kind}[{i}] {h['path']}: exit status {proc.returncode}"
                               + (f": {err}" if err else ""))


def signal_number(text: str) -> int:
    """'KILL', 'SIGKILL', '9' -> 9."""
    t = text.upper()
    if t.isdigit():
        n = int(t)
        if 0 < n < 65:
            return n
    else:
        name = t if t.startswith("SIG") else "SIG" + t
        if hasattr(signal, name) and isinstance(getattr(signal, name), signal.Signals):
            return int(getattr(signal, name))
    raise SandboxError(f"invalid signal {text!r}")


def kill(d: Dir, sig: int, all_procs: bool = False) -> None:
    st = d.load()
    state = status(d, st)
    if state == "stopped":
        # "container not running" is runc's wording, and containerd's runc shim
        # (checkKillError) matches it to treat the kill as "already finished";
        # without it CRI's TaskExit handling (kill --all 9, then delete) fails
        # and the container stays RUNNING in ContainerStatus.
        raise SandboxError(f"container {d.id} is stopped: container not running")
    if state == "created":
        # The workload does not exist yet: signalling means ending the sandbox.
        _signal(st.pid, signal.SIGKILL)
        return
    if all_procs and st.cgroup:
        from sentry.sandbox.cgroups import Cgroup
        cg = Cgroup.attach(st.cgroup)
        try:
            # Not the sandbox's init: it reports the workload's status to
            # the sentry once the workload is gone, and exits by itself.
            # (A pid1 container's init is its process; its holder is not in
            # the group.)
            for pid in cg.procs():
                if pid != st.init_pid or st.pid1:
                    _signal(pid, sig)
        finally:
            cg.close()
        return
    # Just after `start`, init may not have forked the workload yet.
    deadline = time.monotonic() + 2
    while (wpid := workload_pid(st)) is None and alive(st) and time.monotonic() < deadline:
        time.sleep(0.002)
    _signal(wpid if wpid else st.pid, sig if wpid else signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def delete(d: Dir, force: bool = False, ended: bool = False) -> None:
    """`delete`; ended: the caller ran the sandbox itself (`run`) and it is over."""
    if not d.exists():
        if os.path.isdir(d.path):          # a create that died before writing its state
            _remove_dir(d.path)
            if force:
                return
        if force:
            return
        raise SandboxError(f"container {d.id} does not exist")
    try:
        st = d.load()
    except SandboxError:
        if not force:
            raise
        _remove_dir(d.path)    # unreadable state: nothing in it to act on
        return
    state = "stopped" if ended else status(d, st)
    if state in ("running", "paused") and not force:
        raise SandboxError(f"cannot delete container {d.id} that is not stopped: {state}")
    if state != "stopped":
        if state == "paused":
            _freeze(st, False)
        _signal(st.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(st) and time.monotonic() < deadline:
            time.sleep(0.01)
    problems = []
    if st.cgroup:
        from sentry.sandbox.cgroups import Cgroup
        try:
            Cgroup.attach(st.cgroup).remove()
        except SandboxError as e:
            if "No such file" not in str(e):
                problems.append(str(e))
    try:
        run_hooks(st.hooks.get("poststop", []), st.oci("stopped"), "poststop")
    except SandboxError as e:
        problems.append(f"warning: {e}")   # runtime-spec: poststop failures are only logged
    _remove_dir(d.path)
    if problems and not all(p.startswith("warning") for p in problems):
        raise SandboxError("; ".join(problems))


def _remove_dir(path: str) -> None:
    """rm -rf of a container's directory.  It holds files only (state.json,
    exec.fifo, temporary files), so a loop does it without importing shutil
    (1.6 ms of every `delete`); anything else is left to shutil.rmtree."""
    try:
        with os.scandir(path) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    raise IsADirectoryError(e.path)
                try:
                    os.unlink(e.path)
                except FileNotFoundError:
                    pass                # gone meanwhile (`start` unlinks exec.fifo)
        os.rmdir(path)
    except FileNotFoundError:
        pass                            # the directory itself is gone
    except OSError:
        import shutil
        shutil.rmtree(path, ignore_errors=True)


def update(d: Dir, res: dict) -> None:
    """`update --resources`: apply a LinuxResources object's memory.limit,
    cpu.quota/period and pids.limit to the running container's cgroup."""
    from sentry.sandbox.cgroups import Cgroup
    from sentry.sandbox.config import PID_MAX_LIMIT
    from sentry.sandbox.limits import Limits
    for key in ("memory", "cpu", "pids"):
        if res.get(key) is not None and not isinstance(res[key], dict):
            raise SandboxError(f"update: {key}: expected an object, got {type(res[key]).__name__}")
    mem = (res.get("memory") or {}).get("limit")
    cpu = res.get("cpu") or {}
    quota, period = cpu.get("quota"), cpu.get("period")
    pids = (res.get("pids") or {}).get("limit")
    for name, v in (("memory.limit", mem), ("cpu.quota", quota), ("cpu.period", period), ("pids.limit", pids)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise SandboxError(f"update: {name} must be an integer")
        # -1 is "unlimited" in runc's update (here: left as it is), 0 "not set".
        if v is not None and not -1 <= v < 1 << 63:
            raise SandboxError(f"update: {name} {v}: out of range (-1, 0 or a positive integer)")
    from sentry.oci.spec import cpu_period
    period = cpu_period(period, "update: cpu.period")
    if pids is not None and pids > PID_MAX_LIMIT:
        raise SandboxError(f"update: pids.limit {pids}: at most {PID_MAX_LIMIT} (the kernel's PID_MAX_LIMIT)")
    st = d.load()
    if status(d, st) == "stopped":
        raise SandboxError(f"container {d.id} is not running")
    if not st.cgroup:
        raise SandboxError(f"container {d.id} has no cgroup (linux.cgroupsPath)")
    cg = Cgroup.attach(st.cgroup)
    try:
        cg.update(Limits(memory=mem if mem and mem > 0 else None,
                         cpus=quota / period if quota and quota > 0 else None,
                         pids=pids if pids and pids > 0 else None))
    finally:
        cg.close()


def _freeze(st: State, frozen: bool) -> None:
    from sentry.sandbox.cgroups import Cgroup
    if not st.cgroup:
        raise SandboxError(f"container {st.id} has no cgroup")
    cg = Cgroup.attach(st.cgroup)
    try:
        cg.freeze(frozen)
    finally:
        cg.close()


def pause(d: Dir, frozen: bool) -> None:
    st = d.load()
    state = status(d, st)
    want = "running" if frozen else "paused"
    if state != want:
        raise SandboxError(f"container {d.id} is {state}, not {want}")
    _freeze(st, frozen)


def list_states(root: str) -> list[dict]:
    out: list[dict] = []
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return out
    except OSError as e:
        raise SandboxError(f"state directory {root}: {e.strerror}") from None
    for name in names:
        try:
            d = Dir(root, name)
            if d.exists():
                st = d.load()
                out.append(st.oci(status(d, st)))
        except SandboxError:
            continue
    return out


def start(d: Dir) -> None:
    st = d.load()
    state = status(d, st)
    if state != "created":
        raise SandboxError(f"cannot start a container that is {state}" if state != "stopped"
                           else f"cannot start container {d.id}: it has stopped")
    try:
        fd = os.open(d.fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise SandboxError(f"cannot start container {d.id}: its sentry is gone ({e.strerror})") from None
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    try:
        os.unlink(d.fifo)
    except FileNotFoundError:
        pass
    run_hooks(st.hooks.get("poststart", []), st.oci("running"), "poststart")
