"""The CRI streaming server over SPDY/3.1 (cri_handler/spdy.py, spdystream.py),
end to end over real sockets. The backend runs local processes: /bin/sh for
exec, an echo TCP server on 127.0.0.1 for port forward. No root needed.
The client is tests/spdy_client.py; when kubectl is installed, its client-go
(the code crictl and the kubelet run) is driven through a fake API server
that relays the upgrade to the streaming server, as the kubelet's proxy does."""
import base64
import fcntl
import json
import os
import pty
import re
import select
import shutil
import socket
import struct
import subprocess
import termios
import threading
import time
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest

from cri_handler import spdy, spdystream
from cri_handler.streaming import StreamServer
from tests.spdy_client import HandshakeError, connect
from tests.stream_backend import SUCCESS, LocalBackend, echo_port, server  # noqa: F401,F811 - fixtures used by name

pytestmark = pytest.mark.platform_independent      # no sentry involved

EXEC_STREAMS = ("error", "stdin", "stdout", "stderr")     # client-go's order


def open_streams(conn, *types, **headers):
    return {t: conn.open_stream({"streamType": t, **headers}) for t in types}


def finish(conn, streams):
    """Read what a client-go executor reads: stdout and stderr to EOF, then the error stream."""
    out = {t: streams[t].read_all(timeout=10) for t in ("stdout", "stderr") if t in streams}
    out["error"] = streams["error"].read_all(timeout=10)
    deadline = time.monotonic() + 5
    while not conn.goaway_received and time.monotonic() < deadline:
        time.sleep(0.01)
    out["goaway"] = conn.goaway_received
    conn.disconnect()
    return out


def refused_port():
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def handshake_error(url, protocols=spdystream.REMOTECOMMAND_PROTOCOLS, **kw) -> HandshakeError:
    with pytest.raises(HandshakeError) as e:
        connect(url, protocols, timeout=5, **kw)
    return e.value


# -- framing ---------------------------------------------------------------------
# A SPDY/3 SYN_REPLY with headers bar: foo, foo: bar, compressed by Chromium's framer
# (net/spdy/spdy_framer_test.cc, CreateSynReplyCompressed): a peer's header block.
CHROMIUM_SYN_REPLY = bytes.fromhex(
    "80030002000000310000000138eae3c6a7c202e50e50c24b4a04e50b6680004acbcf07"
    "08201095969f0fa200022829b108208000000000ffff")


def test_header_dictionary_decodes_a_real_spdy3_peer():
    d = spdy.HEADER_DICTIONARY
    assert len(d) == 1423 and zlib.adler32(d) == 0xE3C6A7C2
    assert d.startswith(b"\0\0\0\x07options\0\0\0\x04head") and d.endswith(b"utf-,*,enq=0.")
    buf, source = bytearray(), iter([CHROMIUM_SYN_REPLY])
    frame = spdy.Framer().read_frame(lambda n: _take(buf, source, n))
    assert (frame.type, frame.stream_id, frame.flags) == (spdy.SYN_REPLY, 1, 0)
    assert frame.headers == {"bar": ["foo"], "foo": ["bar"]}


def _take(buf: bytearray, source, n: int) -> bytes:
    while len(buf) < n:
        buf += next(source)
    out = bytes(buf[:n])
    del buf[:n]
    return out


def test_header_blocks_layout_and_one_context_per_direction():
    # Go's writeHeaderValueBlock: count, then length-prefixed lowercase name and value.
    assert spdy.encode_header_block({"streamType": "error"}) == \
        b"\0\0\0\x01" + b"\0\0\0\x0astreamtype" + b"\0\0\0\x05error"
    assert spdy.decode_header_block(spdy.encode_header_block([("A", ["1", "2"])])) == {"a": ["1", "2"]}
    writer, reader = spdy.Framer(), spdy.Framer()
    syn = writer.syn_stream(1, {"streamType": "stdout", "port": "80"})
    assert syn[:8] == struct.pack("!HHI", 0x8003, spdy.SYN_STREAM, len(syn) - 8)
    assert syn[8:18] == struct.pack("!IIBB", 1, 0, 0, 0)
    # zlib at level 9 with a preset dictionary, as Go's writer (spdystream's test vectors: 78 f9 ...)
    assert syn[18:20] == b"\x78\xf9" and syn[20:24] == struct.pack("!I", 0xE3C6A7C2)
    assert zlib.decompressobj(zdict=spdy.HEADER_DICTIONARY).decompress(syn[18:]) == \
        spdy.encode_header_block({"streamtype": "stdout", "port": "80"})
    reply = writer.syn_reply(1)
    wire = syn + reply + spdy.data_frame(1, b"hi", fin=True) + spdy.ping_frame(7) + spdy.goaway_frame(1)
    source = iter([wire])
    buf = bytearray()
    frames = [reader.read_frame(lambda n: _take(buf, source, n)) for _ in range(5)]
    assert frames[0].headers == {"streamtype": ["stdout"], "port": ["80"]}
    assert frames[1].type == spdy.SYN_REPLY and frames[1].headers == {}
    assert (frames[2].data, frames[2].fin) == (b"hi", True)
    assert (frames[3].type, frames[3].value, frames[4].type) == (spdy.PING, 7, spdy.GOAWAY)
    with pytest.raises(spdy.ProtocolError):      # the second block needs the first one's context
        spdy.Framer().decompress(reply[12:])


# -- exec and attach ---------------------------------------------------------------
def test_exec_stdin_stdout_stderr_and_success(server):
    url = server.register_exec("c1", ["/bin/sh", "-c", "cat; echo err >&2"], stdin=True)
    conn, proto = connect(url)
    assert proto == "v5.channel.k8s.io"                    # the first one offered
    streams = open_streams(conn, *EXEC_STREAMS)
    assert conn.ping()
    big = b"x" * 300_000                                    # more than a pipe and a stream buffer chunk
    streams["stdin"].write(b"hello\n" + big)
    streams["stdin"].close()                                # FIN: EOF for cat
    out = finish(conn, streams)
    assert out["stdout"] == b"hello\n" + big and out["stderr"] == b"err\n"
    assert json.loads(out["error"]) == SUCCESS and out["goaway"]


def test_exec_nonzero_exit_is_a_failure_status(server):
    conn, proto = connect(server.register_exec("c1", ["/bin/sh", "-c", "echo out; exit 3"]),
                          ["v4.channel.k8s.io", "v3.channel.k8s.io"])
    assert proto == "v4.channel.k8s.io"
    out = finish(conn, open_streams(conn, "error", "stdout", "stderr"))
    assert out["stdout"] == b"out\n"
    st = json.loads(out["error"])
    assert (st["status"], st["reason"]) == ("Failure", "NonZeroExitCode")
    assert st["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}


def test_exec_pre_v4_reports_only_failures_as_text(server):
    conn, _ = connect(server.register_exec("c1", ["/bin/true"]), ["channel.k8s.io"])
    assert finish(conn, open_streams(conn, "error", "stdout", "stderr"))["error"] == b""
    conn, _ = connect(server.register_exec("c1", ["/bin/sh", "-c", "exit 4"]), ["v2.channel.k8s.io"])
    err = finish(conn, open_streams(conn, "error", "stdout", "stderr"))["error"]
    assert err.startswith(b"command terminated with non-zero exit code") and b"exit code 4" in err


def test_exec_backend_error_is_an_internal_error_status(server):
    conn, _ = connect(server.register_exec("missing", ["/bin/true"]))
    st = json.loads(finish(conn, open_streams(conn, "error", "stdout", "stderr"))["error"])
    assert st["reason"] == "InternalError" and "container missing is not running" in st["message"]


def test_exec_tty_resize(server):
    script = ('test -t 0 && echo istty; i=0; '
              'while [ "$(stty size)" != "40 100" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; '
              'stty size; read line; echo "got:$line"')
    conn, _ = connect(server.register_exec("c1", ["/bin/sh", "-c", script], tty=True, stdin=True, stderr=False))
    streams = open_streams(conn, "error", "stdin", "stdout", "resize")   # a tty has no stderr
    streams["resize"].write(b'{"Width":100,"Hei')                        # a JSON stream: splits anywhere
    streams["resize"].write(b'ght":40}\n')
    streams["stdin"].write(b"hi\n")
    out = finish(conn, streams)
    text = out["stdout"].replace(b"\r\n", b"\n")
    assert b"istty\n" in text and b"40 100\n" in text and b"got:hi\n" in text
    assert json.loads(out["error"]) == SUCCESS


def test_attach(server):
    conn, _ = connect(server.register_attach("c9", stdin=True, stderr=False))
    streams = open_streams(conn, "error", "stdin", "stdout")
    streams["stdin"].write(b"shout\n")
    streams["stdin"].close()
    out = finish(conn, streams)
    assert out["stdout"] == b"attached to c9\nSHOUT\n" and json.loads(out["error"]) == SUCCESS


# -- port forward -------------------------------------------------------------------
def test_portforward_round_trip(server, echo_port):
    conn, proto = connect(server.register_portforward("pod-1", [echo_port]), ["portforward.k8s.io"])
    assert proto == "portforward.k8s.io"
    pairs = []
    for rid in ("0", "1"):                                 # two forwarded connections, one session
        h = {"port": str(echo_port), "requestID": rid}
        err = conn.open_stream({"streamType": "error", **h})
        err.close()                                        # client-go never writes on it
        pairs.append((err, conn.open_stream({"streamType": "data", **h})))
    payload = bytes(range(256)) * 1200                     # 300 KiB
    for i, (_, data) in enumerate(pairs):
        data.write(payload[i:])
    for i, (_err, data) in enumerate(pairs):
        got = b""
        while len(got) < len(payload) - i:
            got += data.read(timeout=10)
        assert got == payload[i:]
    for err, data in pairs:
        data.close()                                       # half-close: the echo server ends, then we get FIN
        assert data.read_all(timeout=10) == b""
        assert err.read_all(timeout=10) == b""            # no error, and the server closed it
    assert conn.ping()                                     # the session stays until the client leaves
    conn.disconnect()


def test_portforward_errors_go_to_the_error_stream(server, echo_port):
    dead = refused_port()
    conn, _ = connect(server.register_portforward("pod-1", []), ["portforward.k8s.io"])
    s = open_streams(conn, "error", "data", port=str(dead), requestID="7")
    assert s["data"].read_all(timeout=10) == b""
    err = s["error"].read_all(timeout=10).decode()
    assert err.startswith(f"error forwarding port {dead} to pod pod-1") and "refused" in err
    with pytest.raises(ConnectionError):                   # no valid port: refused (RST_STREAM)
        conn.open_stream({"streamType": "data", "port": "http", "requestID": "8"})
    with pytest.raises(ConnectionError):
        conn.open_stream({"streamType": "stdin", "port": "80", "requestID": "8"})
    conn.disconnect()
    # A PortForward call that named ports allows only those.
    conn, _ = connect(server.register_portforward("pod-1", [echo_port]), ["portforward.k8s.io"])
    s = open_streams(conn, "error", "data", port=str(dead))   # no requestID: paired by stream id
    assert b"was not requested" in s["error"].read_all(timeout=10)
    conn.disconnect()


# -- bad requests; the server keeps serving --------------------------------------------
def test_bad_tokens_get_404(server):
    assert handshake_error(f"{server.url}/exec/no-such-token").status == 404
    server.ttl = 0.2
    expired = server.register_exec("c1", ["/bin/true"])
    server.ttl = 60
    time.sleep(0.3)
    assert handshake_error(expired).status == 404
    url = server.register_portforward("pod-1", [1])
    assert handshake_error(url.replace("/portforward/", "/exec/")).status == 404   # wrong kind


def test_version_negotiation_and_upgrade_headers(server):
    url = server.register_exec("c1", ["/bin/echo", "hi"])
    e = handshake_error(url, ["v9.channel.k8s.io", "v1.channel.k8s.io"])
    assert e.status == 403 and e.body.startswith(b"unable to upgrade: unable to negotiate protocol")
    assert e.headers.get_all(spdystream.HEADER_ACCEPTED) == list(spdystream.REMOTECOMMAND_PROTOCOLS)
    assert handshake_error(url, []).status == 400                          # no X-Stream-Protocol-Version
    assert handshake_error(url, upgrade="SPDY/3").status == 400
    assert handshake_error(url + "?command=/bin/sh").status == 400          # not what was registered
    pf = server.register_portforward("pod-1", [])
    e = handshake_error(pf, ["v4.channel.k8s.io"])
    assert e.status == 403 and e.headers.get_all(spdystream.HEADER_ACCEPTED) == ["portforward.k8s.io"]
    # None of that consumed the tokens; GET upgrades too. Once only.
    conn, _ = connect(url, ["v4.channel.k8s.io"], method="GET")
    out = finish(conn, open_streams(conn, "error", "stdout", "stderr"))
    assert out["stdout"] == b"hi\n" and json.loads(out["error"]) == SUCCESS
    assert handshake_error(url).status == 404
    connect(pf, ["portforward.k8s.io"])[0].disconnect()


def test_stream_creation_timeout_and_protocol_errors_end_only_the_session(server, monkeypatch):
    monkeypatch.setattr(spdystream, "STREAM_CREATION_TIMEOUT", 0.3)
    conn, _ = connect(server.register_exec("c1", ["/bin/true"]))
    conn.open_stream({"streamType": "error"})                              # stdout, stderr never come
    assert conn.closed.wait(5) and conn.goaway_received
    conn.disconnect()
    conn, _ = connect(server.register_exec("c1", ["/bin/cat"], stdin=True))
    conn.sock.sendall(struct.pack("!HHI", 0x8002, spdy.SYN_STREAM, 0))     # a SPDY/2 frame
    assert conn.closed.wait(5) and conn.goaway_received
    conn.disconnect()
    conn, _ = connect(server.register_exec("c1", ["/bin/echo", "still here"]))
    assert finish(conn, open_streams(conn, "error", "stdout", "stderr"))["stdout"] == b"still here\n"


def test_stop_ends_open_spdy_sessions():
    s = StreamServer(backend=LocalBackend())
    s.start()
    conn, _ = connect(s.register_exec("c1", ["/bin/cat"], stdin=True))
    streams = open_streams(conn, *EXEC_STREAMS)
    streams["stdin"].write(b"x\n")
    assert streams["stdout"].read(timeout=5) == b"x\n"
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 5 and conn.closed.wait(5) and conn.goaway_received
    conn.disconnect()


# -- interop with client-go, through kubectl --------------------------------------------
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "default"},
       "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}}
API_DOCS = {
    "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get"]}]},
    "/api/v1/namespaces/default/pods/p1": POD,
}


class FakeAPIServer:
    """Just enough of an API server for `kubectl exec` and `port-forward`: it
    answers discovery and the pod GET, and relays the exec/portforward upgrade
    to a fresh streaming URL byte for byte, as the kubelet's proxy does."""

    def __init__(self, streams: StreamServer):
        self.streams = streams
        self.upgrades: list[tuple[str, list[str]]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        with c:
            buf = b""
            while b"\r\n\r\n" not in buf:
                if not (data := c.recv(65536)):
                    return
                buf += data
            head, rest = buf.split(b"\r\n\r\n", 1)
            request, *headers = head.decode().split("\r\n")
            method, target, _ = request.split(" ")
            url = urlsplit(target)
            if method == "GET" and url.path in API_DOCS:
                body = json.dumps(API_DOCS[url.path]).encode()
                return c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            kind = url.path.rsplit("/", 1)[-1]
            if kind not in ("exec", "portforward"):
                return c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.upgrades.append((method, [h for h in headers if h.lower().startswith(("upgrade", "x-stream"))]))
            q = parse_qs(url.query)
            flags = {name: q.get(name) == ["true"] for name in ("tty", "stdin", "stdout", "stderr")}
            dest = urlsplit(self.streams.register_exec("c1", q["command"], **flags) if kind == "exec"
                            else self.streams.register_portforward("pod-1", []))
            with socket.create_connection((dest.hostname, dest.port)) as up:
                up.sendall(f"{method} {dest.path}?{url.query} HTTP/1.1\r\n".encode()
                           + "\r\n".join(headers).encode() + b"\r\n\r\n" + rest)
                t = threading.Thread(target=_pipe, args=(up, c), daemon=True)
                t.start()
                _pipe(c, up)
                t.join()

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def _pipe(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture
def kubectl(server):
    # `make setup` installs Debian's kubernetes-client unless a kubectl is there.
    assert shutil.which("kubectl"), "kubectl is missing: run `make setup`"
    api = FakeAPIServer(server)
    env = dict(os.environ, KUBECONFIG=os.devnull, KUBECTL_REMOTE_COMMAND_WEBSOCKETS="false",
               KUBECTL_PORT_FORWARD_WEBSOCKETS="false")      # SPDY only, no WebSocket first
    yield api, ["kubectl", f"--server={api.url}"], env
    api.close()


def test_kubectl_exec_over_spdy(kubectl):
    api, cmd, env = kubectl
    p = subprocess.run([*cmd, "exec", "-i", "p1", "--", "/bin/sh", "-c", "cat; echo err >&2; exit 3"],
                       input=b"hello\n", capture_output=True, env=env, timeout=30)
    assert (p.returncode, p.stdout) == (3, b"hello\n")
    assert p.stderr == b"err\ncommand terminated with exit code 3\n"
    method, headers = api.upgrades[-1]
    assert method == "POST" and "Upgrade: SPDY/3.1" in headers
    # kubectl 1.20 (Debian's) offers v4 first, newer ones v5 (served as v4)
    assert "X-Stream-Protocol-Version: v4.channel.k8s.io" in headers

    # -it under a pty: client-go sends the terminal's size on the resize stream.
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    script = ('i=0; while [ "$(stty size)" != "40 100" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; '
              'stty size; read line; echo "got:$line"')
    p = subprocess.Popen([*cmd, "exec", "-it", "p1", "--", "/bin/sh", "-c", script],
                         stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + 20
    while time.monotonic() < deadline and b"got:" not in out:
        if select.select([master], [], [], 0.2)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if b"40 100" not in out and b"40 100" in out + data:
                os.write(master, b"hi\r")
            out += data
    assert p.wait(10) == 0 and b"got:hi" in out
    os.close(master)


def test_kubectl_port_forward_over_spdy(kubectl, echo_port):
    api, cmd, env = kubectl
    p = subprocess.Popen([*cmd, "port-forward", "pod/p1", f":{echo_port}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        line = p.stdout.readline().decode()
        local = int(re.search(r"127\.0\.0\.1:(\d+) ->", line).group(1))
        for n in range(2):
            payload = base64.b64encode(os.urandom(150_000)) + b"%d" % n
            with socket.create_connection(("127.0.0.1", local), timeout=10) as c:
                c.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    got += c.recv(65536)
            assert got == payload
        assert api.upgrades[-1][0] == "POST"
        assert "X-Stream-Protocol-Version: portforward.k8s.io" in api.upgrades[-1][1]
    finally:
        p.terminate()
        p.wait(10)
