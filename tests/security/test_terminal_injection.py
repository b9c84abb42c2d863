"""The invoking terminal: a workload run from a user's terminal must not type
into it (TIOCSTI, the escape of bubblewrap's CVE-2017-5226) nor make it
its own controlling terminal.  This host allows TIOCSTI at all
(dev.tty.legacy_tiocsti = 1), so only the kernel's own rule stands in the
way: the terminal must be the caller's controlling terminal, or the caller
must hold CAP_SYS_ADMIN.  The workload's init calls setsid(), so it has no
controlling terminal; and since `--cap-add` gives real host capabilities,
the filter refuses TIOCSTI and TIOCLINUX outright (table.py's ioctl row),
on the request's low 32 bits, which are all the kernel reads.

The test plays the user: a pty whose slave is the controlling terminal of
a session that runs `pysandbox run`, as a shell's would be, with the
workload's stdio on it.  What the workload tries to type would be read
from the slave by the shell once the sandbox ends; here, by us."""
from __future__ import annotations

import os
import select
import signal
import time

import pytest

from conftest import PLATFORM, PYSANDBOX

PROBE = r"""
import ctypes, fcntl, os, termios
libc = ctypes.CDLL(None, use_errno=True)
def high_bits():     # the kernel reads ioctl's request as an int: the high half is ignored
    if libc.syscall(16, 0, ctypes.c_ulong(0xFFFFFFFF00000000 | termios.TIOCSTI), b"W") < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
for name, call in (("TIOCSTI", lambda: fcntl.ioctl(0, termios.TIOCSTI, b"X")),
                   ("TIOCSCTTY", lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0)),
                   ("TIOCSCTTY-steal", lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 1)),
                   ("TIOCSTI-again", lambda: fcntl.ioctl(0, termios.TIOCSTI, b"Y")),
                   ("TIOCSTI-high-bits", high_bits)):
    try:
        call()
        print(name, "ok", flush=True)
    except OSError as e:
        print(name, e.strerror, flush=True)
print("probe done", flush=True)
"""


def _run_on_a_terminal(argv: list[str], timeout: float = 30.0) -> tuple[bytes, bytes]:
    """Run argv as a session leader with a new pty's slave as its controlling
    terminal and stdio; returns (what it wrote, what is left to read as
    input on the slave once it has exited)."""
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            import fcntl
            import termios
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out = b""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                pid = 0
                break
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
        # The output after exit, then what is queued as the terminal's input.
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.set_blocking(slave, False)
        try:
            typed = os.read(slave, 4096)
        except BlockingIOError:
            typed = b""
        return out, typed
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("view", ["default", "privileged-caps"])
def test_the_workload_cannot_type_into_the_invoking_terminal(view):
    extra = ["--cap-add", "ALL"] if view == "privileged-caps" else []
    out, typed = _run_on_a_terminal([PYSANDBOX, "run", "--platform", PLATFORM, *extra, "--",
                                     "python3", "-c", PROBE])
    text = out.decode(errors="replace").replace("\r", "")
    assert "probe done" in text, text
    for name in ("TIOCSTI", "TIOCSCTTY", "TIOCSCTTY-steal", "TIOCSTI-again", "TIOCSTI-high-bits"):
        assert f"{name} Operation not permitted" in text, text
    assert not {b"W", b"X", b"Y"} & {bytes([c]) for c in typed}, typed
