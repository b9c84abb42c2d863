"""Driving the OCI runtime (`pysandbox-oci`, runc's command line) from the CRI server.

create and exec fork a sentry: they run `pysandbox-oci` as a short-lived
process, as containerd's shim runs runc, and its errors come back as the
JSON lines it appends to `--log` (runc's --log-format json), so the message
a client sees is the runtime's own.  The process comes from the launcher
(cri_handler.spawn, cri_handler.zygote: the runtime's imports paid once)
when the binary is the console script beside our Python, else, and
whenever the launcher cannot serve, from a subprocess.

start, kill, delete, update and reading the state fork nothing: they are
file operations, signals and cgroup writes, done here in-process with
sentry.oci.container, the library the CLI's commands are thin layers over
(a process would cost a Python start-up, ~40-60 ms, per call).  Errors keep
the CLI's wording ("pysandbox-oci start: ..."), so "does not exist" still
tells a missing container.  Calls on one container are serialised by a lock
per id, so that, say, a kill never runs while a delete removes the state
directory under it; the Containers layer above also holds its op_lock.

The runtime's state directory is part of its contract (R/ID/state.json
with the sentry's pid, its start time, init's host pid and "started";
R/ID/exit.json once the container's process is gone).

Facts relied upon:
- The sentry's pid stays valid to wait on with a pidfd (pidfd_open(2),
  Linux 5.3) even though it is not our child: the fd becomes readable when
  the process exits.  A recorded (pid, start time) pair tells a reused pid
  from the sentry (see sentry.oci.container).
- `update` maps a LinuxResources object to cgroup limits exactly as
  `pysandbox-oci update --resources` does (sentry.oci.container.update):
  memory.limit, cpu.quota/cpu.period as a CPU fraction, pids.limit; a
  non-positive value leaves that limit alone.
"""
from __future__ import annotations

import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from cri_handler import spawn
from cri_handler.errors import RuntimeFailure
from sentry.errors import SandboxError

log = logging.getLogger(__name__)

CALL_TIMEOUT = 60.0


@dataclass
class OciState:
    status: str                 # created | running | paused | stopped | absent
    pid: int = 0                # the sentry
    pid_start: int = 0
    started: str = ""           # RFC 3339, once started
    exit: dict | None = None    # exit.json, once written
    init_pid: int = 0           # the container's pid 1 (host pid), while it runs


def find_binary(explicit: str | None = None) -> str:
    """The pysandbox-oci to run: explicit, else the one beside our Python
    (the venv's console script), else PATH."""
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "pysandbox-oci")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("pysandbox-oci")
    if not found:
        raise RuntimeFailure("pysandbox-oci not found beside the Python running the server nor in PATH")
    return found


class OciRuntime:
    def __init__(self, root: str, binary: str | None = None, platform: str | None = None,
                 launcher: bool = True):
        self.root = root
        self.binary = find_binary(binary)
        self.platform = platform
        self._locks: dict[str, threading.Lock] = {}
        self._locks_mu = threading.Lock()
        os.makedirs(root, 0o711, exist_ok=True)
        self.spawner = spawn.Spawner(self.binary) if launcher else None

    def close(self) -> None:
        if self.spawner is not None:
            self.spawner.close()

    def popen(self, argv, stdin: int = -1, stdout: int = -1, stderr: int = -1,
              new_session: bool = False) -> spawn.Child:
        """argv (self.binary first) through the launcher or as a subprocess; fds -1: /dev/null."""
        if self.spawner is not None:
            return self.spawner.start(argv, stdin, stdout, stderr, new_session)
        return spawn.subprocess_child(argv, stdin, stdout, stderr, new_session)

    # -- commands -------------------------------------------------------------

    def _base(self, log_file: str) -> list[str]:
        cmd = [self.binary, "--root", self.root, "--log", log_file, "--log-format", "json"]
        if self.platform:
            cmd += ["--platform", self.platform]
        return cmd

    def _call(self, what: str, args: list[str], *, stdin: int, stdout: int, stderr: int,
              timeout: float = CALL_TIMEOUT) -> None:
        fd, log_file = tempfile.mkstemp(prefix="oci-", suffix=".log", dir=self.root)
        os.close(fd)
        try:
            try:
                child = self.popen(self._base(log_file) + args, stdin, stdout, stderr)
            except OSError as e:
                raise RuntimeFailure(f"cannot run {self.binary}: {e.strerror}") from None
            try:
                code = child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.signal_group(signal.SIGKILL)
                try:
                    child.wait()
                except spawn.LostChild:
                    pass
                raise RuntimeFailure(f"pysandbox-oci {what}: no answer within {timeout:.0f}s") from None
            except spawn.LostChild as e:
                raise RuntimeFailure(f"pysandbox-oci {what}: {e}") from None
            if code != 0:
                raise RuntimeFailure(f"pysandbox-oci {what}: {self._message(log_file, code)}")
        finally:
            try:
                os.unlink(log_file)
            except OSError:
                pass

    @staticmethod
    def _message(log_file: str, code: int) -> str:
        msgs = []
        try:
            with open(log_file) as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("level") == "error" and entry.get("msg"):
                        msgs.append(str(entry["msg"]))
        except OSError:
            pass
        return "; ".join(msgs) or f"exit status {code}"

    def create(self, cid: str, bundle: str, stdin: int, stdout: int, stderr: int,
               console_socket: str = "") -> int:
        """Returns the sentry's pid.  stdin/stdout/stderr (fds) become the
        container's stdio, or with process.terminal the sentry's own: then
        the pty master goes to the unix socket at console_socket (SCM_RIGHTS)."""
        pid_file = os.path.join(bundle, "sentry.pid")
        console = ["--console-socket", console_socket] if console_socket else []
        self._call("create", ["create", "--bundle", bundle, "--pid-file", pid_file, *console, cid],
                   stdin=stdin, stdout=stdout, stderr=stderr)
        with open(pid_file) as f:
            return int(f.read().strip() or 0)

    # -- in-process commands (no fork) ----------------------------------------

    def _lock(self, cid: str) -> threading.Lock:
        with self._locks_mu:
            return self._locks.setdefault(cid, threading.Lock())

    def _inproc(self, what: str, cid: str, fn, *args):
        """Run sentry.oci.container.<fn>(Dir, *args) under the container's
        lock; SandboxError/OSError -> RuntimeFailure with the CLI's wording."""
        from sentry.oci import container as ct
        with self._lock(cid):
            try:
                return fn(ct.Dir(self.root, cid), *args)
            except SandboxError as e:
                raise RuntimeFailure(f"pysandbox-oci {what}: {e}") from None
            except OSError as e:
                where = f"{e.filename}: " if e.filename else ""
                raise RuntimeFailure(f"pysandbox-oci {what}: {where}{e.strerror or e}") from None

    def start(self, cid: str) -> None:
        from sentry.oci import container as ct
        self._inproc("start", cid, ct.start)

    def kill(self, cid: str, sig: int, all_procs: bool = False) -> None:
        from sentry.oci import container as ct
        self._inproc("kill", cid, ct.kill, int(sig), all_procs)

    def delete(self, cid: str, force: bool = True) -> None:
        from sentry.oci import container as ct
        try:
            self._inproc("delete", cid, ct.delete, force)
        finally:
            with self._locks_mu:
                self._locks.pop(cid, None)

    def update(self, cid: str, resources: dict) -> None:
        self._inproc("update", cid, _update, resources)

    def exec_argv(self, cid: str, process_file: str) -> list[str]:
        """The command line of a foreground exec (its stdio is the process's);
        errors go to its stderr (the caller's stream)."""
        cmd = [self.binary, "--root", self.root]
        if self.platform:
            cmd += ["--platform", self.platform]
        return cmd + ["exec", "--process", process_file, cid]

    def exec_process(self, cid: str, process_file: str, stdin: int = -1, stdout: int = -1,
                     stderr: int = -1) -> spawn.Child:
        """Start a foreground exec in a session of its own (so that
        signal_group reaches whatever it started outside the sandbox)."""
        return self.popen(self.exec_argv(cid, process_file), stdin, stdout, stderr, new_session=True)

    # -- state, read from the runtime's state directory ------------------------

    def state(self, cid: str) -> OciState:
        from sentry.oci import container as ct
        try:
            d = ct.Dir(self.root, cid)
        except SandboxError:
            return OciState("absent")
        if not d.exists():
            return OciState("absent")
        try:
            st = d.load()
            status = ct.status(d, st)
        except SandboxError:
            return OciState("absent")
        started = ""
        try:
            with open(os.path.join(d.path, "state.json")) as f:
                started = json.load(f).get("started") or ""
        except (OSError, ValueError):
            pass
        return OciState(status, st.pid, st.pid_start, started, d.exit_info() if status == "stopped" else None,
                        st.init_pid if status != "stopped" else 0)

    def wait(self, cid: str, timeout: float) -> bool:
        """Wait up to timeout for the container's sentry to exit; True if it has."""
        st = self.state(cid)
        if st.status in ("stopped", "absent"):
            return True
        try:
            pidfd = os.pidfd_open(st.pid)
        except (ProcessLookupError, OSError):
            return True
        try:
            from sentry.oci.container import start_time
            if start_time(st.pid) != st.pid_start:
                return True
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                r, _, _ = select.select([pidfd], [], [], left)
                if r:
                    return True
        finally:
            os.close(pidfd)


def _update(d, res: dict) -> None:
    """`pysandbox-oci update --resources` in-process (see the module docstring)."""
    from sentry.oci import container as ct
    ct.update(d, res)


def signal_to_cri(number: int) -> int:
    """Signal number -> CRI Signal enum (its first name for the number: SIGABRT, not SIGIOT)."""
    from cri_handler.v1 import api_pb2
    for value in api_pb2.Signal.values():
        if value and signal_from_cri(value) == number:
            return value
    return api_pb2.RUNTIME_DEFAULT


def signal_from_cri(value: int, default: int = signal.SIGTERM) -> int:
    """CRI Signal enum -> signal number (RUNTIME_DEFAULT -> default)."""
    from cri_handler.v1 import api_pb2
    if not value:
        return default
    name = api_pb2.Signal.Name(value)
    if name.startswith("SIGRTMINPLUS"):
        return signal.SIGRTMIN + int(name[len("SIGRTMINPLUS"):])
    if name.startswith("SIGRTMAXMINUS"):
        return signal.SIGRTMAX - int(name[len("SIGRTMAXMINUS"):])
    return int(getattr(signal, {"SIGCLD": "SIGCHLD", "SIGPOLL": "SIGIO"}.get(name, name)))
