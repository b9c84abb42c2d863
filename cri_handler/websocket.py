"""WebSocket for the streaming server: the handshake and RFC 6455 framing are
the `wsproto` library's; this module drives it over a blocking socket and
puts the Kubernetes channel protocols on top (the transport-independent part
is cri_handler/channels.py).

What wsproto does (and so we do not): parsing the upgrade request (GET,
`Connection: Upgrade`, `Upgrade: websocket`, `Host`, `Sec-WebSocket-Key`;
`Sec-WebSocket-Version` other than 13 is refused with 426 and
`Sec-WebSocket-Version: 13`, section 4.4), the `Sec-WebSocket-Accept`
answer, frame parsing (masking: every client frame masked, no server frame;
RSV bits without an extension, reserved opcodes, fragmented or oversized
control frames, continuation without a message: close 1002; text that is not
UTF-8: 1007), the close handshake's state and valid close codes. wsproto
does not check that the key decodes to 16 bytes (4.2.1): valid_key does.

What this module adds, as protocol facts (RFC 6455):
- wsproto is sans-I/O: we read the socket and feed it, and write what it
  returns. Output comes from several threads, so a lock serialises its state
  (held only around wsproto's own calls) and another the socket writes.
- A ping is answered by a pong with the same payload; unsolicited pongs are
  ignored (5.5.2-3).
- A peer's close is answered with close (echoing its code), after which we
  send nothing (5.5.1). A protocol error is answered with close carrying the
  error's code. The server then closes TCP first (7.1.1).
- wsproto hands large messages over frame by frame: we join a message's
  frames and refuse one over MAX_MESSAGE bytes with 1009.

Kubernetes channel protocols (apimachinery `pkg/util/httpstream/wsstream`,
`pkg/util/remotecommand`):
- The client offers subprotocols; the server takes the first offered one it
  supports (Go's handshake does the same). A client that offers none gets
  plain `channel.k8s.io`.
    channel.k8s.io, base64.channel.k8s.io        pre-v4: only failures are reported,
                                                 as plain text on channel 3
    v4.channel.k8s.io, v4.base64.channel.k8s.io  the status as JSON metav1.Status on channel 3
    v5.channel.k8s.io                            v4 plus stream close: the binary message
                                                 [255, id] half-closes stream id
  Port forward speaks v4 framing (binary or base64), or the framing of no offered protocol.
- Binary framing: each message is one channel byte, then the payload. The
  base64 variants use text messages: one ASCII digit ('0' + channel), then the
  base64 of the payload.
- Empty messages are ignored. So are messages for channels the receiver does not read.
- Port forward (kubelet `pkg/cri/streaming/portforward/websocket.go`): the
  i-th port uses channel 2i for data (both ways) and 2i+1 for errors (server
  to client). The server's first message on each of the two is the port,
  2 bytes little-endian. The WebSocket carries one connection per port and
  ends when each of them has ended; a connection ends when either side does
  (as containerd's does). What a client writes on an error channel, or for a
  port whose connection failed, is dropped.
"""
from __future__ import annotations

import base64
import binascii
import logging
import queue
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.events import Message as WsMessage
from wsproto.handshake import H11Handshake
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from cri_handler.channels import CLOSE_SIGNAL, DRAIN_TIMEOUT, STATUS, Refused, status_payload

OP_TEXT, OP_BINARY = 1, 2
CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_TOO_BIG = 1000, 1001, 1009
MAX_MESSAGE = 16 << 20

log = logging.getLogger(__name__)


@dataclass
class Message:
    opcode: int   # OP_TEXT or OP_BINARY
    data: bytes


def valid_key(key: str | None) -> bool:
    """A Sec-WebSocket-Key must decode to exactly 16 bytes (4.2.1)."""
    try:
        return key is not None and len(base64.b64decode(key, validate=True)) == 16
    except (ValueError, binascii.Error):
        return False


class WebSocket:
    """One WebSocket connection over a connected socket, framed by a wsproto
    Connection (server or client side).

    send*/close/abort may be called from any thread; recv() from one thread
    only. `reader` is a buffered file on the socket: the HTTP server's rfile
    may hold bytes the client sent right after its handshake."""

    def __init__(self, sock: socket.socket, reader, conn: Connection, *, subprotocol: str = "",
                 max_message: int = MAX_MESSAGE):
        self.sock, self.reader, self.conn = sock, reader, conn
        self.subprotocol = subprotocol
        self.max_message = max_message
        self.close_code: int | None = None   # the code the peer closed with
        # _lock guards wsproto's state and is held only for its calls; _wlock
        # orders the socket writes. A write that blocks (the peer is not
        # reading) must not stop recv() from reading: that would deadlock
        # against a peer that reads only after its own write finished.
        self._lock = threading.Lock()
        self._wlock = threading.Lock()
        self._events: deque = deque()
        self._aborted = False

    # -- sending
    def _send_event(self, event) -> None:
        with self._wlock:                 # frames go out in the order they were made
            with self._lock:
                if self._aborted:
                    raise ConnectionError("WebSocket is closed")
                try:
                    raw = self.conn.send(event)
                except LocalProtocolError:    # we already sent close
                    raise ConnectionError("WebSocket is closed") from None
            self.sock.sendall(raw)        # may block: the reader must not wait for it

    def send(self, data: bytes, opcode: int = OP_BINARY) -> None:
        """Send one message. Raises OSError (ConnectionError) once the
        connection is closed."""
        if opcode == OP_TEXT:
            self._send_event(TextMessage(data=data.decode("utf-8")))
        else:
            self._send_event(BytesMessage(data=data))

    def ping(self, data: bytes = b"") -> None:
        self._send_event(Ping(payload=data[:125]))

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (once); the peer's answer ends recv()."""
        try:
            with self._lock:
                if self._aborted or self.conn.state not in (ConnectionState.OPEN,
                                                            ConnectionState.REMOTE_CLOSING):
                    return
            self._send_event(CloseConnection(code=code, reason=reason or None))
        except OSError:
            pass   # already closed, or the peer is gone: nothing left to tell it

    def abort(self) -> None:
        """Shut the TCP connection down; unblocks a recv() in another thread."""
        with self._lock:
            self._aborted = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def disconnect(self) -> None:
        """Client side: drop the connection and release the socket."""
        self.abort()
        self.reader.close()
        self.sock.close()

    # -- receiving
    def _next_event(self):
        """The next wsproto event, reading the socket as needed; None at EOF."""
        while True:
            with self._lock:
                # First what wsproto already holds: a client's connection starts
                # with the bytes that came with the handshake's answer.
                if self.conn.state is not ConnectionState.CLOSED:
                    self._events.extend(self.conn.events())
                if self._events:
                    return self._events.popleft()
                if self.conn.state is ConnectionState.CLOSED:
                    return None
            try:
                data = self.reader.read1(65536)
            except (OSError, ValueError):    # ValueError: the reader was closed under us
                data = b""
            with self._lock:
                if self.conn.state is ConnectionState.CLOSED:
                    return None
                self.conn.receive_data(data or None)   # None: the peer is gone (1006)

    def recv(self) -> Message | None:
        """The next text or binary message, or None once the connection is over
        (close handshake, EOF, or a protocol error that was answered with close).
        Pings are answered here."""
        parts: list[bytes] = []
        size = 0
        while (ev := self._next_event()) is not None:
            if isinstance(ev, Ping):
                try:
                    self._send_event(ev.response())
                except OSError:
                    pass
            elif isinstance(ev, CloseConnection):
                if self.conn.state in (ConnectionState.REMOTE_CLOSING, ConnectionState.CLOSED):
                    self.close_code = ev.code      # the peer's close: echo it
                    self.close(ev.code)
                else:                              # wsproto found a protocol error
                    self.close(ev.code, ev.reason)
                return None
            elif isinstance(ev, WsMessage):
                data = ev.data.encode("utf-8") if isinstance(ev, TextMessage) else bytes(ev.data)
                size += len(data)
                if size > self.max_message:
                    self.close(CLOSE_TOO_BIG, f"message exceeds {self.max_message} bytes")
                    return None
                parts.append(data)
                if ev.message_finished:
                    return Message(OP_TEXT if isinstance(ev, TextMessage) else OP_BINARY, b"".join(parts))
            elif not isinstance(ev, Pong):
                log.debug("ignoring WebSocket event %r", ev)
        return None

    # what StreamServer.stop() calls on a session
    def stop(self) -> None:
        self.close(CLOSE_GOING_AWAY, "server shutting down")
        self.abort()


# -- the server's handshake ---------------------------------------------------------
def handshake(handler) -> tuple[H11Handshake, list[str]]:
    """Hand the request http.server parsed to wsproto; return the handshake and
    the offered subprotocols, or raise Refused with the status to answer."""
    hs = H11Handshake(ConnectionType.SERVER)
    head = handler.raw_requestline + b"".join(
        f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in handler.headers.items()) + b"\r\n"
    try:
        hs.receive_data(head)
        events = list(hs.events())
    except RemoteProtocolError as e:
        hint = e.event_hint
        status = getattr(hint, "status_code", 400)
        headers = [(k.decode(), v.decode()) for k, v in getattr(hint, "headers", [])]
        if status == 426:
            raise Refused(426, "only WebSocket version 13 is supported", headers) from None
        raise Refused(status, f"{e}: send Upgrade: websocket and Connection: Upgrade", headers) from None
    request = next((ev for ev in events if isinstance(ev, Request)), None)
    if request is None:
        raise Refused(400, "incomplete WebSocket upgrade request")
    if not valid_key(handler.headers.get("Sec-WebSocket-Key")):
        raise Refused(400, "missing or malformed Sec-WebSocket-Key")
    return hs, list(request.subprotocols)


def accept(handler, hs: H11Handshake, subprotocol: str) -> WebSocket:
    """Answer 101 and return the open WebSocket."""
    raw = hs.send(AcceptConnection(subprotocol=subprotocol or None))
    handler.log_request(101)
    handler.connection.sendall(raw)
    return WebSocket(handler.connection, handler.rfile, hs.connection, subprotocol=subprotocol)


# -- the Kubernetes channel protocols on top ----------------------------------------
@dataclass(frozen=True)
class ChannelProtocol:
    name: str
    base64: bool = False
    json_status: bool = False     # v4+: a metav1.Status on channel 3
    close_signal: bool = False    # v5: [255, id] closes stream id


_PROTOCOLS = {p.name: p for p in (
    ChannelProtocol("v5.channel.k8s.io", json_status=True, close_signal=True),
    ChannelProtocol("v4.channel.k8s.io", json_status=True),
    ChannelProtocol("v4.base64.channel.k8s.io", base64=True, json_status=True),
    ChannelProtocol("channel.k8s.io"),
    ChannelProtocol("base64.channel.k8s.io", base64=True),
    ChannelProtocol(""),          # the client offered none: binary, pre-v4 status
)}
# The kubelet's port forward speaks v4 framing only, and has no status channel.
PORTFORWARD_PROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io", "")
EXEC_PROTOCOLS = tuple(_PROTOCOLS)


def negotiate(offered: list[str], supported) -> ChannelProtocol | None:
    """The first offered subprotocol we support, as Go's websocket handshake picks it."""
    for name in offered or [""]:
        if name in supported:
            return _PROTOCOLS[name]
    return None


class ChannelConn:
    """Channel-numbered messages over one WebSocket (channels.Channels)."""

    def __init__(self, ws: WebSocket, proto: ChannelProtocol):
        self.ws, self.proto = ws, proto

    def send(self, channel: int, data: bytes) -> bool:
        try:
            if self.proto.base64:
                self.ws.send(bytes([48 + channel]) + base64.b64encode(data), OP_TEXT)
            else:
                self.ws.send(bytes([channel]) + data, OP_BINARY)
            return True
        except OSError:
            return False

    def recv(self) -> tuple[int, bytes] | None:
        while True:
            msg = self.ws.recv()
            if msg is None:
                return None
            if not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if self.proto.close_signal and channel == CLOSE_SIGNAL:
                return channel, payload
            if self.proto.base64:
                try:
                    return channel - 48, base64.b64decode(payload, validate=True)
                except (ValueError, binascii.Error):
                    log.warning("dropping a message with bad base64 on channel %r", chr(channel))
                    continue
            return channel, payload

    def send_status(self, status: dict) -> None:
        if (payload := status_payload(status, self.proto.json_status)) is not None:
            self.send(STATUS, payload)

    def finish(self, reader: threading.Thread | None, grace: float) -> None:
        """Close handshake: send close, give the client `grace` seconds to answer
        (the reader thread sees the answer), then drop TCP."""
        self.ws.close()
        if reader is not None:
            reader.join(grace)
        self.ws.abort()
        if reader is not None:
            reader.join()


class WebSocketSession:
    """What streaming.py serves on an upgraded WebSocket."""

    def __init__(self, ws: WebSocket, proto: ChannelProtocol):
        self.ws, self.conn = ws, ChannelConn(ws, proto)

    def channels(self, req) -> ChannelConn:
        return self.conn

    def forward_source(self, ports: list[int]) -> PortForwards:
        return PortForwards(self.conn, ports)

    def stop(self) -> None:
        self.ws.stop()

    def close(self) -> None:
        pass             # the HTTP handler closes the socket


# -- port forward --------------------------------------------------------------------
class _PortForward:
    """The connection of the i-th port: data on channel 2i, errors on 2i+1."""
    half_close = False

    def __init__(self, source: PortForwards, index: int, port: int):
        self.source, self.index, self.port = source, index, port
        self.inbox: queue.Queue[bytes] = queue.Queue(maxsize=16)
        self.done = threading.Event()

    def read(self) -> bytes:
        while not self.done.is_set():
            try:
                return self.inbox.get(timeout=0.2)
            except queue.Empty:
                if self.source.gone.is_set():
                    break
        return b""

    def write(self, data: bytes) -> bool:
        return not self.done.is_set() and self.source.conn.send(2 * self.index, data)

    def close_write(self) -> None:
        self.done.set()            # no half-close on WebSocket: either side ending ends it

    def aborted(self) -> bool:
        return self.source.gone.is_set()

    def error(self, message: str) -> None:
        self.source.conn.send(2 * self.index + 1, message.encode())

    def end(self) -> None:
        self.done.set()
        self.source._ended()


class PortForwards:
    """channels.ForwardSource for a port-forward WebSocket: one connection per port."""

    def __init__(self, conn: ChannelConn, ports: list[int]):
        self.conn = conn
        self.fwds = [_PortForward(self, i, p) for i, p in enumerate(ports)]
        self.gone = threading.Event()          # the client closed or dropped the WebSocket
        self._over = threading.Event()
        self._lock = threading.Lock()
        self._open = len(self.fwds)
        self.reader = threading.Thread(target=self._read_loop, daemon=True, name="pf-in")

    def forwards(self):
        for fw in self.fwds:
            prefix = struct.pack("<H", fw.port)
            self.conn.send(2 * fw.index, prefix)
            self.conn.send(2 * fw.index + 1, prefix)
        self.reader.start()
        yield from self.fwds
        if not self.fwds:
            self._over.set()
        self._over.wait()

    def _ended(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open <= 0:
                self._over.set()

    def _read_loop(self) -> None:
        while (item := self.conn.recv()) is not None:
            channel, data = item
            i, is_error = divmod(channel, 2)
            if is_error or i >= len(self.fwds):
                continue
            fw = self.fwds[i]
            while not fw.done.is_set():          # backpressure: wait for the pod side
                try:
                    fw.inbox.put(data, timeout=0.2)
                    break
                except queue.Full:
                    pass
        self.gone.set()
        self._over.set()

    def finish(self) -> None:
        self.conn.finish(self.reader if self.reader.is_alive() else None, DRAIN_TIMEOUT)

