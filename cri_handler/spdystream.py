"""Exec, attach and port forward over SPDY/3.1: the kubelet's side of the
streaming protocols for clients that do not use WebSocket. `crictl exec` and
`attach` use SPDY unless given `--transport websocket`; `crictl port-forward`
and the kubelet, proxying `kubectl exec`/`port-forward`, always do.
cri_handler/streaming.py hands a request here when its Upgrade header names
SPDY; the framing is cri_handler/spdy.py. The session is presented to the
transport-independent code as cri_handler/channels.py's interfaces: the
streams of an exec or attach as numbered Channels, each port-forward stream
pair as a Forward (cri_handler/portforward.py pipes it to the pod).

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
  of cri_handler/channels.py (Success; NonZeroExitCode with an ExitCode
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

import logging
import queue
import threading
import time

from cri_handler import spdy
from cri_handler.channels import (
    CLOSE_SIGNAL,
    RESIZE,
    STATUS,
    STDERR,
    STDIN,
    STDOUT,
    Refused,
    status_payload,
)

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
def negotiate(handler, kind: str) -> str:
    """The version to speak with this SPDY upgrade request, or Refused."""
    supported = PORTFORWARD_PROTOCOLS if kind == "portforward" else REMOTECOMMAND_PROTOCOLS
    offered = [p.strip() for h in handler.headers.get_all(HEADER_VERSION) or []
               for p in h.split(",") if p.strip()]
    if not offered:
        raise Refused(400, f"unable to upgrade: {HEADER_VERSION} is required")
    proto = next((p for p in offered if p in supported), None)
    if proto is None:
        raise Refused(403, "unable to upgrade: unable to negotiate protocol: client supports "
                           f"[{' '.join(offered)}], server accepts [{' '.join(supported)}]",
                      [(HEADER_ACCEPTED, p) for p in supported])
    connection = ",".join(handler.headers.get_all("Connection") or []).lower()
    upgrade = ",".join(handler.headers.get_all("Upgrade") or []).lower()
    if "upgrade" not in connection or "spdy/3.1" not in upgrade:
        raise Refused(400, "unable to upgrade: missing upgrade headers in request: "
                           "send Connection: Upgrade and Upgrade: SPDY/3.1")
    return proto


def accept(handler, kind: str, proto: str) -> SpdySession:
    """Answer 101 and start serving the SPDY session on its own reader thread."""
    handler.send_response(101)
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Upgrade", "SPDY/3.1")
    handler.send_header(HEADER_VERSION, proto)
    handler.end_headers()
    return SpdySession(handler.connection, handler.rfile, kind, proto)


class SpdySession:
    """What streaming.py serves on an upgraded SPDY connection."""

    def __init__(self, sock, rfile, kind: str, proto: str):
        self.proto = proto
        self.new_streams: queue.Queue[spdy.Stream] = queue.Queue()
        self.conn = spdy.Connection(sock, rfile, server=True,
                                    accept=_portforward_accept if kind == "portforward" else None,
                                    on_stream=self.new_streams.put)
        self.reader = threading.Thread(target=self.conn.serve, daemon=True, name="spdy-in")
        self.reader.start()

    def channels(self, req) -> _ChannelStreams | None:
        """The exec/attach streams, once the client has opened them all; None
        (after GOAWAY) if it did not within the stream creation timeout."""
        resize = req.tty and self.proto not in NO_RESIZE_PROTOCOLS
        streams = _wait_for_streams(self.conn, self.new_streams,
                                    1 + req.stdin + req.stdout + req.stderr + resize, resize)
        if streams is None:
            self.conn.goaway()
            return None
        return _ChannelStreams(self.conn, self.proto, streams)

    def forward_source(self, ports) -> _PortForwards:
        return _PortForwards(self.conn, self.new_streams)

    def stop(self) -> None:
        self.conn.goaway()
        self.conn.abort()

    def close(self) -> None:
        for s in _drain(self.new_streams):          # opened after we stopped looking
            s.reset()
        self.conn.abort()
        self.reader.join(5)


def _drain(q: queue.Queue) -> list:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


# -- exec and attach -----------------------------------------------------------------
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
    """The remotecommand streams of one session as channels.Channels, the
    numbered channels of the WebSocket path. The end of stdin (FIN) is the
    v5 close signal [255, 0]."""

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
        if (payload := status_payload(status, self.proto in JSON_STATUS_PROTOCOLS)) is not None:
            err.write(payload)
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


class _PortForward:
    """One (error, data) stream pair as a channels.Forward."""
    half_close = True

    def __init__(self, conn: spdy.Connection, err: spdy.Stream, data: spdy.Stream):
        self.conn, self.err, self.data = conn, err, data
        self.port = int(data.header("port"))

    def read(self) -> bytes:
        return self.data.read() or b""          # b"": FIN, reset, or the session's end

    def write(self, data: bytes) -> bool:
        return self.data.write(data)

    def close_write(self) -> None:
        self.data.close()                       # FIN

    def aborted(self) -> bool:
        return self.data.was_reset or self.conn.closed.is_set()

    def error(self, message: str) -> None:
        self.err.write(message.encode())

    def end(self) -> None:
        self.err.close()                        # the client waits for the error stream's FIN
        self.data.close()


class _PortForwards:
    """channels.ForwardSource: pairs the streams the client opens by requestID."""

    def __init__(self, conn: spdy.Connection, new_streams: queue.Queue):
        self.conn, self.new_streams = conn, new_streams

    def forwards(self):
        pairs: dict[str, dict] = {}        # request id -> {"error": s, "data": s, "deadline": t}
        while not self.conn.closed.is_set():
            try:
                s = self.new_streams.get(timeout=0.2)
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
                yield _PortForward(self.conn, pair["error"], pair["data"])
        for pair in pairs.values():
            _end_pair(pair, "")

    def finish(self) -> None:
        pass                               # the session is over already; close() drops it


def _end_pair(pair: dict, message: str) -> None:
    if message:
        log.warning("port forward: %s", message)
    if (err := pair.get("error")) is not None:
        if message:
            err.write(message.encode())
        err.close()
    if (data := pair.get("data")) is not None:
        data.reset()
