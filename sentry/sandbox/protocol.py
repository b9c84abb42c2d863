"""The start-up protocol: the messages between the sentry, the sandbox's
init and the workload, and what a sentry reports to `pysandbox-oci`.

The tags and who sends which are defined once, in csrc/protocol.h, and
reach Python through the cdef (sentry.native.MESSAGE_TAGS); this module is
the codec both Python ends use (sentry/sandbox/init.py,
sentry/sandbox/lifecycle.py, sentry/oci/launch.py), as csrc/spawn.c is the
C end's.

Kernel facts: a SOCK_SEQPACKET socket keeps message boundaries, so one
recvmsg is one message; an fd rides along as SCM_RIGHTS and arrives as a
new fd of the receiver; recvmsg returns b"" when the peer has closed (here:
init or the workload died before the sandbox started).
"""
from __future__ import annotations

# _socket is the C half of the socket module: socket.py adds IntEnum views of
# its constants and imports selectors, ~2.5 ms of a `pysandbox run` start
# (sentry/record.py).  socket.socket is a subclass, so callers may pass either.
import _socket
import array
import enum

from sentry import native
from sentry.record import field, record


class Msg(enum.IntEnum):
    """A start-up message's tag: the values are csrc/protocol.h's."""
    READY = native.MESSAGE_TAGS["READY"]
    GO = native.MESSAGE_TAGS["GO"]
    TTY = native.MESSAGE_TAGS["TTY"]
    SEIZE = native.MESSAGE_TAGS["SEIZE"]
    SEIZED = native.MESSAGE_TAGS["SEIZED"]
    LISTENER = native.MESSAGE_TAGS["LISTENER"]
    ERROR = native.MESSAGE_TAGS["ERROR"]
    USERNS = native.MESSAGE_TAGS["USERNS"]
    MAPPED = native.MESSAGE_TAGS["MAPPED"]
MAX_TEXT = 60000                  # an ERROR's text is cut here: one datagram
REPORT_OK = b"ok"                 # a sentry's report to pysandbox-oci: the container exists


@record
class Message:
    kind: Msg | None              # None: the peer closed the socket
    payload: bytes = b""
    fds: list[int] = field(default_factory=list)

    def text(self) -> str:
        return self.payload.decode(errors="replace")


def pair() -> tuple[_socket.socket, _socket.socket]:
    """The start-up channel between the sentry and the sandbox's first
    process: SEQPACKET, so one send is one message."""
    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)


def encode(kind: Msg, payload: bytes = b"") -> bytes:
    return bytes([kind]) + payload


def error(text: str) -> bytes:
    """An ERROR message: the sandbox did not start, and why."""
    return encode(Msg.ERROR, text.encode(errors="replace")[:MAX_TEXT])


def send(sock: _socket.socket, kind: Msg, payload: bytes = b"", fd: int | None = None) -> None:
    data = [encode(kind, payload)]
    if fd is None:
        sock.sendmsg(data)
    else:
        sock.sendmsg(data, [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [fd]))])


def recv(sock: _socket.socket) -> Message:
    """One message; kind is None if the peer closed.  An unknown tag is
    a ValueError (a bug on one end, never a message to act on)."""
    msg, anc, _flags, _addr = sock.recvmsg(MAX_TEXT + 16, _socket.CMSG_SPACE(4))
    fds = array.array("i")
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % 4])
    if not msg:
        return Message(None, b"", list(fds))
    return Message(Msg(msg[0]), msg[1:], list(fds))


def expect(sock: _socket.socket, kind: Msg) -> bool:
    """Wait for one message: is it `kind` (with no payload)?"""
    m = recv(sock)
    for fd in m.fds:
        import os
        os.close(fd)
    return m.kind is kind and not m.payload


def parse_report(data: bytes) -> str | None:
    """A sentry's report to pysandbox-oci: None for "ok", else the error
    text (or a generic one if the sentry died without a word)."""
    if data == REPORT_OK:
        return None
    if data[:1] == bytes([Msg.ERROR]):
        return data[1:].decode(errors="replace")
    return ""
