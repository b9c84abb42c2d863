"""The transport-independent channel layer of the CRI streaming server: what
exec, attach and port forward (cri_handler/streaming.py, portforward.py) see,
whether the client came over WebSocket (cri_handler/websocket.py) or SPDY
(cri_handler/spdystream.py).

Kubernetes protocol facts this module relies on (apimachinery
`pkg/util/remotecommand`, `pkg/util/httpstream/wsstream`, kubelet
`pkg/cri/streaming/remotecommand`):
- Exec and attach carry numbered channels: 0 stdin, 1 stdout, 2 stderr,
  3 error/status, 4 resize. On WebSocket each message starts with its
  channel number; on SPDY each channel is a stream with a `streamType`
  header. The end of stdin is the v5 close signal [255, 0] on WebSocket and
  a FIN on the SPDY stdin stream; both reach the session as (255, b"\\0").
- Channel 4 (resize) carries a stream of JSON objects {"Width": W, "Height": H}:
  Go's TerminalSize has no json tags, and the kubelet reads the channel with
  json.Decoder. So one object may span several messages, and one message may
  hold several objects.
- The status on channel 3 is, for v4 and v5 (and SPDY v4/v5), a
  metav1.Status marshalled as the kubelet does it (Go field order, empty
  fields omitted, metadata always present):
    {"metadata":{},"status":"Success"}
    {"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: ...",
     "reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}
  Other errors are NewInternalError: Failure, reason InternalError, code 500,
  details.causes [{"message": ...}]. Older versions write only the message
  of a failure, as plain text, and nothing on success.
- Port forward: each forwarded connection is one port, a data path both ways
  and an error path towards the client. WebSocket has one connection per
  requested port for the life of the socket, and no half-close (either side
  ending ends it); SPDY opens one (error, data) stream pair per connection,
  any number per session, and a FIN half-closes.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE_SIGNAL = 0, 1, 2, 3, 4, 255   # channel ids
DRAIN_TIMEOUT = 2.0       # how long output, or the client's last messages, may trail the end


class Refused(Exception):
    """An upgrade answered with an HTTP error: status, one-line message, extra headers."""

    def __init__(self, status: int, message: str, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


class Channels(Protocol):
    """The numbered channels of one exec or attach session."""

    def send(self, channel: int, data: bytes) -> bool:
        """Send on a channel; False once the client is gone (or the channel is
        not one it opened). An empty message means "the streams are up"."""

    def recv(self) -> tuple[int, bytes] | None:
        """The next (channel, payload) from the client, or None when it is
        gone. The end of stdin is (CLOSE_SIGNAL, bytes([STDIN]))."""

    def send_status(self, status: dict) -> None:
        """The final status (a metav1.Status dict), in the version's format."""

    def finish(self, reader: threading.Thread | None, grace: float) -> None:
        """End the session: give the client `grace` seconds to close its side
        (the reader thread sees that), then drop the connection."""


class Forward(Protocol):
    """One forwarded connection of a port-forward session."""
    port: int
    half_close: bool     # the client can end its sending alone (SPDY FIN); else either end ends it

    def read(self) -> bytes:
        """Client data; b"" once the client is done sending or the forward ended."""

    def write(self, data: bytes) -> bool:
        """Data towards the client; False once it cannot be delivered."""

    def close_write(self) -> None:
        """The pod side is done sending."""

    def aborted(self) -> bool:
        """The client reset this connection or left: stop waiting for it."""

    def error(self, message: str) -> None:
        """Report a failure of this connection to the client."""

    def end(self) -> None:
        """The forward is over: release what is still open towards the client."""


class ForwardSource(Protocol):
    """The forwarded connections of one port-forward session."""

    def forwards(self) -> Iterator[Forward]:
        """Each connection as it opens; returns when the session is over."""

    def finish(self) -> None:
        """Close the session towards the client."""


def status_payload(status: dict, json_status: bool) -> bytes | None:
    """What goes on the status channel: the JSON (v4+), or for older versions
    only a failure's message; None for nothing."""
    if json_status:
        return json.dumps(status, separators=(",", ":")).encode()
    if status["status"] != "Success":
        return status["message"].encode()
    return None


# -- terminal resizes ----------------------------------------------------------------
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
