"""The sandbox the handlers serve.  A sentry process serves exactly one
sandbox, so this is set once at start-up (sentry.sandbox.run)."""
from __future__ import annotations

sandbox = None  # sentry.state.Sandbox
