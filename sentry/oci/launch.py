"""Starting a container's sentry: `create` (detached, waits for `start`),
`run` (in the foreground) and `exec` (a second sentry joining a running
container).

`create` forks the sentry and waits on a pipe until it reports the sandbox
built ("ok") or an error ("E..."), then exits: the sentry is reparented to
the engine's shim (a subreaper), which reaps it and reads the container's
exit status from it.  The sentry keeps the fds 0-2 `create` was given: they
are the container's stdio.

An exec gets its own sentry serving only the exec'd process: it joins the
container's pid, mount, uts, ipc and net namespaces and its cgroup, and
loads our filter the same way (sentry.init._join_container).

Facts relied upon: see sentry.oci.container (FIFO and pid reuse).  SCM_RIGHTS
over the engine's console socket hands it the pty master, as runc does.

Everything the caller gave (bundle, --pid-file, --console-socket, a
process.json) is checked before the sentry is forked; a step that still
fails after the fork kills and reaps the sentry before the error is
reported, so a failed command leaves no process and no state directory.
"""
from __future__ import annotations

import _socket  # not socket: see sentry/sandbox/protocol.py
import array
import os
import signal
import sys

from sentry import native
from sentry.abi.linux import CLONE_NEWUTS
from sentry.errors import SandboxError
from sentry.handlers import current
from sentry.oci import spec as ocispec
from sentry.oci.container import Dir, State, now, run_hooks, start_time, write_json
from sentry.sandbox import protocol
from sentry.sandbox.lifecycle import Lifecycle


class OciLife(Lifecycle):
    """The sentry's side of create/start: state.json, the start gate,
    createRuntime hooks, the console socket, exit.json."""

    def __init__(self, d: Dir, st: State, sp: ocispec.Spec, report: int | None, gate: bool,
                 console: _socket.socket | None):
        self.st, self.spec, self.report, self.console_sock = st, sp, report, console
        self.dir_fd = os.open(d.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.fifo = os.open(d.fifo, os.O_RDWR | os.O_CLOEXEC) if gate else -1
        self.reported = False

    def ready(self, init_pid: int) -> None:
        st = self.st
        st.pid, st.pid_start, st.init_pid = os.getpid(), start_time(os.getpid()), init_pid
        st.init_start, st.pid1 = start_time(init_pid), self.spec.cfg.pid1
        st.cgroup = self.spec.cfg.cgroup_path     # the sentry may have named it (host pid: it always has one)
        st.watcher = current.sandbox.watcher_pid  # host pid: an exec guards it too (handlers/signals.py)
        if self.spec.oom_score_adj is not None:
            _oom_score_adj(init_pid, self.spec.oom_score_adj)
        write_json(self.dir_fd, "state.json", st.__dict__)
        run_hooks(st.hooks.get("createRuntime", []), st.oci("created"), "createRuntime")
        self._report(protocol.REPORT_OK)
        if self.fifo >= 0:
            while True:           # wait for `start` (or to be killed)
                try:
                    if os.read(self.fifo, 1):
                        break
                except InterruptedError:
                    continue
            os.close(self.fifo)
        st.__dict__["started"] = now()
        write_json(self.dir_fd, "state.json", st.__dict__)
        if self.fifo < 0:             # `run`: no `start` command to run them
            run_hooks(st.hooks.get("poststart", []), st.oci("running"), "poststart")

    def _report(self, msg: bytes) -> None:
        if self.report is not None and not self.reported:
            try:
                os.write(self.report, msg)
            except OSError:
                pass
            os.close(self.report)
        self.reported = True

    def fail(self, message: str) -> None:
        if not self.reported and self.report is not None:
            self._report(protocol.error(message))
            return
        sys.stderr.write(f"pysandbox: {message}\n")
        if self.reported and hasattr(self, "dir_fd"):
            # Started, then failed (e.g. process.cwd or args[0] unusable):
            # still a stopped container with a status and a reason.
            try:
                write_json(self.dir_fd, "exit.json", {"status": 255, "finishedAt": now(),
                                                      "oomKilled": False, "error": message})
            except OSError:
                pass

    def console(self, master: int) -> bool:
        if self.console_sock is None:
            return False
        try:
            self.console_sock.sendmsg([b"/dev/ptmx"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                                        array.array("i", [master]))])
        except OSError as e:
            raise SandboxError(f"--console-socket: cannot send the terminal: {e.strerror}") from None
        finally:
            os.close(master)
            self.console_sock.close()
        return True

    def exited(self, status: int, oom: bool) -> None:
        write_json(self.dir_fd, "exit.json", {"status": status, "finishedAt": now(), "oomKilled": oom})


def _oom_score_adj(pid: int, value: int) -> None:
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as e:
        raise SandboxError(f"process.oomScoreAdj {value}: {e.strerror} (lowering it needs CAP_SYS_RESOURCE; "
                           "containerd: restrict_oom_score_adj = true)") from None


def _uts_hostname(path: str | None) -> str:
    """The hostname in the uts namespace at path (None: ours)."""
    if path is None:
        return _socket.gethostname()
    own = os.open("/proc/self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        os.close(own)
        raise SandboxError(f"linux.namespaces: uts path {path}: {e.strerror}") from None
    try:
        native.setns(target, CLONE_NEWUTS)
        try:
            return _socket.gethostname()
        finally:
            native.setns(own, CLONE_NEWUTS)
    finally:
        os.close(target)
        os.close(own)


def prepare(root: str, cid: str, bundle: str, platform: str) -> tuple[Dir, State, ocispec.Spec]:
    """Load the bundle and make the state directory (error if the id is taken)."""
    from sentry import inputs
    inputs.check_dir(root, "--root")
    d = Dir(root, cid)
    if os.path.lexists(d.path):
        raise SandboxError(f"container with id {cid} already exists")
    bundle = os.path.abspath(inputs.check_dir(bundle, "--bundle", must_exist=True))
    sp = ocispec.load(bundle, platform)
    rootfs = sp.cfg.rootfs
    if rootfs is None:              # load() sets it from root.path; checked before anything is made
        raise SandboxError(f"bundle {bundle}: config.json names no root filesystem (root.path)")
    if not sp.cfg.hostname:
        sp.cfg.hostname = _uts_hostname(sp.cfg.join.get("uts"))
    if "pid" in sp.cfg.join:
        path = _shared_pid_namespace(root, sp.cfg.join["pid"])
        if path is None:              # the host's, by path: as if the entry were absent
            del sp.cfg.join["pid"]
            sp.cfg.host_pid = True
        else:
            sp.cfg.join["pid"] = path
    try:
        os.makedirs(root, 0o711, exist_ok=True)
        os.mkdir(d.path, 0o711)
    except FileExistsError:
        raise SandboxError(f"container with id {cid} already exists") from None
    except OSError as e:
        raise SandboxError(f"--root {root}: cannot make the state directory: {e.strerror}") from None
    st = State(id=cid, bundle=bundle, rootfs=rootfs, created=now(), cgroup=sp.cfg.cgroup_path,
               annotations=sp.annotations, platform=platform,
               hooks={k: [h.to_json() for h in v] for k, v in sp.hooks.items()})
    return d, st, sp


def _shared_pid_namespace(root: str, path: str) -> str | None:
    """An engine asks a pod's containers to join /proc/PID/ns/pid of the pod's
    first container, PID being what `state` said: its sentry, which lives
    in the host's pid namespace.  That means the container's own (its
    init's).  None: the path names the host's pid namespace itself (or a
    container's that is the host's), which runc would join: the container
    runs in the host's pid namespace as if the entry were absent (cfg.host_pid),
    never as a plain member of it without the cgroup that ends it."""
    from sentry.oci.container import list_states
    own = os.stat("/proc/self/ns/pid")

    def is_host(p: str) -> bool:
        try:
            target = os.stat(p)
        except OSError as e:
            raise SandboxError(f"linux.namespaces: pid path {p}: {e.strerror}") from None
        return (target.st_dev, target.st_ino) == (own.st_dev, own.st_ino)

    if not is_host(path):
        return path
    parts = path.split("/")
    if len(parts) == 5 and parts[1] == "proc" and parts[2].isdigit() and parts[3:] == ["ns", "pid"]:
        for state in list_states(root):
            if state["pid"] == int(parts[2]):
                st = Dir(root, state["id"]).load()
                init = f"/proc/{st.init_pid}/ns/pid"
                return None if is_host(init) else init
    return None


def _connect_console(path: str | None) -> _socket.socket | None:
    if not path:
        return None
    from sentry import inputs
    inputs.check_socket(path, "--console-socket")
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise SandboxError(f"--console-socket {path}: {e.strerror}") from None
    return s


def write_pid_file(path: str | None, pid: int) -> None:
    """Atomically: the engine reads it as soon as we exit."""
    if not path:
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(str(pid))
        os.rename(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SandboxError(f"--pid-file {path}: {e.strerror}") from None


def create(root: str, cid: str, bundle: str, pid_file: str | None, console_socket: str | None,
           platform: str) -> int:
    """`create`: returns the sentry's pid once the container is created."""
    from sentry.sandbox.lifecycle import run as run_sandbox
    d, st, sp = prepare(root, cid, bundle, platform)
    pid = 0
    try:
        if sp.cfg.tty and not console_socket:
            raise SandboxError("process.terminal is true: create needs --console-socket")
        os.mkfifo(d.fifo, 0o600)
        console = _connect_console(console_socket) if sp.cfg.tty else None
        r, w = os.pipe2(os.O_CLOEXEC)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _sentry(lambda life: run_sandbox(sp.cfg, life), lambda: OciLife(d, st, sp, w, True, console))
        os.close(w)
        if console is not None:
            console.close()
        err = protocol.parse_report(_read_all(r))
        if err is not None:
            _reap(pid)
            raise SandboxError(err or "the sentry exited before the container was created")
        write_pid_file(pid_file, pid)
        return pid
    except BaseException:
        import shutil
        if pid:
            _reap(pid)            # its sandbox dies with it
        shutil.rmtree(d.path, ignore_errors=True)
        raise


def _sentry(body, make_life) -> None:
    """The forked sentry: never returns.  The Lifecycle is made here, so
    that nothing it raises can unwind into the caller's code in the child."""
    status, life = 1, None
    try:
        os.setsid()
        _close_inherited_fds()
        life = make_life()
        status = body(life)
    except SandboxError as e:
        _fail(life, str(e))
    except BaseException:
        import traceback  # only on this path: ~1 ms of every create
        _fail(life, "internal error in the sentry:\n" + traceback.format_exc())
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def _fail(life: OciLife | None, message: str) -> None:
    if life is not None:
        life.fail(message)
    else:
        sys.stderr.write(f"pysandbox: {message}\n")


def _close_inherited_fds() -> None:
    """Close what our caller's exec handed us beyond stdio.  The sentry
    outlives `create`, and containerd's runc shim runs us with its ttrpc
    listening socket as an inheritable fd 3: kept open, a shim that died
    would still seem to accept connections.  Every fd Python opens is
    O_CLOEXEC (PEP 446), so the inheritable ones are exactly the inherited
    ones (--preserve-fds is not implemented: nothing is passed on)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                os.close(fd)
        except OSError:
            pass


def _read_all(fd: int) -> bytes:
    """protocol.REPORT_OK as soon as it comes (the sandbox's init may still hold the
    pipe's write end), else everything up to EOF: an error."""
    chunks: list[bytes] = []
    while True:
        try:
            b = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not b or (not chunks and b == protocol.REPORT_OK):
            chunks.append(b)
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks)


def _reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def run_foreground(root: str, cid: str, bundle: str, pid_file: str | None, platform: str,
                   keep: bool = False) -> int:
    """`run`: create and start, wait, delete (unless keep).  The sentry is
    a child: it ends up in the sandbox's mount namespace, and the state
    directory must be removed from ours."""
    from sentry.oci.container import delete
    from sentry.sandbox.lifecycle import FORWARDED
    from sentry.sandbox.lifecycle import run as run_sandbox
    d, st, sp = prepare(root, cid, bundle, platform)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _sentry(lambda life: run_sandbox(sp.cfg, life), lambda: OciLife(d, st, sp, None, False, None))
        try:
            write_pid_file(pid_file, pid)
        except SandboxError:
            _reap(pid)
            raise
        for sig in FORWARDED:
            signal.signal(sig, lambda s, _f: _forward(pid, s))
        while True:
            try:
                _, wstatus = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        return os.waitstatus_to_exitcode(wstatus) if os.WIFEXITED(wstatus) else 128 + os.WTERMSIG(wstatus)
    finally:
        if not keep:
            delete(d, force=True, ended=True)


def _forward(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def exec_process(root: str, cid: str, process: dict, detach: bool, pid_file: str | None,
                 console_socket: str | None) -> int:
    """`exec`: run `process` (an OCI Process object) in the running
    container under a sentry of its own.  Returns its exit status, or 0
    once started with detach."""
    from sentry.oci.container import status as container_status
    from sentry.sandbox.config import RunConfig
    from sentry.sandbox.lifecycle import run as run_sandbox
    ocispec.check_process(process)
    ocispec._process(RunConfig(argv=[]), process)     # its errors first, before the container's
    d = Dir(root, cid)
    st = d.load()
    state = container_status(d, st)
    if state != "running":
        raise SandboxError(f"cannot exec in a container that is {state}")
    sp = ocispec.load(st.bundle, st.platform)
    cfg = sp.cfg
    cfg.rlimits, cfg.groups = [], []
    ocispec._process(cfg, process)
    cfg.exec_in = st.init_pid
    cfg.pid1 = False          # a member of the container's pid namespace, under an init of its own
    cfg.cgroup_path = st.cgroup    # the container's (one the sentry named, for a host-pid container)
    cfg.guard_pids = (st.pid, st.watcher)
    if cfg.uid_map:
        from sentry.oci.container import workload_pid
        pid = workload_pid(st)
        if pid is None:
            raise SandboxError(f"cannot exec in container {cid}: its process is gone")
        cfg.userns_path = f"/proc/{pid}/ns/user"
    cfg.sysctls, cfg.devices = {}, []
    if not cfg.hostname:
        cfg.hostname = _uts_hostname(f"/proc/{st.init_pid}/ns/uts")
    if cfg.tty and detach and not console_socket:
        raise SandboxError("process.terminal is true: a detached exec needs --console-socket")
    console = _connect_console(console_socket) if cfg.tty and console_socket else None
    if not detach:
        write_pid_file(pid_file, os.getpid())
        return run_sandbox(cfg, _ExecLife(None, console))
    r, w = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _sentry(lambda life: run_sandbox(cfg, life), lambda: _ExecLife(w, console))
    os.close(w)
    if console is not None:
        console.close()
    err = protocol.parse_report(_read_all(r))
    try:
        if err is not None:
            raise SandboxError(err or "the exec sentry exited before the process started")
        write_pid_file(pid_file, pid)
    except SandboxError:
        _reap(pid)
        raise
    return 0


class _ExecLife(OciLife):
    def __init__(self, report: int | None, console: _socket.socket | None):
        self.report, self.console_sock, self.reported = report, console, False
        self.fifo = -1

    def ready(self, init_pid: int) -> None:
        self._report(protocol.REPORT_OK)

    def exited(self, status: int, oom: bool) -> None:
        pass


def load_process(path: str) -> dict:
    from sentry import inputs
    return inputs.read_json(path, "--process", limit=1 << 20)
