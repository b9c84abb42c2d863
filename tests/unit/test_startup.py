"""`pysandbox run`'s and `pysandbox-oci`'s start-up: modules that cost
milliseconds and that those paths do without stay off them (docs/fs-modes.md#start-up; the time
itself is measured by bench/startup.py, never asserted here)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from conftest import BIN, PYSANDBOX

# Each measured at 3 to 13 ms of a ~40 ms start on the 2-vCPU VM, or not
# needed by `run` at all (the CRI daemon's, the ptrace platform's, --strace's).
KEPT_OFF = {"dataclasses", "typing", "inspect", "ast", "socket", "selectors", "subprocess", "queue",
            "shutil", "traceback", "asyncio", "json", "pyroute2", "grpc", "google.protobuf",
            "ptrace", "sentry.platform.ptrace", "sentry.syscalls.strace", "sentry.sandbox.tty",
            "sentry.images.store", "sentry.oci.spec", "cri_handler"}


def imported_by(*args: str, program: str = PYSANDBOX) -> set[str]:
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    p = subprocess.run([program, *args], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", p.stderr, re.M))


def test_run_path_leaves_the_costly_modules_out():
    mods = imported_by("run", "--", "/bin/true")
    assert "sentry.sandbox.lifecycle" in mods and "argparse" in mods     # the parse saw the real path
    assert mods & KEPT_OFF == set()
    # A mode that needs more loads it only then: the check above is not vacuous.
    assert "sentry.syscalls.strace" in imported_by("run", "--strace", "--", "/bin/true")


def test_the_oci_runtimes_light_commands_load_no_sandbox_code(tmp_path):
    # state, start, kill, delete and list run many times per container
    # (containerd's shim): none of them builds a sandbox.
    mods = imported_by("--root", str(tmp_path), "list", program=str(BIN / "pysandbox-oci"))
    assert "sentry.oci.container" in mods
    assert mods & (KEPT_OFF - {"sentry.oci.spec", "json"}) == set()
    assert mods & {"sentry.sandbox.config", "sentry.sandbox.mounts", "sentry.vfs.fuse", "sentry._native"} == set()


def test_the_collector_is_off_only_while_the_modules_load():
    # A sentry serving a sandbox for hours must collect cycles again.
    probe = textwrap.dedent("""
        import gc, sys
        from sentry.cli import main
        assert not gc.isenabled()
        import sentry.sandbox.lifecycle as lifecycle
        lifecycle.run = lambda cfg: 0 if gc.isenabled() and gc.get_freeze_count() else 3
        sys.exit(main.main(["run", "--", "/bin/true"]) or main.main(["syscalls", "--format", "csv"]) * 0)
    """)
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]


def test_the_log_relay_loads_only_what_it_runs_on():
    # One relay lives beside every container with a log, started on
    # StartContainer's path: what only the daemon's side of its module needs
    # (subprocess, tempfile, the log reader's re, logging) stays out, and so
    # do argparse and dataclasses (time and 2.7 MB of memory per relay).
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    p = subprocess.run([sys.executable, "-m", "cri_handler.logrelay", "--stdout", "0"], stdin=subprocess.DEVNULL,
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    mods = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", p.stderr, re.M))
    assert {"cri_handler.attach", "cri_handler.logs"} <= mods      # it ran (as __main__)
    assert mods & {"argparse", "re", "dataclasses", "typing", "subprocess", "tempfile", "logging",
                   "sentry.oci.container", "grpc", "json"} == set()
