"""What the sentry knows about its one sandbox, shared by the handlers.

The utsname lives in C memory (struct sb_sentry.uts) so the C fast path for
uname(2) and the Python handlers for sethostname(2) read and write the same
bytes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from sentry.native import ffi, lib

UTS_LEN = 64  # __NEW_UTS_LEN


@dataclass
class Sandbox:
    hostname: str = "pysandbox"
    release: str = "6.1.0-pysandbox"
    strace: str | None = None          # None, "emulated" or "all"
    fastpath: bool = True
    started: float = field(default_factory=time.monotonic)
    init_pid: int = 0                  # host pid of the sandbox's pid 1
    memory_limit: int = 0              # bytes; 0 means none
    sentry: object = field(default=None, repr=False)   # struct sb_sentry *
    _uts: bytes | None = field(default=None, repr=False)

    def __post_init__(self):
        self.sentry = ffi.new("struct sb_sentry *")
        self.sentry.fd = -1
        uts = self.sentry.uts
        for name, value in (("sysname", "Linux"), ("release", self.release),
                            ("version", "#1 SMP PREEMPT_DYNAMIC pysandbox"),
                            ("machine", "x86_64"), ("domainname", "(none)")):
            set_uts_field(uts, name, value.encode())
        set_uts_field(uts, "nodename", self.hostname.encode())

    def uts_bytes(self) -> bytes:
        """struct utsname as bytes, cached: uname is hot, changes are rare."""
        if self._uts is None:
            self._uts = ffi.buffer(ffi.addressof(self.sentry.uts))[:]
        return self._uts

    def set_uts(self, name: str, value: bytes) -> None:
        set_uts_field(self.sentry.uts, name, value)
        self._uts = None

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def pids(self) -> list[int]:
        """Host pids of every process in the sandbox, found by walking the
        process tree below its init (the kernel keeps it current)."""
        out, todo = [], [self.init_pid] if self.init_pid else []
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass   # exited while we looked
        return out


def set_uts_field(uts, name: str, value: bytes) -> None:
    """Store value NUL-padded to the field's 65 bytes, as the kernel does."""
    assert len(value) <= UTS_LEN
    ffi.memmove(getattr(uts, name), value.ljust(UTS_LEN + 1, b"\0"), UTS_LEN + 1)
