"""The CRI streaming server: the URLs that Exec, Attach and PortForward return.

Protocol facts this module relies on (kubelet `pkg/cri/streaming`,
apimachinery `pkg/util/remotecommand` and `pkg/util/httpstream/wsstream`):
- A CRI call returns a one-time URL `.../{exec,attach,portforward}/<token>`.
  The token is consumed by its first use and expires after a minute; at most
  1000 are in flight (the kubelet's requestCache). An unknown, used or expired
  token gets 404.
- The registered CRI request is authoritative: the kubelet's server takes the
  command and the stream flags from it, not from the URL. We also accept the
  kubectl-style query (command= repeated, stdin/stdout/stderr/tty = 1|true|0|false,
  container=, port=) but answer 400 where it disagrees with the request.
- Two transports: WebSocket (cri_handler/websocket.py, on wsproto) and
  SPDY/3.1 (cri_handler/spdystream.py), chosen by the Upgrade header. Each
  presents its session as cri_handler/channels.py's interfaces, so what
  follows does not depend on the transport.
- Exec/attach channels: 0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize
  (formats: cri_handler/channels.py). With a tty there is no stderr: the
  terminal merges it. Once the WebSocket is open, the server sends an empty
  message on the lowest writable channel (stdout, else stderr, else 3).
- The status is Success, NonZeroExitCode with the exit code, or InternalError
  for an error in the backend. After the status, the server closes the WebSocket.
- Port forward (cri_handler/portforward.py): over WebSocket the ports are
  the CRI request's, or if it named none, the `port` query parameters
  (repeated or comma-separated); over SPDY each stream pair names its port.
- Not implemented: port forward tunnelled as SPDY over WebSocket
  (`SPDY/3.1+portforward.k8s.io`); TLS; an idle timeout.
"""
from __future__ import annotations

import logging
import os
import queue
import secrets
import select
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, Protocol
from urllib.parse import parse_qs, urlsplit

from cri_handler import spdystream, websocket
from cri_handler.channels import (
    CLOSE_SIGNAL,
    DRAIN_TIMEOUT,
    RESIZE,
    STATUS,
    STDERR,
    STDIN,
    STDOUT,
    Channels,
    Refused,
    ResizeDecoder,
    TerminalSize,
    status_exit,
    status_internal,
    status_success,
)
from cri_handler.portforward import serve_portforward

log = logging.getLogger(__name__)

TOKEN_TTL = 60.0          # seconds, as the kubelet's requestCache
MAX_IN_FLIGHT = 1000      # ditto


# -- the requests the CRI server registers, and the backend that serves them --
@dataclass(frozen=True)
class ExecRequest:
    container_id: str
    cmd: tuple[str, ...]
    tty: bool
    stdin: bool
    stdout: bool
    stderr: bool


@dataclass(frozen=True)
class AttachRequest:
    container_id: str
    tty: bool
    stdin: bool
    stdout: bool
    stderr: bool


@dataclass(frozen=True)
class PortForwardRequest:
    pod_id: str
    ports: tuple[int, ...]


class Backend(Protocol):
    """What the streaming server needs from the CRI server.

    Each method runs on the session's own thread and may block until the
    session is over. The stream arguments are unbuffered binary files on OS
    pipes, so their fileno() can be handed straight to a child process. None
    means the client did not ask for that stream. The server owns the files
    and closes them after the call returns. A backend may close them earlier,
    for example to send EOF sooner.
    - The client going away shows up as EOF on stdin and as EPIPE
      (BrokenPipeError) on stdout and stderr.
    - resize_queue is a queue.Queue of TerminalSize when tty is true, and None
      otherwise. None is put on it when the session ends.
    Any exception is reported to the client as an InternalError status that
    carries str(exception), never a traceback.
    """

    def exec(self, container_id: str, cmd: list[str], tty: bool, stdin: BinaryIO | None,
             stdout: BinaryIO | None, stderr: BinaryIO | None,
             resize_queue: queue.Queue[TerminalSize | None] | None) -> int:
        """Run cmd in the container, wired to the given streams, and return its
        exit code the way a shell reports it (128+N for a signal; a negative
        code -N is taken to mean signal N). Return only after the process has
        exited and its output has been written."""

    def attach(self, container_id: str, tty: bool, stdin: BinaryIO | None,
               stdout: BinaryIO | None, stderr: BinaryIO | None,
               resize_queue: queue.Queue[TerminalSize | None] | None) -> None:
        """Connect the streams to the container's main process. Return when that
        process exits or the client detaches (EOF on stdin, EPIPE on output)."""

    def portforward(self, pod_id: str, port: int) -> socket.socket:
        """Return a new socket connected to 127.0.0.1:port inside the pod's
        network namespace. The server owns it afterwards. Raise OSError (or any
        error) when nothing can be connected; the message goes to the client."""


class _StreamSession:
    """The pipes and threads behind one exec or attach session.

    Threads: one reader (client messages into the stdin pipe and the resize
    queue) and one pump for each output pipe. A pump closes its own read end
    when it stops. Then a backend that is still writing gets EPIPE instead of
    filling the pipe."""

    def __init__(self, conn: Channels, stdin: bool, stdout: bool, stderr: bool, tty: bool):
        self.conn = conn
        self.cancel_r, self.cancel_w = os.pipe()   # one byte stops every pump at teardown
        self.resize = queue.Queue() if tty else None
        self.stdin = self._stdin_w = None
        self._stdin_lock = threading.Lock()
        if stdin:
            r, w = os.pipe()
            os.set_blocking(w, False)     # a full pipe must not wedge the reader at teardown
            self.stdin, self._stdin_w = open(r, "rb", buffering=0), w
        self.stdout = self.stderr = None
        self._pumps: list[threading.Thread] = []
        for channel, wanted in ((STDOUT, stdout), (STDERR, stderr and not tty)):
            if wanted:
                r, w = os.pipe()
                setattr(self, "stdout" if channel == STDOUT else "stderr", open(w, "wb", buffering=0))
                self._pumps.append(threading.Thread(target=self._pump, args=(r, channel), daemon=True,
                                                    name=f"stream-out-{channel}"))
        self.reader = threading.Thread(target=self._read_loop, daemon=True, name="stream-in")

    def start(self) -> None:
        # The empty message tells the client the streams are up (kubelet's websocket.go).
        self.conn.send(STDOUT if self.stdout else STDERR if self.stderr else STATUS, b"")
        for t in (*self._pumps, self.reader):
            t.start()

    def _pump(self, fd: int, channel: int) -> None:
        try:
            while True:
                ready, _, _ = select.select([fd, self.cancel_r], [], [])
                if self.cancel_r in ready:
                    break
                data = os.read(fd, 65536)
                if not data or not self.conn.send(channel, data):
                    break
        finally:
            os.close(fd)

    def _read_loop(self) -> None:
        decoder = ResizeDecoder()
        while (item := self.conn.recv()) is not None:
            channel, data = item
            if channel == STDIN:
                self._write_stdin(data)
            elif channel == RESIZE and self.resize is not None:
                for size in decoder.feed(data):
                    self.resize.put(size)
            elif channel == CLOSE_SIGNAL and data[:1] == bytes([STDIN]):
                self._close_stdin()
            # Anything else is for a channel the client may not write: ignored, as wsstream does.
        self._close_stdin()
        if self.resize is not None:
            self.resize.put(None)

    def _write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            with self._stdin_lock:       # held only around non-blocking calls
                fd = self._stdin_w
                if fd is None:
                    return
                try:
                    view = view[os.write(fd, view):]
                    continue
                except BlockingIOError:
                    pass
                except OSError:          # EPIPE: nobody reads stdin any more
                    self._stdin_w = None
                    os.close(fd)
                    return
            # The pipe is full: wait for room. The timeout re-checks under the lock
            # in case finish() closed the fd meanwhile (close does not wake select).
            try:
                select.select([], [fd], [], 0.1)
            except (OSError, ValueError):
                pass

    def _close_stdin(self) -> None:
        with self._stdin_lock:
            fd, self._stdin_w = self._stdin_w, None
            if fd is not None:
                os.close(fd)

    def finish(self) -> None:
        """After the backend returned: EOF to stdin readers, let the output
        drain, then stop the pumps and release the backend's ends."""
        self._close_stdin()
        for f in (self.stdout, self.stderr):
            if f is not None:
                f.close()
        deadline = time.monotonic() + DRAIN_TIMEOUT
        for t in self._pumps:
            t.join(max(0.0, deadline - time.monotonic()))
        # Output still open after the grace period (a background child holds the
        # pipe) is abandoned. The kubelet abandons it too.
        os.write(self.cancel_w, b"x")
        for t in self._pumps:
            t.join()
        if self.stdin is not None:
            self.stdin.close()

    def close(self) -> None:
        self.conn.finish(self.reader if self.reader.is_alive() else None, DRAIN_TIMEOUT)
        os.close(self.cancel_r)
        os.close(self.cancel_w)


# -- request validation ---------------------------------------------------------
def _flag(value: str, name: str) -> bool:
    v = value.lower()
    if v in ("1", "true"):
        return True
    if v in ("", "0", "false"):
        return False
    raise ValueError(f"query parameter {name}={value!r} is not a boolean (1/true/0/false)")


def _parse_ports(values: list[str]) -> list[int]:
    ports = []
    for value in values:
        for p in value.split(","):
            if not p.isdigit() or not 1 <= int(p) <= 65535:
                raise ValueError(f"query parameter port={value!r}: {p!r} is not a port (1-65535)")
            ports.append(int(p))
    return ports


def serve_session(backend: Backend, kind: str, req, conn: Channels) -> None:
    """Run one exec or attach on `conn` (the WebSocket's or SPDY's channels)
    and send its status last."""
    session = _StreamSession(conn, req.stdin, req.stdout, req.stderr, req.tty)
    session.start()
    try:
        streams = (session.stdin, session.stdout, session.stderr, session.resize)
        if kind == "exec":
            code = backend.exec(req.container_id, list(req.cmd), req.tty, *streams)
            code = 128 - code if code < 0 else code    # -N: killed by signal N
            status = status_success() if code == 0 else status_exit(code, req.cmd)
        else:
            backend.attach(req.container_id, req.tty, *streams)
            status = status_success()
    except Exception as e:
        log.exception("%s in container %s failed", kind, req.container_id)
        what = "executing command in" if kind == "exec" else "attaching to"
        status = status_internal(f"error {what} container: {e}")
    try:
        session.finish()
        conn.send_status(status)
    finally:
        session.close()


def check_query(kind: str, req, query: str) -> list[int] | None:
    """Validate the URL query against the registered request (ValueError says
    what disagrees). For port forward, return the ports to forward."""
    q = parse_qs(query, keep_blank_values=True)
    if kind == "portforward":
        asked = _parse_ports(q.get("port", []))
        if not req.ports:
            if not asked:
                raise ValueError("no port to forward: the PortForward request named none "
                                 "and the URL has no port parameter")
            return asked
        for p in asked:
            if p not in req.ports:
                raise ValueError(f"port {p} was not requested in the PortForward call "
                                 f"(ports: {', '.join(map(str, req.ports))})")
        return asked or list(req.ports)
    if kind == "exec" and "command" in q and tuple(q["command"]) != req.cmd:
        raise ValueError(f"command {q['command']} does not match the Exec request's {list(req.cmd)}")
    for name in ("stdin", "stdout", "stderr", "tty"):
        if name in q:
            asked = _flag(q[name][-1], name)
            if name == "stderr" and req.tty:
                continue   # the kubelet drops stderr under a tty; so does this server
            if asked != getattr(req, name):
                raise ValueError(f"{name}={q[name][-1]} does not match the {kind} request "
                                 f"({name}={'true' if getattr(req, name) else 'false'})")
    return None


# -- the HTTP side ----------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"            # a 101 answer needs 1.1
    default_request_version = "HTTP/1.1"     # so even a garbled request line gets a status line
    server: _HTTPServer

    def do_GET(self):
        try:
            self._get()
        except Exception:
            log.exception("streaming request %s failed", self.path)
            if not getattr(self, "_upgraded", False):
                self._error(500, "internal error in the streaming server")

    def _not_allowed(self):
        # -- SPDY/3.1: client-go (crictl, kubectl via the kubelet) upgrades with POST --
        if self.command == "POST" and self.headers.get("Upgrade", "").lower().startswith("spdy/"):
            return self.do_GET()
        # -- end SPDY --
        spdy = "spdy" in self.headers.get("Upgrade", "").lower()
        self._error(405, "SPDY is not supported; use a WebSocket upgrade (GET)" if spdy
                    else f"method {self.command} not allowed; use GET with a WebSocket upgrade",
                    [("Allow", "GET")])

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def send_error(self, code, message=None, explain=None):
        # http.server's own errors (bad request line, oversized headers): plain text like ours.
        self._error(code, message or HTTPStatus(code).phrase)

    def _error(self, code: int, message: str, headers=()) -> None:
        body = (message + "\n").encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass
        self.close_connection = True

    def _get(self):
        owner: StreamServer = self.server.owner
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ("exec", "attach", "portforward"):
            return self._error(404, f"no such streaming endpoint: {url.path}")
        kind, token = parts
        req = owner._lookup(kind, token)
        if req is None:
            return self._error(404, f"unknown or expired {kind} token")
        try:
            session = self._upgrade(owner, kind, token, req, url.query)
        except Refused as e:
            return self._error(e.status, e.message, e.headers)
        self._upgraded = self.close_connection = True
        me = threading.current_thread()
        with owner._lock:
            if not owner._stopping:       # stop() may have taken its snapshot already
                owner._sessions[me] = session
        try:
            if owner._stopping:
                session.stop()
            elif kind == "portforward":
                serve_portforward(session.forward_source(self._ports), owner.backend, req.pod_id, req.ports)
            elif (channels := session.channels(req)) is not None:
                serve_session(owner.backend, kind, req, channels)
        finally:
            with owner._lock:
                owner._sessions.pop(me, None)
            session.close()

    def _upgrade(self, owner: StreamServer, kind: str, token: str, req, query: str):
        """Check the upgrade, consume the token and switch protocols: the
        transport's session, or Refused with the HTTP answer."""
        upgrade = self.headers.get("Upgrade", "").lower()
        self._ports = None
        if upgrade.startswith("spdy/"):   # crictl's default, and the kubelet's proxy
            proto = spdystream.negotiate(self, kind)
            if kind != "portforward":     # port forward takes its ports from the stream headers
                self._check_query(kind, req, query)
        else:
            if upgrade != "websocket":
                what = "SPDY is not supported" if "spdy" in upgrade else "missing WebSocket upgrade"
                raise Refused(400, f"{what}: send Upgrade: websocket and Connection: Upgrade")
            hs, offered = websocket.handshake(self)
            supported = websocket.PORTFORWARD_PROTOCOLS if kind == "portforward" else websocket.EXEC_PROTOCOLS
            chosen = websocket.negotiate(offered, supported)
            if chosen is None:
                raise Refused(400, f"unsupported subprotocol(s) {', '.join(offered)}; "
                                   f"supported: {', '.join(p for p in supported if p)}")
            self._ports = self._check_query(kind, req, query)
        if owner._consume(kind, token) is None:   # a concurrent request won the token
            raise Refused(404, f"unknown or expired {kind} token")
        if upgrade.startswith("spdy/"):
            return spdystream.accept(self, kind, proto)
        return websocket.WebSocketSession(websocket.accept(self, hs, chosen.name), chosen)

    @staticmethod
    def _check_query(kind: str, req, query: str):
        try:
            return check_query(kind, req, query)
        except ValueError as e:
            raise Refused(400, str(e)) from None

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True     # StreamServer.stop() ends and joins the sessions itself
    owner: StreamServer

    def handle_error(self, request, client_address):
        log.exception("streaming connection from %s failed", client_address)


class StreamServer:
    """The streaming HTTP server: register_* hand out one-time URLs, and
    start()/stop() run the server in a background thread."""

    def __init__(self, address=("127.0.0.1", 0), backend: Backend | None = None, *,
                 ttl: float = TOKEN_TTL, base_url: str | None = None):
        self.requested_address = address
        self.backend = backend
        self.ttl = ttl
        self.base_url = base_url          # what to put in URLs, if not the bound address
        self._tokens: dict[str, tuple[str, object, float]] = {}
        self._sessions: dict[threading.Thread, object] = {}   # the transport's session: .stop()
        self._lock = threading.Lock()
        self._stopping = False
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> None:
        if self.backend is None:
            raise ValueError("StreamServer needs a backend")
        if ":" in self.requested_address[0]:
            cls = type("_HTTPServer6", (_HTTPServer,), {"address_family": socket.AF_INET6})
        else:
            cls = _HTTPServer
        self._httpd = cls(self.requested_address, _Handler)
        self._httpd.owner = self
        self._stopping = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="stream-server")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end every open session, and wait for them (up to
        timeout; a backend that ignores EOF and EPIPE is logged, not waited for)."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        with self._lock:
            self._stopping = True
            sessions = dict(self._sessions)
            self._tokens.clear()
        for session in sessions.values():
            session.stop()
        deadline = time.monotonic() + timeout
        for t in sessions:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("streaming session %s still running at shutdown", t.name)
        self._httpd = None

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("StreamServer is not started")
        return self._httpd.server_address[:2]

    @property
    def url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host, port = self.address
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1" if host != "::" else "::1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    # -- registration (called by the CRI server's Exec/Attach/PortForward)
    def register_exec(self, container_id: str, cmd, tty: bool = False, stdin: bool = False,
                      stdout: bool = True, stderr: bool = True) -> str:
        """Return the one-time URL for an exec. ValueError carries the kubelet's
        InvalidArgument wording."""
        if not cmd:
            raise ValueError("cmd must not be empty")
        _check_streams(container_id, tty, stdin, stdout, stderr)
        return self._register("exec", ExecRequest(container_id, tuple(cmd), tty, stdin, stdout, stderr))

    def register_attach(self, container_id: str, tty: bool = False, stdin: bool = False,
                        stdout: bool = True, stderr: bool = True) -> str:
        _check_streams(container_id, tty, stdin, stdout, stderr)
        return self._register("attach", AttachRequest(container_id, tty, stdin, stdout, stderr))

    def register_portforward(self, pod_id: str, ports=()) -> str:
        if not pod_id:
            raise ValueError("missing required pod_sandbox_id")
        for p in ports:
            if not 1 <= int(p) <= 65535:
                raise ValueError(f"invalid port {p}")
        return self._register("portforward", PortForwardRequest(pod_id, tuple(int(p) for p in ports)))

    def _register(self, kind: str, req) -> str:
        if self._httpd is None:
            raise RuntimeError("StreamServer is not started")
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            if len(self._tokens) >= MAX_IN_FLIGHT:
                raise RuntimeError("maximum number of in-flight streaming requests exceeded")
            token = secrets.token_urlsafe(16)   # the token is the only credential: unguessable
            self._tokens[token] = (kind, req, now + self.ttl)
        return f"{self.url}/{kind}/{token}"

    def _expire(self, now: float) -> None:
        for token in [t for t, (_, _, dl) in self._tokens.items() if dl <= now]:
            del self._tokens[token]

    def _lookup(self, kind: str, token: str):
        with self._lock:
            self._expire(time.monotonic())
            entry = self._tokens.get(token)
        return entry[1] if entry and entry[0] == kind else None

    def _consume(self, kind: str, token: str):
        with self._lock:
            self._expire(time.monotonic())
            entry = self._tokens.get(token)
            if not entry or entry[0] != kind:
                return None
            del self._tokens[token]
        return entry[1]


def _check_streams(container_id: str, tty: bool, stdin: bool, stdout: bool, stderr: bool) -> None:
    # The kubelet's validateExecRequest/validateAttachRequest, same messages.
    if not container_id:
        raise ValueError("missing required container_id")
    if tty and stderr:
        raise ValueError("tty and stderr cannot both be true")
    if not (stdin or stdout or stderr):
        raise ValueError("one of stdin, stdout, or stderr must be set")
