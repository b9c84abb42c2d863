"""The streaming server's transport-independent layer (cri_handler/channels.py):
exec and port forward served over a third, in-memory transport that
implements only the channel interfaces, as the WebSocket and SPDY paths do.
The pod side is real: /bin/sh for exec, TCP servers on 127.0.0.1."""
import queue
import socket
import threading

from cri_handler import channels, portforward, streaming
from tests.stream_backend import LocalBackend


class MemoryChannels:
    """channels.Channels over two queues."""

    def __init__(self, inbound):
        self.inbound, self.out, self.status = queue.Queue(), [], None
        for item in inbound:
            self.inbound.put(item)
        self.inbound.put(None)

    def send(self, channel, data):
        self.out.append((channel, data))
        return True

    def recv(self):
        return self.inbound.get()

    def send_status(self, status):
        self.status = channels.status_payload(status, json_status=True)

    def finish(self, reader, grace):
        if reader is not None:
            reader.join(grace)


def test_exec_over_any_transport_that_speaks_the_channel_interface():
    conn = MemoryChannels([(channels.STDIN, b"from stdin\n"), (channels.CLOSE_SIGNAL, bytes([channels.STDIN]))])
    req = streaming.ExecRequest("c1", ("/bin/sh", "-c", "cat; echo e >&2; exit 3"), False, True, True, True)
    streaming.serve_session(LocalBackend(), "exec", req, conn)
    assert conn.out[0] == (channels.STDOUT, b"")          # "the streams are up"
    assert b"".join(d for c, d in conn.out if c == channels.STDOUT) == b"from stdin\n"
    assert b"".join(d for c, d in conn.out if c == channels.STDERR) == b"e\n"
    assert b'"reason":"NonZeroExitCode"' in conn.status and b'"message":"3"' in conn.status


class MemoryForward:
    def __init__(self, port, half_close, data):
        self.port, self.half_close = port, half_close
        self.inbox, self.got, self.errors = queue.Queue(), [], []
        self.pod_done, self.ended = threading.Event(), threading.Event()
        for chunk in data:
            self.inbox.put(chunk)
        self.inbox.put(b"")                                # the client is done sending

    def read(self):
        return self.inbox.get()

    def write(self, data):
        self.got.append(data)
        return True

    def close_write(self):
        self.pod_done.set()

    def aborted(self):
        return False

    def error(self, message):
        self.errors.append(message)

    def end(self):
        self.ended.set()


class MemorySource:
    def __init__(self, fwds):
        self.fwds, self.finished = fwds, False

    def forwards(self):
        yield from self.fwds
        for fw in self.fwds:                               # the session lasts until each has ended
            fw.ended.wait(10)

    def finish(self):
        self.finished = True


def _reply_after_eof_server():
    """Reads to EOF, then answers with how many bytes it got (needs a half-close)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                n = 0
                while data := conn.recv(65536):
                    n += len(data)
                try:
                    conn.sendall(f"got {n}".encode())
                except OSError:
                    pass
    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_portforward_half_close_only_where_the_transport_has_it():
    listener = _reply_after_eof_server()
    port = listener.getsockname()[1]
    refused = socket.create_server(("127.0.0.1", 0))
    dead = refused.getsockname()[1]
    refused.close()
    try:
        spdy_like = MemoryForward(port, True, [b"x" * 1000, b"y" * 24])
        ws_like = MemoryForward(port, False, [b"z" * 10])
        failing = MemoryForward(dead, True, [])
        not_allowed = MemoryForward(1, True, [])
        source = MemorySource([spdy_like, ws_like, failing, not_allowed])
        portforward.serve_portforward(source, LocalBackend(), "pod-1", allowed=(port, dead))
        assert source.finished
        assert b"".join(spdy_like.got) == b"got 1024" and spdy_like.pod_done.is_set()
        assert ws_like.got == [] and ws_like.errors == []    # the client's end ended it: no reply
        assert failing.errors[0].startswith(f"error forwarding port {dead} to pod pod-1: ")
        assert "was not requested" in not_allowed.errors[0]
        assert all(f.ended.is_set() for f in source.fwds)
    finally:
        listener.close()
