"""Unpack one OCI layer tarball into a directory that overlayfs can use as a
lower layer, without ever writing outside that directory.

Facts relied upon:
- The tarball is untrusted.  Every entry is placed relative to an fd on the
  layer directory: each parent component is opened with
  O_PATH|O_NOFOLLOW|O_DIRECTORY, so a symlink (made by an earlier entry) is
  never followed, and the final component is created with *at() calls that
  do not follow it either (O_EXCL|O_NOFOLLOW, mknodat, symlinkat, linkat
  without AT_SYMLINK_FOLLOW).  Absolute names and ".." are refused outright.
- Hard links name another entry of the same layer; the source is resolved
  the same way, so it cannot reach outside, and linking a symlink links the
  symlink itself.
- OCI whiteouts become overlayfs ones: ".wh.NAME" -> NAME as a 0:0 character
  device; ".wh..wh..opq" -> trusted.overlay.opaque="y" on its directory.
  overlayfs honours both in lower layers.  This needs root (mknod, trusted.*).
- chown clears setuid/setgid, so modes are applied after owners.
- The diff_id is the sha256 of the *uncompressed* tar stream; it is hashed
  while unpacking, so a layer is checked without a second pass.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import stat
import tarfile

from sentry.errors import SandboxError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_DIR_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC


class UnsafeEntry(SandboxError):
    """A tar entry that would land outside the layer directory."""


class _Hashing(io.RawIOBase):
    """Read-through sha256 of the decompressed stream.  A read-only stream
    that cannot seek (io.RawIOBase says so for write/seek/tell): tarfile's
    "r|" mode only ever reads."""

    def __init__(self, f) -> None:
        super().__init__()
        self.f, self.h = f, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        return data

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return "sha256:" + self.h.hexdigest()


def open_layer(path: str):
    """A file object of the uncompressed tar (plain or gzip)."""
    f = open(path, "rb")
    magic = f.read(4)
    f.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")
    if magic == b"\x28\xb5\x2f\xfd":
        f.close()
        raise SandboxError(f"layer {path}: zstd-compressed layers are not supported yet")
    return f


def unpack(path: str, dest: str) -> str:
    """Unpack the layer tarball at `path` into the existing directory `dest`;
    returns the diff_id (digest of the uncompressed tar)."""
    src = _Hashing(open_layer(path))
    root = os.open(dest, _DIR_FLAGS)
    dirs: list[tuple[str, float]] = []  # (name, mtime): set last, children change them
    try:
        with tarfile.open(fileobj=src, mode="r|") as tar:
            for m in tar:
                _entry(tar, m, root, dirs)
        for name, mtime in reversed(dirs):
            try:
                parent, leaf = _parent(root, name, create=False)
            except (OSError, UnsafeEntry):
                continue                # replaced by a later entry
            try:
                os.utime(leaf, (mtime, mtime), dir_fd=parent, follow_symlinks=False)
            except OSError:
                pass
            finally:
                os.close(parent)
        return src.drain()
    except (tarfile.TarError, EOFError, gzip.BadGzipFile) as e:
        raise SandboxError(f"layer {path}: not a valid tar archive ({e})") from None
    finally:
        os.close(root)
        src.f.close()


def _split(name: str) -> list[str]:
    """Entry name -> path components inside the layer, or UnsafeEntry."""
    if name.startswith("/"):
        raise UnsafeEntry(f"tar entry {name!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeEntry(f"tar entry {name!r}: '..' component")
    return parts


def _parent(root: int, name: str, create: bool = True) -> tuple[int, str]:
    """(fd of the entry's parent directory, last component), walking from
    the layer root one component at a time without following symlinks.
    Missing directories are made (0755, root) when `create`.  The caller
    closes the fd.  An empty last component means the layer root itself."""
    parts = _split(name)
    fd = os.dup(root)
    try:
        for comp in parts[:-1]:
            try:
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(comp, 0o755, dir_fd=fd)
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ENOTDIR, errno.ELOOP):
                    raise UnsafeEntry(f"tar entry {name!r}: {comp!r} is not a directory "
                                      "(a symlink or file on the way)") from None
                raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd, (parts[-1] if parts else "")


def _clear(parent: int, leaf: str, keep_dir: bool) -> None:
    """Make room for a new entry: a later entry replaces an earlier one of
    the same name (a directory stays if the new entry is one too)."""
    try:
        st = os.stat(leaf, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return
        _rmtree_at(parent, leaf)
    else:
        os.unlink(leaf, dir_fd=parent)


def _rmtree_at(parent: int, leaf: str) -> None:
    fd = os.open(leaf, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    try:
        for child in os.listdir(fd):
            st = os.stat(child, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                _rmtree_at(fd, child)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(leaf, dir_fd=parent)


def _entry(tar, m: tarfile.TarInfo, root: int, dirs: list[tuple[str, float]]) -> None:
    parent, leaf = _parent(root, m.name)
    try:
        if leaf == "":                               # "./": the layer root
            if m.isdir():
                _finish_fd(root, m, fd_is_path=True)
            return
        if leaf == OPAQUE:
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=parent)
            try:
                os.setxattr(fd, "trusted.overlay.opaque", b"y")
            finally:
                os.close(fd)
            return
        if leaf.startswith(WHITEOUT):
            target = leaf[len(WHITEOUT):]
            _split(target)                          # no "..", no "/"
            if target in ("", "."):
                raise UnsafeEntry(f"tar entry {m.name!r}: whiteout of nothing")
            _clear(parent, target, keep_dir=False)
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
            return
        if m.isdir():
            _clear(parent, leaf, keep_dir=True)
            try:
                os.mkdir(leaf, 0o700, dir_fd=parent)
            except FileExistsError:
                pass
            fd = os.open(leaf, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                _finish_fd(fd, m)
            finally:
                os.close(fd)
            dirs.append((m.name, m.mtime))
        elif m.isreg():
            _clear(parent, leaf, keep_dir=False)
            fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=parent)
            try:
                data = tar.extractfile(m)
                while chunk := data.read(1 << 20):
                    _write_all(fd, chunk)
                _finish_fd(fd, m)
            finally:
                os.close(fd)
            os.utime(leaf, (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)
        elif m.issym():
            _clear(parent, leaf, keep_dir=False)
            os.symlink(m.linkname, leaf, dir_fd=parent)
            os.chown(leaf, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
            os.utime(leaf, (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)
        elif m.islnk():
            src_parent, src_leaf = _parent(root, m.linkname, create=False)
            try:
                if not src_leaf:
                    raise UnsafeEntry(f"tar entry {m.name!r}: hard link to the layer root")
                _clear(parent, leaf, keep_dir=False)
                os.link(src_leaf, leaf, src_dir_fd=src_parent, dst_dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                raise SandboxError(f"tar entry {m.name!r}: hard link to missing {m.linkname!r}") from None
            finally:
                os.close(src_parent)
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            _clear(parent, leaf, keep_dir=False)
            os.mknod(leaf, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=parent)
            # Not a symlink (just made it), so following is harmless here.
            os.chown(leaf, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
            os.chmod(leaf, m.mode & 0o7777, dir_fd=parent)
        # Anything else (GNU volume headers, ...) carries nothing for a rootfs.
    finally:
        os.close(parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _finish_fd(fd: int, m: tarfile.TarInfo, fd_is_path: bool = False) -> None:
    """Owner, then mode (chown clears setuid), then xattrs, on an open fd."""
    if fd_is_path:                   # the O_PATH layer root: reopen it readable
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    try:
        os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
        for key, value in m.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                name = key[len("SCHILY.xattr."):]
                if name.startswith("trusted.overlay."):
                    continue         # only our whiteout handling may speak to overlayfs
                try:
                    os.setxattr(fd, name, value.encode("utf-8", "surrogateescape"))
                except OSError as e:
                    if e.errno not in (errno.ENOTSUP, errno.EPERM):
                        raise
    finally:
        if fd_is_path:
            os.close(fd)
