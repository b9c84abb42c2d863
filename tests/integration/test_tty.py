"""`pysandbox run -t` under a real pseudo-terminal: the workload gets a
terminal of the right size, and an interactive shell works."""
import fcntl
import os
import select
import struct
import subprocess
import termios
import time

from conftest import PLATFORM, PYSANDBOX


def spawn_on_pty(args, rows=40, cols=100):
    """Start pysandbox with a new pty (of the given size) as its terminal;
    return the process, the pty master and the pty's initial mode."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    mode = termios.tcgetattr(master)         # the terminal mode before pysandbox runs
    if args[0] == "run":
        args = ["run", "--platform", PLATFORM, *args[1:]]
    p = subprocess.Popen([PYSANDBOX, *args], stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True)
    os.close(slave)
    return p, master, mode


def read_until(master, p, done, timeout=10.0):
    """Read the pty until done(output) is true, pysandbox exits, or timeout."""
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not done(out):
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:          # EIO: the slave side is closed
                break
            if not data:
                break
            out += data
        elif p.poll() is not None:
            break
    return out.decode(errors="replace")


def finish(p, master, timeout=10):
    """Wait for pysandbox (killing it on timeout) and return its status."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    finally:
        os.close(master)


def test_tty_and_window_size():
    """With -t, stdin is a tty inside, the window size is the outer one, and
    the outer terminal mode is restored at exit."""
    p, master, before = spawn_on_pty(["run", "-t", "--", "sh", "-c", "tty; test -t 0 && echo IS_TTY; stty size"])
    out = read_until(master, p, lambda o: False)
    try:
        status = p.wait(timeout=10)
        after = termios.tcgetattr(master)     # pysandbox must restore its terminal
    finally:
        finish(p, master, timeout=1)
    lines = [line.strip() for line in out.splitlines()]
    assert status == 0, out
    assert lines[0].startswith("/dev/pts/"), out
    assert "IS_TTY" in lines
    assert "40 100" in lines
    assert after == before, "outer terminal left in a different mode"


def test_interactive_shell():
    """An interactive shell on -t reads commands, prints results, exits 5."""
    p, master, _ = spawn_on_pty(["run", "-t", "--", "sh"])
    try:
        # Type only once the prompt shows: typeahead sent before pysandbox
        # puts its terminal in raw mode may be flushed (as with ssh/docker).
        out = read_until(master, p, lambda o: b"# " in o)
        os.write(master, b"echo $((6*7))\n")
        out += read_until(master, p, lambda o: b"42" in o.replace(b"6*7", b""))
        os.write(master, b"exit 5\n")
        out += read_until(master, p, lambda o: False)
    except OSError:
        out = "(pty write failed)"
    status = finish(p, master)
    assert "42" in out.replace("6*7", ""), out
    assert status == 5, out
