"""Port forward: each forwarded connection of a session (channels.Forward,
from the WebSocket or the SPDY transport) piped to a TCP connection the
backend dials inside the pod.

Facts relied upon (kubelet `pkg/cri/streaming/portforward`, containerd's
PortForward; the transports' own framing is in cri_handler/websocket.py and
cri_handler/spdystream.py):
- A CRI PortForward request that named ports allows only those; one that
  named none allows any port (the client's URL or stream headers name it).
- A connection that cannot be made is reported on its error path as
  "error forwarding port P to pod ID: reason" (the kubelet's wording),
  and so is a failure of the pod side while forwarding.
- Where the transport can half-close (SPDY), the client's end of sending
  becomes shutdown(SHUT_WR) towards the pod and the forward lasts until the
  pod is done too; the pod's EOF becomes the client's end of data. Where it
  cannot (WebSocket), either side ending ends the connection.
- Kernel: shutdown(SHUT_RDWR) on a socket wakes a thread blocked in recv()
  or send() on it, which is how a session's end stops its forwards.
"""
from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING

from cri_handler.channels import DRAIN_TIMEOUT, Forward, ForwardSource

if TYPE_CHECKING:
    from cri_handler.streaming import Backend

log = logging.getLogger(__name__)


def serve_portforward(source: ForwardSource, backend: Backend, pod_id: str, allowed=()) -> None:
    """Serve every connection of the session until it is over."""
    socks: set[socket.socket] = set()   # the pod side of every live forward
    threads: list[threading.Thread] = []
    for fw in source.forwards():
        t = threading.Thread(target=_forward, args=(fw, backend, pod_id, tuple(allowed), socks),
                             daemon=True, name=f"pf-{fw.port}")
        t.start()
        threads = [t for t in threads if t.is_alive()] + [t]
    for sock in list(socks):            # the session is over: unblock every forward
        _shutdown(sock)
    for t in threads:
        t.join(DRAIN_TIMEOUT)
    source.finish()


def _forward(fw: Forward, backend: Backend, pod_id: str, allowed: tuple[int, ...], socks: set) -> None:
    what = f"error forwarding port {fw.port} to pod {pod_id}"
    try:
        if allowed and fw.port not in allowed:
            raise ValueError(f"port {fw.port} was not requested in the PortForward call "
                             f"(ports: {', '.join(map(str, allowed))})")
        sock = backend.portforward(pod_id, fw.port)
    except Exception as e:               # the client gets the reason; the log gets the rest
        log.warning("port forward to %s:%d failed: %s", pod_id, fw.port, e)
        fw.error(f"{what}: {e}")
        fw.end()
        return
    socks.add(sock)
    failures: list[OSError] = []
    ending = threading.Event()           # we shut the socket down: what fails after that is ours

    def pod_to_client() -> None:
        try:
            while chunk := sock.recv(65536):
                if not fw.write(chunk):
                    break
        except OSError as e:
            if not ending.is_set():
                failures.append(e)
        finally:
            fw.close_write()             # the pod is done

    pump = threading.Thread(target=pod_to_client, daemon=True, name=f"pf-out-{fw.port}")
    pump.start()
    try:
        while chunk := fw.read():
            sock.sendall(chunk)
        if fw.half_close and not fw.aborted():
            sock.shutdown(socket.SHUT_WR)      # the client is done sending: half-close
            while pump.is_alive() and not fw.aborted():
                pump.join(0.2)                 # until the pod is done too
    except OSError as e:
        failures.append(e)
    ending.set()
    _shutdown(sock)
    pump.join()
    socks.discard(sock)
    sock.close()
    if failures and not fw.aborted():
        log.warning("port forward to %s:%d: %s", pod_id, fw.port, failures[0])
        fw.error(f"{what}: {failures[0]}")
    fw.end()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
