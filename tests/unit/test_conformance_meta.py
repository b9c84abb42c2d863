"""The conformance suite's own rules, checked from its sources (no build):
every case is named after a real x86_64 syscall, names are unique, and the
expected-failures file names real cases on real platforms."""
import re
from pathlib import Path

from sentry.conformance.runner import ENVS as PLATFORMS
from sentry.conformance.runner import EXPECTED, SRC, load_expected
from sentry.syscalls.table import BY_NAME

CASE = re.compile(r"^TEST\((\w+),\s*(\w+)\)", re.M)


def cases():
    out = []
    for src in sorted(Path(SRC).glob("*.c")):
        out += [f"{a}.{b}" for a, b in CASE.findall(src.read_text())]
    return out


def test_enough_cases_over_enough_syscalls():
    names = cases()
    assert len(names) >= 400
    assert len({n.split(".")[0] for n in names}) >= 150


def test_case_names_are_syscalls_and_unique():
    names = cases()
    assert len(names) == len(set(names)), "duplicate case names"
    unknown = sorted({n.split(".")[0] for n in names} - set(BY_NAME))
    assert not unknown, f"cases named after no syscall: {unknown}"


def test_expected_failures_name_real_cases():
    names = set(cases())
    for (platform, case), reason in load_expected().items():
        assert platform in PLATFORMS, platform
        assert case in names, f"{EXPECTED.name} lists unknown case {case}"
        assert len(reason) > 10, f"{case}: give a reason"
