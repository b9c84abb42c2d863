"""Init's command line: "pysandbox-init" from its first instant, never the
sentry's (which names host paths: the bundle, the state root, an engine's
log).  A process forked into a pod's shared pid namespace, or into a
container's for an exec, is visible there at once: a container polling
/proc read the sentry's whole command line before init could hide it."""
from __future__ import annotations

import os

import pytest

from sentry.sandbox import lifecycle


def _own_cmdline() -> bytes:
    with open("/proc/self/cmdline", "rb") as f:
        return f.read()


@pytest.mark.parametrize("new_pid_ns", [True, False], ids=["pid-namespace", "host-pid"])
def test_init_never_shows_the_sentrys_command_line(new_pid_ns):
    before = _own_cmdline()
    r, w = os.pipe()
    pid = lifecycle._fork_init(None, new_pid_ns=new_pid_ns)
    if pid == 0:                       # the child's first act: read what others see
        try:
            os.write(w, _own_cmdline())
        finally:
            os._exit(0)
    os.close(w)
    try:
        seen = os.read(r, 1 << 16)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    assert seen.rstrip(b"\0") == b"pysandbox-init", seen[:200]
    assert _own_cmdline() == before     # the sentry's own is put back


def test_swap_and_restore_keep_the_area_byte_for_byte():
    from sentry import native
    before = _own_cmdline()
    swapped = native.swap_cmdline("x")
    assert _own_cmdline().rstrip(b"\0") == b"x"
    native.restore_cmdline(swapped)
    assert _own_cmdline() == before
