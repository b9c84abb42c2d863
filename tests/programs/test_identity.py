"""Minimal reproducers of what breaks the real programs (test_programs.py),
each a few calls of src/identity.c compared with the same calls natively.
The expected native output is spelled out, so the test cannot pass by two
runs failing alike.

- setuid: after setuid(nobody) the sentry (uid 0, Docker's capabilities,
  no CAP_SYS_PTRACE) may no longer process_vm_readv the caller: EPERM,
  answered as EFAULT.  Both platforms.  (nginx's workers.)
- thread: under ptrace a new fd reaches the tracee through pidfd_open(tid),
  which fails for a thread that is not the thread-group leader; the reply
  is EMFILE.  (git gc, http.server, node's fs.promises, any threaded open.)
- groups: the sentry serves with no supplementary groups (sb_become's
  setgroups(0)), so a file the caller may read through one is refused.
- capdrop: the sentry keeps the capabilities the workload started with, so
  a file the caller can no longer open after dropping CAP_DAC_OVERRIDE is
  opened anyway.
"""
import subprocess

import pytest

from conftest import run_sandbox
from programs_harness import HERE

NATIVE = {
    "setuid": "open /etc/hostname as root: ok\nopen /etc/hostname as nobody: ok\n"
              "stat /etc/hostname as nobody: ok\naccess /etc/hostname as nobody: ok\n"
              "open /etc/shadow as nobody: Permission denied\n",
    "thread": "open /etc/hostname from the main thread: ok\nopen /etc/hostname from a second thread: ok\n",
    "groups": "setgroups [4242]: ok\ndrop DAC capabilities: ok\n"
              "open a 0040 root:4242 file with 4242 as a supplementary group: ok\n",
    "capdrop": "open a 0000 file with CAP_DAC_OVERRIDE: ok\ndrop DAC capabilities: ok\n"
               "open a 0000 file without CAP_DAC_OVERRIDE: Permission denied\n",
}
# What the sandbox starts with, as the program's own calls leave it natively:
# for `groups` the workload (and so the sentry) starts without the DAC
# capabilities, so only the supplementary group can grant the open.
FLAGS = {"groups": ["--cap-drop", "DAC_OVERRIDE", "--cap-drop", "DAC_READ_SEARCH", "--cap-drop", "FOWNER"]}


@pytest.fixture(scope="module")
def identity(cc):
    return cc((HERE / "src" / "identity.c").read_text(), "programs_identity")


@pytest.mark.parametrize("mode", sorted(NATIVE))
def test_identity_follows_the_caller(identity, mode):
    native = subprocess.run([str(identity), mode], capture_output=True, text=True, timeout=30)
    assert (native.returncode, native.stdout) == (0, NATIVE[mode]), native.stderr
    r = run_sandbox("run", *FLAGS.get(mode, []), "--bind", f"{identity.parent}:/mnt:ro", "--",
                    f"/mnt/{identity.name}", mode, timeout=30)
    assert (r.returncode, r.stdout) == (0, native.stdout), (
        f"sandbox differs from native for {mode!r}:\n--- native\n{native.stdout}--- sandbox "
        f"(exit {r.returncode})\n{r.stdout}--- sandbox stderr\n{r.stderr}")
