"""The sandbox the handlers serve.  A sentry process serves exactly one
sandbox, so this is set once at start-up (sentry.sandbox.lifecycle.run),
before any handler runs."""
from __future__ import annotations

TYPE_CHECKING = False      # typing is not loaded at run time: ~3 ms of a start (sentry/record.py)
if TYPE_CHECKING:
    from sentry.sandbox.state import Sandbox

sandbox: Sandbox
