"""`pysandbox run`'s start-up: modules that cost milliseconds and that the
run path does without stay off it (docs/fs-modes.md#start-up; the time
itself is measured by bench/startup.py, never asserted here)."""
from __future__ import annotations

import os
import re
import subprocess

from conftest import PYSANDBOX

# Each measured at 3 to 13 ms of a ~40 ms start on the 2-vCPU VM, or not
# needed by `run` at all (the CRI daemon's, the ptrace platform's, --strace's).
KEPT_OFF = {"dataclasses", "typing", "inspect", "ast", "socket", "selectors", "subprocess",
            "shutil", "traceback", "asyncio", "json", "pyroute2", "grpc", "google.protobuf",
            "ptrace", "sentry.platform.ptrace", "sentry.syscalls.strace", "sentry.sandbox.tty",
            "sentry.images.store", "sentry.oci.spec", "cri_handler"}


def imported_by(*args: str) -> set[str]:
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    p = subprocess.run([PYSANDBOX, *args], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", p.stderr, re.M))


def test_run_path_leaves_the_costly_modules_out():
    mods = imported_by("run", "--", "/bin/true")
    assert "sentry.sandbox.lifecycle" in mods and "argparse" in mods     # the parse saw the real path
    assert mods & KEPT_OFF == set()
    # A mode that needs more loads it only then: the check above is not vacuous.
    assert "sentry.syscalls.strace" in imported_by("run", "--strace", "--", "/bin/true")
