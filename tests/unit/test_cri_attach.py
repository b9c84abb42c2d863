"""The log relay's attach socket (cri_handler.attach) and its tty mode
(cri_handler.logrelay --console): a real relay process, a pty of our own
standing in for the container's, this process acting as the runtime (it
sends the master over the console socket) and as the CRI server's
streaming backend.  No root or sandbox needed."""
import array
import fcntl
import os
import queue
import select
import shutil
import socket
import struct
import termios
import threading
import time
from pathlib import Path

from cri_handler import attach, logrelay
from cri_handler.channels import TerminalSize
from cri_handler.logs import parse_record


def records(path):
    return [parse_record(line) for line in Path(path).read_bytes().split(b"\n")[:-1]]


def wait_for(fn, timeout=5.0):
    end = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def wait_exit(pid, timeout=10.0):
    fd = os.pidfd_open(pid)                  # not our child: a pidfd tells its exit
    try:
        assert select.select([fd], [], [], timeout)[0], f"relay {pid} did not exit"
    finally:
        os.close(fd)


class Client:
    """attach.attach() on a thread, with pipes for the session's streams."""

    def __init__(self, directory, stdin=True, stdout=True, stderr=False, tty=False, detach=True):
        self.in_r, self.in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.out_r, self.err_r = out_r, err_r
        files = (open(self.in_r, "rb", buffering=0) if stdin else None,
                 open(out_w, "wb", buffering=0) if stdout else None,
                 open(err_w, "wb", buffering=0) if stderr else None)
        self.resize = queue.Queue() if tty else None
        self.thread = threading.Thread(target=attach.attach, args=(directory, *files, self.resize, detach),
                                       daemon=True)
        self.thread.start()
        for fd, wanted in ((out_w, stdout), (err_w, stderr)):
            if not wanted:
                os.close(fd)
        self.got = {out_r: b"", err_r: b""}

    def read(self, fd) -> bytes:
        os.set_blocking(fd, False)
        try:
            self.got[fd] += os.read(fd, 65536)
        except (BlockingIOError, OSError):
            pass
        return self.got[fd]


def test_tty_relay_logs_the_pty_and_serves_attach(tmp_path):
    log = tmp_path / "c.log"
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    listener = attach.listen(str(tmp_path))
    console, console_path, console_dir = attach.console_listener()
    relay = logrelay.start_gated(str(log), -1, err_r, console=console.fileno(), attach_fd=listener.fileno())
    master, slave = os.openpty()
    runtime = socket.socket(socket.AF_UNIX)             # what `create --console-socket` does
    runtime.connect(console_path)
    runtime.sendmsg([b"/dev/ptmx"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
    runtime.close()
    os.close(master)
    pid = logrelay.open_gate(relay)
    for closable in (listener, console):
        closable.close()
    os.close(err_r)
    shutil.rmtree(console_dir)                          # as the CRI server does after create
    try:
        os.write(slave, b"hello\n")
        wait_for(lambda: log.exists() and b"hello" in log.read_bytes())

        c = Client(str(tmp_path), tty=True)
        time.sleep(0.2)                                 # connected: output from now on
        os.write(c.in_w, b"typed\n")
        c.resize.put(TerminalSize(width=100, height=40))
        wait_for(lambda: struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))[:2] == (40, 100))
        got = b""
        while not got.endswith(b"typed\n"):             # the terminal's input, as typed
            got += os.read(slave, 100)
        os.write(slave, b"after\n")
        wait_for(lambda: b"after\r\n" in c.read(c.out_r))
        assert c.read(c.out_r).startswith(b"typed\r\n")  # the echo (the pty is in cooked mode)
    finally:
        os.close(slave)                                 # the "container" is done: EIO on the master
        os.close(err_w)
    c.thread.join(5)
    assert not c.thread.is_alive(), "the session ends with the container's output"
    wait_exit(pid)
    recs = records(log)
    assert {r.stream for r in recs} == {"stdout"}
    assert [r.content for r in recs] == [b"hello", b"typed", b"after"]


def test_stdin_relay_stdin_once_and_separate_streams(tmp_path):
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    listener = attach.listen(str(tmp_path))
    relay = logrelay.start_gated("", out_r, err_r, attach_fd=listener.fileno(), stdin_w=in_w, stdin_once=True)
    pid = logrelay.open_gate(relay)
    listener.close()
    for fd in (out_r, err_r, in_w):
        os.close(fd)
    try:
        watcher = Client(str(tmp_path), stdin=False, stdout=True, stderr=True)
        writer = Client(str(tmp_path), stdin=True, stdout=False, detach=False)
        time.sleep(0.2)
        os.write(writer.in_w, b"line\n")
        assert os.read(in_r, 100) == b"line\n"
        os.close(writer.in_w)                           # its stdin ends: stdin_once closes ours
        assert os.read(in_r, 100) == b""                # EOF for the "container"
        assert writer.thread.is_alive(), "with stdin_once the session stays for the output"
        os.write(out_w, b"to out\n")
        os.write(err_w, b"to err\n")
        wait_for(lambda: watcher.read(watcher.out_r) == b"to out\n" and watcher.read(watcher.err_r) == b"to err\n")
    finally:
        os.close(out_w)
        os.close(err_w)
    for c in (watcher, writer):
        c.thread.join(5)
        assert not c.thread.is_alive()
    wait_exit(pid)
    assert not any(p.name.endswith(".log") for p in tmp_path.iterdir()), "no --log: no file"


def test_frames_split_anywhere():
    data = attach.frame(b"i", b"abc") + attach.frame(b"c") + attach.frame(b"r", struct.pack("!HH", 40, 100))
    reader = attach.FrameReader()
    got = []
    for i in range(len(data)):
        got += reader.feed(data[i:i + 1])
    assert got == [(b"i", b"abc"), (b"c", b""), (b"r", struct.pack("!HH", 40, 100))]
