"""What `run --image REF` takes from the image config (image-spec config.md).

- argv = Entrypoint + Cmd; a command given on the command line replaces Cmd
  (as `docker run IMAGE CMD...` does), never the Entrypoint.
- Env is the base environment; -e entries are applied on top of it.
- WorkingDir is the default cwd; User the default user (a --user flag wins).
- User is "uid", "uid:gid", "name" or "name:group".  Names are looked up in
  the image's own /etc/passwd and /etc/group, read from the top-most layer
  that has the file (a whiteout there means the image has none).  The files
  are read through the same no-symlink walk the unpacker uses, since layer
  directories are host paths and the image's symlinks point into the image.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from sentry.errors import SandboxError
from sentry.images import unpack
from sentry.images.store import Store


@dataclass
class ImageRun:
    layers: list[str]                 # top first, as overlayfs lowerdir wants them
    argv: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str | None = None
    uid: int = 0
    gid: int = 0


def resolve(store: Store, ref: str, cmd: list[str], env: list[str],
            cwd: str | None, user: tuple[int, int] | None) -> ImageRun:
    image = store.image(ref)
    cc = image.config.get("config") or {}
    entry, default_cmd = cc.get("Entrypoint") or [], cc.get("Cmd") or []
    argv = list(entry) + list(cmd or default_cmd)
    if not argv:
        raise SandboxError(f"image {image.ref} has no Entrypoint or Cmd: give a command after --")
    # A layer repeated in one image (empty layers often are) may appear
    # only once in lowerdir; its top-most copy masks everything the lower
    # copies touch, so keeping that one alone gives the same view.
    layers = list(dict.fromkeys(reversed(image.layers)))
    image_env = [e for e in cc.get("Env") or [] if isinstance(e, str) and "=" in e]
    if user is None:
        uid, gid, home = _user(layers, cc.get("User") or "", image.ref)
        if home and not any(e.startswith("HOME=") for e in image_env):
            image_env.insert(0, f"HOME={home}")
    else:
        uid, gid = user
    return ImageRun(layers=layers, argv=argv, env=image_env + list(env),
                    cwd=cwd or cc.get("WorkingDir") or None, uid=uid, gid=gid)


def _user(layers: list[str], spec: str, ref: str) -> tuple[int, int, str | None]:
    if not spec:
        return 0, 0, None
    name, _, group = spec.partition(":")
    passwd = _table(layers, "etc/passwd")
    home = None
    if name.isdigit():
        uid = int(name)
        row = next((r for r in passwd if len(r) > 3 and r[2] == name), None)
    else:
        row = next((r for r in passwd if len(r) > 3 and r[0] == name), None)
        if row is None:
            raise SandboxError(f"image {ref}: User {spec!r}: no user {name!r} in the image's /etc/passwd")
        uid = _num(row[2], spec, ref)
    gid = _num(row[3], spec, ref) if row else 0
    home = row[5] if row and len(row) > 5 and row[5] else None
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            grow = next((r for r in _table(layers, "etc/group") if len(r) > 2 and r[0] == group), None)
            if grow is None:
                raise SandboxError(f"image {ref}: User {spec!r}: no group {group!r} in the image's /etc/group")
            gid = _num(grow[2], spec, ref)
    if not (0 <= uid < (1 << 32) - 1 and 0 <= gid < (1 << 32) - 1):
        raise SandboxError(f"image {ref}: User {spec!r}: ids must be from 0 to 4294967294")
    return uid, gid, home


def _num(text: str, spec: str, ref: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SandboxError(f"image {ref}: User {spec!r}: malformed entry in the image's passwd/group") from None


def _table(layers: list[str], path: str) -> list[list[str]]:
    data = read_layered(layers, path)
    if data is None:
        return []
    return [line.split(":") for line in data.decode("utf-8", "replace").splitlines()
            if line and not line.startswith("#")]


def read_layered(layers: list[str], path: str, limit: int = 1 << 20) -> bytes | None:
    """The file `path` (relative) as the merged image shows it, looking at
    layers top first; None if no layer has it or a whiteout hides it."""
    for layer in layers:
        root = os.open(layer, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                parent, leaf = unpack._parent(root, path, create=False)
            except FileNotFoundError:
                continue
            except (OSError, SandboxError):
                return None             # a symlinked or whited-out directory: not followed
            try:
                st = os.stat(leaf, dir_fd=parent, follow_symlinks=False)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    return None         # whiteout
                if not stat.S_ISREG(st.st_mode):
                    return None
                fd = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
                with os.fdopen(fd, "rb") as f:
                    return f.read(limit)
            except FileNotFoundError:
                continue
            finally:
                os.close(parent)
        finally:
            os.close(root)
    return None
