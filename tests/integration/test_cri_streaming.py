"""The CRI streaming server (cri_handler.streaming) end to end over real
sockets. The backend runs local processes: /bin/sh for exec, an echo TCP
server on 127.0.0.1 for port forward. No root or sandbox needed."""
import base64
import http.client
import json
import re
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest

from cri_handler.streaming import StreamServer
from tests.stream_backend import SUCCESS, LocalBackend, echo_port, server  # noqa: F401,F811 - fixtures used by name
from tests.ws_client import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, HandshakeError, connect, raw_frame

pytestmark = pytest.mark.platform_independent      # no sentry involved


def messages(ws):
    """Every (channel, payload) until the server closes; decodes base64 framing."""
    out = []
    while (m := ws.recv()) is not None:
        if m.opcode == OP_TEXT:
            out.append((m.data[0] - 48, base64.b64decode(m.data[1:])))
        else:
            out.append((m.data[0], m.data[1:]))
    ws.disconnect()
    return out


def channel(msgs, n):
    return b"".join(data for ch, data in msgs if ch == n)


def status(msgs):
    return json.loads(channel(msgs, 3))


def http_status(url, method="GET", headers=None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def handshake_status(url, protocols=("v5.channel.k8s.io",)):
    with pytest.raises(HandshakeError) as e:
        connect(url, protocols, timeout=5)
    return e.value.status


# -- exec ---------------------------------------------------------------------
def test_exec_v5_stdin_stdout_stderr_and_half_close(server):
    url = server.register_exec("c1", ["/bin/sh", "-c", "cat; echo err >&2"], stdin=True)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/exec/[A-Za-z0-9_-]{20,}", url)
    ws = connect(url, ["v5.channel.k8s.io", "v4.channel.k8s.io"], timeout=10)
    assert ws.subprotocol == "v5.channel.k8s.io"
    # stdin split over fragments with a ping in between: the server reassembles.
    ws.sock.sendall(raw_frame(OP_BINARY, b"\x00hel", fin=False) + raw_frame(OP_PING, b"hb")
                    + raw_frame(OP_CONT, b"lo\n", fin=True))
    ws.send(b"\x00" + b"x" * 100_000 + b"\n")          # bigger than a pipe buffer
    ws.send(bytes([255, 0]))                           # v5: close stdin, so cat ends
    msgs = messages(ws)
    assert msgs[0] == (1, b"")                         # "connected" on the lowest writable channel
    assert channel(msgs, 1) == b"hello\n" + b"x" * 100_000 + b"\n"
    assert channel(msgs, 2) == b"err\n"
    assert channel(msgs, 3) == b'{"metadata":{},"status":"Success"}'
    assert ws.close_code == 1000


def test_exec_stdin_nobody_reads(server):
    ws = connect(server.register_exec("deaf", ["x"], stdin=True), ["v5.channel.k8s.io"])
    for _ in range(8):
        ws.send(b"\x00" + b"y" * 65536)                 # far more than a pipe holds
    assert status(messages(ws)) == SUCCESS


def test_exec_nonzero_exit_is_a_failure_status(server):
    url = server.register_exec("c1", ["/bin/sh", "-c", "echo out; exit 3"])
    msgs = messages(connect(url, ["v4.channel.k8s.io"]))
    assert channel(msgs, 1) == b"out\n"
    st = status(msgs)
    assert st["status"] == "Failure" and st["reason"] == "NonZeroExitCode"
    assert st["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert list(st) == ["metadata", "status", "message", "reason", "details"]   # Go's field order
    assert st["message"].startswith("command terminated with non-zero exit code")


def test_exec_killed_by_signal_reports_128_plus_n(server):
    url = server.register_exec("c1", ["/bin/sh", "-c", "kill -9 $$"])
    assert status(messages(connect(url, ["v5.channel.k8s.io"])))["details"]["causes"][0]["message"] == "137"


def test_exec_tty_resize(server):
    script = ('test -t 0 && echo istty; i=0; '
              'while [ "$(stty size)" != "40 100" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; '
              'stty size; read line; echo "got:$line"')
    url = server.register_exec("c1", ["/bin/sh", "-c", script], tty=True, stdin=True, stderr=False)
    ws = connect(url, ["v5.channel.k8s.io"])
    ws.send(b'\x04{"Width":100,"Hei')                  # a JSON stream: may split anywhere
    ws.send(b'\x04ght":40}')
    ws.send(b"\x00hi\n")
    msgs = messages(ws)
    out = channel(msgs, 1).replace(b"\r\n", b"\n")
    assert b"istty\n" in out and b"40 100\n" in out and b"got:hi\n" in out
    assert channel(msgs, 2) == b""                     # a tty has no separate stderr
    assert status(msgs) == SUCCESS


def test_exec_base64_protocol(server):
    url = server.register_exec("c1", ["/bin/sh", "-c", "printf 'a\\0b'; echo e >&2; exit 1"])
    ws = connect(url, ["v4.base64.channel.k8s.io"])
    msgs = messages(ws)
    assert channel(msgs, 1) == b"a\0b" and channel(msgs, 2) == b"e\n"
    assert status(msgs)["details"]["causes"][0]["message"] == "1"


def test_exec_without_subprotocol_reports_only_failures_as_text(server):
    ok = messages(connect(server.register_exec("c1", ["/bin/true"]), []))
    assert channel(ok, 3) == b""
    failed = messages(connect(server.register_exec("c1", ["/bin/sh", "-c", "exit 4"]), []))
    assert channel(failed, 3).startswith(b"command terminated with non-zero exit code")


def test_exec_backend_error_is_an_internal_error_status(server):
    msgs = messages(connect(server.register_exec("missing", ["/bin/true"]), ["v5.channel.k8s.io"]))
    st = status(msgs)
    assert st["reason"] == "InternalError" and st["code"] == 500
    assert "container missing is not running" in st["message"] and "Traceback" not in st["message"]


def test_attach(server):
    ws = connect(server.register_attach("c9", stdin=True, stderr=False), ["v5.channel.k8s.io"])
    ws.send(b"\x00shout\n")
    ws.send(bytes([255, 0]))
    msgs = messages(ws)
    assert channel(msgs, 1) == b"attached to c9\nSHOUT\n"
    assert status(msgs) == SUCCESS


# -- port forward ---------------------------------------------------------------
def test_portforward_round_trip(server, echo_port):
    ws = connect(server.register_portforward("pod-1", [echo_port]), ["v4.channel.k8s.io"])
    assert ws.subprotocol == "v4.channel.k8s.io"
    port_le = struct.pack("<H", echo_port)
    first = [ws.recv(), ws.recv()]
    assert [(m.data[0], m.data[1:]) for m in first] == [(0, port_le), (1, port_le)]
    payload = bytes(range(256)) * 1200                  # 300 KiB: 64-bit lengths, many reads
    ws.send(b"\x00" + payload)
    got = b""
    while len(got) < len(payload):
        m = ws.recv()
        assert m is not None and m.data[0] == 0
        got += m.data[1:]
    assert got == payload
    ws.close()
    assert ws.recv() is None                           # the server answers our close
    ws.disconnect()


def test_portforward_ports_from_query_and_connection_refused(server, echo_port):
    closed = socket.create_server(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    url = server.register_portforward("pod-1", []) + f"?port={dead_port}"
    msgs = messages(connect(url, ["v4.channel.k8s.io"]))
    assert msgs[:2] == [(0, struct.pack("<H", dead_port)), (1, struct.pack("<H", dead_port))]
    err = channel(msgs[2:], 1).decode()
    assert err.startswith(f"error forwarding port {dead_port} to pod pod-1") and "refused" in err


def test_portforward_rejects_unrequested_port(server, echo_port):
    url = server.register_portforward("pod-1", [echo_port]) + "?port=1"
    assert handshake_status(url, ["v4.channel.k8s.io"]) == 400


# -- bad requests; the server keeps serving --------------------------------------
def test_bad_requests_get_http_errors_and_the_server_keeps_serving(server):
    base = server.url
    assert handshake_status(f"{base}/exec/no-such-token") == 404
    assert handshake_status(f"{base}/nothing/here") == 404

    server.ttl = 0.2
    expired = server.register_exec("c1", ["/bin/true"])
    server.ttl = 60
    time.sleep(0.3)
    assert handshake_status(expired) == 404

    url = server.register_exec("c1", ["/bin/echo", "hi"])
    assert http_status(url)[0] == 400                              # no upgrade
    # SPDY (tests/integration/test_cri_spdy.py) without X-Stream-Protocol-Version
    assert http_status(url, "POST", {"Upgrade": "SPDY/3.1", "Connection": "Upgrade"})[0] == 400
    assert handshake_status(url, ["SPDY/3.1+portforward.k8s.io"]) == 400
    assert handshake_status(url.replace("/exec/", "/attach/")) == 404   # wrong kind
    assert handshake_status(url + "?command=/bin/sh") == 400            # not what was registered
    assert handshake_status(url + "?tty=maybe") == 400
    assert http_status(url, headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                     "Sec-WebSocket-Version": "8",
                                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})[0] == 426
    with socket.create_connection(server.address, timeout=5) as raw:   # no Host: wsproto refuses
        raw.sendall(f"GET {urlsplit(url).path} HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    with socket.create_connection(server.address, timeout=5) as raw:   # not even HTTP
        raw.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.")

    # None of that consumed the token: it still works, once.
    msgs = messages(connect(url + "?command=/bin/echo&command=hi&stdout=true", ["v5.channel.k8s.io"]))
    assert channel(msgs, 1) == b"hi\n" and status(msgs) == SUCCESS
    assert handshake_status(url) == 404


@pytest.mark.parametrize("bad_frame, code", [
    (raw_frame(OP_BINARY, b"\x00x", masked=False), 1002),   # unmasked client frame
    (raw_frame(OP_PING, b"x", fin=False), 1002),              # fragmented control frame
    (raw_frame(OP_CONT, b"x"), 1002),                         # continuation of nothing
    (raw_frame(OP_TEXT, b"\x00\xff"), 1007),                  # text that is not UTF-8
    (raw_frame(0x40 | OP_BINARY, b"\x00x"), 1002),            # RSV1 without an extension
    (raw_frame(3, b"x"), 1002),                               # reserved opcode
])
def test_protocol_errors_close_the_session_not_the_server(server, bad_frame, code):
    ws = connect(server.register_exec("c1", ["/bin/cat"], stdin=True), ["v5.channel.k8s.io"])
    ws.ping(b"hb")                                     # answered; the client ignores pongs
    assert ws.recv().data == b"\x01"                   # "connected"
    ws.sock.sendall(bad_frame)
    assert ws.recv() is None and ws.close_code == code
    ws.disconnect()
    msgs = messages(connect(server.register_exec("c1", ["/bin/echo", "ok"]), ["v5.channel.k8s.io"]))
    assert channel(msgs, 1) == b"ok\n"


def test_registration_is_validated(server):
    with pytest.raises(ValueError, match="tty and stderr cannot both be true"):
        server.register_exec("c1", ["/bin/sh"], tty=True, stderr=True)
    with pytest.raises(ValueError, match="one of stdin, stdout, or stderr"):
        server.register_attach("c1", stdout=False, stderr=False)
    with pytest.raises(ValueError, match="container_id"):
        server.register_exec("", ["/bin/sh"])
    with pytest.raises(ValueError):
        server.register_portforward("pod", [70000])


def test_stop_ends_open_sessions():
    s = StreamServer(backend=LocalBackend())
    s.start()
    ws = connect(s.register_exec("c1", ["/bin/cat"], stdin=True), ["v5.channel.k8s.io"])
    assert ws.recv().data == b"\x01"                   # the session is up
    start = time.monotonic()
    s.stop()
    assert time.monotonic() - start < 5
    assert ws.recv() is None and ws.close_code == 1001
    ws.disconnect()
