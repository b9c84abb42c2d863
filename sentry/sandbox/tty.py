"""`pysandbox run -t`: relay between our terminal and the sandbox's pty.

The pty pair comes from the sandbox's own devpts instance (so `tty` inside
prints a path that exists there); the sandbox init sends us the master.
Our terminal goes to raw mode so ^C, ^Z and line editing reach the sandbox's
line discipline, which signals the sandbox's foreground process group.

The relay is one thread blocked in select(): it holds the GIL only for the
microseconds it takes to copy a chunk, so it does not slow the notify loop.
"""
from __future__ import annotations

import fcntl
import os
import select
import signal
import termios
import threading
import tty


class Relay:
    def __init__(self, master: int):
        self.master = master
        self.saved = None
        self.stop_r, self.stop_w = os.pipe()
        if os.isatty(0):
            self.saved = termios.tcgetattr(0)
            tty.setraw(0)
            self._resize()
            signal.signal(signal.SIGWINCH, lambda *_: self._resize())
        self.thread = threading.Thread(target=self._run, name="tty-relay", daemon=True)
        self.thread.start()

    def _resize(self):
        try:
            size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
        except OSError:
            pass

    def _run(self):
        stdin_open = True
        while True:
            fds = [self.master, self.stop_r] + ([0] if stdin_open else [])
            ready, _, _ = select.select(fds, [], [])
            if self.master in ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:       # EIO: every slave fd is closed
                    data = b""
                if not data:
                    return
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    os.write(self.master, data)
                else:
                    stdin_open = False
                    os.write(self.master, b"\x04")   # EOF for the sandbox
            if self.stop_r in ready:
                return

    def finish(self):
        os.write(self.stop_w, b"x")
        self.thread.join(timeout=2)
        # Drain what the workload wrote last.
        try:
            os.set_blocking(self.master, False)
            while data := os.read(self.master, 65536):
                os.write(1, data)
        except OSError:
            pass
        if self.saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved)
        os.close(self.master)
