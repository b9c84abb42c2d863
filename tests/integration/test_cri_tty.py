"""`pysandbox cri`: containers with a tty, and Attach through the log
relay's attach socket (cri_handler/attach.py): the pty output in the CRI
log, input and resizes over the WebSocket streaming protocol, stdin_once,
and a server restart in between (the relay holds the pty master).

A real server in a subprocess as in test_cri.py, with host-network pods
(no bridge to set up: these tests are about stdio)."""
from __future__ import annotations

import base64
import json
import os
import threading
import time

import grpc
import pytest

from cri_client import Server, busybox_archive
from cri_handler.logs import parse_record
from cri_handler.v1 import api_pb2
from tests.ws_client import OP_TEXT, connect

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)"),
    pytest.mark.platform_independent,     # the CRI server runs its sentries on the default platform
]
EXITED, RUNNING = api_pb2.CONTAINER_EXITED, api_pb2.CONTAINER_RUNNING
ECHO = 'tty; echo hello; while read x; do echo "got:$x"; stty size; done'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("critty")
    srv = Server(base, bridge="pysbcritty0", cidr="10.216.0.0/24")
    srv.import_image(busybox_archive(base / "busybox.tar"))
    srv.client = srv.start()
    yield srv
    try:
        for p in srv.client.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest()).items:
            srv.client.remove_pod(p.id)
    finally:
        srv.client.close()
        srv.stop()
        srv.remove_network()


def _pod(cri, name, log_dir):
    pc = cri.pod_config(name, log_dir=str(log_dir))
    pc.linux.security_context.namespace_options.network = api_pb2.NODE
    return pc, cri.run_pod(pc)


def _log(path) -> list:
    try:
        with open(path, "rb") as f:
            return [parse_record(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def _log_text(path) -> bytes:
    return b"\n".join(r.content for r in _log(path))


def _wait_for(fn, timeout=10.0, every=0.05):
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(every)


class Session:
    """An attach WebSocket (v5.channel.k8s.io); a thread gathers its messages by channel."""

    def __init__(self, url):
        self.ws = connect(url, ["v5.channel.k8s.io"], timeout=10)
        self.ws.sock.settimeout(None)
        self.chans: dict[int, bytes] = {}
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while (m := self.ws.recv()) is not None:
                ch, data = (m.data[0] - 48, base64.b64decode(m.data[1:])) if m.opcode == OP_TEXT \
                    else (m.data[0], m.data[1:])
                self.chans[ch] = self.chans.get(ch, b"") + data
        except OSError:
            pass
        self.closed = True

    def send(self, channel: int, data: bytes) -> None:
        self.ws.send(bytes([channel]) + data)

    def read_until(self, pred, deadline_s=10.0) -> bool:
        end = time.monotonic() + deadline_s
        while not pred(self) and not self.closed and time.monotonic() < end:
            time.sleep(0.02)
        return pred(self)

    def out(self) -> bytes:
        return self.chans.get(1, b"").replace(b"\r\n", b"\n")

    def status(self) -> dict:
        return json.loads(self.chans[3])


def _attach(cri, cid, **kw) -> Session:
    return Session(cri.rt.Attach(api_pb2.AttachRequest(container_id=cid, **kw)).url)


def test_tty_container_log_attach_and_resize(server, tmp_path):
    cri = server.client
    pc, pod = _pod(cri, "tty", tmp_path)
    cid = cri.create(pod, pc, cri.container_config("term", ["sh", "-c", ECHO], log_path="term.log",
                                                   tty=True, stdin=True))
    spec = json.loads(cri.rt.ContainerStatus(api_pb2.ContainerStatusRequest(
        container_id=cid, verbose=True)).info["info"])["runtimeSpec"]
    assert spec["process"]["terminal"] is True and "TERM=xterm" in spec["process"]["env"]
    cri.start(cid)
    log_path = tmp_path / "term.log"
    assert _wait_for(lambda: b"hello" in _log_text(log_path))
    recs = _log(log_path)
    # a terminal merges the streams: stdout only, and `tty` names the pty
    assert {r.stream for r in recs} == {"stdout"} and recs[0].content.startswith(b"/dev/pts/")

    s = _attach(cri, cid, tty=True, stdin=True, stdout=True)
    time.sleep(0.2)                                     # attached from "now" on
    s.send(0, b"hi\n")
    assert s.read_until(lambda s: b"got:hi\n" in s.out()), s.chans
    assert b"hi\n" in s.out().split(b"got:hi")[0]       # the terminal's echo of the input
    s.send(4, b'{"Width":100,"Height":40}')
    # the resize and the input travel on different channels: ask until the size shows
    for _ in range(50):
        s.send(0, b"size\n")
        if s.read_until(lambda s: b"40 100\n" in s.out(), deadline_s=0.2):
            break
    assert b"40 100\n" in s.out(), s.out()
    s.send(255, b"\x00")                                # v5: stdin closed: detach (tty)
    assert s.read_until(lambda s: 3 in s.chans) and s.status()["status"] == "Success"
    s.ws.disconnect()
    assert cri.status(cid).state == RUNNING             # detaching does not end the container
    assert _wait_for(lambda: b"40 100" in _log_text(log_path))

    # attach without tty to a tty container: its output on stdout; the other way round is refused
    code = pytest.raises(grpc.RpcError, cri.rt.Attach, api_pb2.AttachRequest(
        container_id=cid, tty=True, stdout=True, stderr=True)).value.code()
    assert code == grpc.StatusCode.INVALID_ARGUMENT       # tty and stderr (the kubelet's rule)
    s = _attach(cri, cid, stdin=True, stdout=True, stderr=True)
    time.sleep(0.2)
    s.send(0, b"plain\n")
    assert s.read_until(lambda s: b"got:plain\n" in s.out()) and not s.chans.get(2)
    s.ws.disconnect()
    cri.remove_pod(pod)


def test_tty_log_and_attach_survive_a_server_restart(server, tmp_path):
    cri = server.client
    pc, pod = _pod(cri, "restart", tmp_path)
    cid = cri.create(pod, pc, cri.container_config("term", ["sh", "-c", ECHO], log_path="term.log",
                                                   tty=True, stdin=True))
    cri.start(cid)
    log_path = tmp_path / "term.log"
    assert _wait_for(lambda: b"hello" in _log_text(log_path))

    cri.close()
    assert server.stop() == 0                           # SIGTERM: containers and relays stay
    cri = server.client = server.start()
    assert cri.status(cid).state == RUNNING
    s = _attach(cri, cid, tty=True, stdin=True, stdout=True)
    time.sleep(0.2)
    s.send(0, b"after\n")
    assert s.read_until(lambda s: b"got:after\n" in s.out()), s.chans
    assert _wait_for(lambda: b"got:after" in _log_text(log_path)), "the log flows after the restart"
    s.ws.disconnect()
    cri.stop(cid, timeout=0)
    st = cri.status(cid)
    assert st.state == EXITED and st.exit_code == 137
    cri.remove_pod(pod)


def test_stdin_once_closes_stdin_after_the_first_attach(server, tmp_path):
    cri = server.client
    pc, pod = _pod(cri, "once", tmp_path)
    cid = cri.create(pod, pc, cri.container_config("cat", ["sh", "-c", "cat; echo eof"], log_path="cat.log",
                                                   stdin=True, stdin_once=True))
    quiet = cri.create(pod, pc, cri.container_config("quiet", ["sleep", "1000"]))
    cri.start(cid)
    cri.start(quiet)
    s = _attach(cri, cid, stdin=True, stdout=True, stderr=True)
    time.sleep(0.2)
    s.send(0, b"abc\n")
    s.send(255, b"\x00")                                # stdin ends: the container's stdin closes,
    assert s.read_until(lambda s: 3 in s.chans)         # the output goes on until it exits
    assert s.out() == b"abc\neof\n" and s.status()["status"] == "Success"
    s.ws.disconnect()
    st = cri.wait_state(cid, EXITED)
    assert (st.state, st.exit_code) == (EXITED, 0)
    assert [r.content for r in _log(tmp_path / "cat.log")] == [b"abc", b"eof"]

    # no log, no tty, no stdin: nothing to attach to; and no tty or stdin that was not asked for
    codes = [pytest.raises(grpc.RpcError, cri.rt.Attach, api_pb2.AttachRequest(container_id=quiet, **kw))
             .value.code() for kw in ({"stdout": True}, {"stdin": True}, {"tty": True, "stdout": True})]
    assert codes == [grpc.StatusCode.FAILED_PRECONDITION] * 3
    cri.remove_pod(pod)
