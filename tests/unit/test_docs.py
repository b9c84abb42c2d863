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
