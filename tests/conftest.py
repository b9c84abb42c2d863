"""Shared fixtures.  The tests run real sandboxes: they need root, and
`make test` has built the package into .venv."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYSANDBOX = str(BIN / "pysandbox")
BUSYBOX = "/bin/busybox"
# The suite runs once per platform: `make test` sets this for the second run.
PLATFORM = os.environ.get("PYSANDBOX_TEST_PLATFORM", "seccomp")
# The fs mode under test: "default", or "strict" (make test's --strict-fs stage).
FS_MODE = os.environ.get("PYSANDBOX_TEST_FS", "default")
RUN = [PYSANDBOX, "run", "--platform", PLATFORM] + (["--strict-fs"] if FS_MODE == "strict" else [])

only_seccomp = pytest.mark.skipif(PLATFORM != "seccomp", reason="about the seccomp_notify platform only")
# Tests that do not involve the sandbox platform (no sentry serves them, or
# only the default one does by design): make test's ptrace pass leaves them
# out (-m "not platform_independent").  Every unit test is one.
platform_independent = pytest.mark.platform_independent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/unit/" in str(item.fspath):
            item.add_marker(platform_independent)


def run_sandbox(*args, input=None, timeout=60, check=False, env=None):
    """Run `pysandbox ARGS...` and return the CompletedProcess (text);
    `run` gets the platform under test unless the test names one."""
    if args and args[0] == "run" and "--platform" not in args:
        args = ("run", "--platform", PLATFORM, *args[1:])
    if args and args[0] == "run" and FS_MODE == "strict" and "--strict-fs" not in args:
        args = ("run", "--strict-fs", *args[1:])
    cmd = [PYSANDBOX, *args]
    return subprocess.run(cmd, input=input, capture_output=True, text=True,
                          timeout=timeout, check=check, env=env)


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    """A minimal rootfs: Debian's static busybox and its applet links."""
    root = tmp_path_factory.mktemp("busybox-rootfs")
    for d in ("bin", "proc", "dev", "tmp", "sys", "etc", "root", "data"):
        (root / d).mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", root / "bin" / a)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "data" / "hello.txt").write_text("hello from the rootfs\n")
    return root


@pytest.fixture(scope="session")
def cc(tmp_path_factory):
    """Compile a C test program: cc(source_text, name) -> path."""
    out = tmp_path_factory.mktemp("cbin")

    def build(source: str, name: str, flags=("-O2", "-pthread")) -> Path:
        src = out / f"{name}.c"
        src.write_text(source)
        exe = out / name
        subprocess.run(["gcc", *flags, "-static", "-o", str(exe), str(src)], check=True)
        return exe
    return build
