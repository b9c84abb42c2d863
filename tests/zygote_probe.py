"""A stand-in for `pysandbox-oci` in the launcher's tests (tests/unit/test_cri_zygote.py):
run as a console script (a subprocess) or as the launcher's target, it
reports what a process can see of how it was started, or exits in a given way.

    probe report            JSON: fds, env, cwd, umask, rlimits, signals, session, stdio, sys.argv/path
    probe exit N | sysexit MSG | raise | kill SIG | sleep S [FILE] | cat | noisy
"""
from __future__ import annotations

import atexit
import json
import os
import resource
import signal
import sys
import time

STATUS_FIELDS = ("Umask", "SigBlk", "SigIgn", "SigCgt", "Threads", "NoNewPrivs", "CapInh", "CapPrm", "CapEff",
                 "CapBnd", "CapAmb", "Seccomp", "Cpus_allowed_list", "Uid", "Gid", "Groups")


def report() -> dict:
    with open("/proc/self/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    with open("/proc/self/cgroup") as f:
        cgroup = f.read()
    with open("/proc/self/oom_score_adj") as f:
        oom = f.read().strip()
    with open("/proc/self/cmdline", "rb") as f:
        cmdline = [os.fsdecode(a) for a in f.read().rstrip(b"\0").split(b"\0")]
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    ns = {n: os.readlink(f"/proc/self/ns/{n}") for n in sorted(os.listdir("/proc/self/ns"))}
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))   # listdir's own fd is among them
    handlers = {}
    for s in sorted(signal.valid_signals()):
        try:
            h = signal.getsignal(s)
        except (OSError, ValueError):
            continue
        handlers[int(s)] = h if isinstance(h, int) else getattr(h, "__name__", repr(h))
    stdio = {}
    for name in ("stdin", "stdout", "stderr"):
        s = getattr(sys, name)
        stdio[name] = {"line_buffering": s.line_buffering, "write_through": s.write_through,
                       "encoding": s.encoding, "errors": s.errors, "name": s.buffer.name if hasattr(s.buffer, "name")
                       else None, "mode": s.mode, "isatty": s.isatty(), "fileno": s.fileno(),
                       "raw": type(getattr(s.buffer, "raw", s.buffer)).__name__,
                       "same_as_dunder": s is getattr(sys, f"__{name}__")}
    return {
        "fds": fds, "env": dict(os.environ), "cwd": os.getcwd(), "rlimits": {
            n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")},
        "status": {k: status.get(k) for k in STATUS_FIELDS}, "cgroup": cgroup, "oom_score_adj": oom, "ns": ns,
        "nice": os.nice(0), "session_leader": os.getsid(0) == os.getpid(),
        # a leader's own ids are its pid: compared as "self"
        "pgid": "self" if os.getpgid(0) == os.getpid() else os.getpgid(0),
        "sid": "self" if os.getsid(0) == os.getpid() else os.getsid(0),
        "group_leader": os.getpgid(0) == os.getpid(), "handlers": handlers,
        "wakeup_fd": signal.set_wakeup_fd(-1), "stdio": stdio, "argv": sys.argv, "path": sys.path,
        "flags": list(sys.flags), "cmdline": cmdline, "comm": comm,
    }


def main() -> int:
    args = sys.argv[1:]
    cmd = args[0] if args else ""
    if cmd == "report":
        json.dump(report(), sys.stdout, sort_keys=True)
        return 0
    if cmd == "exit":
        return int(args[1])
    if cmd == "sysexit":
        sys.exit(args[1])
    if cmd == "raise":
        raise RuntimeError("probe failed on purpose")
    if cmd == "kill":
        os.kill(os.getpid(), int(args[1]))
        time.sleep(5)
        return 0
    if cmd == "sleep":
        time.sleep(float(args[1]))
        if len(args) > 2:
            with open(args[2], "a") as f:
                f.write(f"{os.getpid()}\n")
        print("slept")
        return 7
    if cmd == "cat":
        sys.stdout.write(sys.stdin.read())
        return 0
    if cmd == "noisy":
        print("out 1")
        sys.stderr.write("err 1\n")
        atexit.register(lambda: sys.stderr.write("atexit ran\n"))
        sys.stdout.write("no newline at the end")   # flushed at exit
        return 3
    sys.stderr.write(f"probe: unknown command {cmd!r}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
