"""A container's attach endpoint: a unix socket served by its log relay
(cri_handler/logrelay.py), through which Attach reaches the container's
terminal or stdin and gets its output as it is produced.

The relay, not the CRI server, holds what must outlive a server restart:
the pty master of a tty container (received from `pysandbox-oci create
--console-socket`) and the write end of a non-tty container's stdin pipe.
The server connects to `<bundle>/attach.sock` per Attach session.

Wire format, both ways: frames of one kind byte, a 4-byte big-endian
length and the payload.
  client -> relay: 'h' hello (first; payload one byte: 1 stdin, 2 stdout,
                   4 stderr wanted), 'i' input, 'c' the client's stdin
                   ended, 'r' resize (payload struct "!HH": rows, columns)
  relay -> client: '1' stdout, '2' stderr (with a tty everything is '1':
                   the terminal merges the streams), 'x' the container's
                   output is over (the relay then closes the connection)

Choices, as containerd's CRI (pkg/cri/io/container_io.go Attach):
- A client gets the output produced after it connected, no backlog.
- stdin_once without a tty: when the first client with stdin ends its
  stdin (or goes away), the relay closes the container's stdin and the
  session keeps streaming output until the container exits.  Otherwise
  the end of the client's stdin detaches the session; stdin stays open.
- A client that does not keep up (its queue of output frames is full) is
  dropped rather than stall the container's output and its log.

Kernel facts relied on:
- sun_path holds 107 bytes and state directories can be deeper.  Binding
  or connecting to /proc/self/fd/N/NAME, N an O_PATH fd of the directory,
  resolves through the magic link: only that short string is limited.
- SCM_RIGHTS passes an open fd; MSG_CMSG_CLOEXEC marks the received one
  close-on-exec.  A connection a listener has not accepted yet already
  holds what was sent on it, so the runtime's send does not wait for us.
- TIOCSWINSZ on a pty master sets the terminal's size and sends SIGWINCH
  to its foreground process group.  Writes to the master are the
  terminal's input.
- Python ignores SIGPIPE: a write to a closed pipe or socket is EPIPE.
"""
from __future__ import annotations

import array
import fcntl
import os
import queue
import select
import socket
import struct
import termios
import threading
import time

SOCKET_NAME = "attach.sock"
HEADER = struct.Struct("!cI")
MAX_PAYLOAD = 1 << 20
QUEUE_FRAMES = 1024
WANT_STDIN, WANT_STDOUT, WANT_STDERR = 1, 2, 4


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class FrameReader:
    """Splits a byte stream into (kind, payload) frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= HEADER.size:
            kind, n = HEADER.unpack_from(self.buf)
            if n > MAX_PAYLOAD:
                raise ValueError(f"attach frame of {n} bytes")
            if len(self.buf) < HEADER.size + n:
                break
            out.append((kind, bytes(self.buf[HEADER.size:HEADER.size + n])))
            del self.buf[:HEADER.size + n]
        return out


def _in_dir(directory: str, name: str, fn) -> None:
    """fn(path) with a short path to directory/name (see the module docstring)."""
    dfd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fn(f"/proc/self/fd/{dfd}/{name}")
    finally:
        os.close(dfd)


def listen(directory: str, name: str = SOCKET_NAME) -> socket.socket:
    """A listening socket at directory/name, for root only."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        _in_dir(directory, name, s.bind)
        os.chmod(os.path.join(directory, name), 0o600)
        s.listen(16)
    except BaseException:
        s.close()
        raise
    return s


def connect(directory: str, name: str = SOCKET_NAME, timeout: float = 5.0) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.settimeout(timeout)
    try:
        _in_dir(directory, name, s.connect)
    except BaseException:
        s.close()
        raise
    s.settimeout(None)
    return s


# -- the console socket (CreateContainer of a tty container) ----------------------------

def console_listener() -> tuple[socket.socket, str, str]:
    """A listening socket for `create --console-socket PATH`: (socket, PATH,
    its private directory to remove after create).  The runtime is given a
    path, so it must fit sun_path: a fresh directory in the temp dir, as
    containerd's console.NewTempSocket."""
    import tempfile  # not at the top: the log relay imports this module
    base = tempfile.gettempdir()
    if len(base) > 60:
        base = "/tmp"
    d = tempfile.mkdtemp(prefix="pysandbox-pty-", dir=base)     # mode 0700
    path = os.path.join(d, "pty.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.bind(path)
        s.listen(1)
    except BaseException:
        s.close()
        os.rmdir(d)
        raise
    return s, path, d


def receive_console(listener_fd: int, timeout: float = 5.0) -> int:
    """Accept the runtime's connection on the console listener and return
    the pty master it sends (-1 if none came).  Closes the listener."""
    lst = socket.socket(fileno=listener_fd)
    lst.settimeout(timeout)
    try:
        conn, _ = lst.accept()
    except OSError:
        return -1
    finally:
        lst.close()
    with conn:
        conn.settimeout(timeout)
        try:
            _, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * 4), socket.MSG_CMSG_CLOEXEC)
        except OSError:
            return -1
    fds = array.array("i")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % 4])
    for extra in fds[1:]:
        os.close(extra)
    return fds[0] if fds else -1


# -- the relay's side ---------------------------------------------------------------

class _Client:
    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.wants = 0
        self.stdin_open = False
        self.q: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.dead = False
        self.writer = threading.Thread(target=self.write_loop, daemon=True, name="attach-writer")

    def put(self, item) -> None:
        if self.dead:
            return
        try:
            self.q.put_nowait(item)
        except queue.Full:
            self.drop()

    def drop(self) -> None:
        self.dead = True
        try:
            self.conn.shutdown(socket.SHUT_RDWR)    # wakes its reader; the writer's send fails
        except OSError:
            pass
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass

    def write_loop(self) -> None:
        while (item := self.q.get()) is not None:
            try:
                self.conn.sendall(item)
            except OSError:
                self.drop()
                return
        try:
            self.conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Hub:
    """Serves the attach socket inside the relay.  input_fd: the pty master
    (tty) or the write end of the container's stdin (-1: none)."""

    def __init__(self, listener: socket.socket, input_fd: int, tty: bool, stdin_once: bool):
        self.listener, self.tty, self.stdin_once = listener, tty, stdin_once
        self._input = input_fd
        self._input_lock = threading.Lock()     # a write never races the stdin_once close
        self._mu = threading.Lock()
        self._clients: set[_Client] = set()
        self._over = False

    def start(self) -> None:
        threading.Thread(target=self._accept_loop, daemon=True, name="attach-accept").start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return                          # shut down by close()
            conn.setblocking(True)
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="attach-client").start()

    def _serve(self, conn: socket.socket) -> None:
        c = _Client(conn)
        reader = FrameReader()
        c.writer.start()                        # before close() can see it and join it
        with self._mu:
            over = self._over
            if not over:
                self._clients.add(c)
        if over:
            c.put(frame(b"x"))
            c.put(None)
            c.writer.join(1.0)
            conn.close()
            return
        try:
            while data := conn.recv(65536):
                for kind, payload in reader.feed(data):
                    self._handle(c, kind, payload)
        except (OSError, ValueError):
            pass
        finally:
            if c.stdin_open:                    # gone without ending its stdin: the same
                self._stdin_ended(c)
            with self._mu:
                self._clients.discard(c)
            c.drop()
            conn.close()

    def _handle(self, c: _Client, kind: bytes, payload: bytes) -> None:
        if kind == b"h" and payload:
            c.wants = payload[0]
            c.stdin_open = bool(c.wants & WANT_STDIN)
        elif kind == b"i" and c.stdin_open:
            self._write_input(payload)
        elif kind == b"c" and c.stdin_open:
            self._stdin_ended(c)
        elif kind == b"r" and self.tty and len(payload) == 4:
            rows, cols = struct.unpack("!HH", payload)
            try:
                fcntl.ioctl(self._input, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            except OSError:
                pass

    def _write_input(self, data: bytes) -> None:
        with self._input_lock:
            if self._input < 0:
                return
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._input, view):]
            except OSError:
                pass                            # EPIPE: the container closed its stdin

    def _stdin_ended(self, c: _Client) -> None:
        c.stdin_open = False
        if self.stdin_once and not self.tty:
            with self._input_lock:
                fd, self._input = self._input, -1
                if fd >= 0:
                    os.close(fd)                # EOF for the container's stdin

    def publish(self, stream: str, data: bytes) -> None:
        if self.tty and stream != "stdout":
            return                              # the runtime's own messages: the log only
        kind, bit = (b"1", WANT_STDOUT) if stream == "stdout" else (b"2", WANT_STDERR)
        msg = frame(kind, data)
        with self._mu:
            clients = [c for c in self._clients if c.wants & bit]
        for c in clients:
            c.put(msg)

    def close(self, timeout: float = 2.0) -> None:
        """The container's output is over: tell every client, stop accepting,
        and give the writers up to timeout to deliver what is queued."""
        with self._mu:
            self._over = True
            clients = list(self._clients)
        for c in clients:
            c.put(frame(b"x"))
            c.put(None)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)    # wakes accept() (close would not)
        except OSError:
            pass
        self.listener.close()
        deadline = time.monotonic() + timeout
        for c in clients:
            c.writer.join(max(0.0, deadline - time.monotonic()))


# -- the CRI server's side (cri_handler/streams.py) -----------------------------------

def attach(directory: str, stdin, stdout, stderr, resize_queue, detach_on_stdin_eof: bool) -> None:
    """One Attach session through the relay's socket in directory.  Returns
    when the container's output is over, the client detaches (EOF on stdin
    if detach_on_stdin_eof) or goes away (EPIPE on output)."""
    sock = connect(directory)
    cancel_r, cancel_w = socket.socketpair()
    send_lock = threading.Lock()

    def send(kind: bytes, payload: bytes = b"") -> bool:
        try:
            with send_lock:
                sock.sendall(frame(kind, payload))
            return True
        except OSError:
            return False

    def feed() -> None:
        while True:
            try:
                data = stdin.read(65536)
            except (OSError, ValueError):
                data = b""
            if not data or not send(b"i", data):
                break
        send(b"c")
        if detach_on_stdin_eof:
            try:
                cancel_w.send(b"x")
            except OSError:
                pass

    def resize() -> None:
        while (size := resize_queue.get()) is not None:
            if not send(b"r", struct.pack("!HH", size.height & 0xFFFF, size.width & 0xFFFF)):
                return

    wants = (WANT_STDIN if stdin else 0) | (WANT_STDOUT if stdout else 0) | (WANT_STDERR if stderr else 0)
    try:
        send(b"h", bytes([wants]))
        if stdin is not None:
            threading.Thread(target=feed, daemon=True, name="attach-stdin").start()
        if resize_queue is not None:
            threading.Thread(target=resize, daemon=True, name="attach-resize").start()
        reader = FrameReader()
        outs = {b"1": stdout, b"2": stderr}
        while True:
            ready, _, _ = select.select([sock, cancel_r], [], [])
            if cancel_r in ready:
                return
            data = sock.recv(65536)
            if not data:
                return
            for kind, payload in reader.feed(data):
                if kind == b"x":
                    return
                out = outs.get(kind)
                if out is not None:
                    try:
                        out.write(payload)
                    except (OSError, ValueError):
                        return                  # the client went away
    finally:
        if resize_queue is not None:
            resize_queue.put(None)
        for s in (sock, cancel_r, cancel_w):
            s.close()
