"""`pysandbox-oci`: the runc command line, so containerd's io.containerd.runc.v2
shim and CRI-O can run containers under the sentry.

What the shim relies on (containerd's go-runc): global flags --root, --log,
--log-format json (errors are read back from the log file as JSON lines
{"level":"error","msg":...}), --systemd-cgroup; exit status 1 on any error;
`create` returning once the container is created with its pid in
--pid-file; `state` printing the runtime-spec state JSON; "does not exist"
in the message for a missing container.  Every command is a thin layer over
sentry.oci.container and sentry.oci.launch.

Bad input (a flag, a path, a config.json, a process.json) is one line on
stderr, and in --log when that is given, and exit status 1, before anything
is started.  --log is opened at start-up as runc does; one that cannot be
written to is the error then, on stderr alone.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from sentry.cli.help import Formatter
from sentry.errors import SandboxError
from sentry.platform import names as platform_names

VERSION = "1.1.5-pysandbox"
SPEC_VERSION = "1.0.2"


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise SandboxError(message if self.prog == "pysandbox-oci" else f"{self.prog.split()[-1]}: {message}")


def build_parser(only: str | None = None) -> Parser:
    """The whole command line, or with `only` that command's parser alone
    beside the global flags: every parser and argument costs each command a
    little (argparse's gettext lookups stat the locale directories), and
    containerd's shim runs several per container."""
    p = Parser(prog="pysandbox-oci", description="A runc-compatible OCI runtime: every container "
               "runs under its own pysandbox sentry.")
    p.add_argument("--root", default=None, help="state directory (default /run/pysandbox-oci)")
    p.add_argument("--log", default=None, help="append errors to this file")
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true",
                   help="refused: only the cgroupfs driver is supported")
    p.add_argument("--rootless", default=None, help=argparse.SUPPRESS)
    p.add_argument("--criu", default=None, help=argparse.SUPPRESS)
    p.add_argument("--platform", default=os.environ.get("PYSANDBOX_PLATFORM", "seccomp"),
                   choices=platform_names(), help="the sentry's platform (default seccomp)")
    p.add_argument("--version", "-v", action="store_true")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    for name, (help_text, with_id, add) in _COMMANDS.items():
        if only in (None, name):
            c = sub.add_parser(name, help=help_text)
            if with_id:
                c.add_argument("id", metavar="CONTAINER_ID")
            add(c)
    return p


def _args_create(c) -> None:
    c.add_argument("--bundle", "-b", default=".")
    c.add_argument("--pid-file", default=None)
    c.add_argument("--console-socket", default=None)
    c.add_argument("--no-pivot", action="store_true")
    c.add_argument("--no-new-keyring", action="store_true")
    c.add_argument("--preserve-fds", type=int, default=0)


def _args_run(r) -> None:
    r.add_argument("--bundle", "-b", default=".")
    r.add_argument("--pid-file", default=None)
    r.add_argument("--console-socket", default=None)
    r.add_argument("--detach", "-d", action="store_true")
    r.add_argument("--keep", action="store_true")
    r.add_argument("--no-pivot", action="store_true")
    r.add_argument("--no-new-keyring", action="store_true")


def _args_kill(k) -> None:
    k.add_argument("signal", nargs="?", default="SIGTERM")
    k.add_argument("--all", "-a", action="store_true", help="signal every process of the container")


def _args_delete(d) -> None:
    d.add_argument("--force", "-f", action="store_true")


def _args_exec(e) -> None:
    e.add_argument("--process", "-p", default=None, help="an OCI process.json")
    e.add_argument("--detach", "-d", action="store_true")
    e.add_argument("--pid-file", default=None)
    e.add_argument("--console-socket", default=None)
    e.add_argument("--tty", "-t", action="store_true")
    e.add_argument("--cwd", default=None)
    e.add_argument("--env", "-e", action="append", default=[])
    e.add_argument("--user", "-u", default=None, help="UID[:GID]")
    e.add_argument("--cap", "-c", action="append", default=[])
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("id", metavar="CONTAINER_ID")
    e.add_argument("args", nargs=argparse.REMAINDER)


def _args_format(c) -> None:
    c.add_argument("--format", "-f", default="table", choices=["table", "json"])


def _args_list(c) -> None:
    _args_format(c)
    c.add_argument("--quiet", "-q", action="store_true")


def _args_update(u) -> None:
    u.add_argument("--resources", "-r", default=None, help="LinuxResources JSON file, or - for stdin")
    u.add_argument("--memory", default=None)
    u.add_argument("--cpu-quota", type=int, default=None)
    u.add_argument("--cpu-period", type=int, default=None)
    u.add_argument("--pids-limit", type=int, default=None)


def _args_spec(s) -> None:
    s.add_argument("--bundle", "-b", default=".")
    s.add_argument("--rootless", action="store_true")


def _args_nothing(_c) -> None:
    pass


# name -> (help, takes a CONTAINER_ID first, adds the rest); in `--help`'s order.
_COMMANDS = {
    "create": ("create a container (it waits for `start`)", True, _args_create),
    "run": ("create and start a container, wait for it, delete it", True, _args_run),
    "start": ("start a created container", True, _args_nothing),
    "state": ("print a container's state as JSON", True, _args_nothing),
    "kill": ("send a signal to the container's process", True, _args_kill),
    "delete": ("delete a stopped container (--force: any)", True, _args_delete),
    "exec": ("run a process in a running container", False, _args_exec),
    "ps": ("list the container's processes", True, _args_format),
    "list": ("list containers", False, _args_list),
    "pause": ("freeze every process of the container", True, _args_nothing),
    "resume": ("thaw a paused container", True, _args_nothing),
    "update": ("change a running container's resource limits", True, _args_update),
    "features": ("print what this runtime supports as JSON", False, _args_nothing),
    "spec": ("write a default config.json", False, _args_spec),
}
# Global flags that take a value as the next argument (--flag VALUE).
_VALUE_FLAGS = {"--root", "--log", "--log-format", "--rootless", "--criu", "--platform"}


def _command(argv) -> str | None:
    """The command argv names after its global flags; None for a help or
    version request before it (they list every command), or no command."""
    it = iter(argv)
    for a in it:
        if a in ("-h", "--help", "-v", "--version"):
            return None
        if a in _VALUE_FLAGS:
            next(it, None)
        elif not a.startswith("-"):
            return a if a in _COMMANDS else None
    return None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Go's flag package takes -root as well as --root: normalise.
    argv = ["-" + a if a.startswith("-") and not a.startswith("--") and a[1:].split("=")[0] in LONG_SINGLE_DASH
            else a for a in argv]
    log, log_format = _peek_log(argv)
    if log is not None:
        problem = _open_log(log)
        if problem:
            sys.stderr.write(f"pysandbox-oci: --log {problem}\n")
            return 1
    try:
        args = build_parser(only=_command(argv)).parse_args(argv)
        return _dispatch(args)
    except SandboxError as e:
        _error(str(e), log, log_format)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        _error(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}", log, log_format)
        return 1


LONG_SINGLE_DASH = {"root", "log", "log-format", "debug", "systemd-cgroup", "bundle", "pid-file",
                    "console-socket", "detach", "process", "all", "force", "format", "resources",
                    "no-pivot", "no-new-keyring", "preserve-fds", "rootless", "platform", "keep", "tty",
                    "cwd", "env", "user", "cap", "memory", "cpu-quota", "cpu-period", "pids-limit", "quiet"}


def _peek_log(argv) -> tuple[str | None, str]:
    log, fmt = None, "text"
    for i, a in enumerate(argv):
        if a == "--log" and i + 1 < len(argv):
            log = argv[i + 1]
        elif a.startswith("--log="):
            log = a[6:]
        elif a == "--log-format" and i + 1 < len(argv):
            fmt = argv[i + 1]
        elif a.startswith("--log-format="):
            fmt = a[13:]
    return log, fmt


_LOG_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def _open_log(path: str) -> str | None:
    """None if --log can take our lines, else what is wrong with it.  Not
    blocking: a FIFO nobody reads is an error (ENXIO), not a hang."""
    from sentry.inputs import shown
    if not path or "\0" in path:
        return f"{shown(path)!r}: not a usable path"
    try:
        os.close(os.open(path, _LOG_FLAGS, 0o644))
    except OSError as e:
        import errno
        return f"{shown(path)}: {'a FIFO nobody reads' if e.errno == errno.ENXIO else e.strerror}"
    return None


def _error(msg: str, log: str | None, fmt: str) -> None:
    msg = " ".join(msg.split("\n"))         # one line, in the log as on stderr
    sys.stderr.write(f"pysandbox-oci: {msg}\n")
    if log:
        from sentry.oci.container import now
        line = (json.dumps({"level": "error", "msg": msg, "time": now()}) if fmt == "json"
                else f"time=\"{now()}\" level=error msg={json.dumps(msg)}")
        try:
            fd = os.open(log, _LOG_FLAGS, 0o644)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError:
            pass


def _dispatch(args) -> int:
    from sentry.oci import container as ct
    if args.version:
        print(f"pysandbox-oci version {VERSION}\nspec: {SPEC_VERSION}")
        return 0
    if args.command is None:
        raise SandboxError("no command given (try --help)")
    if args.systemd_cgroup:
        raise SandboxError("--systemd-cgroup: the systemd cgroup driver is not supported; "
                           "use cgroupfs (containerd: SystemdCgroup = false)")
    from sentry import inputs
    root = ct.DEFAULT_ROOT if args.root is None else inputs.check_dir(args.root, "--root")
    c = args.command
    for flag in ("pid_file", "console_socket"):
        if getattr(args, flag, None) is not None:
            check = inputs.check_new_file if flag == "pid_file" else inputs.check_socket
            check(getattr(args, flag), "--" + flag.replace("_", "-"))
    if getattr(args, "preserve_fds", 0) < 0:
        raise SandboxError(f"--preserve-fds {args.preserve_fds}: must not be negative")
    if getattr(args, "id", None) is not None:
        ct.check_id(args.id)
    if c in ("create", "run", "exec") and os.geteuid() != 0:
        raise SandboxError("pysandbox-oci needs root (it creates namespaces and mounts)")
    if c == "create":
        from sentry.oci.launch import create
        create(root, args.id, args.bundle, args.pid_file, args.console_socket, args.platform)
        return 0
    if c == "run":
        from sentry.oci import launch
        if args.detach:
            launch.create(root, args.id, args.bundle, args.pid_file, args.console_socket, args.platform)
            ct.start(ct.Dir(root, args.id))
            return 0
        return launch.run_foreground(root, args.id, args.bundle, args.pid_file, args.platform, args.keep)
    if c == "start":
        ct.start(ct.Dir(root, args.id))
        return 0
    if c == "state":
        d = ct.Dir(root, args.id)
        st = d.load()
        json.dump(st.oci(ct.status(d, st)), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if c == "kill":
        ct.kill(ct.Dir(root, args.id), ct.signal_number(args.signal), args.all)
        return 0
    if c == "delete":
        ct.delete(ct.Dir(root, args.id), args.force)
        return 0
    if c == "exec":
        return _exec(root, args)
    if c == "ps":
        return _ps(root, args)
    if c == "list":
        return _list(root, args)
    if c in ("pause", "resume"):
        ct.pause(ct.Dir(root, args.id), c == "pause")
        return 0
    if c == "update":
        return _update(root, args)
    if c == "features":
        from sentry.oci.features import features
        json.dump(features(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if c == "spec":
        from sentry.oci.features import default_spec
        path = os.path.join(inputs.check_dir(args.bundle, "--bundle", must_exist=True), "config.json")
        if os.path.lexists(path):
            raise SandboxError(f"{path} already exists; remove it first")
        data = json.dumps(default_spec(), indent=2).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return 0
    raise SandboxError(f"unknown command {c}")


def _exec(root: str, args) -> int:
    from sentry.oci import launch
    if args.process is not None:
        process = launch.load_process(args.process)
    else:
        argv = args.args[1:] if args.args[:1] == ["--"] else args.args
        if not argv:
            raise SandboxError("exec: give --process FILE or a command after the container id")
        process = {"args": argv, "env": args.env, "cwd": args.cwd or "/", "terminal": args.tty}
        if args.user is not None:
            from sentry.sandbox.config import MAX_ID
            uid, _, gid = args.user.partition(":")
            if not all(i.isascii() and i.isdigit() and int(i) <= MAX_ID for i in (uid, gid or "0")):
                raise SandboxError(f"--user {args.user!r}: expected numeric UID[:GID], each from 0 to {MAX_ID}")
            process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        from sentry.sandbox.caps import DEFAULT
        process["capabilities"] = {"bounding": sorted({"CAP_" + c for c in DEFAULT}
                                                      | {c.upper() for c in args.cap})}
    return launch.exec_process(root, args.id, process, args.detach, args.pid_file, args.console_socket)


def _ps(root: str, args) -> int:
    from sentry.oci import container as ct
    from sentry.sandbox.cgroups import Cgroup
    d = ct.Dir(root, args.id)
    st = d.load()
    pids = []
    if st.cgroup and ct.status(d, st) != "stopped":
        cg = Cgroup.attach(st.cgroup)
        try:
            pids = cg.procs()
        finally:
            cg.close()
    if args.format == "json":
        json.dump(pids, sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(f"{'PID':>8}  CMD")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        print(f"{pid:>8}  {cmdline}")
    return 0


def _list(root: str, args) -> int:
    from sentry.oci import container as ct
    states = ct.list_states(root)
    if args.format == "json":
        json.dump(states, sys.stdout)
        sys.stdout.write("\n")
    elif args.quiet:
        for s in states:
            print(s["id"])
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"] or "root")
                 for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def _update(root: str, args) -> int:
    from sentry import inputs
    from sentry.oci import container as ct
    from sentry.sandbox.limits import parse_memory
    res = {}
    if args.resources is not None:
        if args.resources == "-":
            data = sys.stdin.buffer.read(inputs.MAX_CONFIG + 1)
            if len(data) > inputs.MAX_CONFIG:
                raise SandboxError(f"--resources -: larger than {inputs.MAX_CONFIG} bytes")
        else:
            data = inputs.read_file(args.resources, "--resources")
        res = inputs.decode_json(data or b"{}", f"--resources {inputs.shown(args.resources)}")
        if not isinstance(res, dict):
            raise SandboxError(f"--resources {inputs.shown(args.resources)}: expected a LinuxResources object, "
                               f"got {type(res).__name__}")
    if args.memory is not None:
        try:
            res.setdefault("memory", {})["limit"] = parse_memory(args.memory)
        except SandboxError as e:
            raise SandboxError(f"--memory: {e}") from None
    for flag, key in ((args.cpu_quota, "quota"), (args.cpu_period, "period")):
        if flag is not None:
            res.setdefault("cpu", {})[key] = flag
    if args.pids_limit is not None:
        res.setdefault("pids", {})["limit"] = args.pids_limit
    ct.update(ct.Dir(root, args.id), res)
    return 0
