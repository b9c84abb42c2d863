"""Import an image archive into the store: OCI image layout or docker-archive.

Formats relied upon:
- OCI image layout (image-spec layout.md): `oci-layout`, `index.json` whose
  `manifests` are descriptors (mediaType, digest, size, platform,
  annotations["org.opencontainers.image.ref.name"]), and `blobs/sha256/<hex>`.
  A descriptor may point to a nested image index (a multi-platform image).
- docker-archive (`docker save`): `manifest.json`, a list of
  {"Config": file, "RepoTags": [...], "Layers": [file, ...]}.  Layer files are
  uncompressed tars, so their sha256 is the diff_id the config lists; a config
  named `<hex>.json` or `blobs/sha256/<hex>` is named by its own digest.
  Newer docker writes both formats into one tar; then the OCI side is used.
- An image config lists `rootfs.diff_ids`, the digests of the uncompressed
  layers, bottom first; layers are unpacked once per diff_id.

Nothing from the archive is trusted before its digest is checked: blobs are
hashed while copied into the store, and layers are unpacked from the store's
verified copy, with the uncompressed stream hashed against the diff_id.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tarfile

from sentry.errors import SandboxError
from sentry.images import unpack
from sentry.images.store import Store, _rmtree, check_config, check_manifest, parse_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
PLATFORM = ("linux", "amd64")
MAX_JSON = 16 << 20


def _stderr(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class _Archive:
    """Members of the outer tar by normalised name ("./a/b" -> "a/b")."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.tar = tarfile.open(path, "r:*")
            self.members = {os.path.normpath(m.name).lstrip("/"): m for m in self.tar.getmembers()
                            if m.isfile() or m.issym() or m.islnk()}
        except tarfile.ReadError:
            raise SandboxError(f"{path}: not a tar archive (plain, gzip, bzip2 or xz)") from None
        except OSError as e:
            raise SandboxError(f"{path}: cannot read the archive ({e.strerror or e})") from None
        except (tarfile.TarError, EOFError) as e:
            raise SandboxError(f"{path}: cannot read the archive ({e})") from None

    def open(self, name: str):
        m = self.members.get(os.path.normpath(name).lstrip("/"))
        f = self.tar.extractfile(m) if m is not None else None
        if f is None:
            raise SandboxError(f"{self.path}: the archive has no {name}")
        return f

    def json(self, name: str):
        data = self.open(name).read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise SandboxError(f"{self.path}: {name} is implausibly large")
        try:
            return json.loads(data)
        except ValueError:
            raise SandboxError(f"{self.path}: {name} is not valid JSON") from None


def import_archive(store: Store, path: str, progress=_stderr) -> list[str]:
    """Import every image in the archive at `path`; returns the refs recorded."""
    arc = _Archive(path)
    with store.locked():
        try:
            if "oci-layout" in arc.members and "index.json" in arc.members:
                return _import_oci(store, arc, progress)
            if "manifest.json" in arc.members:
                return _import_docker(store, arc, progress)
            raise SandboxError(f"{path}: neither an OCI image layout (oci-layout, index.json) "
                               "nor a docker-archive (manifest.json)")
        except BaseException:
            store.gc()            # drop the blobs and layers of the half-done import
            raise
        finally:
            arc.tar.close()


# -- OCI image layout ---------------------------------------------------------

def _blob(store: Store, arc: _Archive, desc: dict, what: str) -> str:
    """Copy the blob a descriptor names into the store, verified; its digest."""
    if not isinstance(desc, dict) or "digest" not in desc:
        raise SandboxError(f"{arc.path}: malformed {what} descriptor")
    digest = desc["digest"]
    hexd = parse_digest(digest)
    size = desc.get("size")
    store.put_blob(digest, arc.open(f"blobs/sha256/{hexd}"), size if isinstance(size, int) else None, what)
    return digest


def _ref_name(name, where: str) -> str:
    """A name an archive gives an image: it becomes a key of refs.json and a
    line of `images ls`, so no whitespace or control characters."""
    if not isinstance(name, str) or not name or len(name) > 512 or not name.isprintable() \
            or any(c.isspace() for c in name):
        raise SandboxError(f"{where}: {ascii(name)[:80]} is not a usable image name")
    return name


def _import_oci(store: Store, arc: _Archive, progress) -> list[str]:
    index = arc.json("index.json")
    if not isinstance(index, dict):
        raise SandboxError(f"{arc.path}: index.json is not a JSON object")
    chosen = _pick(store, arc, index.get("manifests", []), None)
    refs = []
    for desc, name in chosen:
        digest = _blob(store, arc, desc, "manifest")
        manifest = store.read_json(digest)
        _check_manifest(arc, manifest, digest)
        cfg_digest = _blob(store, arc, manifest["config"], "config")
        config = store.read_json(cfg_digest)
        blobs = [_blob(store, arc, layer, f"layer {i + 1}") for i, layer in enumerate(manifest["layers"])]
        _unpack_layers(store, blobs, config, progress)
        ref = name or digest
        store.tag(ref, digest)
        progress(f"imported {ref} ({digest})")
        refs.append(ref)
    return refs


def _pick(store, arc, descs, name) -> list[tuple[dict, str | None]]:
    """Flatten an index to image manifests, keeping linux/amd64 where the
    index offers several platforms."""
    if not isinstance(descs, list) or not descs:
        raise SandboxError(f"{arc.path}: index.json lists no manifests")
    plat = [d for d in descs if isinstance(d, dict) and isinstance(d.get("platform"), dict)]
    if len(descs) > 1 and plat:
        wanted = [d for d in descs if _platform(d) in (PLATFORM, None)]
        if not wanted:
            have = ", ".join(sorted({"/".join(_platform(d)) for d in plat}))
            raise SandboxError(f"{arc.path}: no linux/amd64 image (the archive has {have})")
        descs = wanted[:1] if name is not None else wanted
    out = []
    for i, d in enumerate(descs):
        if not isinstance(d, dict):
            raise SandboxError(f"{arc.path}: manifests[{i}] is not a descriptor object")
        ann = d.get("annotations") or {}
        if not isinstance(ann, dict):
            raise SandboxError(f"{arc.path}: manifests[{i}].annotations is not an object")
        ref = ann.get("io.containerd.image.name") or ann.get(REF_NAME) or name
        if ref is not None:
            ref = _ref_name(ref, f"{arc.path}: manifests[{i}].annotations")
        if d.get("mediaType") in (OCI_INDEX, DOCKER_LIST):
            digest = _blob(store, arc, d, "index")
            out += _pick(store, arc, store.read_json(digest).get("manifests", []), ref or digest)
        else:
            out.append((d, ref))
    return out


def _platform(d: dict):
    p = d.get("platform")
    return (p.get("os"), p.get("architecture")) if isinstance(p, dict) else None


def _check_manifest(arc, manifest, digest) -> None:
    check_manifest(manifest, f"{arc.path}: manifest {digest}")


def _unpack_layers(store: Store, blobs: list[str], config: dict, progress) -> None:
    diff_ids = check_config(config, "image config")["rootfs"]["diff_ids"]
    if len(diff_ids) != len(blobs):
        raise SandboxError(f"image config lists {len(diff_ids)} diff_ids for {len(blobs)} layers")
    for i, (blob, diff_id) in enumerate(zip(blobs, diff_ids)):
        parse_digest(diff_id)
        label = f"layer {i + 1}/{len(blobs)} {diff_id[:19]}"
        if store.has_layer(diff_id):
            progress(f"{label}: already unpacked")
            continue
        size = os.path.getsize(store.blob_path(blob))
        progress(f"{label}: unpacking ({size / 1e6:.1f} MB)")
        tmp = store.new_layer_dir()
        try:
            got = unpack.unpack(store.blob_path(blob), tmp)
            if got != diff_id:
                raise SandboxError(f"{label}: uncompressed content hashes to {got}, "
                                   f"the image config says {diff_id}")
            store.commit_layer(tmp, diff_id)
        except BaseException:
            if os.path.exists(tmp):
                _rmtree(tmp)
            raise


# -- docker-archive -----------------------------------------------------------

def _hash(arc: _Archive, name: str) -> tuple[str, int]:
    f, h, n = arc.open(name), hashlib.sha256(), 0
    while chunk := f.read(1 << 20):
        h.update(chunk)
        n += len(chunk)
    return "sha256:" + h.hexdigest(), n


def _named_digest(name: str) -> str | None:
    """The digest a docker-archive file name claims, if it claims one."""
    base = os.path.basename(name)
    base = base[:-5] if base.endswith(".json") else base
    return "sha256:" + base if len(base) == 64 and all(c in "0123456789abcdef" for c in base) else None


def _import_docker(store: Store, arc: _Archive, progress) -> list[str]:
    entries = arc.json("manifest.json")
    if not isinstance(entries, list) or not entries:
        raise SandboxError(f"{arc.path}: manifest.json lists no images")
    refs = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("Config"), str) or not isinstance(e.get("Layers"), list) \
                or not all(isinstance(name, str) for name in e["Layers"]):
            raise SandboxError(f"{arc.path}: malformed manifest.json entry")
        cfg_digest, cfg_size = _hash(arc, e["Config"])
        claimed = _named_digest(e["Config"])
        if claimed and claimed != cfg_digest:
            raise SandboxError(f"config {e['Config']}: digest mismatch (content hashes to {cfg_digest}); "
                               "the archive is corrupt or was tampered with")
        store.put_blob(cfg_digest, arc.open(e["Config"]), cfg_size, "config")
        config = store.read_json(cfg_digest)
        layers = []
        blobs: list[str] = []            # the layers' digests, in order
        for i, name in enumerate(e["Layers"]):
            digest, size = _hash(arc, name)
            claimed = _named_digest(name)
            if claimed and claimed != digest:
                raise SandboxError(f"layer {name}: digest mismatch (content hashes to {digest}); "
                                   "the archive is corrupt or was tampered with")
            store.put_blob(digest, arc.open(name), size, f"layer {i + 1}")
            with open(store.blob_path(digest), "rb") as f:
                gz = f.read(2) == b"\x1f\x8b"
            media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
            layers.append({"mediaType": media, "digest": digest, "size": size})
            blobs.append(digest)
        # Layers are checked against the config's diff_ids while unpacked.
        _unpack_layers(store, blobs, config, progress)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": cfg_digest, "size": cfg_size},
                    "layers": layers}
        digest = store.put_bytes(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
        repo_tags = e.get("RepoTags") or []
        if not isinstance(repo_tags, list):
            raise SandboxError(f"{arc.path}: manifest.json: RepoTags is not a list")
        tags = [_ref_name(t, f"{arc.path}: manifest.json RepoTags") for t in repo_tags] or [digest]
        for t in tags:
            store.tag(t, digest)
            progress(f"imported {t} ({digest})")
        refs += tags
    return refs
