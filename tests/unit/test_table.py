"""Unit tests for sentry/syscalls/table.py, the syscall table."""
import errno
import os
import re

import pytest

from sentry import record
from sentry.syscalls import table
from sentry.syscalls.model import Action, D, P

UNISTD_64 = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"

# Added after the 6.1-era headers the build hosts ship with.
NEWER = {
    451: "cachestat", 452: "fchmodat2", 453: "map_shadow_stack",
    454: "futex_wake", 455: "futex_wait", 456: "futex_requeue",
    457: "statmount", 458: "listmount", 459: "lsm_get_self_attr",
    460: "lsm_set_self_attr", 461: "lsm_list_modules", 462: "mseal",
    463: "setxattrat", 464: "getxattrat", 465: "listxattrat",
    466: "removexattrat", 467: "open_tree_attr", 468: "file_getattr",
    469: "file_setattr",
}

# Syscalls the developers require to be refused, whatever else changes.
MANDATORY_DENY = {
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf",
    "perf_event_open", "ptrace", "mount", "umount2", "keyctl",
    "open_by_handle_at", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module",
}


def header_syscalls():
    if not os.path.exists(UNISTD_64):
        pytest.skip(f"{UNISTD_64} not installed")
    with open(UNISTD_64) as f:
        found = re.findall(r"^#define\s+__NR_(\w+)\s+(\d+)\s*$", f.read(), re.M)
    return {int(nr): name for name, nr in found}


def test_every_header_syscall_is_present_with_its_name():
    from_header = header_syscalls()
    assert len(from_header) > 300
    # A header newer than the table may list numbers past LAST_NR; the
    # table describes Linux 6.18, so only numbers up to LAST_NR are checked.
    for nr, name in sorted(from_header.items()):
        if nr > table.LAST_NR:
            continue
        assert nr in table.BY_NR, f"{nr} {name} missing from the table"
        assert table.BY_NR[nr].name == name


def test_newer_syscalls_present():
    for nr, name in NEWER.items():
        assert table.BY_NR[nr].name == name


def test_exact_number_set():
    nrs = {row.nr for row in table.ROWS}
    assert nrs == set(range(0, 337)) | set(range(424, 470))
    assert not nrs & set(range(337, 424))
    assert max(nrs) == table.LAST_NR == 469


def test_rows_sorted_and_unique():
    nrs = [row.nr for row in table.ROWS]
    assert nrs == sorted(set(nrs))
    assert len({row.name for row in table.ROWS}) == len(table.ROWS)


def test_lookup_dicts():
    assert len(table.BY_NR) == len(table.BY_NAME) == len(table.ROWS)
    for row in table.ROWS:
        assert table.BY_NR[row.nr] is row
        assert table.BY_NAME[row.name] is row


def test_rows_with_partitions_the_table():
    total = 0
    for action in Action:
        rows = table.rows_with(action)
        assert all(row.action is action for row in rows)
        total += len(rows)
    assert total == len(table.ROWS)


def test_deny_rows_have_errno():
    denied = table.rows_with(Action.DENY)
    assert denied
    for row in denied:
        assert row.errno > 0, row
        assert row.errno in errno.errorcode, row


def test_emulate_rows_have_handler():
    emulated = table.rows_with(Action.EMULATE)
    assert {r.name for r in emulated} >= {
        "uname", "sysinfo", "sethostname", "setdomainname"}
    for row in emulated:
        assert callable(row.handler), row


def test_mandatory_deny_set():
    for name in sorted(MANDATORY_DENY):
        row = table.BY_NAME[name]
        assert row.action is Action.DENY, name
        assert row.errno == errno.EPERM, name


def test_exec_is_observed():
    for name in ("execve", "execveat"):
        assert table.BY_NAME[name].action is Action.OBSERVE


def test_clone3_is_enosys():
    row = table.BY_NAME["clone3"]
    assert row.action is Action.DENY
    assert row.errno == errno.ENOSYS


def test_namespace_flags_refused_for_clone_and_unshare():
    ns = 0x20000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 \
        | 0x20000000 | 0x40000000
    for name in ("clone", "unshare"):
        row = table.BY_NAME[name]
        assert row.action is Action.PASSTHROUGH
        (rule,) = row.arg_rules
        assert rule.arg == 0
        assert rule.errno == errno.EPERM
        assert rule.mask & ns == ns
    # CLONE_NEWTIME is a flag for unshare; in clone(2) that bit is CSIGNAL.
    assert table.BY_NAME["unshare"].arg_rules[0].mask & 0x80
    assert not table.BY_NAME["clone"].arg_rules[0].mask & 0xff


def test_notes_present_and_short():
    for row in table.ROWS:
        assert row.note, row
        assert len(row.note) < 70, row


def test_validate_rejects_malformed_tables():
    good = list(table.ROWS)
    table.validate(good)
    with pytest.raises(ValueError, match="duplicate number"):
        table.validate(good + [P(469, "again")])
    with pytest.raises(ValueError, match="duplicate name"):
        table.validate(good + [P(470, "read")])
    with pytest.raises(ValueError, match="missing"):
        table.validate(good[1:])
    with pytest.raises(ValueError, match="DENY without errno"):
        table.validate([D(0, "read", 0)] + good[1:])
    bad_emulate = record.replace(table.BY_NAME["uname"], handler=None)
    with pytest.raises(ValueError, match="EMULATE without handler"):
        table.validate([bad_emulate if r.nr == 63 else r for r in good])


def test_every_fast_path_the_table_names_exists_in_c():
    """Row.fast names a C fast path (csrc/notify.c fast_paths); the kind
    comes from that name, so a typo fails here, not in a sandbox."""
    from sentry import native
    names = {row.fast for row in table.ROWS if row.fast} | {"continue"}
    kinds = {name: native.fast_kind(name) for name in names}
    assert len(set(kinds.values())) == len(kinds) and min(kinds.values()) > native.K_PYTHON
    with pytest.raises(ValueError):
        native.fast_kind("no-such-fast-path")
