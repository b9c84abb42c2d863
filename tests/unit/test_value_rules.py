"""filter.value_rules: a ValueRule (ioctl's TIOCSTI, TIOCLINUX, FIFREEZE and
FITHAW) as masked comparisons that decide every value exactly once, on the
low 32 bits only (the kernel reads ioctl's request as an int)."""
from __future__ import annotations

import random

from sentry.abi.linux import FIFREEZE, FITHAW, TIOCLINUX, TIOCSTI
from sentry.native import A_ALLOW, A_ERRNO
from sentry.syscalls.filter import value_rules
from sentry.syscalls.model import ValueRule
from sentry.syscalls.table import BY_NAME

REFUSED = (TIOCSTI, TIOCLINUX, FIFREEZE, FITHAW)
RULE = ValueRule(1, REFUSED, 1)


def decisions(rules, value):
    """The actions of the rules that match value, as BPF would test them."""
    return {(action, err) for action, err, mask, datum in rules if value & mask == datum}


def test_refused_values_and_every_other_are_decided_once():
    rules = value_rules(RULE, A_ALLOW, 0)
    rng = random.Random(7)
    samples = [*REFUSED, 0, 0xFFFFFFFF, 0x5410, 0x5413, 0x541E, 0x5401, 0x541B, 0x40045877, 0xC0045876, 0xC0045879]
    samples += [v ^ (1 << bit) for v in REFUSED for bit in range(32)]     # every neighbour
    samples += [rng.getrandbits(32) for _ in range(5000)]
    for low in samples:
        for high in (0, 1, 0xFFFFFFFF, rng.getrandbits(32)):
            got = decisions(rules, (high << 32) | low)
            want = {(A_ERRNO, 1)} if low in REFUSED else {(A_ALLOW, 0)}
            assert got == want, (hex(high), hex(low), got)


def test_every_mask_leaves_the_high_half_alone():
    assert all(mask <= 0xFFFFFFFF for _, _, mask, _ in value_rules(RULE, A_ALLOW, 0))


def test_the_ioctl_row_carries_the_rule():
    (rule,) = BY_NAME["ioctl"].arg_rules
    assert isinstance(rule, ValueRule) and set(rule.values) == set(REFUSED) and rule.arg == 1
