"""Files and paths a user names on a command line or in a config file:
checked before use, read without ever blocking, and every failure a
SandboxError whose message starts with what named the path (`--root /x`,
`registry config /y`, `/b/config.json`).

Facts relied upon:
- open(2) with O_NONBLOCK on a FIFO returns at once instead of waiting for
  a writer (O_RDONLY) and fails with ENXIO when there is no reader
  (O_WRONLY); on a regular file the flag changes nothing.  fstat(2) on the
  fd then tells a regular file from a FIFO, socket or device, so nothing is
  read from a file that is not one.
- read(2) on /proc/self/mem at offset 0 fails with EIO; some files in
  /proc and /sys report st_size 0: the size is not checked, only what read
  returns (bounded by `limit`).
- stat(2) follows symlinks and lstat(2) does not: a path that lstat finds
  and stat does not is a dangling symlink.
"""
from __future__ import annotations

import json
import os
import stat

from sentry.errors import SandboxError

MAX_CONFIG = 16 << 20


def shown(path: str) -> str:
    """A path as a message shows it: as given, unless it holds characters
    that would reach the terminal raw (escapes, newlines)."""
    return path if path.isprintable() else ascii(path)[1:-1]


def where(what: str, path: str) -> str:
    """`--root /x`, or the path alone when what is empty."""
    return f"{what} {shown(path)}" if what else shown(path)


def _problem(path: str, err: OSError) -> str:
    if isinstance(err, FileNotFoundError) and os.path.lexists(path):
        return "dangling symlink"
    return err.strerror or str(err)


def read_file(path: str, what: str, limit: int = MAX_CONFIG) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them."""
    if not path:
        raise SandboxError(f"{what or 'path'}: empty path")
    if "\0" in path:
        raise SandboxError(f"{where(what, path)}: contains a NUL byte")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as e:
        raise SandboxError(f"{where(what, path)}: {_problem(path, e)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SandboxError(f"{where(what, path)}: is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise SandboxError(f"{where(what, path)}: not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise SandboxError(f"{where(what, path)}: {e.strerror}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise SandboxError(f"{where(what, path)}: larger than {limit} bytes")
    return b"".join(chunks)


def decode_json(data: bytes, where: str):
    """JSON from bytes; `where` names the source in the message."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SandboxError(f"{where}: not valid JSON (not UTF-8 text at byte {e.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise SandboxError(f"{where}: not valid JSON (nested too deeply)") from None
    except ValueError as e:
        raise SandboxError(f"{where}: not valid JSON ({e})") from None


def read_json(path: str, what: str, limit: int = MAX_CONFIG, want: type | None = dict):
    """A JSON document from a regular file; `want`: the type the top level
    must have (an object unless told otherwise)."""
    at = where(what, path)
    doc = decode_json(read_file(path, what, limit), at)
    if want is not None and not isinstance(doc, want):
        raise SandboxError(f"{at}: expected a JSON {'object' if want is dict else want.__name__}, "
                           f"got {type(doc).__name__}")
    return doc


def read_toml(path: str, what: str, limit: int = 1 << 20) -> dict:
    import tomllib
    data = read_file(path, what, limit)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SandboxError(f"{where(what, path)}: not valid TOML (not UTF-8 text at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise SandboxError(f"{where(what, path)}: not valid TOML ({e})") from None


def check_dir(path: str, what: str, must_exist: bool = False) -> str:
    """`path` is a directory, or (must_exist False) nothing yet.  Returns it."""
    if not path:
        raise SandboxError(f"{what or 'path'}: empty path")
    if "\0" in path:
        raise SandboxError(f"{where(what, path)}: contains a NUL byte")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise SandboxError(f"{where(what, path)}: dangling symlink") from None
        if must_exist:
            raise SandboxError(f"{where(what, path)}: no such directory") from None
        return path
    except OSError as e:
        raise SandboxError(f"{where(what, path)}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"{where(what, path)}: not a directory")
    return path


def check_file(path: str, what: str) -> str:
    """`path` is a regular file (or a symlink to one)."""
    if not path:
        raise SandboxError(f"{what or 'path'}: empty path")
    if "\0" in path:
        raise SandboxError(f"{where(what, path)}: contains a NUL byte")
    try:
        st = os.stat(path)
    except OSError as e:
        raise SandboxError(f"{where(what, path)}: {_problem(path, e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"{where(what, path)}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise SandboxError(f"{where(what, path)}: not a regular file")
    return path


def check_new_file(path: str, what: str) -> str:
    """A file we are going to (re)write, such as --pid-file: its directory
    exists, and it is not itself a directory."""
    if not path:
        raise SandboxError(f"{what or 'path'}: empty path")
    if "\0" in path:
        raise SandboxError(f"{where(what, path)}: contains a NUL byte")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SandboxError(f"{where(what, path)}: directory {shown(parent)} does not exist")
    if os.path.isdir(path):
        raise SandboxError(f"{where(what, path)}: is a directory")
    return path


def check_socket(path: str, what: str) -> str:
    """`path` is a unix socket (connecting is the caller's business)."""
    if not path:
        raise SandboxError(f"{what or 'path'}: empty path")
    if "\0" in path:
        raise SandboxError(f"{where(what, path)}: contains a NUL byte")
    try:
        st = os.stat(path)
    except OSError as e:
        raise SandboxError(f"{where(what, path)}: {_problem(path, e)}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise SandboxError(f"{where(what, path)}: not a socket")
    return path
