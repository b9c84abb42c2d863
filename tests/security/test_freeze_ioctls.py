"""FIFREEZE and FITHAW: with CAP_SYS_ADMIN (`--cap-add ALL`), an ioctl on
any file of a visible host filesystem (the default view shows the host's
root) would freeze or thaw that filesystem for the whole machine.  The
refusals filter (filter.build_refusals) refuses both, on the request's
low 32 bits.

The probe tries them on a pipe only: pipefs cannot be frozen, so natively
(as root) they fail with EOPNOTSUPP and EINVAL, and nothing is ever frozen
even if the filter were missing.  Natively the same probe shows that."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import PLATFORM, PYSANDBOX

PROBE = r"""
import ctypes, os
FIFREEZE, FITHAW, FIONREAD = 0xC0045877, 0xC0045878, 0x541B
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
os.write(w, b"abc")
n = ctypes.c_int(0)
for name, req in (("FIFREEZE", FIFREEZE), ("FITHAW", FITHAW),
                  ("FIFREEZE-high-bits", 0xFFFFFFFF00000000 | FIFREEZE), ("FIONREAD", FIONREAD)):
    rc = libc.syscall(16, r, ctypes.c_ulong(req), ctypes.byref(n))
    print(name, "ok" if rc == 0 else os.strerror(ctypes.get_errno()), flush=True)
print("nread", n.value)
"""


def _probe(argv: list[str]) -> dict[str, str]:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(line.split(" ", 1) for line in r.stdout.splitlines())


def test_native_baseline_is_not_eperm():
    got = _probe([sys.executable, "-c", PROBE])
    assert got["FIFREEZE"] == "Operation not supported" and got["FITHAW"] == "Invalid argument", got


@pytest.mark.parametrize("caps", [[], ["--cap-add", "ALL"]], ids=["default-caps", "all-caps"])
def test_freeze_and_thaw_are_refused(caps):
    got = _probe([PYSANDBOX, "run", "--platform", PLATFORM, *caps, "--", "python3", "-c", PROBE])
    for name in ("FIFREEZE", "FITHAW", "FIFREEZE-high-bits"):
        assert got[name] == "Operation not permitted", got
    assert (got["FIONREAD"], got["nread"]) == ("ok", "3"), got
