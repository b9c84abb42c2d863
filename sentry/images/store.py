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
- flock(2) locks an open file, not a name: once the lock file is unlinked
  (a failed import takes away the lock file it made), a waiter holding
  the old file gets a lock nobody else can see.  So a writer that gets the
  lock checks that the file it holds is still the one at `lock`, and
  starts again if not.
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

from sentry import inputs
from sentry.errors import SandboxError

DEFAULT_ROOT = "/var/lib/pysandbox"
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_CHUNK = 1 << 20


def parse_digest(digest: str) -> str:
    """'sha256:<hex>' -> hex; anything else (other algorithms, odd lengths,
    path tricks) is refused, since the hex becomes a file name."""
    m = _DIGEST.match(digest) if isinstance(digest, str) else None
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
        """One writer at a time (import, pull, rm); readers need no lock
        because every change is a rename.  What init() made for this call
        (the store itself, its directories, the lock file) is taken away
        again if the body fails and leaves them empty."""
        lock = os.path.join(self.root, "lock")
        skeleton = [self.root, os.path.dirname(self.blobs), self.blobs, os.path.dirname(self.layers),
                    self.layers, lock]
        made = [p for p in skeleton if not os.path.lexists(p)]
        while True:
            self.init()
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            except OSError as e:
                raise SandboxError(f"image store {self.root}: {lock}: {e.strerror}") from None
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                held, now = os.fstat(fd), os.stat(lock, follow_symlinks=False)
                if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)                 # someone removed the lock under us: again
        try:
            yield self
        except BaseException:
            for path in reversed(made):  # with the lock held; rmdir takes only empty directories
                try:
                    if path == lock:
                        os.unlink(path)
                    else:
                        os.rmdir(path)
                except OSError:
                    pass
            raise
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
        tmp, out = "", None             # out is None exactly when the store has the blob
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
                if out is not None:
                    out.write(chunk)
            if h.hexdigest() != hexd:
                raise SandboxError(f"{what} {digest}: digest mismatch (content hashes to sha256:{h.hexdigest()}); "
                                   "the archive is corrupt or was tampered with")
            if size is not None and n != size:
                raise SandboxError(f"{what} {digest}: size mismatch ({n} bytes, descriptor says {size})")
            if out is not None:
                out.flush()
                os.fsync(out.fileno())
                out.close()
                os.chmod(tmp, 0o644)
                os.rename(tmp, self.blob_path(digest))
                tmp = ""
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
        path = self.blob_path(digest)
        if not os.path.lexists(path):
            raise SandboxError(f"image store {self.root}: blob {digest} is missing")
        doc = inputs.decode_json(inputs.read_file(path, f"image store {self.root}: blob"),
                                 f"image store {self.root}: blob {digest}")
        if not isinstance(doc, dict):
            raise SandboxError(f"image store {self.root}: blob {digest} is not a JSON object")
        return doc

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
        if not os.path.lexists(self.refs_path):
            return {}
        what = f"image store {self.root}:"
        data = inputs.read_file(self.refs_path, what)
        try:
            refs = json.loads(data.decode())
        except ValueError:               # UnicodeDecodeError is one
            raise SandboxError(f"{what} refs.json is corrupt (not valid JSON)") from None
        if not isinstance(refs, dict) or not all(isinstance(k, str) and isinstance(v, str) and _DIGEST.match(v)
                                                 for k, v in refs.items()):
            raise SandboxError(f"{what} refs.json is corrupt (expected an object of name: sha256 digest)")
        return refs

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
        manifest = check_manifest(self.read_json(digest), f"image {name}: manifest {digest}")
        config = check_config(self.read_json(manifest["config"]["digest"]), f"image {name}: config")
        diff_ids = config["rootfs"]["diff_ids"]
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
        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()
        for digest in set(self.refs().values()):
            keep_blobs.add(parse_digest(digest))
            try:
                manifest = check_manifest(self.read_json(digest), digest)
                keep_blobs.add(parse_digest(manifest["config"]["digest"]))
                keep_blobs.update(parse_digest(layer["digest"]) for layer in manifest["layers"])
                rootfs = self.read_json(manifest["config"]["digest"]).get("rootfs")
                diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
                keep_layers.update(parse_digest(d) for d in (diff_ids if isinstance(diff_ids, list) else [])
                                   if isinstance(d, str) and _DIGEST.match(d))
            except SandboxError:
                continue        # a broken image keeps what it can name; the rest goes
        for name in os.listdir(self.blobs):
            if name not in keep_blobs:
                os.unlink(os.path.join(self.blobs, name))
        for name in os.listdir(self.layers):
            if name not in keep_layers:
                _rmtree(os.path.join(self.layers, name))

    def size(self, manifest: dict) -> int:
        layers = manifest.get("layers")
        descs = [manifest.get("config"), *(layers if isinstance(layers, list) else [])]
        return sum(d["size"] for d in descs if isinstance(d, dict) and isinstance(d.get("size"), int))


def _descriptor(desc, where: str) -> dict:
    if not isinstance(desc, dict):
        raise SandboxError(f"{where}: expected a descriptor object")
    digest = desc.get("digest")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise SandboxError(f"{where}.digest: expected sha256:<64 hex digits>")
    if desc.get("size") is not None and (not isinstance(desc["size"], int) or desc["size"] < 0):
        raise SandboxError(f"{where}.size: expected a byte count")
    return desc


def check_manifest(manifest, what: str) -> dict:
    """An image manifest's shape: a config descriptor and a list of layer
    descriptors (the media types are the importer's and puller's business)."""
    if not isinstance(manifest, dict):
        raise SandboxError(f"{what}: not a JSON object")
    _descriptor(manifest.get("config"), f"{what}: config")
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise SandboxError(f"{what}: layers: expected a list")
    for i, d in enumerate(layers):
        _descriptor(d, f"{what}: layers[{i}]")
    return manifest


_RUN_FIELDS = {"Entrypoint": list, "Cmd": list, "Env": list, "WorkingDir": str, "User": str}


def check_config(config, what: str) -> dict:
    """The parts of an image config (image-spec config.md) we use:
    rootfs.diff_ids, and config.Entrypoint/Cmd/Env (lists of strings),
    WorkingDir and User (strings); null stands for absent, as docker writes."""
    if not isinstance(config, dict):
        raise SandboxError(f"{what}: not a JSON object")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise SandboxError(f"{what}: rootfs.diff_ids: expected a list of layer digests")
    for i, d in enumerate(rootfs["diff_ids"]):
        if not isinstance(d, str) or not _DIGEST.match(d):
            raise SandboxError(f"{what}: rootfs.diff_ids[{i}]: expected sha256:<64 hex digits>")
    run = config.get("config")
    if run is None:
        return config
    if not isinstance(run, dict):
        raise SandboxError(f"{what}: config: expected an object")
    for key, kind in _RUN_FIELDS.items():
        value = run.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            raise SandboxError(f"{what}: config.{key}: expected {'a list of strings' if kind is list else 'a string'}")
        if "\0" in (value if kind is str else "".join(value)):
            raise SandboxError(f"{what}: config.{key}: contains a NUL byte")
    return config


def _rmtree(path: str) -> None:
    """Layers hold read-only directories and device nodes; as root that is no
    obstacle, but a directory made immutable elsewhere is reported, not hidden."""
    shutil.rmtree(path)
