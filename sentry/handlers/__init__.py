"""Syscall handlers, one module per area, all `def name(t: Task) -> int`.

Decode arguments at the top with t.arg(i); raise SysError for errors; see
sentry/platform/base.py for the whole contract.
"""
