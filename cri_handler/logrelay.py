"""The log relay: a small process per container that copies the container's
stdout and stderr into its CRI log file (format: cri_handler/logs.py), and
serves its attach socket (cri_handler/attach.py), like containerd's shim or
CRI-O's conmon.

    python -m cri_handler.logrelay [--log PATH] [--stdout FD|FIFO] [--stderr FD|FIFO]
                                   [--console FD] [--attach FD] [--stdin FD] [--stdin-once]
                                   [--pid-file P] [--detach] [--gate FD]

Facts and choices this module relies on:
- It outlives the CRI daemon. A daemon restart must not cut a container's
  output: a pipe whose reader is gone would give the container EPIPE or block
  it. So the relay does not run inside the daemon. It runs in its own session
  (setsid) with its stdio on /dev/null, and ignores SIGHUP and SIGINT. With
  --detach it forks once more, so it is reparented (to init or the nearest
  subreaper) and the daemon never has to reap it.
- Input: an inherited fd number, or a path. A FIFO path is opened O_RDONLY,
  which blocks until the container opens the write side, so the relay can
  start before the container does. read() returns 0 only when every writer has
  closed: that is EOF, and it comes once the container and all its children are done.
- The relay exits 0 when both streams have reached EOF. It writes what is left
  of an unfinished last line as P, and removes its pid file.
- SIGUSR1 makes it reopen the log (the kubelet's ReopenContainerLog after a
  rename). The handler runs in the main thread, which holds no lock; the
  reader threads take the writer's lock. SIGTERM flushes and exits at once.
- --gate FD (start_gated): the relay starts (a Python start-up, tens of ms)
  while the CRI server runs `pysandbox-oci create`, but reads nothing
  until the server writes one byte to the gate: what reaches the pipes
  before that is the runtime's complaint about a failed create, which the
  server reads back itself.  EOF on the gate (create failed, or the server
  died) makes the relay exit without reading, removing the log file if it
  made it and it is still empty.
- An unhandled SIGUSR1 kills a process, and a pid can be reused. So
  reopen_log() first checks /proc/PID/cmdline. spawn_relay() returns only
  after the handlers are installed.
- A tty container (--console FD: a listening socket whose path was
  `create --console-socket`): once past the gate, the relay accepts the
  runtime's connection and takes the pty master it sent.  The terminal
  merges stdout and stderr, so its output is logged as stdout; read()
  on the master fails with EIO once every slave fd is closed (the
  container is done): that is its EOF.  --stderr then carries only what the
  runtime and the sentry themselves write.
- --attach FD: the listening attach socket; --stdin FD: the write end of a
  non-tty container's stdin pipe, held here so that the container's stdin
  outlives a server restart and Attach can write to it (--stdin-once: see
  cri_handler/attach.py).  Without --log the output only goes to attach
  clients.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import types

from cri_handler import attach
from cri_handler.logs import CRILogWriter
from sentry.record import record

MODULE = "cri_handler.logrelay"
# The relay's own start-up is on StartContainer's path (the server waits for
# its pid): the daemon-side functions here import subprocess where they use it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess


@record
class Relay:
    pid: int
    stdout_w: int    # give these to the container (they are not inheritable:
    stderr_w: int    # use pass_fds or dup2), then close them in the daemon


class RelayError(Exception):
    pass


def spawn_relay(log_path: str, pid_file: str | None = None, timeout: float = 10.0) -> Relay:
    """Start a detached relay writing log_path, and return its pid and the
    write ends of its stdout/stderr pipes. Raises RelayError if it cannot start
    (for example, the log's directory does not exist)."""
    import subprocess
    parent = os.path.dirname(os.path.abspath(log_path))
    if not os.path.isdir(parent):
        raise RelayError(f"log directory {parent} does not exist")
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    cmd = [sys.executable, "-m", MODULE, "--log", os.path.abspath(log_path),
           "--stdout", str(out_r), "--stderr", str(err_r), "--detach"]
    if pid_file:
        cmd += ["--pid-file", os.path.abspath(pid_file)]
    try:
        proc = subprocess.run(cmd, pass_fds=(out_r, err_r), stdin=subprocess.DEVNULL,
                              capture_output=True, cwd="/", env=_env(), start_new_session=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        os.close(out_w)
        os.close(err_w)
        raise RelayError(f"cannot start the log relay: {e}") from None
    finally:
        os.close(out_r)
        os.close(err_r)
    out = proc.stdout.decode().strip()
    if proc.returncode != 0 or not out.isdigit():
        os.close(out_w)
        os.close(err_w)
        why = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise RelayError(f"log relay for {log_path} failed to start: {why}")
    return Relay(int(out), out_w, err_w)


@record
class GatedRelay:
    proc: subprocess.Popen     # the launcher: prints the relay's pid, then exits
    gate_w: int                # one byte: read; EOF: give up
    log_path: str


def start_gated(log_path: str, out_r: int, err_r: int, *, console: int = -1, attach_fd: int = -1,
                stdin_w: int = -1, stdin_once: bool = False) -> GatedRelay:
    """Start a detached relay on the caller's fds (they stay the caller's
    too; -1: not given; log_path "": no log), gated: see the module
    docstring.  Returns at once; then open_gate() or abort().  Raises
    RelayError if it cannot be started."""
    import subprocess
    gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
    cmd = [sys.executable, "-m", MODULE, "--gate", str(gate_r), "--detach"]
    if log_path:
        cmd += ["--log", os.path.abspath(log_path)]
    fds = [gate_r]
    for flag, fd in (("--stdout", out_r), ("--stderr", err_r), ("--console", console),
                     ("--attach", attach_fd), ("--stdin", stdin_w)):
        if fd >= 0:
            cmd += [flag, str(fd)]
            fds.append(fd)
    if stdin_once:
        cmd.append("--stdin-once")
    try:
        proc = subprocess.Popen(cmd, pass_fds=fds, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/", env=_env(),
                                start_new_session=True)
    except OSError as e:
        os.close(gate_w)
        raise RelayError(f"cannot start the log relay: {e}") from None
    finally:
        os.close(gate_r)
    return GatedRelay(proc, gate_w, log_path)


def open_gate(relay: GatedRelay, timeout: float = 30.0) -> int:
    """Let the relay read; its pid once it runs (RelayError if it did not start)."""
    import subprocess
    try:
        os.write(relay.gate_w, b"g")
    except OSError:
        pass                    # it died: the launcher says why below
    finally:
        os.close(relay.gate_w)
    try:
        out, err = relay.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        relay.proc.kill()
        relay.proc.communicate()
        raise RelayError(f"the log relay for {relay.log_path} did not start within {timeout:.0f}s") from None
    text = out.decode().strip()
    if relay.proc.returncode != 0 or not text.isdigit():
        why = err.decode(errors="replace").strip() or f"exit status {relay.proc.returncode}"
        raise RelayError(f"the log relay for {relay.log_path} failed to start: {why}")
    return int(text)


def abort(relay: GatedRelay, timeout: float = 5.0) -> None:
    """The create failed: the relay exits without reading (EOF on its gate).
    Returns once it has (so its removal of the empty log file cannot hit
    the file of a retried CreateContainer's relay)."""
    import subprocess
    os.close(relay.gate_w)
    try:
        out, _ = relay.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        relay.proc.kill()
        relay.proc.communicate()
        return
    text = out.decode().strip()
    if relay.proc.returncode == 0 and text.isdigit():
        _wait_exit(int(text), timeout)


def _wait_exit(pid: int, timeout: float) -> None:
    """Wait for a process that is not our child (a pidfd becomes readable at its exit)."""
    import select
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return                  # gone already
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def _env() -> dict:
    # The daemon may run from anywhere, and the editable install may not map
    # this package: let the relay import the same code the daemon runs.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))


def is_relay(pid: int, log_path: str) -> bool:
    """Whether pid is a live relay writing log_path (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return MODULE.encode() in args and os.path.abspath(log_path).encode() in args


def reopen_log(pid: int, log_path: str, timeout: float = 2.0) -> None:
    """Make relay pid reopen log_path, and wait until it has the file now at
    that path open: the CRI ReopenContainerLog contract is synchronous."""
    if not is_relay(pid, log_path):
        raise ProcessLookupError(f"no log relay with pid {pid} writes {log_path}")
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while True:
        if _holds(pid, log_path):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"log relay {pid} did not reopen {log_path} within {timeout}s")
        time.sleep(0.005)


def _holds(pid: int, path: str) -> bool:
    try:
        want = os.stat(path)
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            return True
    return False


# -- the relay process ------------------------------------------------------------
def _source(spec: str) -> int | str:
    """An fd number (checked open now), or a path (opened by the reader thread)."""
    if spec.isdigit():
        os.fstat(int(spec))          # EBADF now, not later in a thread
        return int(spec)
    if not os.path.exists(spec):
        raise FileNotFoundError(f"{spec} does not exist")
    return spec


class _NoLog:
    """The writer when there is no log file (output for attach clients only)."""

    def write(self, stream: str, data: bytes) -> None:
        pass

    def end_stream(self, stream: str) -> None:
        pass

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def _copy(writer, hub, name: str, stream: str, source: int | str, done: threading.Event,
          remaining: list) -> None:
    fd = -1
    try:
        fd = source if isinstance(source, int) else os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        while data := os.read(fd, 65536):
            writer.write(stream, data)
            if hub is not None:
                hub.publish(stream, data)
    except OSError as e:             # EIO from a hung-up tty and the like: treat as EOF
        if name != "console":        # EIO is the normal end of a pty
            print(f"logrelay: reading {name}: {e}", file=sys.stderr)
    finally:                         # whatever happened, this source is done
        if fd >= 0 and name != "console":
            os.close(fd)             # (the master stays open: it is the hub's input too)
        writer.end_stream(stream)
        remaining.remove(name)
        if not remaining:
            done.set()


def _write_pid_file(path: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, path)            # readers never see a half-written file


def _remove_pid_file(path: str | None) -> None:
    try:
        if path and open(path).read().strip() == str(os.getpid()):
            os.unlink(path)
    except OSError:
        pass


def _detach(pid_file: str | None) -> None:
    """Fork. The parent prints the child's pid once the child is ready, then
    exits. The child runs on in a new session, with its stdio on /dev/null."""
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child:
        os.close(ready_w)
        ok = os.read(ready_r, 2) == b"ok"
        if ok:
            print(child, flush=True)
        else:
            print("logrelay: the relay exited before it was ready", file=sys.stderr, flush=True)
        os._exit(0 if ok else 1)
    os.close(ready_r)
    os.setsid()
    if pid_file:
        _write_pid_file(pid_file)
    os.write(ready_w, b"ok")
    os.close(ready_w)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _pass_gate(fd: int) -> bool:
    while True:
        try:
            got = os.read(fd, 1)
            break
        except InterruptedError:
            continue
        except OSError:
            got = b""
            break
    os.close(fd)
    return bool(got)


def _remove_if_empty(path: str) -> None:
    try:
        if os.stat(path).st_size == 0:
            os.unlink(path)
    except OSError:
        pass


# The command line (the module docstring's): options taking a value, as
# `--name VALUE` or `--name=VALUE`, and two flags.  Not argparse: with the
# `re` it imports it was a fifth of the relay's start-up and 1.4 MB of the
# memory it keeps, which every container with a log pays.
_OPTIONS = {"--log": str, "--stdout": str, "--stderr": str, "--console": int, "--attach": int,
            "--stdin": int, "--pid-file": str, "--gate": int}
_FLAGS = ("--stdin-once", "--detach")


class UsageError(Exception):
    pass


def parse_args(argv) -> types.SimpleNamespace:
    """argv as attributes (log, stdout, ..., stdin_once, detach); UsageError
    naming what is wrong."""
    args: dict = {name[2:].replace("-", "_"): None for name in _OPTIONS}
    args.update({name[2:].replace("-", "_"): False for name in _FLAGS})
    it = iter(argv)
    for arg in it:
        name, eq, value = arg.partition("=")
        key = name[2:].replace("-", "_")
        if name in _FLAGS and not eq:
            args[key] = True
        elif name in _OPTIONS:
            if not eq:
                value = next(it, None)
                if value is None:
                    raise UsageError(f"{name} needs a value")
            try:
                args[key] = _OPTIONS[name](value)
            except ValueError:
                raise UsageError(f"{name}: not a file descriptor number: {value!r}") from None
        else:
            raise UsageError(f"unknown argument {arg!r}")
    if not (args["stdout"] or args["stderr"] or args["console"] is not None):
        raise UsageError("nothing to relay: give --stdout, --stderr or --console")
    return types.SimpleNamespace(**args)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    try:
        args = parse_args(argv)
    except UsageError as e:
        print(f"logrelay: {e} (see python -m {MODULE} --help)", file=sys.stderr)
        return 2
    try:
        sources = {name: _source(spec) for name, spec in (("stdout", args.stdout), ("stderr", args.stderr))
                   if spec}
        for fd in (args.gate, args.console, args.attach, args.stdin):
            if fd is not None:
                os.fstat(fd)
        existed = bool(args.log) and os.path.exists(args.log)
        writer = CRILogWriter(args.log) if args.log else _NoLog()
    except OSError as e:
        print(f"logrelay: {e}", file=sys.stderr)
        return 1

    done = threading.Event()

    def on_usr1(signum, frame):
        try:
            writer.reopen()
        except OSError as e:
            print(f"logrelay: reopening {args.log}: {e}", file=sys.stderr)

    def on_term(signum, frame):
        done.set()

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)
    if args.detach:
        # The daemon's terminal or process group going away must not end us.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _detach(args.pid_file)
    elif args.pid_file:
        _write_pid_file(args.pid_file)

    if args.gate is not None and not _pass_gate(args.gate):
        writer.close()
        if args.log and not existed:
            _remove_if_empty(args.log)
        _remove_pid_file(args.pid_file)
        return 0
    streams = {name: name for name in sources}
    master = attach.receive_console(args.console) if args.console is not None else -1
    if master >= 0:
        sources["console"], streams["console"] = master, "stdout"
    hub = None
    if args.attach is not None:
        stdin = master if master >= 0 else (args.stdin if args.stdin is not None else -1)
        hub = attach.Hub(socket.socket(fileno=args.attach), stdin, master >= 0, args.stdin_once)
        hub.start()
    remaining = list(sources)
    if not remaining:
        done.set()
    for name, source in sources.items():
        threading.Thread(target=_copy, args=(writer, hub, name, streams[name], source, done, remaining),
                         daemon=True, name=f"relay-{name}").start()
    done.wait()    # signal handlers run during a lock wait (POSIX, Python >= 3.2)
    if hub is not None:
        hub.close()
    writer.close()
    _remove_pid_file(args.pid_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
