"""Exec, attach and port forward over SPDY/3.1: the kubelet's side of the
streaming protocols for clients that do not use WebSocket. `crictl exec` and
`attach` use SPDY unless given `--transport websocket`; `crictl port-forward`
and the kubelet, proxying `kubectl exec`/`port-forward`, always do.
cri_handler/streaming.py hands a request here when its Upgrade header names
SPDY; the framing is cri_handler/spdy.py.

Protocol facts this module relies on (kubelet
`staging/src/k8s.io/kubelet/pkg/cri/streaming/{remotecommand,portforward}/httpstream.go`,
apimachinery `pkg/util/httpstream/httpstream.go` and `spdy/upgrade.go`, client-go
`tools/remotecommand` and `tools/portforward`):
- The upgrade request is GET or POST (client-go sends POST) with
  `X-Stream-Protocol-Version`, repeated or comma-separated, most preferred first.
  The server takes the first offered version it supports (httpstream.Handshake):
  exec/attach v5.channel.k8s.io (on SPDY the same as v4), v4.channel.k8s.io,
  v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io; port forward
  portforward.k8s.io. None of them: 403, with one
  `X-Accepted-Stream-Protocol-Versions` header per supported version. No header
  at all: the kubelet logs it and writes nothing; we answer 400.
- Then `Connection` must contain "upgrade" and `Upgrade` "spdy/3.1" (else 400).
  Success is 101 with `Connection: Upgrade`, `Upgrade: SPDY/3.1` and
  `X-Stream-Protocol-Version: <chosen>`; after it the connection is a SPDY
  session in which the client opens every stream. Each SYN_STREAM gets an empty
  SYN_REPLY, or RST_STREAM CANCEL when refused.
- Exec/attach: one stream per channel, header `streamType` = error, stdin,
  stdout, stderr or resize (resize only for v3+). The server waits, up to the
  kubelet's 30 s stream creation timeout, for 1 + stdin + stdout + stderr +
  (tty and v3+) streams, counting streams of those types as they are replied,
  then runs the command. The registered CRI request says which streams are
  wanted; a tty has no stderr.
  stdin: DATA is input, FIN is EOF (client-go half-closes it when its input
  ends). resize: a stream of JSON {"Width": W, "Height": H} objects.
  stdout/stderr: output, then FIN. error: v4/v5 write the metav1.Status JSON
  of cri_handler/websocket.py (Success; NonZeroExitCode with an ExitCode
  cause; InternalError); v1-v3 write only the message of a failure. Then FIN.
  The client reads stdout and stderr to EOF, then the error stream to EOF, and
  closes the session; the server sends GOAWAY and waits for that close.
- Port forward: per forwarded connection the client opens an error stream,
  half-closes it, and opens a data stream; both carry `streamType` (error or
  data), `port` (1-65535: a stream without a valid one is refused) and
  `requestID`, which pairs them (an old client without it: the pair is guessed
  from the stream ids, error = id, data = id + 2, as the kubelet does). A pair
  must be complete within the stream creation timeout. The data stream is
  piped to backend.portforward(pod_id, port): a FIN from the client half-closes
  the socket towards the pod, the pod's EOF becomes our FIN. The forward ends
  when the pod side has ended and the client is done sending (FIN) or has reset
  the stream. Errors go to the error stream as text ("error forwarding port P
  to pod ID: reason", the WebSocket path's wording; the newest kubelets send a
  JSON portForwardErrResponse, which client-go prints just the same), then
  the error stream gets FIN, which the client waits for. A CRI request that
  named ports allows only those. The session lasts until the client closes it.
- Not implemented: the kubelet's idle timeout (4 h); SPDY flow control (see
  cri_handler/spdy.py); port forward tunnelled as SPDY over WebSocket.
"""
from __future__ import annotations

import http.client
import json
import logging
import queue
import socket
import threading
import time
from urllib.parse import urlsplit

from cri_handler import spdy
from cri_handler.streaming import (
    CLOSE_SIGNAL,
    DRAIN_TIMEOUT,
    RESIZE,
    STATUS,
    STDERR,
    STDIN,
    STDOUT,
    check_query,
    serve_session,
)
from cri_handler.websocket import HandshakeError as _HandshakeError

log = logging.getLogger(__name__)

HEADER_VERSION = "X-Stream-Protocol-Version"
HEADER_ACCEPTED = "X-Accepted-Stream-Protocol-Versions"
REMOTECOMMAND_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io",
                           "v2.channel.k8s.io", "channel.k8s.io")
JSON_STATUS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
NO_RESIZE_PROTOCOLS = ("v2.channel.k8s.io", "channel.k8s.io")
PORTFORWARD_PROTOCOLS = ("portforward.k8s.io",)
STREAM_CREATION_TIMEOUT = 30.0     # the kubelet's default; read at each use, tests lower it


# -- the upgrade ------------------------------------------------------------------------
def serve_spdy(handler, owner, kind: str, token: str, req) -> None:
    """Answer a SPDY upgrade for a known token (streaming._Handler calls this
    with itself, its StreamServer and the registered request) and serve the
    session on the calling thread."""
    supported = PORTFORWARD_PROTOCOLS if kind == "portforward" else REMOTECOMMAND_PROTOCOLS
    offered = [p.strip() for h in handler.headers.get_all(HEADER_VERSION) or []
               for p in h.split(",") if p.strip()]
    if not offered:
        return handler._error(400, f"unable to upgrade: {HEADER_VERSION} is required")
    proto = next((p for p in offered if p in supported), None)
    if proto is None:
        return handler._error(403, "unable to upgrade: unable to negotiate protocol: client supports "
                                   f"[{' '.join(offered)}], server accepts [{' '.join(supported)}]",
                              [(HEADER_ACCEPTED, p) for p in supported])
    connection = ",".join(handler.headers.get_all("Connection") or []).lower()
    upgrade = ",".join(handler.headers.get_all("Upgrade") or []).lower()
    if "upgrade" not in connection or "spdy/3.1" not in upgrade:
        return handler._error(400, "unable to upgrade: missing upgrade headers in request: "
                                   "send Connection: Upgrade and Upgrade: SPDY/3.1")
    if kind != "portforward":          # port forward takes its ports from the stream headers
        try:
            check_query(kind, req, urlsplit(handler.path).query)
        except ValueError as e:
            return handler._error(400, str(e))
    if owner._consume(kind, token) is None:     # a concurrent request won the token
        return handler._error(404, f"unknown or expired {kind} token")

    handler.send_response(101)
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Upgrade", "SPDY/3.1")
    handler.send_header(HEADER_VERSION, proto)
    handler.end_headers()
    handler._upgraded = handler.close_connection = True
    new_streams: queue.Queue[spdy.Stream] = queue.Queue()
    conn = spdy.Connection(handler.connection, handler.rfile, server=True,
                           accept=_portforward_accept if kind == "portforward" else None,
                           on_stream=new_streams.put)
    reader = threading.Thread(target=conn.serve, daemon=True, name="spdy-in")
    reader.start()
    me = threading.current_thread()
    with owner._lock:
        if not owner._stopping:       # stop() may have taken its snapshot already
            owner._sessions[me] = _Stoppable(conn)
    try:
        if owner._stopping:
            conn.goaway()
        elif kind == "portforward":
            _serve_portforward(conn, new_streams, owner.backend, req)
        else:
            _serve_remotecommand(conn, new_streams, owner.backend, kind, req, proto)
    finally:
        with owner._lock:
            owner._sessions.pop(me, None)
        for s in _drain(new_streams):          # opened after we stopped looking
            s.reset()
        conn.abort()
        reader.join(5)


class _Stoppable:
    """What StreamServer.stop() calls on a session: close(), then abort()."""

    def __init__(self, conn: spdy.Connection):
        self.conn = conn

    def close(self, *_):
        self.conn.goaway()

    def abort(self):
        self.conn.abort()


def _drain(q: queue.Queue) -> list:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


# -- exec and attach -----------------------------------------------------------------
def _serve_remotecommand(conn: spdy.Connection, new_streams: queue.Queue, backend, kind: str,
                         req, proto: str) -> None:
    resize = req.tty and proto not in NO_RESIZE_PROTOCOLS
    streams = _wait_for_streams(conn, new_streams, 1 + req.stdin + req.stdout + req.stderr + resize,
                                resize)
    if streams is None:
        return conn.goaway()
    serve_session(backend, kind, req, _ChannelStreams(conn, proto, streams))

def _wait_for_streams(conn: spdy.Connection, new_streams: queue.Queue, expected: int,
                      resize: bool) -> dict[str, spdy.Stream] | None:
    """The kubelet's waitForStreams: count the replied streams of known types."""
    known = {"error", "stdin", "stdout", "stderr"} | ({"resize"} if resize else set())
    streams: dict[str, spdy.Stream] = {}
    count = 0
    deadline = time.monotonic() + STREAM_CREATION_TIMEOUT
    while count < expected:
        try:
            s = new_streams.get(timeout=0.1)
        except queue.Empty:
            if conn.closed.is_set():
                return None
            if time.monotonic() >= deadline:
                log.warning("timed out waiting for client to create streams (%d of %d)", count, expected)
                return None
            continue
        stype = s.header("streamtype")
        if stype in known:
            count += 1
            if stype in streams:
                s.reset()          # a second stream of one type: the first one is used
            else:
                streams[stype] = s
        else:
            log.warning("unexpected stream type: %r", stype)
            s.reset()
    return streams


class _ChannelStreams:
    """The remotecommand streams of one session, presented to
    streaming._StreamSession as the numbered channels of the WebSocket path:
    send(channel, data), recv() -> (channel, data) | None, then send_status()
    and finish(). The end of stdin is the v5 close signal [255, 0]."""

    def __init__(self, conn: spdy.Connection, proto: str, streams: dict[str, spdy.Stream]):
        self.conn, self.proto, self.streams = conn, proto, streams
        self._out = {STDOUT: streams.get("stdout"), STDERR: streams.get("stderr"),
                     STATUS: streams.get("error")}
        self._inbox: queue.Queue[tuple[int, bytes]] = queue.Queue(maxsize=16)
        self._done = threading.Event()
        for name, channel in (("stdin", STDIN), ("resize", RESIZE)):
            if (s := streams.get(name)) is not None:
                threading.Thread(target=self._feed, args=(s, channel), daemon=True,
                                 name=f"spdy-{name}").start()
        if "stdin" not in streams:            # asked for, but the client sent none: EOF
            self._inbox.put((CLOSE_SIGNAL, bytes([STDIN])))

    def _feed(self, stream: spdy.Stream, channel: int) -> None:
        while data := stream.read():
            if not self._put((channel, data)):
                return
        if channel == STDIN:                  # FIN, reset or the end of the session: EOF
            self._put((CLOSE_SIGNAL, bytes([STDIN])))

    def _put(self, item) -> bool:
        while not self._done.is_set():
            try:
                self._inbox.put(item, timeout=0.2)
                return True
            except queue.Full:
                pass
        return False

    def send(self, channel: int, data: bytes) -> bool:
        stream = self._out.get(channel)
        if stream is None:
            return False
        return stream.write(data) if data else True   # the WebSocket's "connected" message

    def recv(self) -> tuple[int, bytes] | None:
        while True:
            try:
                return self._inbox.get(timeout=0.2)
            except queue.Empty:
                if self._done.is_set() or self.conn.closed.is_set():
                    return None

    def send_status(self, status: dict) -> None:
        for name in ("stdout", "stderr"):          # the output is complete
            if (s := self.streams.get(name)) is not None:
                s.close()
        err = self.streams.get("error")
        if err is None:
            return
        if self.proto in JSON_STATUS_PROTOCOLS:
            err.write(json.dumps(status, separators=(",", ":")).encode())
        elif status["status"] != "Success":
            err.write(status["message"].encode())    # pre-v4: the error text alone
        err.close()

    def finish(self, reader: threading.Thread | None, grace: float) -> None:
        """FIN whatever is still open on our side, GOAWAY, and give the client
        `grace` seconds to close the session before dropping it."""
        for s in self.streams.values():
            s.close()
        self.conn.goaway()
        self.conn.closed.wait(grace)
        self._done.set()
        self.conn.abort()
        if reader is not None:
            reader.join()


# -- port forward ------------------------------------------------------------------------
def _portforward_accept(stream: spdy.Stream) -> bool:
    """The kubelet's httpStreamReceived: a port and a known stream type, or refused."""
    port = stream.header("port")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        log.warning("port forward: refusing a stream with port %r", port)
        return False
    if stream.header("streamtype") not in ("error", "data"):
        log.warning("port forward: refusing a stream of type %r", stream.header("streamtype"))
        return False
    return True


def _serve_portforward(conn: spdy.Connection, new_streams: queue.Queue, backend, req) -> None:
    pairs: dict[str, dict] = {}        # request id -> {"error": s, "data": s, "deadline": t}
    forwards: list[threading.Thread] = []
    socks: set[socket.socket] = set()  # the pod side of every live forward
    while not conn.closed.is_set():
        try:
            s = new_streams.get(timeout=0.2)
        except queue.Empty:
            s = None
        now = time.monotonic()
        for rid, pair in list(pairs.items()):
            if pair["deadline"] <= now:
                del pairs[rid]
                _end_pair(pair, f"request {rid}: timed out waiting for streams")
        if s is None:
            continue
        stype = s.header("streamtype")
        rid = s.header("requestid") or str(s.id if stype == "error" else s.id - 2)
        pair = pairs.setdefault(rid, {"deadline": now + STREAM_CREATION_TIMEOUT})
        if stype in pair:
            msg = f"error processing stream for request {rid}: {stype} stream already assigned"
            log.warning("port forward: %s", msg)
            if "error" in pair:
                pair["error"].write(msg.encode())
            s.reset()
            continue
        pair[stype] = s
        if "error" in pair and "data" in pair:
            del pairs[rid]
            t = threading.Thread(target=_forward, args=(conn, backend, req, pair["error"], pair["data"],
                                                        socks), daemon=True, name=f"spdy-pf-{rid}")
            t.start()
            forwards.append(t)
            forwards = [t for t in forwards if t.is_alive()]
    for pair in pairs.values():
        _end_pair(pair, "")
    for sock in list(socks):           # the session is over: unblock every forward
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    for t in forwards:
        t.join(DRAIN_TIMEOUT)


def _end_pair(pair: dict, message: str) -> None:
    if message:
        log.warning("port forward: %s", message)
    if (err := pair.get("error")) is not None:
        if message:
            err.write(message.encode())
        err.close()
    if (data := pair.get("data")) is not None:
        data.reset()


def _forward(conn: spdy.Connection, backend, req, err: spdy.Stream, data: spdy.Stream,
             socks: set) -> None:
    port = int(data.header("port"))
    what = f"error forwarding port {port} to pod {req.pod_id}"
    try:
        if req.ports and port not in req.ports:
            raise ValueError(f"port {port} was not requested in the PortForward call "
                             f"(ports: {', '.join(map(str, req.ports))})")
        sock = backend.portforward(req.pod_id, port)
    except Exception as e:            # the client gets the reason; the log gets the rest
        log.warning("port forward to %s:%d failed: %s", req.pod_id, port, e)
        err.write(f"{what}: {e}".encode())
        err.close()
        data.close()
        return
    socks.add(sock)
    failures: list[OSError] = []

    def pod_to_client() -> None:
        try:
            while chunk := sock.recv(65536):
                if not data.write(chunk):
                    break
        except OSError as e:
            failures.append(e)
        finally:
            data.close()                               # the pod is done: FIN

    pump = threading.Thread(target=pod_to_client, daemon=True, name=f"spdy-pf-out-{port}")
    pump.start()
    try:
        while chunk := data.read():
            sock.sendall(chunk)
        if not data.was_reset and not conn.closed.is_set():
            sock.shutdown(socket.SHUT_WR)              # FIN from the client: half-close
        while pump.is_alive():                         # until the pod is done too
            if data.was_reset or conn.closed.is_set():
                break
            pump.join(0.2)
    except OSError as e:
        failures.append(e)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    pump.join()
    socks.discard(sock)
    sock.close()
    if failures and not data.was_reset and not conn.closed.is_set():
        log.warning("port forward to %s:%d: %s", req.pod_id, port, failures[0])
        err.write(f"{what}: {failures[0]}".encode())
    err.close()
    data.close()


# -- the client side (the tests use it; handy for poking at a URL by hand) ---------------
class HandshakeError(_HandshakeError):
    """The server did not switch protocols; .headers has its answer's headers."""

    def __init__(self, status: int, reason: str, body: bytes = b"", headers=None):
        super().__init__(status, reason, body)
        self.headers = headers


def connect(url: str, protocols=REMOTECOMMAND_PROTOCOLS, *, method: str = "POST",
            timeout: float = 10.0, upgrade: str = "SPDY/3.1") -> tuple[spdy.Connection, str]:
    """Upgrade an http:// streaming URL to a SPDY session, offering `protocols`
    (one X-Stream-Protocol-Version header each, as client-go does). Returns the
    client session, already being served, and the version the server chose."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} (http only)")
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: Upgrade",
                 f"Upgrade: {upgrade}", "Content-Length: 0"]
        lines += [f"{HEADER_VERSION}: {p}" for p in protocols]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reader = sock.makefile("rb")
        status_line = reader.readline(65537).decode("latin-1").rstrip("\r\n")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise HandshakeError(0, f"malformed status line {status_line!r}")
        headers = http.client.parse_headers(reader)
        if int(code) != 101:
            length = int(headers.get("Content-Length") or 0)
            raise HandshakeError(int(code), reason, reader.read(min(length, 65536)) if length else b"",
                                 headers)
        chosen = headers.get(HEADER_VERSION, "")
        if "spdy/3.1" not in headers.get("Upgrade", "").lower() or chosen not in protocols:
            raise HandshakeError(101, f"bad upgrade answer (Upgrade {headers.get('Upgrade')!r}, "
                                      f"version {chosen!r})", b"", headers)
        sock.settimeout(None)
        conn = spdy.Connection(sock, reader, server=False)
        threading.Thread(target=conn.serve, daemon=True, name="spdy-client").start()
        return conn, chosen
    except BaseException:
        sock.close()
        raise
