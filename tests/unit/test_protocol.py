"""The start-up protocol's codec (sentry/sandbox/protocol.py) over a real
SOCK_SEQPACKET socketpair: tags from csrc/protocol.h, fds as SCM_RIGHTS."""
import os
import socket

import pytest

from sentry.sandbox import protocol
from sentry.sandbox.protocol import Msg


@pytest.fixture
def pair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    yield a, b
    a.close()
    b.close()


def test_tags_are_the_c_sides_characters():
    assert {m.name: chr(m.value) for m in Msg} == {
        "READY": "R", "GO": "G", "TTY": "T", "SEIZE": "S", "SEIZED": "A", "LISTENER": "L",
        "ERROR": "E", "USERNS": "U", "MAPPED": "M"}


def test_a_message_with_an_fd_arrives_as_a_new_fd(pair, tmp_path):
    a, b = pair
    f = tmp_path / "x"
    f.write_text("payload")
    fd = os.open(f, os.O_RDONLY)
    try:
        protocol.send(a, Msg.TTY, fd=fd)
    finally:
        os.close(fd)
    m = protocol.recv(b)
    assert m.kind is Msg.TTY and m.payload == b"" and len(m.fds) == 1
    assert os.read(m.fds[0], 100) == b"payload"
    os.close(m.fds[0])


def test_errors_closed_peers_and_unknown_tags(pair):
    a, b = pair
    a.send(protocol.error("mount /x: " + "y" * 70000))
    m = protocol.recv(b)
    assert m.kind is Msg.ERROR and m.text().startswith("mount /x: ") and len(m.payload) == protocol.MAX_TEXT
    a.send(b"Z")
    with pytest.raises(ValueError):
        protocol.recv(b)
    protocol.send(a, Msg.GO)
    assert protocol.expect(b, Msg.GO)
    a.close()
    assert protocol.recv(b).kind is None


def test_report_parsing():
    assert protocol.parse_report(protocol.REPORT_OK) is None
    assert protocol.parse_report(protocol.error("bad cwd")) == "bad cwd"
    assert protocol.parse_report(b"") == ""
