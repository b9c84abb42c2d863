"""The local image store: content-addressed blobs, named refs, unpacked layers.

Layout under the root (default /var/lib/pysandbox, `--root DIR` elsewhere):

    blobs/sha256/<hex>          manifests, configs, layer tarballs, as imported
    layers/sha256/<hex>/        one unpacked layer, named by its diff_id (the
                                digest of the uncompressed tar), shared by every
                                image that has it; used as an overlayfs lower
    refs.json                   {"name:tag": "sha256:<manifest hex>", ...}
    lock                        flock()ed while the store is being changed

Facts relied upon:
- rename(2) within one filesystem is atomic: a reader sees the old file or the
  new one, never a half-written one.  Every write goes to a temporary name in
  the same directory first, so a crash leaves only `.tmp-*` litter, which
  `gc` removes.
- A blob's name is the sha256 of its bytes, checked while it is written: a
  file under blobs/ is always what its name says.
- A layer directory appears (by rename) only once fully unpacked and checked
  against its diff_id, so its presence means it is complete.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass

from sentry.errors import SandboxError

DEFAULT_ROOT = "/var/lib/pysandbox"
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_CHUNK = 1 << 20


def parse_digest(digest: str) -> str:
    """'sha256:<hex>' -> hex; anything else (other algorithms, odd lengths,
    path tricks) is refused, since the hex becomes a file name."""
    m = _DIGEST.match(digest or "")
    if not m:
        raise SandboxError(f"unsupported or malformed digest {digest!r} (expected sha256:<64 hex digits>)")
    return m.group(1)


@dataclass
class Image:
    ref: str
    digest: str                 # of the manifest
    manifest: dict
    config: dict
    layers: list[str]           # unpacked layer directories, bottom first


class Store:
    def __init__(self, root: str = DEFAULT_ROOT):
        self.root = os.path.abspath(root)
        self.blobs = os.path.join(self.root, "blobs", "sha256")
        self.layers = os.path.join(self.root, "layers", "sha256")
        self.refs_path = os.path.join(self.root, "refs.json")

    def init(self) -> None:
        try:
            os.makedirs(self.blobs, mode=0o700, exist_ok=True)
            os.makedirs(self.layers, mode=0o755, exist_ok=True)
        except OSError as e:
            raise SandboxError(f"image store {self.root}: {e.strerror}") from None

    @contextlib.contextmanager
    def locked(self):
        """One writer at a time (import, rm); readers need no lock because
        every change is a rename."""
        self.init()
        fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            os.close(fd)

    # -- blobs ---------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs, parse_digest(digest))

    def has_blob(self, digest: str) -> bool:
        return os.path.isfile(self.blob_path(digest))

    def put_blob(self, digest: str, src, size: int | None = None, what: str = "blob") -> None:
        """Copy the file object `src` in as `digest`, refusing it if its bytes
        hash (or its length) differ.  The archive's copy is always checked,
        even when the store already has the blob."""
        hexd = parse_digest(digest)
        have = self.has_blob(digest)
        h, n = hashlib.sha256(), 0
        tmp, out = None, None
        try:
            if not have:
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.blobs)
                out = os.fdopen(fd, "wb")
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
                if not have:
                    out.write(chunk)
            if h.hexdigest() != hexd:
                raise SandboxError(f"{what} {digest}: digest mismatch (content hashes to sha256:{h.hexdigest()}); "
                                   "the archive is corrupt or was tampered with")
            if size is not None and n != size:
                raise SandboxError(f"{what} {digest}: size mismatch ({n} bytes, descriptor says {size})")
            if not have:
                out.flush()
                os.fsync(out.fileno())
                out.close()
                os.chmod(tmp, 0o644)
                os.rename(tmp, self.blob_path(digest))
                tmp = None
        finally:
            if out is not None and not out.closed:
                out.close()
            if tmp:
                os.unlink(tmp)

    def put_bytes(self, data: bytes) -> str:
        """Store bytes we made ourselves (a synthesised manifest); returns the digest."""
        import io
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.put_blob(digest, io.BytesIO(data))
        return digest

    def read_json(self, digest: str) -> dict:
        try:
            with open(self.blob_path(digest), "rb") as f:
                return json.load(f)
        except FileNotFoundError:
            raise SandboxError(f"image store {self.root}: blob {digest} is missing") from None
        except ValueError:
            raise SandboxError(f"image store {self.root}: blob {digest} is not valid JSON") from None

    # -- layers --------------------------------------------------------------

    def layer_path(self, diff_id: str) -> str:
        return os.path.join(self.layers, parse_digest(diff_id))

    def has_layer(self, diff_id: str) -> bool:
        return os.path.isdir(self.layer_path(diff_id))

    def new_layer_dir(self) -> str:
        """A fresh directory to unpack into; commit_layer renames it in place."""
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=self.layers)
        os.chmod(tmp, 0o755)           # the image's "/" unless the layer has a "./" entry
        return tmp

    def commit_layer(self, tmp: str, diff_id: str) -> None:
        try:
            os.rename(tmp, self.layer_path(diff_id))
        except OSError:
            if not self.has_layer(diff_id):     # someone else won the race: keep theirs
                raise
            _rmtree(tmp)

    # -- refs ----------------------------------------------------------------

    def refs(self) -> dict[str, str]:
        try:
            with open(self.refs_path) as f:
                refs = json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError:
            raise SandboxError(f"image store {self.root}: refs.json is corrupt") from None
        return {str(k): str(v) for k, v in refs.items()}

    def _write_refs(self, refs: dict[str, str]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-refs-", dir=self.root)
        with os.fdopen(fd, "w") as f:
            json.dump(refs, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.refs_path)

    def tag(self, ref: str, digest: str) -> None:
        parse_digest(digest)
        refs = self.refs()
        refs[ref] = digest
        self._write_refs(refs)

    def resolve(self, ref: str) -> tuple[str, str]:
        """REF -> (name, manifest digest).  REF is a name as imported, a name
        without its ':latest', a full digest or an unambiguous hex prefix."""
        refs = self.refs()
        for name in (ref, ref + ":latest"):
            if name in refs:
                return name, refs[name]
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        if len(hexpart) >= 6 and re.fullmatch(r"[0-9a-f]+", hexpart):
            hits = {d for d in refs.values() if parse_digest(d).startswith(hexpart)}
            if len(hits) == 1:
                d = hits.pop()
                return next(n for n, v in refs.items() if v == d), d
            if len(hits) > 1:
                raise SandboxError(f"image {ref!r} is ambiguous: it matches {len(hits)} images")
        raise SandboxError(f"no image {ref!r} in {self.root} (see `pysandbox images ls`)")

    def image(self, ref: str) -> Image:
        name, digest = self.resolve(ref)
        manifest = self.read_json(digest)
        config = self.read_json(manifest["config"]["digest"])
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        layers = [self.layer_path(d) for d in diff_ids]
        for d, path in zip(diff_ids, layers):
            if not os.path.isdir(path):
                raise SandboxError(f"image {name}: layer {d} is not unpacked in {self.root}; import the image again")
        return Image(name, digest, manifest, config, layers)

    def remove(self, ref: str) -> list[str]:
        """Drop REF (a name: that name; a digest: every name for it), then
        collect garbage.  Returns the names removed."""
        name, digest = self.resolve(ref)
        refs = self.refs()
        by_digest = ref.startswith("sha256:") or (name != ref and name != ref + ":latest")
        gone = [n for n, d in refs.items() if d == digest] if by_digest else [name]
        for n in gone:
            del refs[n]
        self._write_refs(refs)
        self.gc()
        return gone

    def gc(self) -> None:
        """Delete blobs and layers no ref reaches, and temporary litter."""
        keep_blobs, keep_layers = set(), set()
        for digest in set(self.refs().values()):
            keep_blobs.add(parse_digest(digest))
            try:
                manifest = self.read_json(digest)
                keep_blobs.add(parse_digest(manifest["config"]["digest"]))
                keep_blobs.update(parse_digest(layer["digest"]) for layer in manifest.get("layers", []))
                config = self.read_json(manifest["config"]["digest"])
                keep_layers.update(parse_digest(d) for d in config.get("rootfs", {}).get("diff_ids", []))
            except (SandboxError, KeyError, TypeError):
                continue        # a broken image keeps what it can name; the rest goes
        for name in os.listdir(self.blobs):
            if name not in keep_blobs:
                os.unlink(os.path.join(self.blobs, name))
        for name in os.listdir(self.layers):
            if name not in keep_layers:
                _rmtree(os.path.join(self.layers, name))

    def size(self, manifest: dict) -> int:
        return manifest["config"].get("size", 0) + sum(layer.get("size", 0) for layer in manifest.get("layers", []))


def _rmtree(path: str) -> None:
    """Layers hold read-only directories and device nodes; as root that is no
    obstacle, but a directory made immutable elsewhere is reported, not hidden."""
    shutil.rmtree(path)
