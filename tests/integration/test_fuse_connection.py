"""sentry/vfs/fuse.py on the real kernel FUSE: the connection's start and
end.  INIT and mount(2), signals to readers, unmount, and what readers see
when the server stalls, is aborted, dies or times out.  Every wait is
bounded; see tests/fuse_helpers.py."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from sentry import native
from sentry.vfs import fuse
from tests.fuse_helpers import (
    CONNECTIONS,
    MNT_DETACH,
    expect_errno,
    in_mount_ns,
    pid_echo,
    read_fd,
    served,
    stall,
    wait_for,
)

pytestmark = pytest.mark.platform_independent      # no sentry involved

READ_WITH_SIGNAL = r"""
import signal, sys
signal.signal(signal.SIGUSR1, lambda *a: print("signalled", flush=True))
print("ready", flush=True)
print(open(sys.argv[1]).read(), end="", flush=True)
"""


@in_mount_ns()
def test_an_interrupted_reader_still_gets_its_reply():
    """A signal to a reader whose request the server holds queues an
    INTERRUPT, which the kernel withdraws when the reply comes: a server
    that answers each request before reading the next never reads one.
    The reader keeps waiting and gets the data (its handler runs after)."""
    gate, slow = stall()
    try:
        with served({"slow": slow}) as (mnt, server):
            p = subprocess.Popen([sys.executable, "-c", READ_WITH_SIGNAL, f"{mnt}/slow"],
                                 stdout=subprocess.PIPE, text=True)
            assert p.stdout.readline() == "ready\n"
            assert wait_for(lambda: server.counts[fuse.OPEN] == 1)
            time.sleep(0.1)
            p.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
            gate.set()
            out = p.communicate(timeout=10)[0]
            assert p.returncode == 0
            assert out == "signalled\nlate\n"
            assert server.counts[fuse.INTERRUPT] == 0
            assert open(f"{mnt}/slow").read() == "late\n"     # and it goes on
    finally:
        gate.set()


# --- the connection's end -------------------------------------------------------------

def _fds():
    return set(os.listdir("/proc/self/fd"))


@in_mount_ns()
def test_the_server_returns_cleanly_when_the_mount_goes():
    fds, threads = _fds(), threading.active_count()
    mnt = tempfile.mkdtemp(prefix="fuse-", dir="/tmp")
    try:
        fd = fuse.open_device()
        fuse.mount(mnt, fd)
        server = fuse.FuseServer(fd, {"a": pid_echo})
        t = threading.Thread(target=server.serve)
        t.start()
        keep = os.open(f"{mnt}/a", os.O_RDONLY)
        native.umount(mnt, MNT_DETACH)
        # Detached, but an open file keeps the connection: still served.
        assert read_fd(keep) == b"reader %d\n" % os.getpid()
        time.sleep(0.2)
        assert t.is_alive()
        os.close(keep)
        t.join(10)
        assert not t.is_alive() and server.ended == "disconnected"
        expect_errno(errno.EBADF, os.fstat, fd)
    finally:
        os.rmdir(mnt)
    assert _fds() == fds and threading.active_count() == threads


@in_mount_ns()
def test_lookups_wait_for_init_which_mount_does_not():
    mnt = tempfile.mkdtemp(prefix="fuse-", dir="/tmp")
    fd = fuse.open_device()
    t0 = time.monotonic()
    fuse.mount(mnt, fd)                      # nobody answers INIT yet
    assert time.monotonic() - t0 < 1
    server = fuse.FuseServer(fd, {"a": pid_echo})
    got = []
    t = threading.Thread(target=lambda: got.append(os.stat(f"{mnt}/a").st_mode))
    t.start()
    time.sleep(0.3)
    assert t.is_alive() and not got          # the lookup waits for INIT
    assert server.handle_one()               # INIT
    assert server.kernel_proto[0] == 7 and server.proto == (7, min(server.kernel_proto[1], 43))
    assert server.flags & fuse.FUSE_ABORT_ERROR
    while t.is_alive():
        assert server.handle_one()           # LOOKUP
        t.join(0.05)
    assert got == [0o100444]
    native.umount(mnt, MNT_DETACH)
    assert not server.handle_one() and server.ended == "disconnected"
    server.close()
    os.rmdir(mnt)


@in_mount_ns()
def test_readers_of_a_stalled_server_fail_when_the_connection_is_aborted():
    gate, slow = stall()
    native.mount("fusectl", CONNECTIONS, "fusectl")
    try:
        with served({"slow": slow, "fast": pid_echo}) as (mnt, server):
            keep = os.open(f"{mnt}/fast", os.O_RDONLY)
            cat = subprocess.Popen(["cat", f"{mnt}/slow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(0.3)
            assert cat.poll() is None                        # waiting for the server
            n = fuse.connection_id(mnt)
            assert open(f"{CONNECTIONS}/{n}/waiting").read().strip() == "1"
            with open(f"{CONNECTIONS}/{n}/abort", "w") as f:
                f.write("1")
            out, err = cat.communicate(timeout=10)
            assert cat.returncode == 1 and os.strerror(errno.ECONNABORTED).encode() in err
            expect_errno(errno.ENOTCONN, os.read, keep, 10)  # already open
            expect_errno(errno.ENOTCONN, os.open, f"{mnt}/fast", os.O_RDONLY)
            expect_errno(errno.ENOTCONN, os.listdir, mnt)
            os.close(keep)
            gate.set()                           # its late reply is dropped (ENOENT)
            assert wait_for(lambda: server.ended == "aborted", 10)
    finally:
        gate.set()
        native.umount(CONNECTIONS, MNT_DETACH)


SERVER = r"""
import sys, time
from sentry.vfs import fuse
def slow(pid):
    time.sleep(600)
fuse.FuseServer(int(sys.argv[1]), {"slow": slow, "fast": lambda pid: b"fast\n"}).serve()
"""


@in_mount_ns()
def test_readers_fail_when_the_server_process_dies():
    mnt = tempfile.mkdtemp(prefix="fuse-", dir="/tmp")
    fd = fuse.open_device()
    fuse.mount(mnt, fd)
    srv = subprocess.Popen([sys.executable, "-c", SERVER, str(fd)], pass_fds=[fd])
    os.close(fd)                                 # the server process holds the only copy
    try:
        assert open(f"{mnt}/fast").read() == "fast\n"
        keep = os.open(f"{mnt}/fast", os.O_RDONLY)
        cat = subprocess.Popen(["cat", f"{mnt}/slow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.3)
        assert cat.poll() is None
        srv.kill()
        srv.wait(10)
        out, err = cat.communicate(timeout=10)
        assert cat.returncode == 1 and os.strerror(errno.ECONNABORTED).encode() in err
        expect_errno(errno.ENOTCONN, os.read, keep, 10)
        expect_errno(errno.ENOTCONN, os.open, f"{mnt}/fast", os.O_RDONLY)
        expect_errno(errno.ENOTCONN, os.open, f"{mnt}/other", os.O_RDONLY)
        os.close(keep)
    finally:
        srv.kill()
        srv.wait(10)
        native.umount(mnt, MNT_DETACH)
        os.rmdir(mnt)


@in_mount_ns(timeout=90)
def test_the_kernels_request_timeout_ends_a_stalled_connection():
    gate, slow = stall()
    try:
        with served({"slow": slow}, request_timeout=1) as (mnt, server):
            assert server.flags & fuse.FUSE_REQUEST_TIMEOUT
            t0 = time.monotonic()
            cat = subprocess.run(["cat", f"{mnt}/slow"], capture_output=True, timeout=60)
            waited = time.monotonic() - t0
            assert cat.returncode == 1 and os.strerror(errno.ECONNABORTED).encode() in cat.stderr
            # The kernel checks every 15 s (FUSE_TIMEOUT_TIMER_FREQ).
            assert 1 <= waited < 35, waited
            gate.set()
            assert wait_for(lambda: server.ended == "disconnected", 10)
    finally:
        gate.set()


@in_mount_ns()
def test_a_refused_init_leaves_the_mount_refusing_everything():
    """What the server does when the kernel's protocol is too old: answer
    INIT with an error.  The mount then fails closed."""
    mnt = tempfile.mkdtemp(prefix="fuse-", dir="/tmp")
    fd = fuse.open_device()
    try:
        fuse.mount(mnt, fd)
        h = fuse.IN_HEADER.unpack(os.read(fd, fuse.READ_BUFFER))
        assert h.opcode == fuse.INIT
        os.write(fd, fuse.OUT_HEADER.pack(len=fuse.OUT_HEADER.size, error=-errno.EPROTO, unique=h.unique))
        expect_errno(errno.ECONNREFUSED, os.stat, f"{mnt}/a")
        expect_errno(errno.ECONNREFUSED, os.listdir, mnt)
    finally:
        native.umount(mnt, MNT_DETACH)
        os.close(fd)
        os.rmdir(mnt)
