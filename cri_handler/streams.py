"""The backend behind the streaming server's URLs (cri_handler.streaming.Backend).

- exec: `pysandbox-oci exec --process` in the foreground, its stdio wired
  to the session's pipes.  With a tty we allocate the pseudo-terminal here
  (openpty) and hand the runtime its slave side as plain stdio: the process
  sees a terminal, resizes are TIOCSWINSZ on the master, and the runtime
  needs no console socket.
- attach: through the attach socket of the container's log relay
  (cri_handler.attach), which holds the pty master of a tty container or
  the write end of its stdin pipe and outlives us: output from the moment
  of attaching, input, and resizes (TIOCSWINSZ on the master).  The end of
  the client's stdin detaches, except with stdin_once and no tty, where
  the relay closes the container's stdin and the output goes on until the
  container exits (containerd's rule).  Containers made by an older server
  (no attach socket) get their output read back from the CRI log file and
  their stdin written to the FIFO it made.
- portforward: a TCP connection to 127.0.0.1:port made from a thread that
  has joined the pod's network namespace (cri_handler.netns.run_in_netns:
  setns(CLONE_NEWNET) is per thread and allowed in a threaded process);
  the socket stays in that namespace.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import struct
import termios
import threading
import time

from cri_handler.errors import FailedPrecondition, NotFound, RuntimeFailure
from cri_handler.execsync import process_file
from cri_handler.store import RUNNING

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
FOLLOW_INTERVAL = 0.05


class StreamBackend:
    def __init__(self, rt):
        self.rt = rt

    def exec(self, container_id, cmd, tty, stdin, stdout, stderr, resize_queue) -> int:
        ctrs = self.rt.ctrs
        rec = ctrs.running(container_id)
        pfile = process_file(rec, list(cmd))
        try:
            if tty:
                return self._exec_tty(rec.id, pfile, stdin, stdout, resize_queue)
            p = self.rt.oci.exec_process(rec.id, pfile, stdin.fileno() if stdin else -1,
                                         stdout.fileno() if stdout else -1, stderr.fileno() if stderr else -1)
            return _wait(p)
        finally:
            try:
                os.unlink(pfile)
            except FileNotFoundError:
                pass

    def _exec_tty(self, cid, pfile, stdin, stdout, resize_queue) -> int:
        master, slave = os.openpty()
        try:
            p = self.rt.oci.exec_process(cid, pfile, slave, slave, slave)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        threads = []
        if stdin is not None:
            threads.append(_thread(_copy_fd, stdin.fileno(), master, False))
        if resize_queue is not None:
            threads.append(_thread(_resizer, resize_queue, master))
        out = _thread(_copy_fd, master, stdout.fileno() if stdout else -1, True)
        code = _wait(p)
        out.join(2.0)
        if resize_queue is not None:
            resize_queue.put(None)
        os.close(master)
        return code

    def attach(self, container_id, tty, stdin, stdout, stderr, resize_queue) -> None:
        ctrs = self.rt.ctrs
        rec = ctrs.running(container_id)
        if stdin is not None and not rec.config.get("stdin"):
            raise FailedPrecondition(f"container {rec.id} was not created with stdin")
        if rec.attach_dir:
            from cri_handler import attach
            once = bool(rec.config.get("stdin_once")) and not rec.tty
            try:
                attach.attach(rec.attach_dir, stdin, stdout, stderr, resize_queue, detach_on_stdin_eof=not once)
            except (ConnectionRefusedError, FileNotFoundError):
                raise FailedPrecondition(f"container {rec.id}: its log relay does not answer "
                                         "(the container has exited?)") from None
            return
        done = threading.Event()
        if stdin is not None:

            def feed():
                fd = os.open(rec.stdin_fifo, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    _copy_fd(stdin.fileno(), fd, False)
                finally:
                    os.close(fd)
                    if not (stdout or stderr):
                        done.set()
            _thread(feed)
        if not (stdout or stderr):
            done.wait()
            return
        streams = {"stdout": stdout, "stderr": stderr}
        self._follow(rec, streams, done)

    def _follow(self, rec, streams: dict, done: threading.Event) -> None:
        from cri_handler.logs import parse_record
        path = rec.log_path
        f = open(path, "rb")
        try:
            f.seek(0, os.SEEK_END)
            pending = b""
            while not done.is_set():
                chunk = f.read(65536)
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        try:
                            r = parse_record(line)
                        except ValueError:
                            continue
                        out = streams.get(r.stream)
                        if out is None:
                            continue
                        try:
                            out.write(r.content if r.partial else r.content + b"\n")
                        except (BrokenPipeError, ValueError, OSError):
                            return                # the client went away
                    continue
                current = self.rt.ctrs.refresh(rec.id)
                if current is None or current.state != RUNNING:
                    return
                try:                             # rotated: follow the new file from its start
                    if os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                        f.close()
                        f = open(path, "rb")
                        pending = b""
                        continue
                except FileNotFoundError:
                    pass
                time.sleep(FOLLOW_INTERVAL)
        finally:
            f.close()

    def portforward(self, pod_id, port) -> socket.socket:
        pod = self.rt.find_pod(pod_id)
        if pod is None:
            raise NotFound(f"pod sandbox {pod_id!r} not found")
        if pod.host_network:
            return _connect(port)
        from cri_handler.netns import run_in_netns
        return run_in_netns(pod.namespaces["net"], _connect, port)


def _wait(p) -> int:
    from cri_handler.spawn import LostChild
    try:
        return p.wait()
    except LostChild as e:
        raise RuntimeFailure(str(e)) from None


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT)
    s.settimeout(None)
    return s


def _thread(fn, *args) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, daemon=True, name=f"stream-{fn.__name__}")
    t.start()
    return t


def _copy_fd(src: int, dst: int, eio_is_eof: bool) -> None:
    """Copy until EOF (or EIO from a pty master whose slave closed)."""
    while True:
        try:
            data = os.read(src, 65536)
        except OSError:
            return
        if not data:
            return
        if dst < 0:
            continue
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view):]
        except OSError:
            return


def _resizer(q, master: int) -> None:
    while True:
        size = q.get()
        if size is None:
            return
        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))
        except OSError:
            return
