"""docs/syscalls.md is generated from the syscall table; it must not drift."""
from pathlib import Path

from sentry.syscalls.report import render

ROOT = Path(__file__).resolve().parents[2]


def test_syscalls_md_is_current():
    committed = (ROOT / "docs" / "syscalls.md").read_text()
    assert committed == render("markdown"), "docs/syscalls.md is stale: run `make docs`"


def test_formats_list_every_row():
    import csv
    import io
    import json

    from sentry.syscalls.table import ROWS
    assert len(json.loads(render("json"))) == len(ROWS)
    assert len(list(csv.DictReader(io.StringIO(render("csv"))))) == len(ROWS)
    assert render("table").count("\n") == len(ROWS) + 3


def test_the_host_pid_column_is_what_the_filter_does():
    """Every row whose filter action differs in the host's pid namespace
    says so in the host pid column, and no other row does."""
    import json

    from sentry import native
    from sentry.syscalls.filter import filter_action
    from sentry.syscalls.table import BY_NAME
    recs = {r["name"]: r for r in json.loads(render("json"))}
    for name, row in BY_NAME.items():
        usual = filter_action(row, False, native.A_NOTIFY)
        host = filter_action(row, False, native.A_NOTIFY, host_pid=True)
        column = recs[name]["host_pid"]
        if host == usual:
            assert column == "", name
        elif host[0] == native.A_NOTIFY:
            assert column == "emulated", name
        else:
            assert host[0] == native.A_ERRNO and column.startswith("denied ("), (name, column)
    assert recs["kill"]["host_pid"] == "emulated" and recs["pidfd_getfd"]["host_pid"] == "denied (EPERM)"
