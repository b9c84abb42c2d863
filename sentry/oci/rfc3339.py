"""Timestamps as Go's time.RFC3339Nano prints them: the runtime's state
(`created`, `started`), its JSON log lines, and each line of a CRI log file
(cri_handler/logs.py, written by the log relay, which imports this module
alone to start quickly).

Facts relied upon: Go trims the fraction's trailing zeros and omits it when
it is zero; UTC is written `Z`."""
from __future__ import annotations

import time


def rfc3339_nano(ns: int) -> str:
    """UTC nanoseconds since the epoch as Go's time.RFC3339Nano prints them."""
    secs, frac = divmod(ns, 1_000_000_000)
    fraction = f"{frac:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (f".{fraction}" if fraction else "") + "Z"
