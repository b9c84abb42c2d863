"""The sandbox's pid 1, up to the moment the workload starts.

The sentry forks this process after unshare(CLONE_NEWPID), so it is pid 1 of
the new pid namespace.  It makes the remaining namespaces, builds the root
view, then enters csrc/spawn.c: either sb_init_run, which forks the
workload and stays as a reaping init until the workload exits (`pysandbox
run`, an OCI exec, a container joining a pod's pid namespace), or, for an
OCI container with a pid namespace of its own (cfg.pid1), the container's
process is pid 1 itself, as under runc:

    sentry
     `- holder  pid 1 of an outer pid namespace: _hold, then sb_holder_run
         `- init   pid 1 of the container's own pid namespace (the one its
                   /proc shows): builds the view, then sb_pid1_exec execs
                   the workload in this very process

The holder is today's init without a view: it forwards the sentry's
signals (the container's pid 1 gets only those it handles, as with runc),
writes the user-namespace maps and the wait status, and stays outside the
container, which cannot see it (its pid namespace is the container's
parent).  It is there to fail closed: the container's process may change
its ids (gosu, su-exec, a setuid binary as pid 1), which clears its own
PR_SET_PDEATHSIG, but the holder never does; when the holder dies the
kernel kills its pid namespace and every namespace below it.

Fail closed: PR_SET_PDEATHSIG(SIGKILL) ties this process (and the holder)
to the sentry, and when a pid namespace's init dies the kernel kills
everything in it.  The process is made non-dumpable, so the workload (same
uid, fewer capabilities) cannot ptrace it or open its /proc/1/mem.

Messages to and from the sentry follow the start-up protocol
(csrc/protocol.h, sentry/sandbox/protocol.py): READY when the root view is
built, then GO from the sentry; TTY + fd (the pty master); ERROR + text if
the sandbox did not start.  The workload sends USERNS (the sentry writes
its id maps and answers MAPPED), SEIZE and LISTENER itself.
"""
from __future__ import annotations

import _socket  # not socket: see sentry/sandbox/protocol.py
import math
import os
import select
import signal
import stat
from resource import setrlimit

from sentry import native
from sentry.abi.linux import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    NS_FLAG,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    RLIMITS,
)
from sentry.errors import EXIT_SANDBOX_ERROR, SandboxError
from sentry.sandbox import mounts, net, protocol
from sentry.sandbox.config import host_id
from sentry.sandbox.protocol import Msg


def main(cfg, sock: _socket.socket, status_fd: int, filt, plat) -> None:
    """Never returns."""
    try:
        if cfg.pid1:
            _hold(cfg, sock, status_fd)
        _start(cfg, sock, status_fd, filt, plat)
    except SandboxError as e:
        _fail(sock, str(e))
    except OSError as e:
        _fail(sock, f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
    except BaseException:
        import traceback
        _fail(sock, "internal error in the sandbox init:\n" + traceback.format_exc())
    os._exit(EXIT_SANDBOX_ERROR)


def _fail(sock, message: str) -> None:
    try:
        sock.send(protocol.error(message))
    except OSError:
        pass
    os._exit(EXIT_SANDBOX_ERROR)


def _tie_to_parent(sock) -> None:
    """Die with our parent; default signal actions.  (Our command line is
    "pysandbox-init" from the fork on: see lifecycle._fork_init.)"""
    native.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may have died before the line above: the sentry's end of
    # the socket is then closed and poll reports a hang-up.
    if _peer_gone(sock):
        os._exit(EXIT_SANDBOX_ERROR)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()   # the workload leaves the sentry's terminal job control


def _hold(cfg, sock, status_fd: int) -> None:
    """Become the holder (see the header): fork the container's pid 1 into
    a pid namespace of its own and hold it until it exits.  Returns only
    in that child."""
    _tie_to_parent(sock)
    native.prctl(PR_SET_DUMPABLE, 0)
    native.unshare(CLONE_NEWPID)      # our next child is its pid 1
    pid = os.fork()
    if pid == 0:
        return
    # Nothing of the container's is ours to hold but the status pipe
    # (stdio stays, as an init's does).
    sock.close()
    for fd in _open_fds():
        if fd not in (0, 1, 2, status_fd):
            try:
                os.close(fd)
            except OSError:
                pass
    native.holder_run(pid, status_fd)
    os._exit(EXIT_SANDBOX_ERROR)        # not reached


def _start(cfg, sock, status_fd, filt, plat) -> None:
    _tie_to_parent(sock)
    userns = -1
    if cfg.userns_path:           # opened while the host's /proc and paths are still ours
        userns = os.open(cfg.userns_path, os.O_RDONLY | os.O_CLOEXEC)
    if cfg.exec_in:
        _join_container(cfg.exec_in)
    else:
        _enter_namespaces(cfg)
        if cfg.hostname and "uts" not in cfg.host_ns:
            _socket.sethostname(cfg.hostname)
        if cfg.net == "none" and "net" not in cfg.join:
            net.loopback_up()
        for key, value in cfg.sysctls.items():
            _sysctl(key, value)
        mounts.setup(cfg)
        if cfg.check_exec:
            _check_executable(cfg)
    native.prctl(PR_SET_DUMPABLE, 0)
    if cfg.host_pid and not cfg.exec_in:
        # No pid namespace to collect orphans: the container's stay below
        # us (and are reaped), as under an init of its own.
        native.prctl(PR_SET_CHILD_SUBREAPER, 1)
    tty = -1
    if cfg.tty:
        # Before READY: an OCI engine gets the console during `create`.
        master, tty = os.openpty()        # from the sandbox's own devpts
        protocol.send(sock, Msg.TTY, fd=master)
        os.close(master)
    protocol.send(sock, Msg.READY)        # the view is built: the sentry joins it
    if not protocol.expect(sock, Msg.GO):  # ... and has put us in its cgroup
        raise SandboxError("the sentry did not confirm the sandbox view")

    if cfg.cpus:
        # nproc asks sched_getaffinity: show (and give) ceil(cpus) cpus.
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[:max(1, math.ceil(cfg.cpus))])

    for resource, soft, hard in cfg.rlimits:
        try:
            setrlimit(resource, (soft, hard))
        except (OSError, ValueError) as e:
            name = RLIMITS[resource] if 0 <= resource < len(RLIMITS) else resource
            raise SandboxError(f"process.rlimits: cannot set {name} to "
                               f"{soft}/{hard}: {getattr(e, 'strerror', None) or e}") from None
    if cfg.pid1:
        status_fd = -1                    # the holder reports our status
    keep = {0, 1, 2, sock.fileno(), status_fd, tty, userns}
    for fd in _open_fds():
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    spawn = dict(
        argv=cfg.argv, env=cfg.env, cwd=cfg.cwd, sock=sock.fileno(), status_fd=status_fd, tty=tty,
        filter=filt, caps=cfg.cap_mask, uid=cfg.uid, gid=cfg.gid, ptrace=plat.seize_before_filter,
        user_filter=cfg.seccomp_profile, groups=cfg.groups, new_userns=bool(cfg.uid_map),
        host_uid=host_id(cfg.uid_map, cfg.uid), host_gid=host_id(cfg.gid_map, cfg.gid), userns_fd=userns,
        no_new_privs=cfg.no_new_privs)
    if cfg.pid1:
        native.pid1_exec(**spawn)         # never returns
    native.init_run(**spawn)


def _check_executable(cfg) -> None:
    """runc looks args[0] up in the container before `create` returns, so a
    missing program fails `create` (containerd: StartContainer, StartError)
    instead of exiting 127 after `start`.  Not a security check: the
    workload's own execve is what runs it."""
    name = cfg.argv[0]
    cwd = cfg.cwd or "/"
    if "/" in name:
        candidates = [os.path.join(cwd, name)]
    else:
        path = next((e[5:] for e in reversed(cfg.env) if e.startswith("PATH=")), "")
        candidates = [os.path.join(cwd, d or ".", name) for d in path.split(":")]
    for c in candidates:
        try:
            st = os.stat(c)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            return
        if "/" in name:
            raise SandboxError(f"exec: {name}: permission denied")
    if "/" in name:
        raise SandboxError(f"exec: {name}: no such file or directory")
    raise SandboxError(f"exec: {name!r}: executable file not found in $PATH")


def _enter_namespaces(cfg) -> None:
    """New mount, uts, ipc (and net, unless --net host) namespaces; those
    the OCI config names by path (a pod's) are joined instead."""
    held = {}
    try:
        for kind, path in cfg.join.items():
            if kind == "pid":
                continue          # joined by the sentry's fork (sentry.sandbox)
            try:
                held[kind] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise SandboxError(f"linux.namespaces: {kind} path {path}: {e.strerror}") from None
        flags = CLONE_NEWNS
        for kind in ("uts", "ipc") + (("net",) if cfg.net == "none" else ()):
            if kind not in held and kind not in cfg.host_ns:
                flags |= NS_FLAG[kind]
        native.unshare(flags)
        for kind, fd in held.items():
            try:
                native.setns(fd, NS_FLAG[kind])
            except OSError as e:
                raise SandboxError(f"linux.namespaces: cannot join {kind} namespace {cfg.join[kind]}: "
                                   f"{e.strerror}") from None
    finally:
        for fd in held.values():
            os.close(fd)


def _join_container(init_pid: int) -> None:
    """OCI exec: the running container's namespaces (its pid namespace was
    joined before the fork).  Joining the mount namespace also moves our
    root and cwd to its root: the container's view, already built."""
    order = (("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET), ("mnt", CLONE_NEWNS))
    fds = []
    try:
        for name, _ in order:
            fds.append(os.open(f"/proc/{init_pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC))
        for fd, (_name, flag) in zip(fds, order):
            native.setns(fd, flag)
    except OSError as e:
        raise SandboxError(f"cannot join the container's namespaces: {e.strerror}") from None
    finally:
        for fd in fds:
            os.close(fd)


def _sysctl(key: str, value: str) -> None:
    """Written before /proc is replaced: /proc/sys/net and the ipc keys show
    the writer's own (new) namespaces."""
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise SandboxError(f"linux.sysctl {key}={value!r}: {e.strerror}") from None


def _peer_gone(sock) -> bool:
    p = select.poll()
    p.register(sock.fileno(), select.POLLIN)
    return any(ev & (select.POLLHUP | select.POLLERR) for _, ev in p.poll(0))


def _open_fds() -> list[int]:
    return [int(fd) for fd in os.listdir("/proc/self/fd")]
