"""A container's stdio at CreateContainer: the fds `pysandbox-oci create`
gets, and the gated log relay (cri_handler.logrelay) that owns the other
ends afterwards.

A container gets a relay when it has a log, a tty or stdin; the relay also
serves its attach socket (cri_handler.attach) and holds what Attach needs
across restarts of the CRI server:
- tty: the OCI process has `terminal: true`, and `create --console-socket`
  sends the pty master to a socket we listen on and hand to the relay.
  stdout and stderr are then the pty; the pipe we give `create` carries
  only the runtime's and the sentry's own messages.
- stdin without a tty: the container's stdin is a pipe whose write end
  the relay keeps.
Without any of the three, stdio is /dev/null and there is nothing to attach to.

Facts relied upon:
- A pipe's reader sees EOF only once every write end is closed: the
  relay's copy of the stdin write end keeps the container's stdin open
  across attaches and server restarts (we close ours after create), and
  its closing it is the container's EOF (stdin_once).
- A listening socket keeps working in the process it was passed to after
  we close our fd and (the console's) unlink its path: the runtime's
  connection, made during create, waits in the backlog for the relay.
- Until the gate opens, what reaches the pipes is the runtime's complaint
  about a failed create: read back here, not logged as the container's.
"""
from __future__ import annotations

import os
import shutil

from cri_handler import attach, logrelay
from cri_handler.errors import RuntimeFailure


class CreateIO:
    """Make with the CRI config, setup(), run create with .stdin, .out_w,
    .err_w and .console_path, then open_gate() or failed(); abort() on any
    other error; close() always."""

    def __init__(self, cfg, bundle: str, log_path: str):
        self.cfg, self.bundle, self.log_path = cfg, bundle, log_path
        self.stdin = self.out_w = self.err_w = self.out_r = self.err_r = -1
        self.console_path = self.attach_dir = ""
        self._fds: list[int] = []
        self._listeners: list = []
        self._console_dir = ""
        self._relay: logrelay.GatedRelay | None = None

    def _pipe(self) -> tuple[int, int]:
        r, w = os.pipe2(os.O_CLOEXEC)
        self._fds += [r, w]
        return r, w

    def _null(self, flags: int) -> int:
        fd = os.open(os.devnull, flags | os.O_CLOEXEC)
        self._fds.append(fd)
        return fd

    def setup(self) -> None:
        cfg = self.cfg
        stdin_w = -1
        if cfg.stdin and not cfg.tty:
            self.stdin, stdin_w = self._pipe()
        else:
            self.stdin = self._null(os.O_RDONLY)
        if not (self.log_path or cfg.tty or cfg.stdin):
            self.out_w = self.err_w = self._null(os.O_WRONLY)
            return
        self.err_r, self.err_w = self._pipe()
        if cfg.tty:
            self.out_w = self.err_w              # stdout is the pty: this pipe gets the runtime's words
        else:
            self.out_r, self.out_w = self._pipe()
        attach_l = attach.listen(self.bundle)
        self._listeners.append(attach_l)
        self.attach_dir = self.bundle
        console = -1
        if cfg.tty:
            console_l, self.console_path, self._console_dir = attach.console_listener()
            self._listeners.append(console_l)
            console = console_l.fileno()
        # Started now, its Python start-up overlaps `create`; it reads once we open the gate.
        self._relay = relay_call(logrelay.start_gated, self.log_path, self.out_r, self.err_r,
                                 console=console, attach_fd=attach_l.fileno(), stdin_w=stdin_w,
                                 stdin_once=cfg.stdin_once)

    def open_gate(self) -> int:
        """create succeeded: the relay's pid (0: no relay)."""
        relay, self._relay = self._relay, None
        return relay_call(logrelay.open_gate, relay) if relay is not None else 0

    def failed(self) -> bytes:
        """create failed: stop the relay; what the runtime wrote to the pipes."""
        self.abort()
        return _drain(self.out_r) + _drain(self.err_r)

    def abort(self) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            logrelay.abort(relay)

    def close(self) -> None:
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []
        for sock in self._listeners:
            sock.close()
        self._listeners = []
        if self._console_dir:
            shutil.rmtree(self._console_dir, ignore_errors=True)


def relay_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except logrelay.RelayError as e:
        raise RuntimeFailure(str(e)) from None


def _drain(fd: int) -> bytes:
    if fd < 0:
        return b""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)
