"""ImageService on the shared image store (sentry.oci.store.Store(root)).

The store keeps names (`busybox:latest`, `127.0.0.1:5000/app:1`, as
`pysandbox images` shows them) pointing at manifest digests.  To the CRI an
image is identified by its config digest (Image.id, as containerd and
docker do): it is what PullImage returns as image_ref, what ListImages and
ImageStatus report as id, and what containers report as image_id.  A
request may name an image by that id (with or without `sha256:`, or a
unique hex prefix of at least 12 digits), by a name in the store, or by any
spelling of a reference that normalises to one (`docker.io/library/busybox`
is `busybox:latest`).

RemoveImage removes every name of the image (the CRI says so) and then
collects unreferenced blobs and layers; it refuses while a container uses
the image, since its layers are the lower layers of that container's
mounted root filesystem.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time

from cri_handler.errors import FailedPrecondition, InvalidArgument, Unimplemented
from cri_handler.v1 import api_pb2, api_pb2_grpc
from sentry.errors import SandboxError
from sentry.images import registries
from sentry.images.store import Image, Store

log = logging.getLogger(__name__)

HANDLERS = ("pysandbox", "")


class Images:
    """The store seen as CRI images.  Reads need no lock (the store renames
    every change into place); pulls and removals are serialised here and by
    the store's own lock."""

    def __init__(self, store: Store, registry_config: str | None = None, in_use=None):
        self.store = store
        self.registry_config = registry_config or None
        self.in_use = in_use or (lambda image_id: [])
        self._lock = threading.Lock()

    # -- the index: config digest -> (manifest digests, names) --------------------

    def _index(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for name, mdigest in sorted(self.store.refs().items()):
            try:
                manifest = self.store.read_json(mdigest)
                cdigest = manifest["config"]["digest"]
                size = self.store.size(manifest)
            except (SandboxError, KeyError, TypeError):
                continue
            e = out.setdefault(cdigest, {"manifests": {}, "names": [], "size": size})
            e["manifests"][mdigest] = manifest
            e["names"].append(name)
        return out

    def _lookup(self, ref: str) -> tuple[str, dict] | None:
        """(image id, index entry) for any spelling of ref, or None."""
        if not ref:
            return None
        index = self._index()
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        if len(hexpart) >= 12 and all(c in "0123456789abcdef" for c in hexpart):
            hits = [i for i in index if i[7:].startswith(hexpart)]
            if len(hits) == 1:
                return hits[0], index[hits[0]]
        names = {ref}
        try:
            r = registries.parse(ref)
            names |= {r.familiar, r.canonical}
        except SandboxError:
            pass
        for image_id, e in index.items():
            if names & set(e["names"]):
                return image_id, e
            for mdigest in e["manifests"]:     # name@sha256:<manifest digest>
                if any(n.endswith("@" + mdigest) for n in names) or ref == mdigest:
                    return image_id, e
        return None

    @staticmethod
    def check_ref(ref: str, field: str = "image.image") -> None:
        """InvalidArgument unless ref is an image id or a well-formed reference."""
        if not ref:
            raise InvalidArgument(f"{field}: missing")
        if len(ref) > 4096:
            raise InvalidArgument(f"{field}: {len(ref)} characters is too long for an image reference")
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        if len(hexpart) >= 12 and all(c in "0123456789abcdef" for c in hexpart):
            return
        try:
            registries.parse(ref)
        except SandboxError as e:
            raise InvalidArgument(f"{field}: {e}") from None

    def resolve(self, ref: str) -> Image | None:
        """The store's Image for ref (layers, config), or None."""
        hit = self._lookup(ref)
        if hit is None:
            return None
        _, e = hit
        try:
            return self.store.image(e["names"][0])
        except SandboxError as err:
            log.warning("image unusable", extra={"image": ref, "error": str(err)})
            return None

    @staticmethod
    def image_id(image: Image) -> str:
        return image.manifest["config"]["digest"]

    def repo_digest(self, name: str) -> str:
        """name@<manifest digest> for a stored name, or ""."""
        digest = self.store.refs().get(name)
        if not digest:
            return ""
        return f"{_repo(name)}@{digest}"

    def to_proto(self, image_id: str, e: dict):
        img = api_pb2.Image(id=image_id, size=max(1, e["size"]))
        img.repo_tags.extend(n for n in e["names"] if "@" not in n)
        digests = []
        for n in e["names"]:
            for md in e["manifests"]:
                if self.store.refs().get(n) == md:
                    digests.append(f"{_repo(n)}@{md}")
        img.repo_digests.extend(dict.fromkeys(digests))
        img.spec.image = image_id
        try:
            config = self.store.read_json(image_id).get("config") or {}
        except SandboxError:
            config = {}
        user = (config.get("User") or "").split(":")[0]
        if user.isdigit():
            img.uid.value = int(user)
        elif user:
            img.username = user
        return img

    # -- the RPCs --------------------------------------------------------------------

    def list(self, flt) -> list:
        if flt.image.image:
            hit = self._lookup(flt.image.image)
            return [self.to_proto(*hit)] if hit else []
        return [self.to_proto(i, e) for i, e in self._index().items()]

    def status(self, spec, verbose: bool):
        resp = api_pb2.ImageStatusResponse()
        _check_spec(spec)
        hit = self._lookup(spec.image)
        if hit is None:
            return resp                       # the CRI: an absent image is no error, image unset
        resp.image.CopyFrom(self.to_proto(*hit))
        if verbose:
            try:
                resp.info["info"] = json.dumps({"config": self.store.read_json(hit[0]),
                                                "names": hit[1]["names"]}, sort_keys=True)
            except SandboxError:
                pass
        return resp

    def pull(self, req) -> str:
        from sentry.images.registry import pull
        spec = req.image
        _check_spec(spec)
        ref = spec.image
        if not ref:
            raise InvalidArgument("image.image: missing")
        try:
            registries.parse(ref)
        except SandboxError as e:
            raise InvalidArgument(f"image.image: {e}") from None
        creds = _creds(req.auth) if req.HasField("auth") else None
        config = registries.load(self.registry_config)
        started = time.monotonic()
        with self._lock:
            name, digest = pull(self.store, ref, config=config, creds=creds)
        image = self.store.image(name)
        image_id = self.image_id(image)
        log.info("image pulled", extra={"image": ref, "stored_as": name, "manifest": digest, "id": image_id,
                                        "seconds": round(time.monotonic() - started, 3)})
        return image_id

    def remove(self, spec) -> None:
        _check_spec(spec)
        if not spec.image:
            raise InvalidArgument("image.image: missing")
        with self._lock:
            hit = self._lookup(spec.image)
            if hit is None:
                return                        # already removed: fine (idempotent)
            image_id, e = hit
            users = self.in_use(image_id)
            if users:
                raise FailedPrecondition(f"image {spec.image} is used by container(s) {', '.join(users)}; "
                                         "remove them first")
            with self.store.locked():
                for mdigest in e["manifests"]:
                    try:
                        self.store.remove(mdigest)
                    except SandboxError as err:
                        if "no image" not in str(err):
                            raise
        log.info("image removed", extra={"image": spec.image, "id": image_id, "names": e["names"]})

    def fs_info(self):
        now = time.time_ns()
        resp = api_pb2.ImageFsInfoResponse()
        used = inodes = 0
        from cri_handler.rootfs import disk_usage
        for sub in ("blobs", "layers"):
            u, i = disk_usage(os.path.join(self.store.root, sub))
            used, inodes = used + u, inodes + i
        fs = resp.image_filesystems.add()
        fs.timestamp = now
        fs.fs_id.mountpoint = self.store.root
        fs.used_bytes.value, fs.inodes_used.value = used, inodes
        return resp


class ImageServicer(api_pb2_grpc.ImageServiceServicer):
    """Thin: each RPC calls Images; errors are mapped by server.wrap."""

    def __init__(self, images: Images):
        self.images = images

    def ListImages(self, request, context):
        return api_pb2.ListImagesResponse(images=self.images.list(request.filter))

    def StreamImages(self, request, context):
        images = self.images.list(request.filter)
        for i in range(0, len(images), 100):
            yield api_pb2.StreamImagesResponse(images=images[i:i + 100])

    def ImageStatus(self, request, context):
        return self.images.status(request.image, request.verbose)

    def PullImage(self, request, context):
        return api_pb2.PullImageResponse(image_ref=self.images.pull(request))

    def RemoveImage(self, request, context):
        self.images.remove(request.image)
        return api_pb2.RemoveImageResponse()

    def ImageFsInfo(self, request, context):
        return self.images.fs_info()


def _check_spec(spec) -> None:
    if spec.runtime_handler not in HANDLERS:
        raise InvalidArgument(f"image.runtime_handler {spec.runtime_handler!r}: unknown; this runtime serves "
                              "'pysandbox' and ''")
    if len(spec.image) > 4096:
        raise InvalidArgument(f"image.image: {len(spec.image)} characters is too long for an image reference")


def _creds(auth) -> tuple[str, str] | None:
    if auth.username or auth.password:
        return auth.username, auth.password
    if auth.auth:
        try:
            user, sep, password = base64.b64decode(auth.auth, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument("auth.auth: not base64 of USER:PASSWORD") from None
        if not sep:
            raise InvalidArgument("auth.auth: not base64 of USER:PASSWORD")
        return user, password
    if auth.identity_token or auth.registry_token:
        raise Unimplemented("auth: identity and registry tokens are not supported; give username and password")
    return None


def _repo(name: str) -> str:
    """busybox:latest -> busybox; 127.0.0.1:5000/app:1 -> 127.0.0.1:5000/app; NAME@sha256:.. -> NAME."""
    name = name.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name
