"""Platforms: how a sandbox's syscalls are intercepted (base.py is the
interface).  Importing the package registers every platform, so
`platform.get("ptrace")` and `platform.names()` see them all."""
from sentry.platform import ptrace, seccomp_notify  # noqa: F401 - they register themselves
from sentry.platform.base import get, names  # noqa: F401 - the package's API
