"""sentry/record.py behaves as dataclasses does, for what the run path uses."""
from __future__ import annotations

import dataclasses

import pytest

from sentry.record import FrozenInstanceError, asdict, field, record, replace


@record(frozen=True)
class Point:
    x: int
    tags: list = field(default_factory=list)
    label: str = "p"
    secret: int = field(default=0, repr=False)


@dataclasses.dataclass(frozen=True)
class DPoint:
    x: int
    tags: list = dataclasses.field(default_factory=list)
    label: str = "p"
    secret: int = dataclasses.field(default=0, repr=False)


@record
class Counter:
    start: int = 0
    seen: list = field(default_factory=list)

    def __post_init__(self):
        self.doubled = self.start * 2


def test_init_repr_eq_hash_as_dataclasses():
    for args, kwargs in (((1,), {}), ((1, [2], "q"), {}), ((), {"x": 3, "secret": 9})):
        ours, theirs = Point(*args, **kwargs), DPoint(*args, **kwargs)
        assert repr(ours).replace("Point", "DPoint") == repr(theirs)
        assert asdict(ours) == dataclasses.asdict(theirs)
    assert Point(1) == Point(1) and Point(1) != Point(2) and Point(1) != DPoint(1)
    assert hash(Point(1, (), "a", 2)) == hash(DPoint(1, (), "a", 2))     # all fields, as dataclasses
    assert Point.label == "p" and Point.secret == 0 and not hasattr(Point, "tags")


def test_factories_give_each_instance_its_own():
    a, b = Point(1), Point(1)
    assert a.tags == [] and a.tags is not b.tags


def test_frozen_refuses_assignment_and_mutable_is_unhashable():
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2
    with pytest.raises(FrozenInstanceError):
        del p.label
    c = Counter(3)
    c.start = 4
    with pytest.raises(TypeError):
        hash(c)


def test_post_init_runs_last():
    assert Counter(5).doubled == 10


def test_replace_keeps_other_fields():
    p = replace(Point(1, ["t"], "a", 7), label="b")
    assert (p.x, p.tags, p.label, p.secret) == (1, ["t"], "b", 7)


def test_bad_calls_fail_as_dataclasses_do():
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(TypeError):
        Point(1, nope=2)
    with pytest.raises(TypeError):
        Point(1, [], "a", 0, "extra")


def test_what_it_does_not_support_fails_at_class_creation():
    with pytest.raises(TypeError, match="without a default follows"):
        @record
        class Bad:
            a: int = 1
            b: int
    with pytest.raises(TypeError, match="inherit"):
        @record
        class Child(Counter):
            more: int = 0
    with pytest.raises(TypeError, match="ClassVar"):
        @record
        class WithClassVar:
            a: ClassVar[int] = 1       # noqa: F821 (a string: never evaluated)
    with pytest.raises(ValueError):
        field(default=1, default_factory=list)
