"""One sandbox, one sentry: start the sandbox and serve it until it ends.

Process layout (host pid namespace on the left):

    sentry (this process)           serves the seccomp listener
     `- init   (pid 1 inside)       sentry/init.py, then csrc/spawn.c
         `- workload                filter loaded, then execve(CMD)

The sentry stays in the host's namespaces: it needs host paths and
/proc/TID of the tracees.  It calls unshare(CLONE_NEWPID) just before
forking, which changes only where its *children* go.  That is also why a
sentry serves exactly one sandbox.

Exit status: the workload's code, or 128 + the signal that killed it, as a
shell reports it; 125 for an error of the sandbox itself.
"""
from __future__ import annotations

import array
import os
import signal
import socket
import sys

from sentry import filter as seccomp_filter
from sentry import native
from sentry.errors import EXIT_SANDBOX_ERROR, SandboxError
from sentry.handlers import current
from sentry.platform import seccomp_notify
from sentry.state import Sandbox
from sentry.syscalls import table
from sentry.syscalls.model import Action

CLONE_NEWPID = 0x20000000
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def handlers_and_kinds(sb: Sandbox, rows=None):
    """The dense per-number handler list for Python, the numbers whose
    handlers may block, and the C fast-path kinds."""
    handlers = [None] * native.lib.SB_MAX_NR
    kinds = {}
    blocking = set()
    for row in rows or table.ROWS:
        if row.action in (Action.EMULATE, Action.OBSERVE):
            handlers[row.nr] = row.handler
            if row.blocking:
                blocking.add(row.nr)
            if sb.strace is None:
                if row.fast and sb.fastpath:
                    kinds[row.nr] = seccomp_notify.FAST_KINDS[row.fast]
                elif row.action is Action.OBSERVE and row.handler is None:
                    kinds[row.nr] = native.lib.SB_K_CONTINUE
    return handlers, frozenset(blocking), kinds


def run(cfg) -> int:
    """Run cfg (a normalised RunConfig) in a new sandbox; return the exit status."""
    sb = Sandbox(hostname=cfg.hostname, release=cfg.release, strace=cfg.strace, fastpath=cfg.fastpath)
    current.sandbox = sb
    filt = seccomp_filter.build(table.ROWS, trace_all=cfg.strace == "all")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    status_r, status_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = _fork_into_new_pid_namespace()
    if pid == 0:
        ours.close()
        os.close(status_r)
        from sentry import init
        init.main(cfg, theirs, status_w, filt)   # never returns
    theirs.close()
    os.close(status_w)
    filt.close()
    sb.init_pid = pid

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    for sig in FORWARDED:
        signal.signal(sig, forward)

    relay = None
    try:
        listener, master = _receive(ours)
        if master is not None:
            from sentry.tty import Relay
            relay = Relay(master)
        tracer = None
        if cfg.strace:
            from sentry.strace import Tracer
            tracer = Tracer(sb)
        handlers, blocking, kinds = handlers_and_kinds(sb)
        dispatcher = seccomp_notify.Dispatcher(handlers, on_fatal=lambda msg: _fatal(pid, msg),
                                               tracer=tracer, blocking=blocking)
        seccomp_notify.serve(listener, sb.sentry, dispatcher, kinds)
        os.close(listener)
    except BaseException:
        _kill(pid)
        raise
    finally:
        ours.close()
        _, wstatus = _waitpid(pid)
        if relay is not None:
            relay.finish()
    data = os.read(status_r, 4)
    os.close(status_r)
    if cfg.summary:
        from sentry.strace import print_summary
        print_summary(sb)
    if len(data) != 4:
        raise SandboxError("the sandbox init died unexpectedly "
                           f"(wait status {wstatus:#x})")
    return exit_code(int.from_bytes(data, sys.byteorder))


def _fork_into_new_pid_namespace() -> int:
    """fork() with the child as pid 1 of a new pid namespace.

    unshare(CLONE_NEWPID) changes where our children go, and while that
    differs from our own pid namespace the kernel refuses to create threads
    (EINVAL), so we setns back to our own right after the fork.
    """
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    native.unshare(CLONE_NEWPID)
    pid = os.fork()
    if pid != 0:
        native.setns(own, CLONE_NEWPID)
        os.close(own)
    return pid


def exit_code(wstatus: int) -> int:
    if os.WIFSIGNALED(wstatus):
        return 128 + os.WTERMSIG(wstatus)
    return os.WEXITSTATUS(wstatus)


def _receive(sock: socket.socket):
    """Wait for the listener fd (and the pty master, with -t), or an error."""
    master = None
    while True:
        msg, anc, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(4))
        fds = array.array("i")
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % 4])
        if not msg:
            raise SandboxError("the sandbox exited before its workload started")
        if msg[:1] == b"E":
            raise SandboxError(msg[1:].decode(errors="replace"))
        if msg[:1] == b"T" and fds:
            master = fds[0]
        elif msg[:1] == b"L" and fds:
            return fds[0], master
        else:
            raise SandboxError(f"unexpected message from the sandbox init: {msg[:20]!r}")


def _fatal(pid: int, message: str) -> None:
    sys.stderr.write(f"pysandbox: {message}\n")
    _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _waitpid(pid: int):
    while True:
        try:
            return os.waitpid(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return pid, 0
