"""Port forward over the streaming server's WebSocket (cri_handler.streaming).

Protocol facts relied upon (kubelet `pkg/cri/streaming/portforward`,
apimachinery `pkg/util/httpstream/wsstream`):
- Subprotocols v4.channel.k8s.io, v4.base64.channel.k8s.io, or none; the
  framing is cri_handler/websocket.py's.
- The i-th port uses channel 2i for data (both ways) and 2i+1 for errors
  (server to client). The server's first message on each of the two is the
  port, 2 bytes little-endian.
- A WebSocket carries one connection per port, and it ends when every one of
  those connections has ended; a connection ends when either side does (as
  containerd's does).
- What a client writes on an error channel, or on the channel of a port
  whose connection failed, is dropped.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
from typing import TYPE_CHECKING

from cri_handler.websocket import ChannelConn

if TYPE_CHECKING:
    from cri_handler.streaming import Backend

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 2.0       # how long the client's last messages may trail the end


def serve_portforward(conn: ChannelConn, backend: Backend, pod_id: str, ports: list[int]) -> None:
    socks: list[socket.socket | None] = [None] * len(ports)
    for i, port in enumerate(ports):
        prefix = struct.pack("<H", port)
        conn.send(2 * i, prefix)
        conn.send(2 * i + 1, prefix)
    for i, port in enumerate(ports):
        try:
            socks[i] = backend.portforward(pod_id, port)
        except Exception as e:           # the client gets the reason; the log gets the rest
            log.warning("port forward to %s:%d failed: %s", pod_id, port, e)
            conn.send(2 * i + 1, f"error forwarding port {port} to pod {pod_id}: {e}".encode())

    def pump(i: int, sock: socket.socket) -> None:
        try:
            while data := sock.recv(65536):
                if not conn.send(2 * i, data):
                    break
        except OSError as e:
            conn.send(2 * i + 1, f"error forwarding port {ports[i]} to pod {pod_id}: {e}".encode())
        finally:
            _shutdown(sock)   # the forward ends when either side does (as containerd's does)

    def read_loop() -> None:
        while (item := conn.recv()) is not None:
            channel, data = item
            i, is_error = divmod(channel, 2)
            if is_error or i >= len(socks) or socks[i] is None:
                continue
            try:
                socks[i].sendall(data)
            except OSError:
                pass   # the pod side is gone; its pump reports and ends
        for s in socks:                  # the client left: end every forward
            if s is not None:
                _shutdown(s)

    pumps = [threading.Thread(target=pump, args=(i, s), daemon=True, name=f"pf-{ports[i]}")
             for i, s in enumerate(socks) if s is not None]
    reader = threading.Thread(target=read_loop, daemon=True, name="pf-in")
    for t in (*pumps, reader):
        t.start()
    try:
        for t in pumps:
            t.join()
        conn.finish(reader, DRAIN_TIMEOUT)
    finally:
        for s in socks:
            if s is not None:
                s.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
