"""Shared by the tests of sentry/vfs/fuse.py: run a test in a forked child
with its own mount namespace, serve a FUSE mount on a thread, bounded
waits."""
from __future__ import annotations

import errno
import functools
import os
import signal
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager

import pytest

from sentry import native
from sentry.vfs import fuse

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
CONNECTIONS = "/sys/fs/fuse/connections"
MiB = 1 << 20


def in_mount_ns(timeout=60):
    """Run the test body in a forked child that has its own mount namespace:
    its mounts never reach the host and vanish with it, even if its own
    cleanup fails.  The child's failure (a traceback) fails the test."""
    def wrap(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with tempfile.TemporaryFile() as report:
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        native.unshare(CLONE_NEWNS)
                        native.mount(None, "/", None, MS_REC | MS_PRIVATE)
                        fn(*args, **kwargs)
                        code = 0
                    except BaseException:
                        report.write(traceback.format_exc().encode(errors="replace"))
                        report.flush()
                    finally:
                        os._exit(code)
                deadline = time.monotonic() + timeout
                while True:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        break
                    if time.monotonic() > deadline:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        pytest.fail(f"the test's child did not finish in {timeout}s")
                    time.sleep(0.02)
                report.seek(0)
                text = report.read().decode()
            if status != 0:
                pytest.fail(text or f"child exited with status {status:#x}")
        return wrapper
    return wrap


@contextmanager
def served(files, *, readonly=True, max_read=0, request_timeout=0):
    """The filesystem mounted on a fresh directory under /tmp (any uid can
    reach it) and served on a thread; unmounted, and the server checked to
    have returned, at the end."""
    mnt = tempfile.mkdtemp(prefix="fuse-", dir="/tmp")
    os.chmod(mnt, 0o755)
    fd = fuse.open_device()
    fuse.mount(mnt, fd, readonly=readonly, max_read=max_read)
    server = fuse.FuseServer(fd, files, request_timeout=request_timeout)
    thread = threading.Thread(target=server.serve, name="fuse-serve", daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.proto is not None), "no INIT"
        yield mnt, server
    finally:
        try:
            native.umount(mnt, MNT_DETACH)
        except OSError as e:
            if e.errno != errno.EINVAL:       # the test unmounted it already
                raise
        thread.join(10)
        os.rmdir(mnt)
    assert not thread.is_alive(), "the server did not return after the unmount"
    assert server.dev_fd == -1


@contextmanager
def tmpfs_with(name, content):
    d = tempfile.mkdtemp(prefix="tmpfs-", dir="/tmp")
    native.mount("tmpfs", d, "tmpfs", 0, "size=1m")
    try:
        with open(os.path.join(d, name), "wb") as f:
            f.write(content)
        yield os.path.join(d, name)
    finally:
        native.umount(d, MNT_DETACH)
        os.rmdir(d)


@contextmanager
def bound(src, target):
    native.mount(src, target, None, MS_BIND)
    try:
        yield target
    finally:
        native.umount(target, MNT_DETACH)


def read_fd(fd, size=1 << 16):
    out = b""
    while chunk := os.read(fd, size):
        out += chunk
    return out


def expect_errno(code, fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == code, f"{fn.__name__}{args}: {e.value}"


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def pid_echo(pid):
    return b"reader %d\n" % pid


def stall():
    gate = threading.Event()

    def slow(pid):
        gate.wait(60)
        return b"late\n"
    return gate, slow
