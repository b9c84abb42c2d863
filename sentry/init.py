"""The sandbox's pid 1, up to the moment the workload starts.

The sentry forks this process after unshare(CLONE_NEWPID), so it is pid 1 of
the new pid namespace.  It makes the remaining namespaces, builds the root
view, then enters csrc/spawn.c's sb_init_run, which forks the workload and
stays as a reaping init until the workload exits.

Fail closed: PR_SET_PDEATHSIG(SIGKILL) ties this process to the sentry, and
when a pid namespace's init dies the kernel kills everything in it.  The
process is made non-dumpable, so the workload (same uid, fewer capabilities)
cannot ptrace it or open its /proc/1/mem.

Messages to the sentry go over a SOCK_SEQPACKET socket: b"R" (the root view
is built), b"T"+fd (pty master), b"L"+fd (the seccomp listener, sent by the
workload itself), b"E"+text (an error; the sandbox did not start).
"""
from __future__ import annotations

import array
import math
import os
import select
import signal
import socket
import traceback

from sentry import mounts, native, net
from sentry.errors import EXIT_SANDBOX_ERROR, SandboxError

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x40000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


def send_fd(sock: socket.socket, tag: bytes, fd: int) -> None:
    sock.sendmsg([tag], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def main(cfg, sock: socket.socket, status_fd: int, filt) -> None:
    """Never returns."""
    try:
        _start(cfg, sock, status_fd, filt)
    except SandboxError as e:
        _fail(sock, str(e))
    except OSError as e:
        _fail(sock, f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
    except BaseException:
        _fail(sock, "internal error in the sandbox init:\n" + traceback.format_exc())
    os._exit(EXIT_SANDBOX_ERROR)


def _fail(sock, message: str) -> None:
    try:
        sock.send(b"E" + message.encode(errors="replace")[:60000])
    except OSError:
        pass
    os._exit(EXIT_SANDBOX_ERROR)


def _start(cfg, sock, status_fd, filt) -> None:
    native.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The sentry may have died before the line above: its end of the socket
    # is then closed and poll reports a hang-up.
    if _peer_gone(sock):
        os._exit(EXIT_SANDBOX_ERROR)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()   # the workload leaves the sentry's terminal job control
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC
    if cfg.net == "none":
        flags |= CLONE_NEWNET
    native.unshare(flags)
    socket.sethostname(cfg.hostname)
    if cfg.net == "none":
        net.loopback_up()
    mounts.setup(cfg)
    native.prctl(PR_SET_DUMPABLE, 0)
    sock.send(b"R")               # the view is built: the sentry joins it
    if sock.recv(16) != b"G":     # ... and has put us in its cgroup
        raise SandboxError("the sentry did not confirm the sandbox view")

    if cfg.cpus:
        # nproc asks sched_getaffinity: show (and give) ceil(cpus) cpus.
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[:max(1, math.ceil(cfg.cpus))])
    tty = -1
    if cfg.tty:
        master, tty = os.openpty()        # from the sandbox's own devpts
        send_fd(sock, b"T", master)
        os.close(master)

    keep = {0, 1, 2, sock.fileno(), status_fd, tty}
    for fd in _open_fds():
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    spawn, _keepalive = _spawn_struct(cfg, sock.fileno(), status_fd, tty, filt)
    native.check(native.lib.sb_init_run(spawn), "fork")


def _peer_gone(sock) -> bool:
    p = select.poll()
    p.register(sock.fileno(), select.POLLIN)
    return any(ev & (select.POLLHUP | select.POLLERR) for _, ev in p.poll(0))


def _open_fds() -> list[int]:
    return [int(fd) for fd in os.listdir("/proc/self/fd")]


def _spawn_struct(cfg, sock_fd, status_fd, tty, filt):
    ffi = native.ffi
    keep = []

    def cstrings(items):
        arr = [ffi.new("char[]", s.encode()) for s in items]
        keep.extend(arr)
        out = ffi.new("char *[]", arr + [ffi.NULL])
        keep.append(out)
        return out

    sp = ffi.new("struct sb_spawn *")
    sp.argv = cstrings(cfg.argv)
    sp.envp = cstrings(cfg.env)
    cwd = ffi.new("char[]", cfg.cwd.encode())
    keep.append(cwd)
    sp.cwd = cwd
    sp.sock = sock_fd
    sp.status_fd = status_fd
    sp.tty = tty
    sp.filter = filt.ctx
    sp.caps = cfg.cap_mask
    sp.uid, sp.gid = cfg.uid, cfg.gid
    sp.ptrace = int(cfg.platform == "ptrace")
    return sp, keep
