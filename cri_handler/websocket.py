"""WebSocket (RFC 6455) and, on top of it, the Kubernetes channel protocols
that the streaming server speaks. Also a tiny client: the tests use it, and it
helps when poking at a streaming URL by hand.

Protocol facts this module relies on (RFC 6455):
- Handshake (section 4): the client sends `GET` with `Upgrade: websocket`,
  `Connection: Upgrade`, `Sec-WebSocket-Version: 13` and `Sec-WebSocket-Key`
  (base64 of 16 random bytes). The server answers `101` with
  `Sec-WebSocket-Accept = base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))`.
  A server that does not speak the requested version answers 426 with
  `Sec-WebSocket-Version: 13` (4.4).
- Subprotocols: the client lists them in `Sec-WebSocket-Protocol`; the server
  echoes exactly one of them, or none. Choosing is the caller's business.
- Frame header (5.2): FIN, RSV1-3 (must be 0: we negotiate no extension), a
  4-bit opcode; then MASK and a 7-bit length, where 126 means "16-bit length
  follows" and 127 "64-bit length follows" (top bit 0), big-endian; then a
  4-byte masking key if MASK is set.
- Masking (5.3): every client-to-server frame is masked, no server-to-client
  frame is. Receiving the wrong kind is a protocol error (close code 1002).
- Opcodes: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong; the
  others are reserved (1002).
- Fragmentation (5.4): a message is a text/binary frame with FIN=0, then
  continuation frames, the last with FIN=1. Control frames may come in between
  the fragments; they are never fragmented and carry at most 125 bytes.
- A ping is answered by a pong with the same payload; unsolicited pongs are
  ignored (5.5.2-3).
- Close (5.5.1, 7): the payload is empty or a 2-byte code plus a UTF-8 reason.
  After sending close an endpoint sends no more data; on receiving one it
  answers with close (echoing the code) unless it already sent one. The
  server then closes TCP first (7.1.1).
- Text messages must be UTF-8 (1007). We refuse messages over MAX_MESSAGE (1009).

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
- Channel 4 (resize) carries a stream of JSON objects {"Width": W, "Height": H}:
  Go's TerminalSize has no json tags, and the kubelet reads the channel with
  json.Decoder. So one object may span several messages, and one message may
  hold several objects.
- Status on channel 3 (v4+) is metav1.Status, marshalled as the kubelet does it
  (Go field order, empty fields omitted, metadata always present):
    {"metadata":{},"status":"Success"}
    {"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: ...",
     "reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}
  Other errors are NewInternalError: Failure, reason InternalError, code 500,
  details.causes [{"message": ...}].
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import logging
import os
import socket
import struct
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
_KNOWN_OPS = {OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG}
CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_PROTOCOL = 1000, 1001, 1002
CLOSE_BAD_DATA, CLOSE_TOO_BIG, CLOSE_INTERNAL = 1007, 1009, 1011
MAX_MESSAGE = 16 << 20
CHANNEL_STATUS, CHANNEL_CLOSE = 3, 255

log = logging.getLogger(__name__)


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def valid_key(key: str | None) -> bool:
    """A Sec-WebSocket-Key must decode to exactly 16 bytes (4.2.1)."""
    try:
        return key is not None and len(base64.b64decode(key, validate=True)) == 16
    except (ValueError, binascii.Error):
        return False


def mask(data: bytes, key: bytes) -> bytes:
    """XOR data with the repeated 4-byte key (masking is its own inverse)."""
    n = len(data)
    if not n:
        return b""
    # One big-integer XOR: a per-byte Python loop is ~100x slower on large frames.
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def _valid_close_code(code: int) -> bool:
    # 1004-1006 and 1015 are reserved for local use and never sent (7.4.1).
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999


@dataclass
class Message:
    opcode: int   # OP_TEXT or OP_BINARY
    data: bytes


class ProtocolError(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


class HandshakeError(Exception):
    """The server did not switch protocols (status and body say why)."""
    def __init__(self, status: int, reason: str, body: bytes = b""):
        super().__init__(f"handshake failed: {status} {reason}: {body.decode(errors='replace').strip()}")
        self.status, self.reason, self.body = status, reason, body


class WebSocket:
    """One WebSocket connection over a connected TCP socket.

    send*/close may be called from any thread (one lock serialises frames);
    recv() must be called from one thread only. `reader` is a buffered file
    on the socket when the caller already has one (the HTTP server's rfile
    may hold bytes the client sent right after its handshake)."""

    def __init__(self, sock: socket.socket, reader=None, *, client: bool = False,
                 subprotocol: str = "", max_message: int = MAX_MESSAGE):
        self.sock = sock
        self.reader = reader if reader is not None else sock.makefile("rb")
        self.client = client
        self.subprotocol = subprotocol
        self.max_message = max_message
        self.close_sent = False
        self.close_code: int | None = None   # the code the peer closed with
        self._lock = threading.Lock()

    # -- sending ---------------------------------------------------------
    def _frame(self, opcode: int, payload: bytes, fin: bool = True) -> bytes:
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        bit = 0x80 if self.client else 0
        if n < 126:
            head += bytes([bit | n])
        elif n < 1 << 16:
            head += bytes([bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([bit | 127]) + struct.pack("!Q", n)
        if self.client:
            key = os.urandom(4)
            return head + key + mask(payload, key)
        return head + payload

    def send(self, data: bytes, opcode: int = OP_BINARY, fragment: int = 0) -> None:
        """Send one message; fragment > 0 splits it into frames of that many
        bytes. Raises OSError (ConnectionError) once the connection is closed."""
        chunks = [data[i:i + fragment] for i in range(0, len(data), fragment)] if fragment else [data]
        chunks = chunks or [b""]
        frames = b"".join(self._frame(opcode if i == 0 else OP_CONT, c, i == len(chunks) - 1)
                          for i, c in enumerate(chunks))
        self._write(frames)

    def send_text(self, text: str) -> None:
        self.send(text.encode(), OP_TEXT)

    def ping(self, data: bytes = b"") -> None:
        self._write(self._frame(OP_PING, data[:125]))

    def _write(self, raw: bytes, closing: bool = False) -> None:
        with self._lock:
            if self.close_sent:
                raise ConnectionError("WebSocket is closed")
            self.close_sent = closing
            self.sock.sendall(raw)

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (once); the peer's answer ends recv()."""
        payload = struct.pack("!H", code) + reason.encode()[:123]
        try:
            self._write(self._frame(OP_CLOSE, payload), closing=True)
        except OSError:
            pass   # already closed, or the peer is gone: nothing left to tell it

    def abort(self) -> None:
        """Shut the TCP connection down; unblocks a recv() in another thread."""
        with self._lock:
            self.close_sent = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def disconnect(self) -> None:
        """Client side: drop the connection and release the socket."""
        self.abort()
        self.reader.close()
        self.sock.close()

    # -- receiving -------------------------------------------------------
    def _read(self, n: int) -> bytes:
        try:
            data = self.reader.read(n) if n else b""
        except (OSError, ValueError):   # ValueError: the reader was closed under us
            data = None
        if data is None or len(data) < n:
            raise EOFError
        return data

    def _read_frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._read(2)
        fin, opcode, masked, n = bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F
        if b0 & 0x70:
            raise ProtocolError(CLOSE_PROTOCOL, "reserved bits set, but no extension was negotiated")
        if opcode not in _KNOWN_OPS:
            raise ProtocolError(CLOSE_PROTOCOL, f"reserved opcode {opcode}")
        if masked == self.client:
            raise ProtocolError(CLOSE_PROTOCOL, "server frames must not be masked" if self.client
                                else "client frames must be masked")
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
            if n >> 63:
                raise ProtocolError(CLOSE_PROTOCOL, "64-bit length with the top bit set")
        if opcode >= OP_CLOSE and (not fin or n > 125):
            raise ProtocolError(CLOSE_PROTOCOL, "control frames cannot be fragmented or exceed 125 bytes")
        if n > self.max_message:
            raise ProtocolError(CLOSE_TOO_BIG, f"frame of {n} bytes exceeds {self.max_message}")
        key = self._read(4) if masked else b""
        payload = self._read(n)
        return fin, opcode, mask(payload, key) if masked else payload

    def recv(self) -> Message | None:
        """The next text or binary message, or None once the connection is over
        (close handshake, EOF, or a protocol error that was answered with close).
        Pings are answered here."""
        parts: list[bytes] = []
        opcode, size = None, 0
        try:
            while True:
                fin, op, payload = self._read_frame()
                if op == OP_PING:
                    try:
                        self._write(self._frame(OP_PONG, payload))
                    except OSError:
                        pass
                    continue
                if op == OP_PONG:
                    continue
                if op == OP_CLOSE:
                    return self._on_close(payload)
                if op == OP_CONT and opcode is None:
                    raise ProtocolError(CLOSE_PROTOCOL, "continuation frame without a message")
                if op != OP_CONT:
                    if opcode is not None:
                        raise ProtocolError(CLOSE_PROTOCOL, "new message inside a fragmented one")
                    opcode = op
                size += len(payload)
                if size > self.max_message:
                    raise ProtocolError(CLOSE_TOO_BIG, f"message exceeds {self.max_message} bytes")
                parts.append(payload)
                if fin:
                    data = b"".join(parts)
                    if opcode == OP_TEXT:
                        try:
                            data.decode("utf-8")
                        except UnicodeDecodeError:
                            raise ProtocolError(CLOSE_BAD_DATA, "text message is not UTF-8") from None
                    return Message(opcode, data)
        except ProtocolError as e:
            self.close(e.code, e.reason)
            return None
        except EOFError:
            return None

    def _on_close(self, payload: bytes) -> None:
        code = CLOSE_NORMAL
        if len(payload) == 1:
            code = CLOSE_PROTOCOL
        elif len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            self.close_code = code
            if not _valid_close_code(code):
                code = CLOSE_PROTOCOL
        else:
            self.close_code = 1005   # "no status received" (7.4.1)
        self.close(code)
        return None


def connect(url: str, protocols=(), timeout: float = 10.0) -> WebSocket:
    """Open a WebSocket to ws:// or http:// URL offering `protocols`; the
    chosen one is in .subprotocol. Raises HandshakeError on any non-101 answer."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "http"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} (ws or http only)")
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
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
            raise HandshakeError(int(code), reason, reader.read(min(length, 65536)) if length else b"")
        if headers.get("Sec-WebSocket-Accept") != accept_key(key):
            raise HandshakeError(101, "bad Sec-WebSocket-Accept")
        chosen = headers.get("Sec-WebSocket-Protocol", "")
        if chosen and chosen not in protocols:
            raise HandshakeError(101, f"server chose a subprotocol we did not offer: {chosen!r}")
        return WebSocket(sock, reader, client=True, subprotocol=chosen)
    except BaseException:
        sock.close()
        raise


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
    """Channel-numbered messages over one WebSocket."""

    def __init__(self, ws: WebSocket, proto: ChannelProtocol):
        self.ws, self.proto = ws, proto

    def send(self, channel: int, data: bytes) -> bool:
        """Send on a channel; False once the client is gone."""
        try:
            if self.proto.base64:
                self.ws.send(bytes([48 + channel]) + base64.b64encode(data), OP_TEXT)
            else:
                self.ws.send(bytes([channel]) + data, OP_BINARY)
            return True
        except OSError:
            return False

    def recv(self) -> tuple[int, bytes] | None:
        """The next (channel, payload), or None when the connection is over."""
        while True:
            msg = self.ws.recv()
            if msg is None:
                return None
            if not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if self.proto.close_signal and channel == CHANNEL_CLOSE:
                return channel, payload
            if self.proto.base64:
                try:
                    return channel - 48, base64.b64decode(payload, validate=True)
                except (ValueError, binascii.Error):
                    log.warning("dropping a message with bad base64 on channel %r", chr(channel))
                    continue
            return channel, payload

    def send_status(self, status: dict) -> None:
        if self.proto.json_status:
            self.send(CHANNEL_STATUS, json.dumps(status, separators=(",", ":")).encode())
        elif status["status"] != "Success":
            self.send(CHANNEL_STATUS, status["message"].encode())   # pre-v4: the error text alone

    def finish(self, reader: threading.Thread | None, grace: float) -> None:
        """Close handshake: send close, give the client `grace` seconds to answer
        (the reader thread sees the answer), then drop TCP."""
        self.ws.close()
        if reader is not None:
            reader.join(grace)
        self.ws.abort()
        if reader is not None:
            reader.join()


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int


class ResizeDecoder:
    """Channel 4 is a JSON stream (the kubelet reads it with json.Decoder), so an
    object may be split across messages, or several may share one message."""

    def __init__(self):
        self.buf = ""

    def feed(self, data: bytes) -> list[TerminalSize]:
        self.buf = (self.buf + data.decode("utf-8", "replace"))[-4096:]
        sizes, dec = [], json.JSONDecoder()
        while self.buf.strip():
            text = self.buf.lstrip()
            try:
                obj, end = dec.raw_decode(text)
            except json.JSONDecodeError as e:
                # An incomplete object fails at its end, except inside a string, where
                # the error points at the string's start. Anything else is garbage.
                if e.pos < len(text) and not e.msg.startswith("Unterminated string"):
                    log.warning("dropping a malformed resize message: %s", e)
                    self.buf = ""
                break
            self.buf = text[end:]
            try:
                w, h = int(obj["Width"]), int(obj["Height"])
            except (TypeError, KeyError, ValueError):
                log.warning("dropping a resize message without Width/Height: %r", obj)
                continue
            if 0 <= w <= 0xFFFF and 0 <= h <= 0xFFFF:    # uint16, as in Go
                sizes.append(TerminalSize(w, h))
        return sizes


# -- metav1.Status, as the kubelet writes it --------------------------------------
def status_success() -> dict:
    return {"metadata": {}, "status": "Success"}


def status_exit(code: int, cmd) -> dict:
    # The wording is the kubelet's prefix around the runtime's error text. Clients
    # read only reason and causes.
    shown = "[" + " ".join(cmd) + "]" if cmd is not None else "[]"
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: "
                       f"error executing command {shown}, exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def status_internal(message: str) -> dict:
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
            "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500}
