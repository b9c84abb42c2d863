"""What the streaming tests share (test_cri_streaming.py for WebSocket,
test_cri_spdy.py for SPDY): a backend that runs local processes (/bin/sh
for exec, a pty for tty) and dials 127.0.0.1 for port forward, a started
StreamServer over it, and a TCP echo server standing in for a pod's port."""
import fcntl
import os
import pty
import socket
import struct
import subprocess
import termios
import threading
import time

import pytest

from cri_handler.streaming import StreamServer

SUCCESS = {"metadata": {}, "status": "Success"}


class LocalBackend:
    """Exec runs the command on the host; port forward dials 127.0.0.1."""

    def exec(self, container_id, cmd, tty, stdin, stdout, stderr, resize_queue):
        if container_id == "missing":
            raise RuntimeError(f"container {container_id} is not running")
        if container_id == "deaf":            # stops reading stdin early: writes get EPIPE
            stdin.close()
            time.sleep(0.3)
            return 0
        if not tty:
            p = subprocess.Popen(cmd, stdin=stdin or subprocess.DEVNULL,
                                 stdout=stdout or subprocess.DEVNULL, stderr=stderr or subprocess.DEVNULL)
            return p.wait()
        master, slave = pty.openpty()
        p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        threads = [threading.Thread(target=self._resize, args=(master, resize_queue), daemon=True)]
        if stdin:
            threads.append(threading.Thread(target=self._feed, args=(stdin, master), daemon=True))
        for t in threads:
            t.start()
        while True:                   # the pty's output, until the slave side is gone (EIO)
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            stdout.write(data)
        code = p.wait()
        os.close(master)
        return code

    @staticmethod
    def _feed(stdin, master):
        try:
            while data := stdin.read(4096):
                os.write(master, data)
        except (OSError, ValueError):
            pass

    @staticmethod
    def _resize(master, q):
        while (size := q.get()) is not None:
            try:
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))
            except OSError:
                return

    def attach(self, container_id, tty, stdin, stdout, stderr, resize_queue):
        stdout.write(f"attached to {container_id}\n".encode())
        while data := stdin.read(4096):
            stdout.write(data.upper())

    def portforward(self, pod_id, port):
        return socket.create_connection(("127.0.0.1", port), timeout=5)


@pytest.fixture
def server():
    s = StreamServer(backend=LocalBackend())
    s.start()
    yield s
    s.stop()


@pytest.fixture
def echo_port():
    """A TCP echo server on 127.0.0.1, standing in for a pod's port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def echo(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield listener.getsockname()[1]
    listener.shutdown(socket.SHUT_RDWR)     # wakes accept()
    listener.close()
    t.join(5)
