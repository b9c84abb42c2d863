"""The pod init: pid 1 of a pod's shared pid namespace (shareProcessNamespace).

containerd gives every pod a pause container whose pid namespace the
containers join when their ContainerConfig says pid POD.  pysandbox pods
have no pause container, so a pod whose PodSandboxConfig says pid POD gets
this tiny process instead: pid 1 of a new pid namespace, which the
containers join by path (`{"type": "pid", "path": "/proc/<pid>/ns/pid"}`;
pysandbox-oci makes their init a member, not pid 1).

Facts relied on:
- A pid namespace lives while its pid 1 does: when pid 1 exits the kernel
  SIGKILLs every other member, and /proc/<pid>/ns/pid of a member is the
  handle a joiner opens.  So the init must stay alive for the pod's life.
- Orphans in the namespace are reparented to its pid 1, which must reap
  them (a waitpid loop) or they stay zombies.
- pid 1 of a namespace gets no signal whose action is the default from
  inside, and from outside only SIGKILL/SIGSTOP, unless the signal is
  handled or blocked: the init blocks SIGTERM/SIGINT/SIGCHLD and takes them
  with sigwait, so a SIGTERM from the server ends it.
- unshare(CLONE_NEWPID) puts the caller's *next* child in the new
  namespace as its pid 1 (the caller stays outside), and fork() returns
  that child's pid as seen from the caller's (the host's) namespace.
- os.unshare exists only from Python 3.12: libc's unshare through ctypes.
- Writing a pid to <cgroup>/cgroup.procs moves it; children inherit it.
  The init goes in a leaf `pod-init` under the pod's cgroup parent, never in
  the parent itself: cgroup v2 forbids processes in a group whose
  controllers are delegated to children (the containers' groups).

This file runs as a script (`python -I -S podinit.py <cgroup.procs>...`)
with the standard library only: the launcher (the script's process) joins
the cgroups, unshares, forks the init, prints the init's host pid and exits,
so the init is reparented away from the server and outlives a restart of
it.  The server runs the launcher with close_fds and in its own session, so
the init holds none of the server's fds.
"""
from __future__ import annotations

import os
import signal
import sys

# The one kernel constant not taken from sentry.abi.linux: this file runs as
# a script with the standard library only (see above).
CLONE_NEWPID = 0x20000000

LEAF = "pod-init"                  # the init's cgroup under the pod's cgroup parent


# -- the script: launcher and init ------------------------------------------------

def _init_loop() -> None:
    """pid 1: reap whatever is reparented to us until SIGTERM/SIGINT."""
    wanted = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    while True:
        _reap()                    # before waiting: a child may have died already
        if signal.sigwait(wanted) != signal.SIGCHLD:
            os._exit(0)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _launch(procs_files: list[str]) -> None:
    import ctypes
    for path in procs_files:       # best effort: a pod without a cgroup still works
        try:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        except OSError as e:
            sys.stderr.write(f"podinit: cannot join {path}: {e.strerror}\n")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWPID) != 0:
        err = ctypes.get_errno()
        sys.stderr.write(f"podinit: unshare(CLONE_NEWPID): {os.strerror(err)}\n")
        sys.exit(1)
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):       # the launcher's stdout/stderr are the server's pipes
            os.dup2(devnull, fd)
        os.close(devnull)
        _init_loop()
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()
    os._exit(0)


# -- the server's side ------------------------------------------------------------

def cgroup_leaves(cgroup_parent: str) -> list[str]:
    """<hierarchy>/<cgroup_parent>/pod-init for every mounted hierarchy in
    which the pod's cgroup parent exists (cgroup v2: one; v1: one per
    controller mount)."""
    from sentry.sandbox.cgroups import CGROUP_ROOT
    if not cgroup_parent:
        return []
    roots = [CGROUP_ROOT]
    try:
        roots += [os.path.join(CGROUP_ROOT, d) for d in sorted(os.listdir(CGROUP_ROOT))]
    except OSError:
        pass
    rel = cgroup_parent.strip("/")
    return [os.path.join(r, rel, LEAF) for r in roots
            if os.path.isfile(os.path.join(r, rel, "cgroup.procs"))]


def start(cgroup_parent: str) -> tuple[int, int]:
    """Start a pod init; (host pid, /proc start time)."""
    import subprocess

    from sentry.oci.container import start_time
    procs = []
    for leaf in cgroup_leaves(cgroup_parent):
        try:
            os.makedirs(leaf, exist_ok=True)
            procs.append(os.path.join(leaf, "cgroup.procs"))
        except OSError:
            pass                   # e.g. a read-only v1 hierarchy: stay where we are there
    p = subprocess.run([sys.executable, "-I", "-S", os.path.abspath(__file__), *procs],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, close_fds=True,
                       start_new_session=True, cwd="/", timeout=30)
    if p.returncode != 0 or not p.stdout.strip().isdigit():
        raise OSError(f"the pod init did not start: {p.stderr.strip() or f'exit {p.returncode}'}")
    pid = int(p.stdout.strip())
    started = start_time(pid)
    if not started:
        raise OSError(f"the pod init (pid {pid}) exited at once")
    return pid, started


def alive(pid: int, started: int) -> bool:
    from sentry.oci.container import start_time
    return bool(pid) and start_time(pid) == started


def ns_path(pid: int) -> str:
    return f"/proc/{pid}/ns/pid"


def stop(pid: int, started: int, cgroup_parent: str, timeout: float = 5.0) -> None:
    """SIGTERM the pod init (then SIGKILL), if it is still ours; remove its
    cgroup leaves.  Idempotent: a gone init is fine."""
    import time
    if alive(pid, started):
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid, started) and time.monotonic() < deadline:
            time.sleep(0.02)
        if alive(pid, started):
            _signal(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
            while alive(pid, started) and time.monotonic() < deadline:
                time.sleep(0.02)
    for leaf in cgroup_leaves(cgroup_parent):
        try:
            os.rmdir(leaf)
        except FileNotFoundError:
            pass
        except OSError:
            pass                   # still populated (a straggler): the pod's removal retries


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    _launch(sys.argv[1:])
