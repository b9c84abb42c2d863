"""Starting `pysandbox-oci` from the CRI server: through the launcher
(cri_handler.zygote) when it is up, else as a subprocess.

A subprocess pays a Python start-up and the runtime's imports (~50 ms
here) before it does anything; the launcher has paid them once and forks.
Both give the caller a Child: its pid, wait(timeout) with subprocess's
return codes (negative: killed by that signal), and signal_group.

The Spawner keeps one launcher: started with the runtime, restarted on
the next request after it died (at most once per RESTART_S), and replaced
when it is no longer in the daemon's cgroups (a service manager moved the
daemon).  A request goes to the subprocess instead whenever the launcher
is not ready, is gone, or died before the child ran (the "go" handshake,
see zygote.py: nothing ever runs twice).  A launcher that dies while a
child runs cannot report that child's status: wait() then waits for the
child's end through its pidfd and raises LostChild.

Facts relied upon:
- The launcher is forked from the daemon (subprocess, same session and
  process group), so it shares the daemon's credentials, namespaces and
  cgroups; the per-request state (environment, cwd, umask, rlimits) goes
  with each request (the environment as the C library has it: what
  execve would pass).
- A pidfd is readable once its process has exited; pidfd_send_signal(2)
  never reaches a reused pid.  killpg of the child's group is sent only
  while the pidfd says the leader has not exited, as Popen signals only
  an unreaped child.
- SOCK_SEQPACKET keeps each message whole with the fds it carries; each
  sendmsg is atomic, so threads may send concurrently.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from cri_handler import zygote

log = logging.getLogger(__name__)

READY_S = 10.0          # a launcher not ready this long after its start is replaced
RESTART_S = 1.0         # at most one new launcher per this long
RLIMITS = sorted(getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_"))


class LostChild(Exception):
    """The launcher died while the child ran: its exit status is unknown."""


class Child:
    pid: int
    returncode: int | None

    def wait(self, timeout: float | None = None) -> int:
        raise NotImplementedError

    def signal_group(self, sig: int) -> None:
        """Signal the child's process group (the child alone if it has none
        of its own), unless it has been waited for."""
        raise NotImplementedError


class PopenChild(Child):
    def __init__(self, p: subprocess.Popen, new_session: bool):
        self.p, self.pid, self.new_session = p, p.pid, new_session

    @property
    def returncode(self):
        return self.p.returncode

    def wait(self, timeout=None) -> int:
        return self.p.wait(timeout)

    def signal_group(self, sig: int) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, sig) if self.new_session else self.p.send_signal(sig)
            except ProcessLookupError:
                pass


def subprocess_child(argv, stdin: int, stdout: int, stderr: int, new_session: bool) -> PopenChild:
    """The fallback: argv as a subprocess (fds: -1 is /dev/null)."""
    null = subprocess.DEVNULL
    p = subprocess.Popen(argv, stdin=null if stdin < 0 else stdin, stdout=null if stdout < 0 else stdout,
                         stderr=null if stderr < 0 else stderr, start_new_session=new_session, close_fds=True)
    return PopenChild(p, new_session)


class ZygoteChild(Child):
    def __init__(self, new_session: bool):
        self.new_session = new_session
        self.pid, self.pidfd, self.returncode = 0, -1, None
        self.error: tuple[int, str] | None = None
        self.lost = False                   # the launcher died: before the pid (None from spawn) or after
        self.started, self.done = threading.Event(), threading.Event()
        self._mu = threading.Lock()

    # called by the reader thread
    def _on_pid(self, pid: int, pidfd: int) -> None:
        self.pid, self.pidfd = pid, pidfd
        self.started.set()

    def _on_exit(self, code: int) -> None:
        with self._mu:
            self.returncode = code
            self._close()
        self.done.set()
        self.started.set()

    def _on_error(self, errno: int, msg: str) -> None:
        self.error = (errno, msg)
        self.done.set()
        self.started.set()

    def _on_lost(self) -> None:
        self.lost = True
        self.done.set()
        self.started.set()

    def _close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def wait(self, timeout=None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        if not self.done.wait(timeout):
            raise subprocess.TimeoutExpired(str(self.pid), timeout)
        if self.returncode is not None:
            return self.returncode
        if self.pidfd >= 0:                 # lost: wait for its end by its pidfd (only wait closes it now)
            left = None if end is None else max(0.0, end - time.monotonic())
            if not select.select([self.pidfd], [], [], left)[0]:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            with self._mu:
                self._close()
        raise LostChild(f"the launcher died while pid {self.pid} ran: its exit status is lost")

    def signal_group(self, sig: int) -> None:
        with self._mu:
            if self.pidfd < 0 or select.select([self.pidfd], [], [], 0)[0]:
                return                      # exited (and maybe reaped): its pid may be another's now
            try:
                if self.new_session:
                    os.killpg(self.pid, sig)
                else:
                    signal.pidfd_send_signal(self.pidfd, sig)
            except ProcessLookupError:
                pass


class _Conn:
    """One launcher process and the thread reading its answers."""

    def __init__(self, binary: str, preload: str):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", zygote.BOOT, str(theirs.fileno()), os.path.dirname(binary), root, preload,
                 "-" * zygote.CMDLINE_ROOM],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True)
        finally:
            theirs.close()
        self.sock = ours
        self.started_at = time.monotonic()
        self.ready = threading.Event()
        self.dead = False
        self.pending: dict[int, ZygoteChild] = {}
        self.mu = threading.Lock()
        self.ids = itertools.count(1)
        threading.Thread(target=self._read, daemon=True, name="oci-launcher").start()

    def _read(self) -> None:
        try:
            while True:
                msg, anc, _, _ = self.sock.recvmsg(zygote.MAX_MESSAGE, socket.CMSG_SPACE(8), socket.MSG_CMSG_CLOEXEC)
                fds = [int.from_bytes(d[i:i + 4], sys.byteorder) for lvl, kind, d in anc
                       if lvl == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS for i in range(0, len(d) - 3, 4)]
                if not msg:
                    break
                m = json.loads(msg)
                if "ready" in m:
                    self.ready.set()
                    continue
                with self.mu:
                    ch = self.pending.get(m.get("id"))
                    if ch is not None and "pid" not in m:
                        del self.pending[m["id"]]
                if ch is None:
                    for f in fds:           # a "go" pipe among them closed: that child exits unrun
                        os.close(f)
                    log.warning("launcher: an answer to no request", extra={"answer": m})
                elif "pid" in m:
                    pidfd, go = fds
                    try:
                        os.write(go, b"g")  # the child may run: we know its pid (zygote.py)
                    except OSError:
                        pass                # it died already: its exit comes next
                    os.close(go)
                    ch._on_pid(m["pid"], pidfd)
                elif "exit" in m:
                    ch._on_exit(m["exit"])
                else:
                    ch._on_error(m.get("errno", 0), m.get("error", "?"))
        except (OSError, ValueError) as e:
            log.warning("launcher: bad answer", extra={"error": str(e)})
        finally:
            with self.mu:
                self.dead = True
                lost, self.pending = list(self.pending.values()), {}
            self.ready.set()
            for ch in lost:
                ch._on_lost()
            self.sock.close()
            self.kill()

    def usable(self) -> bool:
        if self.dead:
            return False
        if not self.ready.is_set():
            return self.ready.wait(max(0.0, self.started_at + READY_S - time.monotonic())) and not self.dead
        return True

    def send(self, req: dict, fds: list[int]) -> ZygoteChild | None:
        """The child, None if the request did not run (send it elsewhere)."""
        ch = ZygoteChild(req["session"])
        with self.mu:
            if self.dead:
                return None
            req["id"] = next(self.ids)
            data = json.dumps(req).encode()
            if len(data) > zygote.MAX_MESSAGE:
                return None
            self.pending[req["id"]] = ch
        try:
            socket.send_fds(self.sock, [data], fds)
        except OSError:
            with self.mu:
                self.pending.pop(req["id"], None)
            self.kill()
            return None
        if not ch.started.wait(READY_S):    # stuck: replace it (the reader then marks this lost)
            log.warning("launcher: no answer; replacing it", extra={"pid": self.proc.pid})
            self.kill()
            ch.started.wait()
        if ch.lost and not ch.pid:
            return None                 # died before the child ran: run it elsewhere
        if ch.error is not None:
            raise OSError(ch.error[0], ch.error[1])
        return ch

    def same_cgroups(self) -> bool:
        try:
            with open("/proc/self/cgroup") as a, open(f"/proc/{self.proc.pid}/cgroup") as b:
                return a.read() == b.read()
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        threading.Thread(target=self.proc.wait, daemon=True).start()

    def close(self, timeout: float = 5.0) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)     # EOF: the launcher exits; the reader ends
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def python_script(binary: str) -> bool:
    """Whether binary is a script our Python runs (#! sys.executable, by its
    own name, not its target: a venv's python is a symlink to the base one,
    with other site-packages): what a launcher can stand in for."""
    try:
        with open(binary, "rb") as f:
            first = f.readline(4096)
    except OSError:
        return False
    return first[:2] == b"#!" and os.path.normpath(os.fsdecode(first[2:].strip())) == os.path.normpath(sys.executable)


class Spawner:
    """Runs `binary ARGV` (binary: a Python script, pysandbox-oci's console
    script) through a launcher, or as a subprocess when that cannot be had."""

    def __init__(self, binary: str, preload=zygote.OCI_PRELOAD):
        self.binary, self.preload = binary, ",".join(preload)
        self._mu = threading.Lock()
        self._conn: _Conn | None = None
        self._last_start = 0.0
        self._closed = not python_script(binary)      # then every request is a subprocess
        if not self._closed:
            self._start()

    def _start(self) -> None:
        self._last_start = time.monotonic()
        try:
            self._conn = _Conn(self.binary, self.preload)
            log.info("launcher started", extra={"pid": self._conn.proc.pid})
        except OSError as e:
            self._conn = None
            log.warning("cannot start the launcher: its requests run as subprocesses", extra={"error": str(e)})

    def _usable(self) -> _Conn | None:
        with self._mu:
            conn = self._conn
            if self._closed:
                return None
            if conn is not None and not conn.dead and conn.ready.is_set() and not conn.same_cgroups():
                if conn.pending:
                    return None         # not ours to use now; retired once its children are done
                log.info("launcher: not in the daemon's cgroups any more; starting another")
                conn.close(0)
                self._start()
                conn = self._conn
            if (conn is None or conn.dead) and time.monotonic() - self._last_start >= RESTART_S:
                if conn is not None:
                    log.warning("launcher died; starting another", extra={"pid": conn.proc.pid})
                self._start()
                conn = self._conn
        if conn is None or not conn.usable():
            if conn is not None and not conn.dead:
                log.warning("launcher not ready in time; replacing it", extra={"pid": conn.proc.pid})
                conn.kill()
            return None
        return conn

    def start(self, argv, stdin: int = -1, stdout: int = -1, stderr: int = -1, new_session: bool = False) -> Child:
        """argv through the launcher if argv[0] is self.binary and a launcher
        can be had, else as a subprocess.  fds: -1 is /dev/null.  Raises
        OSError as subprocess.Popen does."""
        ours = bool(argv) and argv[0] == self.binary and not self._closed
        conn = self._usable() if ours else None
        if conn is not None:
            ch = self._via(conn, argv, [stdin, stdout, stderr], new_session)
            if ch is not None:
                return ch
        if ours:                        # slower: say so (bench/cri_lifecycle.py counts these)
            log.info("launcher unavailable: running a subprocess", extra={"binary": self.binary})
        return subprocess_child(argv, stdin, stdout, stderr, new_session)

    def _via(self, conn: _Conn, argv, fds: list[int], new_session: bool) -> ZygoteChild | None:
        null = -1
        if -1 in fds:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            fds = [null if f < 0 else f for f in fds]
        try:
            try:
                cwd = os.getcwd()
            except OSError:
                return None             # gone: only a subprocess can inherit it as it is
            if len(os.fsencode(sys.executable)) + sum(len(os.fsencode(a)) + 1 for a in argv) >= zygote.CMDLINE_ROOM:
                return None             # its command line would not fit the launcher's
            req = {"argv": list(argv), "env": c_environ(), "cwd": cwd, "umask": _umask(),
                   "rlimits": {str(r): list(resource.getrlimit(r)) for r in RLIMITS}, "session": new_session}
            return conn.send(req, fds)
        finally:
            if null >= 0:
                os.close(null)

    @property
    def launcher_pid(self) -> int:
        conn = self._conn
        return conn.proc.pid if conn is not None and not conn.dead else 0

    def close(self) -> None:
        with self._mu:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


_environ = None


def c_environ() -> dict[str, str]:
    """The process's environment as a subprocess gets it: the C library's
    `environ`, which a library may have changed behind os.environ's back
    (readline sets COLUMNS and LINES)."""
    global _environ
    if _environ is None:
        import ctypes
        _environ = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
    env: dict[str, str] = {}
    i = 0
    while (entry := _environ[i]) is not None:
        key, _, value = entry.partition(b"=")
        env.setdefault(os.fsdecode(key), os.fsdecode(value))
        i += 1
    return env


def _umask() -> int:
    """The daemon's umask, without changing it (Linux 4.7: /proc/PID/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)      # not reached on Linux >= 4.7
    os.umask(mask)
    return mask
