"""The launcher ("zygote"): a pre-imported Python that becomes `pysandbox-oci ARGV` on request.

Run by the CRI server (cri_handler.spawn) as

    python -c BOOT FD BINDIR ROOT PRELOAD

it imports the PRELOAD modules (what `pysandbox-oci create`, its sentry
and `exec` import), then serves the daemon on FD, its end of a
SOCK_SEQPACKET socketpair.  A request is one JSON message {"id", "argv",
"env", "cwd", "umask", "rlimits", "session"} carrying the child's fds 0, 1,
2 (SCM_RIGHTS).  The launcher forks a child that sets itself up as a fresh
process of the console script argv[0] would be, and runs that script (its
imports already done).  Answers: {"id", "pid"} with a pidfd of the child
and its "go" pipe; later {"id", "exit"}, the status as subprocess reports
it (negative: killed by that signal); or {"id", "errno", "error"} if the
child could not be set up (as Popen raises OSError for a cwd that is gone).
A sentry is always a fresh, single-threaded process: the launcher has one
thread and forks; it never runs a sentry itself.

Facts relied upon:
- fork(2) of a single-threaded process copies it whole: the child has one
  thread, the imported modules, and no lock held by another thread (there
  is none).  Python's os.fork reseeds `random` and resets threading state
  in the child.  Pending signals are not inherited; PR_SET_PDEATHSIG is
  cleared (so the launcher never sets it: its death must not kill anything).
- The child is made what the subprocess was (subprocess.Popen with
  close_fds=True, restore_signals=True, exec of the console script):
  fds 0-2 are the request's (dup2), every other fd is closed (close_range;
  the launcher's socket object is detached first, so that no finalizer ever
  closes a number reused later), the environment, cwd, umask and rlimits
  are the daemon's at the time of the request, the signal mask is empty
  and every disposition is the default but those a fresh interpreter sets
  (SIGINT: KeyboardInterrupt; SIGPIPE, SIGXFSZ: ignored) and those the
  daemon was started with ignored (nohup's SIGHUP; SIGINT and SIGQUIT of a
  background job): exec keeps SIG_IGN, so the subprocess's child inherits
  them, and Python keeps an inherited SIGINT ignore.  The launcher reads
  them at its start, when they are still the daemon's. sys.argv,
  sys.path and sys.std* are rebuilt as Python's start-up builds them
  (buffering from isatty), a new __main__ module runs the script's code,
  and "session" makes it a session and group leader (start_new_session).
  The rest is inherited from the launcher, forked from the daemon:
  credentials, capabilities, namespaces, nice, affinity, oom_score_adj,
  and the cgroups (spawn.py checks before each request that the launcher
  is still in the daemon's cgroups, and starts a new one if not).  The
  modules in sys.modules are more than a fresh process has: those it
  would import anyway, ctypes, and this one.  The interpreter's own settings (sys.flags, the locale
  and the stdio encodings) come from the environment the launcher was
  started with: the daemon's, which it does not change.
- The exit is Python's: SystemExit's code, or an uncaught exception's
  traceback (without our frame: as the script's own) and 1, then as
  Py_FinalizeEx: non-daemon threads joined, atexit handlers, stdio flushed
  (a failed flush is 120), then _exit.
- No request run twice, none lost: the child waits, after its set-up and
  before running anything, for a "go" byte on a pipe whose only writer
  goes to the daemon with the pid (SCM_RIGHTS); the daemon writes it on
  receipt.  A launcher that dies before sending leaves the child EOF: it
  exits unseen, and the daemon, with no pid, runs the request as a
  subprocess.  Once sent, the message is the daemon's to read even if the
  launcher dies: the child runs, and the daemon knows it.
- The launcher holds no fd but 0-2 and its socket (tests check it): an fd
  an imported module kept would be closed from under it in the child.
- Who reaps: the launcher, which is the child's parent; the status goes to
  the daemon over the socket.  The CRI path needs no shim: `create`'s child
  forks the sentry and exits once the container exists; the sentry is then
  reparented to init (or the nearest subreaper), exactly as when the daemon
  ran `create` itself, and the container's status is in the runtime's
  state directory (exit.json), not in anybody's wait().  So containers do
  not depend on the launcher, nor on the daemon: a daemon restart leaves
  them running as before.  An exec's child is the exec sentry itself; its
  status is the command's.
- The daemon gone (EOF on the socket, also when it was SIGKILLed) ends the
  launcher at once; children still running are reparented as the
  daemon's own children would have been, and nobody waits for them.  A
  launcher that died makes the daemon wait for its running children
  through their pidfds (pidfd_open(2), Linux 5.3, readable at exit) and
  report their status as lost; spawn.py starts a new launcher.
"""
from __future__ import annotations

import atexit
import ctypes
import io
import json
import os
import resource
import select
import signal
import socket
import sys

_libc = ctypes.CDLL(None)
MAX_MESSAGE = 256 << 10
# The launcher's command line is padded to this many bytes: the room for a
# child's (the kernel shows the argument area the process was exec'd with).
CMDLINE_ROOM = 16 << 10
PR_SET_NAME = 15
NFDS = 3
# What `pysandbox-oci create`, the sentry it forks and `exec` import (found
# with -X importtime on a CRI create and exec); one missing here is only
# imported later, in the child.
OCI_PRELOAD = (
    "sentry.cli.oci:build_parser", "sentry.oci.container", "sentry.oci.launch", "sentry.oci.spec",
    "sentry.sandbox.lifecycle", "sentry.sandbox.init", "sentry.sandbox.mounts", "sentry.sandbox.net",
    "sentry.sandbox.cgroups", "sentry.sandbox.caps", "sentry.sandbox.config", "sentry.sandbox.protocol",
    "sentry.sandbox.state", "sentry.sandbox.synthesized", "sentry.platform.base", "sentry.platform.dispatch",
    "sentry.syscalls.filter", "sentry.syscalls.model", "sentry.syscalls.table", "sentry.handlers.attrs",
    "sentry.handlers.common", "sentry.handlers.current", "sentry.handlers.dirs", "sentry.handlers.fileopen",
    "sentry.handlers.identity", "sentry.handlers.inotify", "sentry.handlers.stat", "sentry.handlers.sysinfo",
    "sentry.handlers.times", "sentry.handlers.uts", "sentry.handlers.xattr", "sentry.vfs.fuse",
    "sentry.vfs.hostproc", "sentry.vfs.procfs", "sentry.vfs.procfuse", "sentry.vfs.resolve",
    "sentry.inputs", "sentry.native", "subprocess", "shutil", "selectors", "queue", "re",
)

BOOT = ("import sys\n"               # argv: FD BINDIR ROOT PRELOAD PADDING
        "sys.path[0] = sys.argv[2]\n"             # the console script's own: its directory
        "added = sys.argv[3] not in sys.path\n"   # our package, should the install not map it
        "added and sys.path.append(sys.argv[3])\n"
        "from cri_handler.zygote import main\n"
        "sys.exit(main(int(sys.argv[1]), sys.argv[3] if added else '', sys.argv[4]))\n")


def main(fd: int, added_path: str, preload: str) -> int:
    sock = socket.socket(fileno=fd)
    _set_cmdline([sys.executable, "-m", __name__])      # not BOOT and its padding
    global _INHERITED_IGNORED
    _INHERITED_IGNORED = _ignored_at_start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # ^C on the daemon's terminal: the daemon decides
    _load([m for m in preload.split(",") if m])
    os.chdir("/")                                   # hold no directory; children chdir as asked
    import gc
    gc.freeze()                                     # children do not touch these pages again
    try:
        _send(sock, {"ready": os.getpid()})
        _serve(sock, added_path)
    except (BrokenPipeError, ConnectionResetError):
        pass                                        # the daemon is gone
    return 0


def _load(preload: list[str]) -> None:
    """Import the preload modules; a "module:function" entry is also called
    (a warm-up: build_parser fills the caches argparse and re keep, 5 ms
    on a cold start, 2 ms after)."""
    import importlib
    for name in preload:
        module, _, func = name.partition(":")
        try:
            m = importlib.import_module(module)
            if func:
                getattr(m, func)()
        except ImportError:
            pass                    # renamed or gone: the child imports what it needs


def _serve(sock: socket.socket, added_path: str) -> None:
    poll = select.poll()
    poll.register(sock.fileno(), select.POLLIN)
    children: dict[int, tuple[int, int]] = {}        # pidfd -> (pid, request id)
    while True:
        for fd, _ in poll.poll():
            if fd != sock.fileno():
                pid, rid = children.pop(fd)
                poll.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                _send(sock, {"id": rid, "exit": os.waitstatus_to_exitcode(status)})
                continue
            got = _recv(sock)
            if got is None:
                return
            req, fds = got
            child = _spawn(sock, req, fds, added_path)
            if child is not None:
                poll.register(child[0], select.POLLIN)
                children[child[0]] = (child[1], req["id"])


def _recv(sock: socket.socket):
    """(request, fds), or None at EOF.  A malformed request is answered
    with an error and skipped."""
    while True:
        msg, anc, flags, _ = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(NFDS * 4), socket.MSG_CMSG_CLOEXEC)
        fds: list[int] = []
        req = None
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += [int.from_bytes(data[i:i + 4], sys.byteorder) for i in range(0, len(data) - 3, 4)]
        if not msg and not fds:
            return None
        try:
            req = json.loads(msg)
            if not isinstance(req, dict) or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) != NFDS:
                raise ValueError(f"{len(fds)} fds, flags {flags:#x}")
            return req, fds
        except ValueError as e:
            for f in fds:
                os.close(f)
            rid = req.get("id") if isinstance(req, dict) else None
            _send(sock, {"id": rid, "errno": 22, "error": f"malformed request: {e}"})


def _send(sock: socket.socket, msg: dict, fds=()) -> None:
    data = json.dumps(msg).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def _spawn(sock: socket.socket, req: dict, fds: list[int], added_path: str):
    """Fork the child for req; (pidfd, pid) once it runs, None if it could not."""
    rid = req["id"]
    try:
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
    except OSError as e:
        for f in fds:
            os.close(f)
        _send(sock, {"id": rid, "errno": e.errno, "error": f"fork: {e.strerror}"})
        return None
    if pid == 0:
        try:
            os.close(status_r)
            os.close(go_w)
            _child(sock, req, fds, status_w, go_r, added_path)
        finally:
            os._exit(255)
    for f in (status_w, go_r, *fds):
        os.close(f)
    report = _read_all(status_r)
    if report != b"k":
        os.close(go_w)
        os.waitpid(pid, 0)
        err = json.loads(report) if report.startswith(b"{") else {"errno": 0, "error": "child set-up died"}
        _send(sock, {"id": rid, **err})
        return None
    pidfd = os.pidfd_open(pid)
    try:
        _send(sock, {"id": rid, "pid": pid}, [pidfd, go_w])     # the daemon writes the go byte
    except OSError:
        os.close(pidfd)
        raise                       # the daemon is gone; so is the child, at EOF on go
    finally:
        os.close(go_w)
    return pidfd, pid


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk or chunk == b"k":
            os.close(fd)
            return out + chunk
        out += chunk


# -- the child ----------------------------------------------------------------------------

def _child(sock, req: dict, fds: list[int], status_w: int, go_r: int, added_path: str) -> None:
    """Become `ARGV` (argv[0]: a Python script) as a fresh process (see the
    module docstring); never returns."""
    sock.detach()
    try:
        if req["session"]:
            os.setsid()
        for num, (soft, hard) in req["rlimits"].items():
            if resource.getrlimit(int(num)) != (soft, hard):
                resource.setrlimit(int(num), (soft, hard))
        os.umask(req["umask"])
        os.chdir(req["cwd"])
        _libc.clearenv()            # also what the launcher had outside os.environ
        os.environ.clear()
        os.environ.update(req["env"])
        _default_signals()
        for i, f in enumerate(fds):
            os.dup2(f, i)
    except OSError as e:
        os.write(status_w, json.dumps({"errno": e.errno or 0, "error": str(e)}).encode())
        os._exit(255)
    os.write(status_w, b"k")
    if os.read(go_r, 1) != b"g":
        os._exit(255)               # the daemon never heard of us: it runs the request elsewhere
    # What ps and pgrep show of the subprocess: the kernel's comm is the
    # script's name (execve of a #! file), the command line the interpreter's
    # and the script's.  Both are cosmetic to the kernel, not to operators.
    _set_cmdline([sys.executable, *req["argv"]])
    _libc.prctl(PR_SET_NAME, os.fsencode(os.path.basename(req["argv"][0]))[:15], 0, 0, 0)
    os.closerange(3, 0x7FFFFFFF)     # close_range(2): one call, whatever the limit
    sys.argv = list(req["argv"])
    if added_path and added_path in sys.path:
        sys.path.remove(added_path)
    _fresh_stdio()
    os._exit(_run(sys.argv[0]))


def _set_cmdline(args) -> bool:
    """Write args over our argument area ([arg_start, arg_end) of
    /proc/self/stat, fields 48-49), zero-filled: /proc/PID/cmdline then
    shows them, followed by NULs.  False if they do not fit."""
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()     # from field 3 on
    start, end = int(fields[45]), int(fields[46])
    data = b"\0".join(os.fsencode(a) for a in args) + b"\0"
    if not start or len(data) > end - start:
        return False
    ctypes.memset(start, 0, end - start)
    ctypes.memmove(start, data, len(data))
    return True


_INHERITED_IGNORED: frozenset[int] = frozenset()


def _ignored_at_start() -> frozenset[int]:
    """The signals this interpreter was started with ignored (the signal
    module reads each disposition at start), but SIGPIPE and SIGXFSZ, which
    Python ignores itself and the daemon's restore_signals undid."""
    own = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGKILL, signal.SIGSTOP)
    return frozenset(int(s) for s in signal.valid_signals()
                     if s not in own and signal.getsignal(s) == signal.SIG_IGN)


def _default_signals() -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    for s in signal.valid_signals():
        if s in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(s, signal.SIG_DFL)
        except (OSError, ValueError):
            pass                    # the kernel's own (32, 33: glibc's)
    # What Python's start-up sets (_PyOS_InitSignals, the signal module):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for s in _INHERITED_IGNORED:    # kept by exec; SIGINT's too
        signal.signal(s, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.set_wakeup_fd(-1)


def _fresh_stdio() -> None:
    """sys.stdin/stdout/stderr over the new fds 0-2, as create_stdio()
    makes them (line buffering on a tty, stderr always line-buffered)."""
    buffered = not sys.__stdout__.write_through
    made = []
    for fd, like, write, name in ((0, sys.__stdin__, False, "<stdin>"), (1, sys.__stdout__, True, "<stdout>"),
                                  (2, sys.__stderr__, True, "<stderr>")):
        buffering = 0 if write and not buffered else -1
        buf = open(fd, "wb" if write else "rb", buffering, closefd=False)
        raw = buf if buffering == 0 else buf.raw
        raw.name = name
        text = io.TextIOWrapper(buf, like.encoding, like.errors, "\n",
                                buffered and (raw.isatty() or fd == 2), not buffered)
        text.mode = "w" if write else "r"
        made.append(text)
    sys.stdin, sys.stdout, sys.stderr = made
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = made


def _exit_status(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _run(script: str) -> int:
    """Run the script as `python SCRIPT` does, and exit as the interpreter does."""
    interrupted = False
    try:
        _exec_main(script)
        status = 0
    except SystemExit as e:
        status = _exit_status(e.code)
    except KeyboardInterrupt:
        _print_exception()
        status, interrupted = 130, True
    except BaseException:
        _print_exception()
        status = 1
    import threading
    shutdown = getattr(threading, "_shutdown", None)     # joins non-daemon threads, as Py_Finalize
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            status = 120 if status == 0 else status
    if interrupted:                 # Python exits by the signal, as the shell expects
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return status


def _exec_main(script: str) -> None:
    import builtins
    import types
    with open(script, "rb") as f:
        code = compile(f.read(), script, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __builtins__=builtins, __cached__=None)
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _print_exception() -> None:
    """As the interpreter prints it: from the script's frame on (ours left out)."""
    kind, value, tb = sys.exc_info()
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    if value is not None:
        value.__traceback__ = tb        # what the default hook prints
    sys.excepthook(kind, value, tb)
