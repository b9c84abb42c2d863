"""Platforms: how a sandbox's syscalls are intercepted (base.py is the
interface).  Each lives in its own module and registers itself when that
module is imported; get(name) imports only the one asked for (the caller
must do so before the sentry leaves the host's mount namespace, as
sentry/sandbox/lifecycle.py does), so `pysandbox run` does not load the
ptrace machinery it does not use."""
import importlib

from sentry.platform import base

MODULES = {"seccomp": "sentry.platform.seccomp_notify", "ptrace": "sentry.platform.ptrace"}


def names() -> tuple[str, ...]:
    return tuple(MODULES)


def get(name: str) -> base.Platform:
    """A new instance of the platform called name; KeyError if none is."""
    importlib.import_module(MODULES[name])
    return base.get(name)
