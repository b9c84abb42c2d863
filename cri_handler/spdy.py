"""SPDY/3.1 framing and sessions, for the Kubernetes streaming protocols that
clients speak when they do not use WebSocket (cri_handler/spdystream.py).

Protocol facts this module relies on (the SPDY/3 draft, section 2, and the byte
layout Go speaks: moby/spdystream spdy/{types,read,write}.go, the library of
client-go, crictl and the kubelet):
- Every frame starts with 8 bytes, big-endian. A control frame: 1 bit set,
  15-bit version (3), 16-bit type; a data frame: 1 bit clear, 31-bit stream id.
  Then 8 bits of flags and a 24-bit length of the payload that follows.
- Control frames and their payloads:
    SYN_STREAM 1     stream id, associated-to id (31 bits each), priority (top 3
                     bits of a byte), slot (a byte), header block.
                     Flags FIN 1, UNIDIRECTIONAL 2.
    SYN_REPLY 2      stream id, header block. Flag FIN.
    RST_STREAM 3     stream id, status: 1 PROTOCOL_ERROR, 2 INVALID_STREAM,
                     3 REFUSED_STREAM, 5 CANCEL, 6 INTERNAL_ERROR, ...
    SETTINGS 4       count, then per entry 8-bit flags, 24-bit id, 32-bit value.
    PING 6           32-bit id. Client ids are odd, server ids even; a receiver
                     echoes the other side's pings.
    GOAWAY 7         last good stream id, status (0 OK, 1 PROTOCOL_ERROR, 2 INTERNAL_ERROR).
    HEADERS 8        stream id, header block. Flag FIN.
    WINDOW_UPDATE 9  stream id, delta window size.
  A receiver ignores control frames of unknown types (2.2.1).
- DATA with FLAG_FIN (1) half-closes the sender's side of a stream; a SYN with
  FIN opens it half-closed. RST_STREAM ends both sides at once.
- Stream ids: client-initiated odd, server-initiated even, and each side's ids
  strictly increase. A SYN_STREAM that breaks this gets RST_STREAM
  PROTOCOL_ERROR (as spdystream does). Frames for unknown streams are dropped.
- Header block before compression: a 32-bit count, then per header a 32-bit
  length and the name (lowercase), a 32-bit length and the value. Several
  values of one name are joined by NUL. Go's reader fails the whole session on
  an upper-case or duplicate name, so we write neither.
- Header blocks are one zlib stream (RFC 1950) per direction and session,
  started with the preset dictionary HEADER_DICTIONARY (2.6.10.1: 1423 bytes,
  Adler-32 0xe3c6a7c2, so a zlib header reads 78 .. e3 c6 a7 c2). Every block
  ends with a sync flush, which makes it decodable as soon as it arrives. Go
  compresses at BestCompression (9); any level decodes.
- Flow control: SPDY/3.1 starts every window at 64 KiB, but spdystream neither
  sends WINDOW_UPDATE nor waits for one. A sender that honoured windows would
  stall after 64 KiB against Go, so neither side of this module does; SETTINGS
  and WINDOW_UPDATE are read and ignored. Backpressure is TCP's: a stream
  whose reader falls MAX_BUFFER behind stops the session's reader (spdystream's
  unbuffered channels block the same way).
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
import zlib
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

VERSION = 3
DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 0, 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN, FLAG_UNIDIRECTIONAL = 0x01, 0x02
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6
GOAWAY_OK, GOAWAY_PROTOCOL_ERROR, GOAWAY_INTERNAL_ERROR = 0, 1, 2
MAX_LENGTH = (1 << 24) - 1          # 24-bit frame lengths
MAX_HEADER_BLOCK = 1 << 20          # decompressed; more is a protocol error here
MAX_BUFFER = 1 << 20                # unread bytes per stream before the reader waits
CHUNK = 1 << 16                     # the largest DATA frame we write


def _dictionary() -> bytes:
    # The SPDY/3 dictionary (draft 3, 2.6.10.1): length-prefixed words, then a tail.
    words = ("options head post put delete trace accept accept-charset accept-encoding "
             "accept-language accept-ranges age allow authorization cache-control connection "
             "content-base content-encoding content-language content-length content-location "
             "content-md5 content-range content-type date etag expect expires from host if-match "
             "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
             "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
             "server te trailer transfer-encoding upgrade user-agent vary via warning "
             "www-authenticate method get status").split() + ["200 OK"] + \
        "version HTTP/1.1 url public set-cookie keep-alive origin".split()
    tail = (b"100101201202205206300302303304305306307402405406407408409410411412413414415416417"
            b"502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
            b"400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
            b"501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept "
            b"Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,"
            b"image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
            b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
            b"charset=iso-8859-1,utf-,*,enq=0.")
    d = b"".join(struct.pack("!I", len(w)) + w.encode() for w in words) + tail
    assert len(d) == 1423 and zlib.adler32(d) == 0xE3C6A7C2, "SPDY/3 dictionary mistyped"
    return d


HEADER_DICTIONARY = _dictionary()


class ProtocolError(Exception):
    """The peer broke the framing; the session cannot go on."""


@dataclass
class Frame:
    type: int                      # DATA or a control frame type
    flags: int = 0
    stream_id: int = 0             # GOAWAY: the last good stream id
    data: bytes = b""              # DATA payload
    headers: dict[str, list[str]] = field(default_factory=dict)
    value: int = 0                 # RST_STREAM/GOAWAY status, PING id, WINDOW_UPDATE delta
    priority: int = 0
    associated_id: int = 0
    settings: list[tuple[int, int, int]] = field(default_factory=list)   # (flags, id, value)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


# -- header blocks ------------------------------------------------------------------
def encode_header_block(headers) -> bytes:
    """dict (name -> str or list of str) or (name, value) pairs -> uncompressed block."""
    merged: dict[str, list[str]] = {}
    for name, value in (headers.items() if isinstance(headers, dict) else headers):
        values = [value] if isinstance(value, str) else list(value)
        merged.setdefault(name.lower(), []).extend(values)
    out = [struct.pack("!I", len(merged))]
    for name, values in merged.items():
        n, v = name.encode(), "\0".join(values).encode()
        out += [struct.pack("!I", len(n)), n, struct.pack("!I", len(v)), v]
    return b"".join(out)


def decode_header_block(block: bytes) -> dict[str, list[str]]:
    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(block):
            raise ProtocolError("truncated header block")
        pos += n
        return block[pos - n:pos]
    pos = 0
    headers: dict[str, list[str]] = {}
    count = struct.unpack("!I", take(4))[0]
    for _ in range(count):
        name = take(struct.unpack("!I", take(4))[0]).decode("latin-1").lower()
        value = take(struct.unpack("!I", take(4))[0]).decode("latin-1")
        headers.setdefault(name, []).extend(value.split("\0"))
    if pos != len(block):
        raise ProtocolError("garbage after the header block")
    return headers


def _control(ftype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, data: bytes = b"", fin: bool = False) -> bytes:
    if len(data) > MAX_LENGTH:
        raise ValueError("DATA payload over 16 MiB")
    return struct.pack("!II", stream_id & 0x7FFFFFFF, (FLAG_FIN if fin else 0) << 24 | len(data)) + data


def rst_stream_frame(stream_id: int, status: int) -> bytes:
    return _control(RST_STREAM, 0, struct.pack("!II", stream_id, status))


def ping_frame(ping_id: int) -> bytes:
    return _control(PING, 0, struct.pack("!I", ping_id))


def goaway_frame(last_good: int, status: int = GOAWAY_OK) -> bytes:
    return _control(GOAWAY, 0, struct.pack("!II", last_good, status))


def window_update_frame(stream_id: int, delta: int) -> bytes:
    return _control(WINDOW_UPDATE, 0, struct.pack("!II", stream_id, delta))


def settings_frame(entries) -> bytes:
    body = b"".join(struct.pack("!II", (f << 24) | i, v) for f, i, v in entries)
    return _control(SETTINGS, 0, struct.pack("!I", len(entries)) + body)


class Framer:
    """Frame encoding and decoding for one session: it owns the session's two
    zlib contexts, so header frames must be encoded in the order they are sent
    and decoded in the order they arrive."""

    def __init__(self):
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 8,
                                         zlib.Z_DEFAULT_STRATEGY, HEADER_DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=HEADER_DICTIONARY)

    def compress(self, headers) -> bytes:
        block = encode_header_block(headers)
        return self._deflate.compress(block) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def decompress(self, data: bytes) -> dict[str, list[str]]:
        try:
            block = self._inflate.decompress(data, MAX_HEADER_BLOCK)
        except zlib.error as e:
            raise ProtocolError(f"bad header compression: {e}") from None
        if self._inflate.unconsumed_tail:
            raise ProtocolError(f"header block over {MAX_HEADER_BLOCK} bytes")
        return decode_header_block(block)

    def syn_stream(self, stream_id: int, headers, fin: bool = False, priority: int = 0,
                   unidirectional: bool = False, associated_id: int = 0) -> bytes:
        flags = (FLAG_FIN if fin else 0) | (FLAG_UNIDIRECTIONAL if unidirectional else 0)
        head = struct.pack("!IIBB", stream_id, associated_id, (priority & 7) << 5, 0)
        return _control(SYN_STREAM, flags, head + self.compress(headers))

    def syn_reply(self, stream_id: int, headers=(), fin: bool = False) -> bytes:
        return _control(SYN_REPLY, FLAG_FIN if fin else 0, struct.pack("!I", stream_id) + self.compress(headers))

    def headers(self, stream_id: int, headers, fin: bool = False) -> bytes:
        return _control(HEADERS, FLAG_FIN if fin else 0, struct.pack("!I", stream_id) + self.compress(headers))

    def read_frame(self, read) -> Frame:
        """read(n) returns exactly n bytes or raises EOFError."""
        w1, w2 = struct.unpack("!II", read(8))
        flags, length = w2 >> 24, w2 & 0xFFFFFF
        payload = read(length)
        if not w1 & 0x80000000:
            return Frame(DATA, flags, w1 & 0x7FFFFFFF, data=payload)
        version, ftype = (w1 >> 16) & 0x7FFF, w1 & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version} frame (this is SPDY/{VERSION})")
        frame = Frame(ftype, flags)
        need = {SYN_STREAM: 10, SYN_REPLY: 4, HEADERS: 4, RST_STREAM: 8, SETTINGS: 4,
                PING: 4, GOAWAY: 8, WINDOW_UPDATE: 8}.get(ftype)
        if need is None:
            return frame                       # unknown type: ignored (2.2.1)
        if length < need:
            raise ProtocolError(f"control frame type {ftype} of {length} bytes")
        if ftype == SYN_STREAM:
            sid, assoc, prio = struct.unpack("!IIB", payload[:9])
            frame.stream_id, frame.associated_id, frame.priority = sid & 0x7FFFFFFF, assoc & 0x7FFFFFFF, prio >> 5
            frame.headers = self.decompress(payload[10:])
        elif ftype in (SYN_REPLY, HEADERS):
            frame.stream_id = struct.unpack("!I", payload[:4])[0] & 0x7FFFFFFF
            frame.headers = self.decompress(payload[4:])
        elif ftype in (RST_STREAM, GOAWAY, WINDOW_UPDATE):
            sid, frame.value = struct.unpack("!II", payload[:8])
            frame.stream_id = sid & 0x7FFFFFFF
        elif ftype == PING:
            frame.value = struct.unpack("!I", payload[:4])[0]
        elif ftype == SETTINGS:
            n = struct.unpack("!I", payload[:4])[0]
            if length < 4 + 8 * n:
                raise ProtocolError(f"SETTINGS with {n} entries in {length} bytes")
            for i in range(n):
                fid, value = struct.unpack("!II", payload[4 + 8 * i:12 + 8 * i])
                frame.settings.append((fid >> 24, fid & 0xFFFFFF, value))
        return frame


# -- streams and sessions ---------------------------------------------------------
class Stream:
    """One stream of a Connection. read() belongs to one consumer thread;
    write/close/reset may come from any thread."""

    def __init__(self, conn: Connection, stream_id: int, headers: dict[str, list[str]], local: bool):
        self.conn, self.id, self.headers = conn, stream_id, headers
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._cond = threading.Condition()
        self.remote_closed = False      # FIN or RST from the peer, or the session ended
        self.local_closed = False       # we sent FIN or RST
        self.was_reset = False          # by either side
        self._discard = False           # reset: incoming data is dropped
        self.replied = threading.Event()   # SYN_REPLY exchanged: set for streams we accept
        if local:
            self._may_send = threading.Event()
            self._may_send.set()
        else:
            self._may_send = self.replied   # no DATA before our SYN_REPLY (Go drops it)

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    # -- called by the connection's reader thread
    def _on_data(self, data: bytes, fin: bool) -> None:
        with self._cond:
            if data and not self.remote_closed:
                while self._size >= MAX_BUFFER and not self._discard and not self.conn.stopping.is_set():
                    self._cond.wait(0.5)
                if not self._discard:                # a stream we reset drops what still comes
                    self._chunks.append(data)
                    self._size += len(data)
            if fin:
                self.remote_closed = True
            self._cond.notify_all()

    def _on_reset(self) -> None:
        with self._cond:
            self.remote_closed = self.local_closed = self.was_reset = self._discard = True
            self._cond.notify_all()
        self.replied.set()

    def _on_session_end(self) -> None:
        with self._cond:
            self.remote_closed = True
            self._cond.notify_all()
        self.replied.set()

    # -- reading
    def read(self, n: int = CHUNK, timeout: float | None = None) -> bytes | None:
        """Up to n bytes; b"" once the peer is done (FIN, reset, or the session
        ended); None if timeout passed first."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._chunks or self.remote_closed, timeout):
                return None
            if not self._chunks:
                return b""
            chunk = self._chunks.popleft()
            if len(chunk) > n:
                self._chunks.appendleft(chunk[n:])
                chunk = chunk[:n]
            self._size -= len(chunk)
            self._cond.notify_all()
            return chunk

    def read_all(self, timeout: float | None = None) -> bytes:
        parts = []
        while chunk := self.read(timeout=timeout):
            parts.append(chunk)
        return b"".join(parts)

    # -- sending
    def write(self, data: bytes) -> bool:
        """Send data; False once this side is closed, the stream was reset, or
        the session is over."""
        view = memoryview(data)
        while True:
            if not self._wait_may_send():
                return False
            piece, view = bytes(view[:CHUNK]), view[CHUNK:]
            if not self.conn._send(data_frame(self.id, piece), self):
                return False
            if not view:
                return True

    def close(self) -> None:
        """Half-close: FIN. The peer may still send."""
        if self._wait_may_send():
            self.conn._send(data_frame(self.id, b"", fin=True), self, closing=True)
        self.conn._forget_if_done(self)

    def reset(self, status: int = CANCEL) -> None:
        """RST_STREAM: both sides are done; what the peer still sends is dropped."""
        with self._cond:
            send = not self.was_reset and not self.conn.closed.is_set()
            self.remote_closed = self.local_closed = self.was_reset = self._discard = True
            self._chunks.clear()
            self._size = 0
            self._cond.notify_all()
        if send:
            self.conn._send(rst_stream_frame(self.id, status))
        self.replied.set()
        self.conn._forget_if_done(self)

    def _wait_may_send(self) -> bool:
        while not self._may_send.wait(0.2):
            if self.conn.closed.is_set():
                return False
        return not self.local_closed and not self.conn.closed.is_set()


class Connection:
    """A SPDY/3.1 session over a connected socket, as server or as client.

    Run serve() on a thread of its own: it reads frames until the peer closes
    the connection, the framing breaks, or abort(). accept(stream) runs on that
    thread for each stream the peer opens and decides whether it is wanted:
    True answers SYN_REPLY (and the stream may then carry our data), False
    answers RST_STREAM CANCEL. The streams accepted are handed to on_stream."""

    def __init__(self, sock, reader=None, *, server: bool, accept=None, on_stream=None):
        self.sock = sock
        self.reader = reader if reader is not None else sock.makefile("rb")
        self.server = server
        self.accept = accept or (lambda stream: True)
        self.on_stream = on_stream or (lambda stream: None)
        self.framer = Framer()
        self.closed = threading.Event()      # serve() is done: nothing more will arrive
        self.stopping = threading.Event()    # abort() was called
        self.goaway_received = False
        self._wlock = threading.Lock()       # one frame at a time; header frames in wire order
        self._slock = threading.Lock()       # the stream table
        self.streams: dict[int, Stream] = {}
        self._next_id = 2 if server else 1
        self._last_peer_id = 0
        self._next_ping = 2 if server else 1
        self._pings: dict[int, threading.Event] = {}
        self._goaway_sent = False

    # -- the reader
    def serve(self) -> None:
        try:
            while True:
                self._dispatch(self.framer.read_frame(self._read))
        except EOFError:
            pass
        except ProtocolError as e:
            log.warning("SPDY session ended: %s", e)
            self.goaway(GOAWAY_PROTOCOL_ERROR)
        except Exception:
            log.exception("SPDY session failed")
            self.goaway(GOAWAY_INTERNAL_ERROR)
        finally:
            self.closed.set()
            with self._slock:
                streams, self.streams = list(self.streams.values()), {}
            for s in streams:
                s._on_session_end()
            for ev in list(self._pings.values()):
                ev.set()

    def _read(self, n: int) -> bytes:
        try:
            data = self.reader.read(n) if n else b""
        except (OSError, ValueError):        # ValueError: the reader was closed under us
            raise EOFError from None
        if data is None or len(data) < n:
            raise EOFError
        return data

    def _dispatch(self, f: Frame) -> None:
        if f.type == DATA:
            if (s := self.streams.get(f.stream_id)) is not None:
                s._on_data(f.data, f.fin)
                self._forget_if_done(s)
        elif f.type == SYN_STREAM:
            self._on_syn_stream(f)
        elif f.type in (SYN_REPLY, HEADERS):
            if (s := self.streams.get(f.stream_id)) is not None:
                if f.type == SYN_REPLY:
                    s.replied.set()
                if f.fin:
                    s._on_data(b"", True)
                    self._forget_if_done(s)
        elif f.type == RST_STREAM:
            with self._slock:
                s = self.streams.pop(f.stream_id, None)
            if s is not None:
                s._on_reset()
        elif f.type == PING:
            if (f.value & 1) != (self._next_ping & 1):
                self._send(ping_frame(f.value))          # the peer's ping: echo it
            elif (ev := self._pings.pop(f.value, None)) is not None:
                ev.set()
        elif f.type == GOAWAY:
            self.goaway_received = True
        # SETTINGS, WINDOW_UPDATE and unknown types: nothing to do (see the docstring).

    def _on_syn_stream(self, f: Frame) -> None:
        sid = f.stream_id
        peer_parity = 1 if self.server else 0            # clients open odd ids, servers even
        if sid == 0 or (sid & 1) != peer_parity or sid <= self._last_peer_id:
            log.warning("SPDY: refusing stream id %d (last %d)", sid, self._last_peer_id)
            if sid:
                self._send(rst_stream_frame(sid, PROTOCOL_ERROR))
            return
        self._last_peer_id = sid
        if self._goaway_sent:                            # spdystream drops it; refusing is faster
            self._send(rst_stream_frame(sid, REFUSED_STREAM))
            return
        s = Stream(self, sid, f.headers, local=False)
        s.remote_closed = f.fin
        s.local_closed = bool(f.flags & FLAG_UNIDIRECTIONAL)
        try:
            wanted = self.accept(s)
        except Exception:
            log.exception("SPDY: accepting stream %d failed", sid)
            wanted = False
        if not wanted:
            s.reset(CANCEL)
            return
        with self._slock:
            self.streams[sid] = s
        with self._wlock:
            try:
                self.sock.sendall(self.framer.syn_reply(sid))
            except OSError:
                pass
        s.replied.set()
        self.on_stream(s)

    # -- sending
    def _send(self, raw: bytes, stream: Stream | None = None, closing: bool = False) -> bool:
        with self._wlock:
            if stream is not None:
                if stream.local_closed:
                    return False
                if closing:
                    stream.local_closed = True
            try:
                self.sock.sendall(raw)
                return True
            except OSError:
                return False

    def _forget_if_done(self, s: Stream) -> None:
        if s.local_closed and s.remote_closed:
            with self._slock:
                if self.streams.get(s.id) is s:
                    del self.streams[s.id]

    def open_stream(self, headers, fin: bool = False, timeout: float = 10.0) -> Stream:
        """Open a stream (the client's side of the protocols) and wait for the
        peer's SYN_REPLY. ConnectionError if it refused or did not answer."""
        with self._wlock:
            sid, self._next_id = self._next_id, self._next_id + 2
            s = Stream(self, sid, {k.lower(): [v] if isinstance(v, str) else list(v)
                                   for k, v in dict(headers).items()}, local=True)
            s.local_closed = fin
            with self._slock:
                self.streams[sid] = s
            try:
                self.sock.sendall(self.framer.syn_stream(sid, headers, fin=fin))
            except OSError as e:
                raise ConnectionError(f"SPDY session is closed: {e}") from None
        if not s.replied.wait(timeout):
            s.reset(CANCEL)
            raise ConnectionError(f"no SYN_REPLY for stream {sid} within {timeout}s")
        if s.was_reset or self.closed.is_set():
            raise ConnectionError(f"stream {sid} was refused")
        return s

    def ping(self, timeout: float = 5.0) -> bool:
        with self._wlock:
            pid, self._next_ping = self._next_ping, self._next_ping + 2
        ev = self._pings[pid] = threading.Event()
        self._send(ping_frame(pid))
        return ev.wait(timeout) and not self.closed.is_set()

    def goaway(self, status: int = GOAWAY_OK) -> None:
        """No new streams from the peer will be accepted; open ones go on."""
        if not self._goaway_sent:
            self._goaway_sent = True
            self._send(goaway_frame(self._last_peer_id, status))

    def abort(self) -> None:
        """Shut the TCP connection down; serve() returns and every stream ends."""
        self.stopping.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def disconnect(self) -> None:
        """Client side: drop the connection and release the socket."""
        self.abort()
        self.closed.wait(5)
        self.reader.close()
        self.sock.close()
