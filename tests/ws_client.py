"""The tests' WebSocket client, on wsproto like the server
(cri_handler/websocket.py): connect() does the client's handshake and
returns the server's WebSocket class on a client-side wsproto connection.
raw_frame() builds frames by hand (RFC 6455 5.2: FIN/opcode byte, MASK bit
and 7/16/64-bit length, 4-byte masking key, masked payload) for the tests
that send what wsproto would refuse to."""
import os
import socket
import struct
from urllib.parse import urlsplit

from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from cri_handler.websocket import OP_BINARY, OP_TEXT, WebSocket

OP_CONT, OP_PING = 0, 9
__all__ = ["OP_BINARY", "OP_CONT", "OP_PING", "OP_TEXT", "HandshakeError", "connect", "raw_frame"]


class HandshakeError(Exception):
    """The server did not switch protocols (status and body say why)."""

    def __init__(self, status: int, reason: str, body: bytes = b"", headers=()):
        super().__init__(f"handshake failed: {status} {reason}: {body.decode(errors='replace').strip()}")
        self.status, self.reason, self.body, self.headers = status, reason, body, list(headers)


def connect(url: str, protocols=(), timeout: float = 10.0) -> WebSocket:
    """Open a WebSocket to a ws:// or http:// URL offering `protocols`; the
    chosen one is in .subprotocol. HandshakeError on any answer but 101."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "http"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} (ws or http only)")
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    try:
        hs = H11Handshake(ConnectionType.CLIENT)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sock.sendall(hs.send(Request(host=parts.netloc, target=target, subprotocols=list(protocols))))
        reader = sock.makefile("rb")
        status, headers, body = 0, [], b""
        while True:
            data = reader.read1(65536)
            try:
                hs.receive_data(data or None)
                events = list(hs.events())
            except RemoteProtocolError as e:
                raise HandshakeError(101, str(e)) from None
            for ev in events:
                if isinstance(ev, AcceptConnection):
                    return WebSocket(sock, reader, hs.connection, subprotocol=ev.subprotocol or "")
                if isinstance(ev, RejectConnection):
                    status, headers = ev.status_code, ev.headers
                    if not ev.has_body:
                        raise HandshakeError(status, "rejected", b"", headers)
                elif isinstance(ev, RejectData):
                    body += ev.data
                    if ev.body_finished:
                        raise HandshakeError(status, "rejected", body, headers)
            if not data:
                raise HandshakeError(status, "connection closed during the handshake", body, headers)
    except BaseException:
        sock.close()
        raise


def raw_frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
