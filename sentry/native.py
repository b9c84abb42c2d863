"""The one module that imports the compiled C extension (csrc/ -> _native).

Everything else calls these functions.  C functions return -errno on
failure; `check` turns that into OSError here, in one place.
"""
from __future__ import annotations

import errno as _errno
import os

from sentry._native import ffi, lib

__all__ = ["ffi", "lib", "check", "mem_read", "mem_read_cstr"]


def check(ret: int, what: str = "") -> int:
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret), what or None)
    return ret


def mem_read(pid: int, addr: int, size: int) -> bytes:
    """Read exactly `size` bytes of tracee memory, or raise EFAULT."""
    buf = ffi.new("char[]", size)
    n = lib.sb_mem_read(pid, addr, buf, size)
    if n != size:
        raise OSError(_errno.EFAULT, "bad address")
    return ffi.buffer(buf, size)[:]


def mem_read_cstr(pid: int, addr: int, max_len: int = 4096) -> bytes:
    """Read a NUL-terminated string (without the NUL).  Raises EFAULT, or
    ENAMETOOLONG when no NUL is found within max_len bytes."""
    buf = ffi.new("char[]", max_len)
    n = lib.sb_mem_read_cstr(pid, addr, buf, max_len)
    check(n)
    return ffi.buffer(buf, n)[:]


# Kernel calls missing from Python 3.11's os module.
def unshare(flags: int) -> None:
    check(lib.sb_unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    check(lib.sb_setns(fd, nstype), "setns")


def mount(src: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else ffi.NULL  # noqa: E731
    check(lib.sb_mount(enc(src), target.encode(), enc(fstype), flags, enc(data)), f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    check(lib.sb_umount(target.encode(), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    check(lib.sb_pivot_root(new_root.encode(), put_old.encode()), "pivot_root")


def make_tree_readonly(path: str) -> None:
    check(lib.sb_mount_setattr_ro(path.encode()), f"read-only {path}")


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return check(lib.sb_prctl(option, a2, a3, a4, a5), "prctl")
