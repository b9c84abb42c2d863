"""The host's /proc, reachable after the sentry has joined the sandbox's
mount namespace.

The sentry serves from inside the sandbox's mount namespace (so its own path
lookups cannot leave the sandbox view), where "/proc" is the sandbox's procfs
and the tracees' host pids mean nothing.  Everything the sentry needs of
/proc/TID (status, cwd, fd/N, root, children) goes through this directory fd,
opened while the sentry still stood in the host namespace.
"""
from __future__ import annotations

import os

from sentry import native
from sentry.errors import TaskGone

_fd: int | None = None


def open_host_proc() -> None:
    global _fd
    if _fd is None:
        _fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def fd() -> int:
    open_host_proc()
    assert _fd is not None
    return _fd


def open(rel: str, flags: int = os.O_RDONLY) -> int:  # noqa: A001 - mirrors os.open
    """A tracee's /proc entry; with CAP_SYS_PTRACE for the call if the
    kernel wants ptrace access (the tracee changed its ids)."""
    return native.proc_open(fd(), rel, flags)


def readlink(rel: str) -> str:
    return native.proc_readlink(fd(), rel)


def read(rel: str) -> bytes:
    f = open(rel)
    try:
        return os.read(f, 1 << 20)
    finally:
        os.close(f)


def listdir(rel: str) -> list[str]:
    f = open(rel, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return os.listdir(f)
    finally:
        os.close(f)


def tracee_file(tid: int, name: str) -> bytes:
    """/proc/TID/NAME of a tracee (status, limits: files every live thread
    has).  If it is missing, the thread is gone: TaskGone."""
    try:
        return read(f"{tid}/{name}")
    except (FileNotFoundError, ProcessLookupError):
        raise TaskGone() from None


def status_field(tid: int, key: str) -> str | None:
    """One field of a tracee's /proc/TID/status, e.g. status_field(t, "Umask");
    TaskGone if the thread is gone."""
    prefix = key.encode() + b":"
    for line in tracee_file(tid, "status").splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip().decode()
    return None
