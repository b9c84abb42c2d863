"""The tests' SPDY/3.1 streaming client: connect() upgrades an http://
streaming URL the way client-go does (POST, `Connection: Upgrade`,
`Upgrade: SPDY/3.1`, one `X-Stream-Protocol-Version` header per offered
version, most preferred first) and returns a client-side
cri_handler.spdy.Connection already being served on a thread of its own."""
import http.client
import socket
import threading
from urllib.parse import urlsplit

from cri_handler import spdy
from cri_handler.spdystream import HEADER_VERSION, REMOTECOMMAND_PROTOCOLS


class HandshakeError(Exception):
    """The server did not switch protocols; .headers has its answer's headers."""

    def __init__(self, status: int, reason: str, body: bytes = b"", headers=None):
        super().__init__(f"handshake failed: {status} {reason}: {body.decode(errors='replace').strip()}")
        self.status, self.reason, self.body, self.headers = status, reason, body, headers


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
