"""One sandbox, one sentry: start the sandbox and serve it until it ends.

Process layout (host pid namespace on the left):

    sentry (this process)           serves the seccomp listener
     `- init   (pid 1 inside)       sentry/sandbox/init.py, then csrc/spawn.c
         `- workload                filter loaded, then execve(CMD)

or, for an OCI container with a pid namespace of its own (cfg.pid1), the
container's process is its pid 1, as under runc:

    sentry
     `- holder (outside the view)   pid 1 of an outer pid namespace
         `- init = workload         pid 1 of the container's: builds the
                                    view, then execs CMD itself

or, for an OCI container in the host's pid namespace (cfg.host_pid: no pid
entry in config.json, the CRI's pid NODE), no pid namespace at all:

    sentry
     |- watcher (outside the view and the cgroup)   _watch: cgroup.kill
     `- init   (a host pid, a child subreaper)      reaps, as above
         `- workload                                a host pid too

No init of a pid namespace then ends the sandbox: its cgroup does (a v2
group, sentry/sandbox/cgroups.py; the group in /sys/fs/cgroup/unified on a
hybrid host), which holds init and, from its first instruction, every
process of the container.  The watcher holds pidfds of the sentry and of
init and a cgroup.kill fd opened as root; when either ends (the sentry
killed, or the container's process gone and init with it, which is when
containerd's shim kills every process of a container without a pid
namespace of its own) it writes "1" there: the kernel SIGKILLs every
member at once, a daemon that double-forked away from init included.  The
sentry ends the group the same way once it is done, and reports the
status only when the group is empty (cgroup.events: populated 0); a
thread of the sentry kills the group if the watcher dies first.  On the
ptrace platform PTRACE_O_EXITKILL does it too.  init is a child subreaper,
so orphans stay below it (the sandbox's process tree, its zombies reaped).

`pysandbox run` keeps the reaping init (like `docker run --init`): it runs
arbitrary commands, often interactive, that were never written to be a
pid 1.  A pid namespace's init gets no signal it does not handle, from the
terminal (Ctrl-C) or from the sentry, and nobody would reap the orphans of
a shell pipeline or a build.  A container's image is made to be pid 1
(nginx's master, an entrypoint that execs its daemon), and engines expect
runc's behaviour: the entrypoint in /proc/1/cmdline, SIGTERM ignored by a
pid 1 without a handler, reaping left to it.  A container joining a pod's
pid namespace, and an OCI exec, are not pid 1 and keep an init of their
own.  The holder (init.py says why it must exist) forwards our signals and
reports the workload's status exactly as the init does, so what follows
holds for both layouts.  With a holder, the process whose namespaces the
sentry joins, which OCI records as the container's pid 1 and which is put
in the cgroup is the holder's only child; the holder stays out of the
container's cgroup, as runc's parent does.

The sentry stays in the host's pid and net namespaces (it needs /proc/TID of
the tracees), but once init has built the root view it joins the sandbox's
*mount* namespace, so every path it resolves for a tracee is confined by the
kernel to the sandbox view, and it takes the workload's uid, gids and
capabilities while serving, so the kernel checks what it opens as it would
check the tracee.  Host paths it still needs are held as fds first
(sentry.hostproc, the cgroup).  Nothing may be imported after that point:
every module is loaded before the fork.

It calls unshare(CLONE_NEWPID) just before forking, which changes only where
its *children* go.  That is also why a sentry serves exactly one sandbox.

Exit status: the workload's code, or 128 + the signal that killed it, as a
shell reports it; 125 for an error of the sandbox itself.  OOM: init (not
a holder) is in the sandbox's cgroup too, and the kernel's OOM killer
takes the member with the largest RSS, which can be init rather than the
workload (memory that no process maps, such as tmpfs pages, counts
towards the limit but towards no one's RSS).  The workload then dies with its pid namespace; a SIGKILL of
init (under ptrace, whose loop reaps init itself, an init gone without a
status) while the group's oom_kill count rose is reported as the
workload's OOM kill (137, oomKilled), not as an error of the sandbox.
"""
from __future__ import annotations

import _socket  # not socket: see sentry/sandbox/protocol.py
import os
import select
import signal
import sys
import threading
from collections.abc import Callable

from sentry import native
from sentry import platform as platforms
from sentry.abi.linux import CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, PR_SET_DUMPABLE, WALL
from sentry.errors import SandboxError
from sentry.handlers import current
from sentry.platform.dispatch import Dispatcher
from sentry.sandbox import caps, mounts, protocol, synthesized
from sentry.sandbox.config import host_id
from sentry.sandbox.protocol import Msg
from sentry.sandbox.state import Sandbox
from sentry.syscalls import filter as seccomp_filter
from sentry.syscalls import table
from sentry.syscalls.model import Action
from sentry.vfs import hostproc, procfs  # noqa: F401 - procfs: imported before leaving the host (see the header)

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def handlers_and_kinds(sb: Sandbox, rows=None):
    """The dense per-number handler list for Python, the numbers whose
    handlers may block, and the C fast-path kinds."""
    handlers: list[Callable | None] = [None] * native.MAX_NR
    kinds = {}
    blocking = set()
    for row in rows or table.ROWS:
        if sb.host_pid and row.name in table.HOST_PID_GUARDED:
            handlers[row.nr] = table.HOST_PID_GUARDED[row.name]
            continue
        if row.action_in(sb.strict_fs) in (Action.EMULATE, Action.OBSERVE):
            handlers[row.nr] = row.handler
            if row.blocking:
                blocking.add(row.nr)
            if sb.strace is None:
                if row.fast and sb.fastpath:
                    kinds[row.nr] = native.fast_kind(row.fast)
                elif row.action is Action.OBSERVE and row.handler is None:
                    kinds[row.nr] = native.fast_kind("continue")
    return handlers, frozenset(blocking), kinds


class Lifecycle:
    """Where a front end that splits a run into steps hooks in: the OCI
    runtime's create / start / state.  The defaults are `pysandbox run`'s."""

    def ready(self, init_pid: int) -> None:
        """The sandbox's view is built and its init waits; the workload does
        not exist yet.  Still in the host's mount namespace.  May block
        (until `start`); raising SandboxError stops the sandbox."""

    def console(self, master: int) -> bool:
        """The pty master (with a terminal): True if taken (and closed)."""
        return False

    def exited(self, status: int, oom: bool) -> None:
        """The workload is gone: its status as run() returns it."""


def run(cfg, life: Lifecycle | None = None) -> int:
    """Run cfg (a normalised RunConfig) in a new sandbox; return the exit status."""
    life = life or Lifecycle()
    sb = Sandbox(hostname=cfg.hostname, release=cfg.release, strace=cfg.strace, fastpath=cfg.fastpath,
                 strict_fs=cfg.strict_fs,
                 memory_limit=cfg.memory or 0, cpus=cfg.cpus, mounts=mounts.table(cfg),
                 uid_map=cfg.uid_map, gid_map=cfg.gid_map)
    if any(a != b for a, b, _ in cfg.uid_map + cfg.gid_map):
        sb.fastpath = False       # the C stat paths do not translate owner ids (handlers/stat.py does)
    current.sandbox = sb
    hostproc.open_host_proc()
    if cfg.cgroup_path or cfg.memory or cfg.cpus or cfg.pids or cfg.host_pid:
        from sentry.sandbox import cgroups  # only for limits; here, still in the host's mount namespace
    host_pid = cfg.host_pid and not cfg.exec_in
    if host_pid and not cfg.cgroup_path:
        cfg.cgroup_path = cgroups.unique_name()      # recorded in the OCI state (launch.py): exec joins it
    if cfg.exec_in and cfg.cgroup_path:
        sb.cgroup = cgroups.Cgroup.attach(cfg.cgroup_path)     # the container's: joined, kept
    elif cfg.memory or cfg.cpus or cfg.pids or cfg.cgroup_path:
        sb.cgroup = cgroups.Cgroup.create(cfg.cgroup_path or f"pysandbox/{os.getpid()}-{os.urandom(4).hex()}",
                                          cgroups.Limits(cfg.memory, cfg.cpus, cfg.pids), kill_group=host_pid)
        if host_pid and not sb.cgroup.can_kill:
            sb.cgroup.remove()
            sb.cgroup = None
            raise SandboxError("the host's pid namespace (no pid entry in linux.namespaces) needs cgroup v2's "
                               "cgroup.kill (Linux 5.14) to end the container: no cgroup2 mount offers it")
    oom_before = _oom_kills(sb.cgroup)    # an exec joins a group that may have counted some already
    try:
        try:
            status = _run(cfg, sb, life)
        except InitDied as e:
            # The OOM killer takes the biggest process of the group, and that
            # may be our init (a forked Python) rather than the workload, say
            # when tmpfs pages no process maps fill the limit. The workload
            # then dies with the pid namespace: killed by its memory limit.
            killed = e.wstatus is None or (os.WIFSIGNALED(e.wstatus) and os.WTERMSIG(e.wstatus) == signal.SIGKILL)
            if not killed or _oom_kills(sb.cgroup) <= oom_before:
                raise
            status = 128 + signal.SIGKILL
        if host_pid and sb.cgroup is not None:
            # Over only when no process of it is left (the watcher began it).
            sb.cgroup.kill_all()
            if not sb.cgroup.wait_empty(cgroups.REMOVE_WAIT_S):
                sys.stderr.write(f"pysandbox: cgroup {sb.cgroup.name} still has processes after cgroup.kill\n")
        oom = status == 128 + signal.SIGKILL and _oom_kills(sb.cgroup) > oom_before
        if oom:
            sys.stderr.write(f"pysandbox: the sandbox ran out of memory (--memory {cfg.memory} bytes): "
                             "OOM-killed\n")
        life.exited(status, oom)
        return status
    finally:
        if sb.cgroup is not None:
            sb.cgroup.close() if cfg.exec_in else sb.cgroup.remove()


def _run(cfg, sb: Sandbox, life: Lifecycle) -> int:
    # Built here, before the sentry leaves the host's mount namespace: the
    # tracer loads python-ptrace's prototypes, from host paths.
    # Imported here, before the sentry leaves the host's mount namespace
    # (nothing may be imported after: sys.path would then name paths of the
    # sandbox's view), and only when asked for: python-ptrace is heavy.
    if cfg.tty:
        from sentry.sandbox.tty import Relay  # imported before the fork, like everything
    tracer = None
    if cfg.strace or cfg.summary:
        from sentry.syscalls import strace
        tracer = strace.Tracer(sb) if cfg.strace else None
    plat = platforms.get(cfg.platform)
    filt = seccomp_filter.build(table.ROWS, trace_all=cfg.strace == "all", intercept=plat.intercept,
                                strict_fs=cfg.strict_fs, host_pid=cfg.host_pid)
    # The default fs mode's /proc files: a FUSE connection init mounts (an
    # OCI exec joins a container whose binds are in place).
    proc_fuse = None if cfg.strict_fs or cfg.exec_in else synthesized.Server()
    cfg.proc_fuse_fd = proc_fuse.fd if proc_fuse is not None else -1
    ours, theirs = protocol.pair()
    status_r, status_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    host_pid = cfg.host_pid and not cfg.exec_in
    pid = _fork_init(None if host_pid else f"/proc/{cfg.exec_in}/ns/pid" if cfg.exec_in else cfg.join.get("pid"),
                     new_pid_ns=not host_pid)
    if pid == 0:
        ours.close()
        os.close(status_r)
        from sentry.sandbox import init
        init.main(cfg, theirs, status_w, filt, plat)   # never returns
    theirs.close()
    os.close(status_w)
    filt.close()
    watcher = guard_kill = -1
    if host_pid:
        assert sb.cgroup is not None          # run() made it, with cgroup.kill
        try:
            sb.cgroup.add(pid)        # before the watcher can kill the group: init in it first
            watcher, sb.watcher_pid = _start_watcher(sb.cgroup, pid)   # before any thread starts (FUSE's)
            guard_kill = sb.cgroup.kill_fd()           # opened as root: written as the workload's uid
        except BaseException:
            _kill(pid)
            _waitpid(pid)
            raise
    if proc_fuse is not None:
        proc_fuse.start(sb.proc_view)
    sb.init_pid = pid
    if cfg.host_pid:
        sb.host_pid = True
        sb.guarded = frozenset(p for p in (os.getpid(), sb.watcher_pid, *cfg.guard_pids) if p > 0)
        sb.guarded_groups = frozenset(_pgid(p) for p in sb.guarded) - {0}
    if sb.cgroup is not None and not cfg.pid1 and not host_pid:
        sb.cgroup.add(pid)    # before init forks the workload: it waits for our "G"

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    for sig in FORWARDED:
        signal.signal(sig, forward)

    relay = None
    became = False
    try:
        listener, master = _receive(ours, pid, life, plat, cfg, sb)
        if master is not None:
            relay = Relay(master)
        if not cfg.strict_fs:              # we stand in the view now: find its synthesized files
            sb.sentry.synth_dev = synthesized.device_in_view()
        handlers, blocking, kinds = handlers_and_kinds(sb)
        for nr, kind in kinds.items():
            sb.sentry.set_kind(nr, kind)
        dispatcher = Dispatcher(handlers, on_fatal=lambda msg: _fatal(pid, msg), tracer=tracer, blocking=blocking)
        # Each call is made with the calling thread's own credentials
        # (csrc/creds.c); cap_limit bounds the capabilities taken from it.
        # Under a user namespace its capabilities are its namespace's, ours
        # would be the host's: keep only those about files, and only when
        # the ids are mapped to themselves (then the kernel lets the
        # workload use them on the same inodes, those with mapped owners,
        # that ours reach in the sandbox's view, or fewer).  Else none.
        limit = cfg.cap_mask
        if cfg.uid_map:
            identity = all(a == b for a, b, _ in cfg.uid_map + cfg.gid_map)
            limit &= caps.mask(caps.FILE_CAPS) if identity else 0
        sb.sentry.cap_limit = limit
        effective = limit if cfg.uid == 0 else 0     # until the first call says otherwise
        native.become(host_id(cfg.uid_map, cfg.uid), host_id(cfg.gid_map, cfg.gid), effective)
        became = True
        if guard_kill >= 0:
            _guard_watcher(watcher, guard_kill)
            guard_kill = -1                            # the guard's now
        os.umask(0)           # handlers apply the tracee's umask themselves
        try:
            plat.serve(sb, pid, listener, dispatcher)
        finally:
            if listener is not None:
                os.close(listener)
    except BaseException:
        _kill(pid)
        raise
    finally:
        if became:
            native.unbecome()
            native.act_reset()
        ours.close()
        _, wstatus = _waitpid(pid)
        if guard_kill >= 0:
            os.close(guard_kill)
        if watcher >= 0:
            _stop_watcher(watcher)
        if proc_fuse is not None:
            proc_fuse.close()
        if relay is not None:
            relay.finish()
    data = os.read(status_r, 4)
    os.close(status_r)
    if cfg.summary:
        strace.print_summary(sb)
    if len(data) != 4:
        raise InitDied(wstatus)
    return exit_code(int.from_bytes(data, sys.byteorder))


class InitDied(SandboxError):
    """The sandbox's init ended without reporting the workload's status."""

    def __init__(self, wstatus: int | None):
        shown = f"wait status {wstatus:#x}" if wstatus is not None else "its wait status was reaped elsewhere"
        super().__init__(f"the sandbox init died unexpectedly ({shown})")
        self.wstatus = wstatus


def _oom_kills(cg) -> int:
    """The group's OOM kill count (0 without a group, or if it cannot be read)."""
    if cg is None:
        return 0
    try:
        return cg.oom_kills()
    except (OSError, SandboxError):
        return 0


def _fork_init(join: str | None, new_pid_ns: bool) -> int:
    """Fork init (with no pid namespace of its own for a host-pid sandbox:
    its cgroup ends it, see the header), showing "pysandbox-init" as its
    command line from its first instant.  It is visible at once in a pid
    namespace it joins (a pod's, a container's for an exec), and ours names
    host paths (the bundle, the state root, the engine's log)."""
    swapped = native.swap_cmdline("pysandbox-init")
    pid = -1
    try:
        pid = _fork_into_new_pid_namespace(join) if new_pid_ns else os.fork()
    finally:
        if pid != 0:
            native.restore_cmdline(swapped)
    return pid


def _fork_into_new_pid_namespace(join: str | None = None) -> int:
    """fork() with the child as pid 1 of a new pid namespace (or, for an
    OCI exec or a pod sharing one, a member of the pid namespace at `join`).

    unshare(CLONE_NEWPID) changes where our children go, and while that
    differs from our own pid namespace the kernel refuses to create threads
    (EINVAL), so we setns back to our own right after the fork.
    """
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    if join:
        try:
            target = os.open(join, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            os.close(own)
            raise SandboxError(f"pid namespace {join}: {e.strerror} (is its container gone?)") from None
        try:
            native.setns(target, CLONE_NEWPID)
        finally:
            os.close(target)
    else:
        native.unshare(CLONE_NEWPID)
    pid = os.fork()
    if pid != 0:
        native.setns(own, CLONE_NEWPID)
        os.close(own)
    return pid


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return 0


def _start_watcher(cg, init_pid: int) -> tuple[int, int]:
    """Fork the watcher (see the header); return a pidfd of it and its pid."""
    kill_fd = cg.kill_fd()
    fds = [kill_fd]
    try:
        fds.append(os.pidfd_open(os.getpid()))
        fds.append(os.pidfd_open(init_pid))     # our child, not reaped yet: this very process
        wpid = os.fork()
        if wpid == 0:
            try:
                _watch(kill_fd, fds[1:])
            finally:
                os._exit(0)
        return os.pidfd_open(wpid), wpid
    finally:
        for fd in fds:
            os.close(fd)


def _watch(kill_fd: int, pidfds: list[int]) -> None:
    """The watcher: wait until the sentry or init ends, then kill the
    sandbox's cgroup.  Holds nothing else: no stdio of the container's (an
    engine waits for its end), no socket of init's; ignores the signals a
    terminal or an engine sends the sentry's group; non-dumpable."""
    native.prctl(PR_SET_DUMPABLE, 0)
    native.hide_cmdline("pysandbox-watch")
    for sig in FORWARDED + (signal.SIGPIPE, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_IGN)
    null = os.open("/dev/null", os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    keep = {0, 1, 2, kill_fd, *pidfds}
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
    p = select.poll()
    for fd in pidfds:
        p.register(fd, select.POLLIN)
    while not p.poll():
        pass
    try:
        os.write(kill_fd, b"1")
    except OSError:
        pass                          # removed already: the sentry ended it


def _guard_watcher(watcher: int, kill_fd: int) -> None:
    """The other way round: a thread of ours (blocked in poll, so it costs
    the dispatch loop nothing) kills the group if the watcher ends first.
    A root container may signal any host process (CAP_KILL, as under runc
    with hostPID), ours too; killing either of us ends the sandbox.  Takes
    kill_fd."""
    pidfd = os.dup(watcher)

    def guard() -> None:
        try:
            p = select.poll()
            p.register(pidfd, select.POLLIN)
            while not p.poll():
                pass
            os.write(kill_fd, b"1")
        except OSError:
            pass                      # the group is gone: the sandbox ended
        finally:
            os.close(pidfd)
            os.close(kill_fd)
    threading.Thread(target=guard, name="pysandbox-watch-guard", daemon=True).start()


def _stop_watcher(pidfd: int) -> None:
    """The sandbox is over: end the watcher and reap it (if waitpid(-1) has
    not already); a pidfd never names a recycled pid."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    except ChildProcessError:
        pass
    finally:
        os.close(pidfd)


def exit_code(wstatus: int) -> int:
    if os.WIFSIGNALED(wstatus):
        return 128 + os.WTERMSIG(wstatus)
    return os.WEXITSTATUS(wstatus)


def _join_view(sock: _socket.socket, init_pid: int) -> None:
    """Move into the sandbox's ipc, uts, net and mount namespaces (its
    root becomes ours), then let init go on to start the workload.  The
    first three matter because /proc/sys/{kernel,net,fs/mqueue} show the
    namespaces of whoever opens them, and the sentry opens for the tracee."""
    for name, flag in (("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET), ("mnt", CLONE_NEWNS)):
        ns = hostproc.open(f"{init_pid}/ns/{name}")
        try:
            native.setns(ns, flag)
        finally:
            os.close(ns)
    os.chdir("/")
    protocol.send(sock, Msg.GO)


def _receive(sock: _socket.socket, init_pid: int, life: Lifecycle, plat, cfg, sb: Sandbox):
    """Follow the start-up protocol (csrc/protocol.h) until the filter is
    loaded: (listener fd or None, pty master or None).  Raises SandboxError
    if the sandbox did not start.  init_pid is our child: the init, or with
    cfg.pid1 the holder of the container's pid 1.  Either way the workload
    is its only child by the time it sends SEIZE or USERNS."""
    master = None
    while True:
        m = protocol.recv(sock)
        want_fds = 1 if m.kind is Msg.TTY or m.kind is Msg.LISTENER and plat.has_listener else 0
        if len(m.fds) != want_fds:
            for fd in m.fds:
                os.close(fd)
            if m.kind is not None and m.kind is not Msg.ERROR:
                raise SandboxError(f"start-up message {m.kind.name} with {len(m.fds)} fds from the sandbox init")
        if m.kind is None:
            raise SandboxError("the sandbox exited before its workload started")
        if m.kind is Msg.ERROR:
            raise SandboxError(m.text())
        if m.kind is Msg.READY:
            view = init_pid
            if cfg.pid1:
                view = sb.init_pid = _only_child(init_pid)
                if sb.cgroup is not None:
                    sb.cgroup.add(view)        # before it starts anything: it waits for our "G"
            life.ready(view)
            _join_view(sock, view)
        elif m.kind is Msg.SEIZE and plat.seize_before_filter:   # before the workload loads its filter
            plat.seize(_only_child(init_pid))
            protocol.send(sock, Msg.SEIZED)
        elif m.kind is Msg.USERNS and cfg.uid_map and not cfg.userns_path:
            _map_ids(_only_child(init_pid), cfg)
            protocol.send(sock, Msg.MAPPED)
        elif m.kind is Msg.TTY:
            master = None if life.console(m.fds[0]) else m.fds[0]
        elif m.kind is Msg.LISTENER:                             # the filter is loaded
            return (m.fds[0] if plat.has_listener else None), master
        else:
            raise SandboxError(f"unexpected start-up message {m.kind.name} from the sandbox init")


def _only_child(pid: int) -> int:
    """The one child of our init or holder: the workload, before it runs."""
    kids = hostproc.read(f"{pid}/task/{pid}/children").split()
    if len(kids) != 1:
        raise SandboxError(f"the sandbox init has {len(kids)} children, not one workload")
    return int(kids[0])


def _map_ids(pid: int, cfg) -> None:
    """Write the id maps of the user namespace the workload has just made
    (we are still host root: the writer needs CAP_SETUID and CAP_SETGID in
    its parent namespace, the host's).  Through the host's /proc: we stand
    in the sandbox's mount namespace by now."""
    for name, mapping in (("uid_map", cfg.uid_map), ("gid_map", cfg.gid_map)):
        fd = hostproc.open(f"{pid}/{name}", os.O_WRONLY)
        try:
            os.write(fd, "".join(f"{a} {b} {n}\n" for a, b, n in mapping).encode())
        except OSError as e:
            raise SandboxError(f"writing the workload's {name}: {e.strerror}") from None
        finally:
            os.close(fd)


def _fatal(pid: int, message: str) -> None:
    sys.stderr.write(f"pysandbox: {message}\n")
    _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _waitpid(pid: int):
    """Wait for init.  Reaps every child and tracee on the way (__WALL):
    under ptrace a traced process's exit must be collected by us before
    init can reap it, and init cannot finish exiting before that."""
    while True:
        try:
            got, status = os.waitpid(-1, WALL)
        except InterruptedError:
            continue
        except ChildProcessError:
            return pid, None        # reaped already: the ptrace loop collects init's status itself
        if got == pid:
            return got, status
