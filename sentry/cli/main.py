"""`pysandbox`: the command line.  Each subcommand is a thin layer over the
library (sentry.sandbox, sentry.syscalls.report, ...)."""
from __future__ import annotations

import gc

# No cyclic collection while the ~100 modules of a start load (each import
# allocates enough to set one off): ~1 ms of `pysandbox run`'s ~37 ms.
# imports_done() turns it back on.
gc.disable()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from sentry.cli.help import Formatter, RawFormatter  # noqa: E402
from sentry.errors import EXIT_SANDBOX_ERROR, SandboxError  # noqa: E402
from sentry.sandbox.config import PLATFORMS  # noqa: E402


class Parser(argparse.ArgumentParser):
    """Usage errors exit 125, like docker and runc, not argparse's 2, and
    are one line naming the subcommand and the flag: the usage text is
    what --help is for."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        sub = self.prog.split(None, 1)[1] if " " in self.prog else ""
        where = f"{sub}: " if sub else ""
        sys.stderr.write(f"pysandbox: error: {where}{message} (see `{self.prog} --help`)\n")
        sys.exit(EXIT_SANDBOX_ERROR)


RUN_HELP = """\
Run CMD in a new sandbox under its own sentry.

Without --rootfs the sandbox sees the host root read-only, with a private
/tmp, its own /dev and /proc.  With --rootfs DIR it sees DIR through a
copy-on-write layer: DIR itself is never modified.  With --image REF it
sees an imported image's layers the same way, with the image's Entrypoint,
Cmd, Env, WorkingDir and User as defaults.
It always gets new pid, mount, uts, ipc and net namespaces (--net host keeps
the host's network), Docker's default capabilities and no_new_privs.

Exit status: CMD's, or 128+N if signal N killed it; 125 for errors of
pysandbox itself; 126/127 if CMD cannot be executed / found.
"""


# Commands other installed packages add: entry points in the group
# "pysandbox.commands", each a function register(subparsers) that adds its
# parser with set_defaults(func=...).  `pysandbox cri` comes from cri_handler
# this way, so the sentry never imports the CRI daemon.  Only looked up
# when the command is not one of ours, to keep `pysandbox run` quick.
PLUGIN_GROUP = "pysandbox.commands"


def _register_plugins(sub) -> None:
    from importlib.metadata import entry_points
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        ep.load()(sub)


def build_parser(only: str | None = None) -> Parser:
    """The whole command line, or with `only` one built-in command's parser
    beside the top level: each parser and argument costs a little of every
    `pysandbox run` start (argparse's gettext lookups stat the locale dirs)."""
    p = Parser(prog="pysandbox", description="A gVisor-style userspace sandbox.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, add in _COMMANDS.items():
        if only in (None, name):
            add(sub)
    if only is None:
        _register_plugins(sub)
    return p


def _add_run(sub) -> None:
    r = sub.add_parser("run", help="run a command in a sandbox", description=RUN_HELP,
                       formatter_class=RawFormatter)
    r.add_argument("--rootfs", metavar="DIR", help="root filesystem (default: the host's, read-only)")
    r.add_argument("--image", metavar="REF", help="run an imported image (see `pysandbox images`); "
                   "a command after -- replaces its Cmd")
    r.add_argument("--root", metavar="DIR", default=None,
                   help="the image store (default: /var/lib/pysandbox)")
    r.add_argument("--hostname", default="pysandbox")
    r.add_argument("--kernel-release", dest="release", default="6.1.0-pysandbox",
                   help="what uname -r says inside (default: %(default)s)")
    r.add_argument("--net", default="none", choices=["none", "host"],
                   help="none: own network namespace with only lo (default); host: the host's")
    r.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL")
    r.add_argument("--cwd", metavar="DIR", help="working directory inside the sandbox")
    r.add_argument("--bind", action="append", default=[], metavar="SRC:DST[:ro]")
    r.add_argument("--tmpfs", action="append", default=[], metavar="DST[:size=N]",
                   help="a private tmpfs at DST, optionally limited to N bytes (e.g. size=64m)")
    r.add_argument("--mask", action="append", default=[], metavar="PATH",
                   help="hide PATH (reads give nothing, like OCI maskedPaths)")
    r.add_argument("--ro", action="append", default=[], metavar="PATH", help="make PATH read-only")
    r.add_argument("--read-only", action="store_true", help="with --rootfs: no copy-on-write layer at all")
    r.add_argument("--persist", metavar="DIR",
                   help="with --rootfs: keep the writable layer in DIR (default: thrown away)")
    r.add_argument("--memory", metavar="SIZE", help="memory limit, e.g. 256M (cgroup)")
    r.add_argument("--cpus", metavar="N", help="CPU limit, e.g. 0.5 (cgroup)")
    r.add_argument("--pids", metavar="N", help="limit on processes and threads (cgroup)")
    r.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    r.add_argument("--strace", nargs="?", const="emulated", choices=["emulated", "all"],
                   help="print intercepted syscalls; =all also traces passthrough calls (much slower)")
    r.add_argument("--summary", action="store_true", help="print a count of intercepted syscalls at exit")
    r.add_argument("--strict-fs", action="store_true",
                   help="mediate every path syscall in the sentry (today's full emulation); by default only "
                        "what the sandbox virtualizes is intercepted and the kernel confines the rest "
                        "(see `pysandbox syscalls` and docs/fs-modes.md)")
    r.add_argument("--no-fastpath", dest="fastpath", action="store_false",
                   help="answer every emulated syscall in Python (for debugging and benchmarks)")
    r.add_argument("--platform", default="seccomp", choices=PLATFORMS,
                   help="seccomp (default): seccomp user-notify.  ptrace: the fallback where user-notify is "
                        "missing or taken; slower, and a multi-threaded tracee can change a pointer "
                        "argument after the sentry read it, so confinement there rests on the kernel "
                        "layer (mount namespace, pivot_root, capabilities): see docs/SECURITY.md")
    r.add_argument("--cap-add", action="append", default=[], metavar="CAP")
    r.add_argument("--cap-drop", action="append", default=[], metavar="CAP")
    r.add_argument("--user", metavar="UID[:GID]", help="run as this uid/gid (default 0:0)")
    r.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")


def _add_conformance(sub) -> None:
    c = sub.add_parser("conformance", help="run the syscall conformance suite natively and in the sandbox")
    c.add_argument("--platform", default="all", choices=["all", *PLATFORMS, *(p + "-strict" for p in PLATFORMS)],
                   help="all (default), a platform (both fs modes) or PLATFORM-strict (--strict-fs only)")
    c.add_argument("--filter", metavar="PATTERN", help="only cases whose name contains PATTERN")
    c.add_argument("--json", action="store_true")
    c.add_argument("--failures-only", action="store_true", help="print only rows that did not pass everywhere")


def _add_images(sub) -> None:
    i = sub.add_parser("images", help="import, pull, list, inspect and remove OCI images",
                       description="Manage the local image store (OCI image layout and docker-archive "
                                   "tars, registries).")
    i.add_argument("--root", metavar="DIR", default=None, help="the image store (default: /var/lib/pysandbox)")
    isub = i.add_subparsers(dest="images_command", required=True, parser_class=Parser)
    imp = isub.add_parser("import", help="import an image archive (OCI layout or docker save tar)")
    imp.add_argument("file", metavar="FILE")
    pl = isub.add_parser("pull", help="pull an image from a registry (OCI distribution API)",
                         description="Pull REF ([REGISTRY/]NAME[:TAG][@sha256:DIGEST]; default registry "
                                     "docker.io) over https, verifying every digest, and record it as "
                                     "its short name (busybox -> busybox:latest).")
    pl.add_argument("ref", metavar="REF")
    pl.add_argument("--creds", metavar="USER:PASS",
                    help="credentials for the registry REF names (default: its username/password "
                         "in the registry config)")
    pl.add_argument("--insecure", action="store_true",
                    help="allow plain http and unverified TLS for this pull")
    pl.add_argument("--registry-config", metavar="FILE", default=None,
                    help="registries TOML file: mirrors, insecure, credentials "
                         "(default: /etc/pysandbox/registries.toml if it exists)")
    isub.add_parser("ls", help="list images")
    irm = isub.add_parser("rm", help="remove an image and collect unreferenced blobs and layers")
    irm.add_argument("ref", metavar="REF")
    ins = isub.add_parser("inspect", help="print an image's config JSON")
    ins.add_argument("ref", metavar="REF")
    for sp in (imp, pl, irm, ins, isub.choices["ls"]):
        sp.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _add_syscalls(sub) -> None:
    s = sub.add_parser("syscalls", help="print the syscall table")
    s.add_argument("--format", default="table", choices=["table", "json", "csv", "markdown"])


# The built-in commands, in the order --help lists them.
_COMMANDS = {"run": _add_run, "conformance": _add_conformance, "images": _add_images,
             "syscalls": _add_syscalls}


def imports_done() -> None:
    """Collect cycles again, with what is loaded so far frozen (moved out
    of the collector's sight: module objects live for the whole process,
    and a sentry then pays nothing for them in its collections, nor in the
    pages its forks would copy)."""
    gc.freeze()
    gc.enable()


def exit_now(rc: int) -> None:
    """Exit as Python would, minus the interpreter's teardown.

    After the sandbox is gone, freeing every module and object costs ~10 ms
    of a 70 ms `pysandbox run -- /bin/true`, and nothing depends on it: all
    of run's cleanup is explicit (try/finally), atexit handlers still run
    here (logging's flush among them), and the kernel closes the fds.
    """
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)


def main(argv=None) -> int:
    # Only the process's own entry point may skip the teardown: a caller
    # that passes argv (tests, other tools) gets the return code back.
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is None:
        # argparse would only say that a command is required, not that the
        # flag given instead is unknown.
        flag = next((a for a in argv if a not in ("-h", "--help")), None)
        if flag is not None:
            Parser(prog="pysandbox").error(f"unrecognized arguments: {flag}")
    args = build_parser(only=command if command in _COMMANDS else None).parse_args(argv)
    if args.command != "run":
        imports_done()               # `run` does, once the sandbox's modules are in
    try:
        if args.command == "run":
            from sentry.cli.run import run
            rc = run(args)
            if as_program:
                exit_now(rc)
            return rc
        if args.command == "images":
            from sentry.cli.images import images
            return images(args)
        if getattr(args, "func", None) is not None:
            return args.func(args)
        if args.command == "conformance":
            from sentry.conformance.runner import main as conformance
            return conformance(args.platform, args.filter, args.json, verbose=not args.failures_only)
        if args.command == "syscalls":
            from sentry.syscalls.report import render
            sys.stdout.write(render(args.format))
            return 0
    except SandboxError as e:
        sys.stderr.write(f"pysandbox: error: {e}\n")
        return EXIT_SANDBOX_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:        # `pysandbox syscalls | head`: the reader left
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 141
    return EXIT_SANDBOX_ERROR


if __name__ == "__main__":
    sys.exit(main())
