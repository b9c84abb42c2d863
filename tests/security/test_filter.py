"""The seccomp filter as the workload meets it: denied syscalls get their
table errno, foreign ABIs are killed, unknown numbers are ENOSYS, the
process state (seccomp, no_new_privs, capabilities) is as documented, and
namespace creation and mounting are refused."""
import errno

import pytest

from conftest import run_sandbox
from sentry.syscalls import table
from sentry.syscalls.model import Action

DOCKER_DEFAULT_CAPS = 0x00000000A80425FB
SIGSYS_EXIT = 128 + 31

FOREIGN_ABI_C = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long r;
    if (strcmp(argv[1], "int80") == 0)      /* i386 getpid via int $0x80 */
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    else                                    /* x32 getpid: 0x40000000|39 */
        r = syscall(0x40000000L | 39);
    printf("survived %ld\n", r);
    return 0;
}
"""

CALL_PY = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
for name, nr in {calls!r}:
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(0)] * 6)
    print(name, r, ctypes.get_errno(), flush=True)
"""


def call_syscalls(calls, *flags):
    """Run [(name, nr)] through raw syscall(nr, 0...) inside; {name: (ret, errno)}."""
    r = run_sandbox("run", *flags, "--", "python3", "-c", CALL_PY.format(calls=list(calls)))
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        name, ret, err = line.split()
        out[name] = (int(ret), int(err))
    return out


@pytest.mark.parametrize("strict_fs", [False, True], ids=["default-fs", "strict-fs"])
def test_every_deny_row_returns_its_errno(strict_fs):
    """Each row DENY in the fs mode fails with exactly the errno the table gives."""
    deny = table.rows_with(Action.DENY, strict_fs)
    assert len(deny) > 50
    assert ("landlock_restrict_self" in {r.name for r in deny}) == strict_fs
    got = call_syscalls(((row.name, row.nr) for row in deny), *(["--strict-fs"] if strict_fs else []))
    wrong = {row.name: (got.get(row.name), errno.errorcode[row.errno])
             for row in deny if got.get(row.name) != (-1, row.errno)}
    assert not wrong, f"(ret, errno) differs from the table: {wrong}"


def test_unknown_numbers_are_enosys():
    """Numbers the table does not list (never assigned or too new) get ENOSYS.
    (Not 335/336: uretprobe/uprobe on Linux >= 6.11 bypass seccomp by design.)"""
    nrs = [400, 423, table.LAST_NR + 1, 1000]
    got = call_syscalls((f"nr{n}", n) for n in nrs)
    assert got == {f"nr{n}": (-1, errno.ENOSYS) for n in nrs}


def test_int80_and_x32_are_killed(cc):
    """i386 (int $0x80) and x32 syscalls kill the process with SIGSYS."""
    exe = cc(FOREIGN_ABI_C, "foreign_abi")
    for how in ("int80", "x32"):
        r = run_sandbox("run", "--bind", f"{exe.parent}:/mnt:ro", "--", "/mnt/foreign_abi", how)
        assert "survived" not in r.stdout, how
        assert r.returncode == SIGSYS_EXIT, (how, r.returncode, r.stderr)


def status_fields(*flags):
    r = run_sandbox("run", *flags, "--", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    return dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)


def test_proc_status_seccomp_nnp_caps():
    """Seccomp is in filter mode, no_new_privs is set, caps are Docker's default."""
    st = status_fields()
    assert st["Seccomp"] == "2"
    assert st["NoNewPrivs"] == "1"
    assert int(st["CapEff"], 16) == DOCKER_DEFAULT_CAPS
    assert int(st["CapBnd"], 16) == DOCKER_DEFAULT_CAPS
    assert int(st["CapAmb"], 16) == 0


def test_cap_add_and_drop_change_the_set():
    """--cap-add/--cap-drop change the effective and bounding sets."""
    st = status_fields("--cap-add", "SYS_ADMIN", "--cap-drop", "NET_RAW")
    want = (DOCKER_DEFAULT_CAPS | 1 << 21) & ~(1 << 13)
    assert int(st["CapEff"], 16) == want
    assert int(st["CapBnd"], 16) == want


NS_PY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def show(name, r):
    if r == 0 and name.startswith("clone"):
        os._exit(0)                     # the (unexpected) child
    print(name, r, ctypes.get_errno(), flush=True)
show("unshare_user", libc.unshare(0x10000000))
show("unshare_mnt", libc.unshare(0x00020000))
show("unshare_net", libc.unshare(0x40000000))
show("clone_user", libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0))
show("clone_pid", libc.syscall(56, 0x20000000 | 17, 0, 0, 0, 0))
"""


def test_namespace_creation_refused():
    """unshare/clone with namespace flags fail with EPERM, even with SYS_ADMIN."""
    for flags in ([], ["--cap-add", "SYS_ADMIN"]):
        r = run_sandbox("run", *flags, "--", "python3", "-c", NS_PY)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split("\n")[:-1]
        assert len(lines) == 5, r.stdout
        for line in lines:
            name, ret, err = line.split()
            assert (ret, err) == ("-1", str(errno.EPERM)), (flags, line)


def test_busybox_unshare_user_fails(busybox_rootfs):
    """busybox `unshare -U` cannot create a user namespace."""
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "unshare", "-U", "echo", "inside")
    assert r.returncode != 0
    assert "inside" not in r.stdout


def test_mount_refused(busybox_rootfs):
    """mount fails, with default caps and with SYS_ADMIN; nothing gets mounted."""
    for flags in ([], ["--cap-add", "SYS_ADMIN"]):
        r = run_sandbox("run", "--rootfs", str(busybox_rootfs), *flags, "--", "sh", "-c",
                        "mount -t tmpfs x /tmp; echo rc=$?; grep -c ' /tmp ' /proc/self/mountinfo")
        lines = r.stdout.split()
        assert lines[0] != "rc=0", (flags, r.stdout, r.stderr)
        assert lines[1] == "1", (flags, r.stdout)       # only the sandbox's own /tmp
