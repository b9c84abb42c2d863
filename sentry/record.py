"""Records: the part of `dataclasses` that the modules `pysandbox run` loads
use, without its start-up cost.

Why not dataclasses there: `import dataclasses` imports `inspect`, and with
it `ast`, `dis`, `tokenize` and `typing`: ~8 ms measured on the 2-vCPU VM,
and each class then compiles three generated methods.  `pysandbox run`'s
budget for everything is 40 ms (docs/fs-modes.md#start-up), and
tests/unit/test_startup.py keeps `dataclasses` and `typing` off that path.
Modules `pysandbox run` never loads (OCI state, images, the CRI daemon) use
dataclasses, and may keep doing so.

Same spelling and meaning as dataclasses, for what is here:
- `@record` or `@record(frozen=True)` on a class whose fields are its own
  annotations, in order; a field's default is the class attribute, or
  `field(default=..., default_factory=..., repr=False)`;
- the class gets `__init__` (positional or keyword; `__post_init__` is
  called last if defined), `__repr__`, `__eq__` (same class, fields equal),
  and for frozen ones `__hash__` plus a `__setattr__` that refuses;
- `replace(obj, **changes)` and `asdict(obj)` (shallow: values as they are),
  and `required(cls)`: the fields a caller must give.
Anything else (inheriting from a record, ClassVar fields, order=True) is not
supported and fails at class creation rather than behaving differently.

mypy reads these as dataclasses through `typing.dataclass_transform`
(PEP 681), imported only when type checking.
"""
from __future__ import annotations

TYPE_CHECKING = False          # typing itself costs ~3 ms of a start
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform
    T = TypeVar("T")
else:
    def dataclass_transform(**_kwargs):
        return lambda f: f

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record (dataclasses' name)."""


class Field:
    __slots__ = ("default", "default_factory", "repr")

    def __init__(self, default, default_factory, repr):
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.default, self.default_factory, self.repr = default, default_factory, repr


def field(*, default=_MISSING, default_factory=_MISSING, repr: bool = True) -> Any:
    return Field(default, default_factory, repr)


@dataclass_transform(field_specifiers=(field,))
def record(cls=None, /, *, frozen: bool = False):
    def wrap(cls):
        return _build(cls, frozen)
    return wrap if cls is None else wrap(cls)


def replace(obj: T, **changes) -> T:
    """A copy of obj with some fields changed (dataclasses.replace)."""
    for name in obj.__record_fields__:          # type: ignore[attr-defined]
        changes.setdefault(name, getattr(obj, name))
    return type(obj)(**changes)


def required(cls) -> tuple[str, ...]:
    """The fields without a default or a factory, in order."""
    return cls.__record_required__


def asdict(obj) -> dict:
    """{field: value}, in field order (values are not copied or recursed)."""
    return {name: getattr(obj, name) for name in obj.__record_fields__}


def _build(cls, frozen: bool):
    if any("__record_fields__" in vars(base) for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__name__}: a record cannot inherit from another record")
    names = tuple(cls.__dict__.get("__annotations__", {}))
    params, body, shown, needed = [], [], [], []
    scope: dict = {"_MISSING": _MISSING, "_set": object.__setattr__}
    optional_seen = False
    for name in names:
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(value, _MISSING, True)
        if "ClassVar" in str(cls.__annotations__[name]):
            raise TypeError(f"{cls.__name__}.{name}: ClassVar fields are not supported")
        if spec.default_factory is not _MISSING:
            scope[f"_factory_{name}"] = spec.default_factory
            params.append(f"{name}=_MISSING")
            expr = f"_factory_{name}() if {name} is _MISSING else {name}"
        elif spec.default is not _MISSING:
            scope[f"_default_{name}"] = spec.default
            params.append(f"{name}=_default_{name}")
            expr = name
        elif optional_seen:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        else:
            params.append(name)
            needed.append(name)
            expr = name
        optional_seen = optional_seen or spec.default is not _MISSING or spec.default_factory is not _MISSING
        body.append(f"_set(self, {name!r}, {expr})" if frozen else f"self.{name} = {expr}")
        if spec.repr:
            shown.append(name)
        # As dataclasses: the class attribute is the plain default, if any.
        if isinstance(value, Field):
            if spec.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
    if "__post_init__" in cls.__dict__:
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init
    cls.__record_fields__ = names
    cls.__record_required__ = tuple(needed)
    shown_t = tuple(shown)

    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown_t)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    cls.__repr__, cls.__eq__ = __repr__, __eq__
    if frozen:
        def __hash__(self):
            return hash(tuple(getattr(self, n) for n in names))

        def __setattr__(self, name, value):
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name):
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        cls.__hash__, cls.__setattr__, cls.__delattr__ = __hash__, __setattr__, __delattr__
    else:
        cls.__hash__ = None          # mutable and compared by value: unhashable, as dataclasses
    return cls
