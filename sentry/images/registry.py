"""Pull an image from a registry over the OCI distribution API into the store.

Protocol facts relied upon (OCI distribution-spec v1.1, Docker registry v2):
- GET /v2/<name>/manifests/<tag|digest> with an Accept list returns the
  manifest; its identity is the sha256 of the exact bytes sent.  Pulling by
  digest is trustworthy only after checking those bytes against the digest;
  a tag is whatever the registry says.
- An OCI image index or Docker manifest list names one manifest per
  platform ("platform": {"os", "architecture", ...}); we take linux/amd64.
  Docker schema 1 manifests (signed, no config blob) are not supported.
- GET /v2/<name>/blobs/<digest> returns the blob, often via a 307 redirect to
  another host (a CDN).  The Authorization header must not follow it there.
- 401 carries `WWW-Authenticate: Basic realm=...` (send the credentials) or
  `Bearer realm=...,service=...,scope=...`: GET realm?service=&scope= (with
  Basic credentials if we have them, anonymously otherwise) returns JSON with
  `token` (or the OAuth2 `access_token`), sent back as `Bearer <token>`.
- Errors have a JSON body {"errors": [{"code", "message"}]}; MANIFEST_UNKNOWN
  and NAME_UNKNOWN mean 404, UNAUTHORIZED 401, DENIED 403.

What is checked (as `images import` does): every blob's sha256 and size while
it streams into the store, before it gets its name there; each layer's
diff_id while it is unpacked (importer._unpack_layers).  A blob the store
already has is not fetched again: a store file is always what its name says.
A failed pull runs the store's gc under the lock, so no partial blob, layer
or ref survives it.

Network: every connect and every read has a timeout; requests that fail in a
way that may pass (connection reset, timeout, 429, 5xx) are tried at most
RETRIES times in all.  Connections are not reused: a pull makes few requests.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from sentry.errors import SandboxError
from sentry.images import registries
from sentry.images.importer import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST, PLATFORM, _unpack_layers
from sentry.images.registries import Endpoint, Reference
from sentry.images.store import Store, parse_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
CONFIG_TYPES = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
USER_AGENT = "pysandbox"
TIMEOUT = 30.0             # seconds, for each connect and each read
RETRIES = 3
MAX_MANIFEST = 4 << 20     # what distribution-spec says registries must accept
MAX_CONFIG = 16 << 20
MAX_SMALL = 1 << 20        # token and error bodies
MAX_REDIRECTS = 5
_CHUNK = 1 << 20


@dataclass
class Progress:
    """One event for a progress display."""
    what: str                 # "config", "layer 2/3"
    digest: str
    done: int                 # bytes so far
    total: int | None
    state: str                # "download", "done", "exists", or "note" (message says what)
    message: str = ""


class _Unavailable(SandboxError):
    """This endpoint cannot serve the image (unreachable, 401/403/404, 5xx):
    the next mirror, or the registry itself, may."""


def pull(store: Store, ref: str, *, config: registries.Config | None = None,
         creds: tuple[str, str] | None = None, insecure: bool = False,
         progress=None, timeout: float = TIMEOUT) -> tuple[str, str]:
    """Pull REF into `store`; returns (the ref recorded, the image manifest's
    digest).  config=None reads the default registries config; creds are for
    the registry REF names (not its mirrors); insecure allows plain http and
    unverified TLS for every endpoint; progress gets Progress events."""
    r = registries.parse(ref)
    if config is None:
        config = registries.load(None)
    emit = progress or (lambda ev: None)
    eps = registries.endpoints(r, config, creds=creds, insecure=insecure)
    ep, manifest, raw, digest = _manifest_from_any(eps, r, timeout)
    name = r.familiar
    with store.locked():
        try:
            cfg_desc = manifest["config"]
            cfg_digest = _fetch_blob(store, ep, r, cfg_desc, "config", emit, timeout, MAX_CONFIG)
            image_config = store.read_json(cfg_digest)
            if not isinstance(image_config, dict):
                raise SandboxError(f"{name}: the image config {cfg_digest} is not a JSON object")
            layers = manifest["layers"]
            blobs = [_fetch_blob(store, ep, r, desc, f"layer {i + 1}/{len(layers)}", emit, timeout)
                     for i, desc in enumerate(layers)]
            _unpack_layers(store, blobs, image_config,
                           lambda msg: emit(Progress("unpack", "", 0, None, "note", msg)))
            store.put_bytes(raw)        # the exact bytes: their sha256 is `digest`
            store.tag(name, digest)
        except BaseException:
            store.gc()          # drop what this pull added; the lock is still ours
            raise
    return name, digest


# -- manifests ------------------------------------------------------------------

def _manifest_from_any(eps: list[Endpoint], r: Reference, timeout: float):
    """Try each endpoint in turn; the first that serves the manifest also
    serves the blobs.  A digest mismatch is not "unavailable": it stops."""
    errors = []
    for ep in eps:
        if ep.problem:
            errors.append(ep.problem)
            continue
        try:
            return (ep, *_image_manifest(ep, r, timeout))
        except _Unavailable as e:
            errors.append(str(e))
    if len(errors) == 1:
        raise SandboxError(errors[0])
    raise SandboxError(f"cannot pull {r.familiar}: " + "; ".join(errors))


def _image_manifest(ep: Endpoint, r: Reference, timeout: float) -> tuple[dict, bytes, str]:
    """Fetch the manifest REF names, resolving an index to its linux/amd64
    image: (manifest, its bytes, their digest)."""
    data, ctype = _get_manifest(ep, r, r.manifest_ref, timeout)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if r.digest and digest != r.digest:
        raise SandboxError(f"{r.familiar}: manifest digest mismatch: {ep.name} sent content hashing to {digest}; "
                           "the registry is corrupt or the content was tampered with")
    for _depth in range(3):
        doc, kind = _decode_manifest(data, ctype, f"{r.familiar} ({digest})")
        if kind == "manifest":
            return doc, data, digest
        desc = _pick_platform(doc, r)
        named = desc.get("digest")
        want = named if isinstance(named, str) else ""     # parse_digest names a bad one
        parse_digest(want)
        data, ctype = _get_manifest(ep, r, want, timeout)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest != want or (isinstance(desc.get("size"), int) and desc["size"] != len(data)):
            raise SandboxError(f"{r.familiar}: platform manifest {want}: digest or size mismatch "
                               f"({ep.name} sent {len(data)} bytes hashing to {digest}); "
                               "the registry is corrupt or the content was tampered with")
    raise SandboxError(f"{r.familiar}: image indexes nested too deeply")


def _get_manifest(ep: Endpoint, r: Reference, which: str, timeout: float) -> tuple[bytes, str]:
    resp = _request(ep, r, f"/v2/{r.repository}/manifests/{which}", timeout, accept=ACCEPT)
    try:
        sep = "@" if which.startswith("sha256:") else ":"
        _check_status(resp, ep, r, f"{r.repository}{sep}{which}")
        data = _read_limited(resp, MAX_MANIFEST, f"{r.familiar}: manifest {which} from {ep.name}", ep, timeout)
        return data, (resp.getheader("Content-Type") or "").split(";")[0].strip()
    finally:
        resp.close()


def _decode_manifest(data: bytes, ctype: str, what: str) -> tuple[dict, str]:
    """-> (document, "index" | "manifest"), or a SandboxError saying why not."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise SandboxError(f"{what}: the manifest is not valid JSON") from None
    if not isinstance(doc, dict):
        raise SandboxError(f"{what}: the manifest is not a JSON object")
    if ctype in DOCKER_SCHEMA1 or doc.get("mediaType") in DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise SandboxError(f"{what}: Docker schema 1 manifests are not supported (push the image again "
                           "with a current client)")
    # mediaType is optional in OCI documents; without it the shape decides
    # (servers differ in the Content-Type they give such documents).
    mtype = doc.get("mediaType") or (OCI_INDEX if "manifests" in doc else OCI_MANIFEST)
    if mtype in (OCI_INDEX, DOCKER_LIST):
        if not isinstance(doc.get("manifests"), list):
            raise SandboxError(f"{what}: malformed image index (no manifests list)")
        return doc, "index"
    if mtype not in (OCI_MANIFEST, DOCKER_MANIFEST):
        raise SandboxError(f"{what}: unsupported manifest media type {mtype!r}")
    cfg, layers = doc.get("config"), doc.get("layers")
    if not isinstance(cfg, dict) or not isinstance(layers, list) \
            or not all(isinstance(d, dict) for d in layers):
        raise SandboxError(f"{what}: malformed image manifest (needs a config descriptor and a layers list)")
    if cfg.get("mediaType") not in (*CONFIG_TYPES, None):
        raise SandboxError(f"{what}: not a container image (config media type {cfg.get('mediaType')!r})")
    for i, d in enumerate(layers):
        mt = d.get("mediaType") or ""
        if "zstd" in mt:
            raise SandboxError(f"{what}: layer {i + 1} is zstd-compressed ({mt}), which is not supported yet")
    return doc, "manifest"


def _pick_platform(index: dict, r: Reference) -> dict:
    descs = [d for d in index["manifests"] if isinstance(d, dict)]

    def plat(d):
        p = d.get("platform")
        return (p.get("os"), p.get("architecture")) if isinstance(p, dict) else None
    hits = [d for d in descs if plat(d) == PLATFORM]
    # Prefer the plain variant-less entry; an index without platforms and with
    # one entry is a wrapper around a single image.
    hits.sort(key=lambda d: bool((d.get("platform") or {}).get("variant")))
    if not hits and len(descs) == 1 and plat(descs[0]) is None:
        hits = descs
    if not hits:
        have = sorted({"/".join(map(str, plat(d))) for d in descs if plat(d)}) or ["no platforms"]
        raise SandboxError(f"{r.familiar}: no linux/amd64 image in the index (it has {', '.join(have)})")
    return hits[0]


# -- blobs ----------------------------------------------------------------------

class _VerifyingReader:
    """Read-through sha256 and size check of a blob as it streams, so a
    tampered blob is refused with a message about the registry, and a
    registry that sends more than the descriptor's size is cut off."""

    def __init__(self, resp, digest: str, size: int, label: str, on_data):
        self.resp, self.digest, self.size, self.label, self.on_data = resp, digest, size, label, on_data
        self.h, self.n = hashlib.sha256(), 0

    def read(self, n: int = _CHUNK) -> bytes:
        n = min(n, self.size - self.n + 1)
        data = self.resp.read(n)
        self.n += len(data)
        self.h.update(data)
        if self.n > self.size:
            raise SandboxError(f"{self.label}: the registry sent more than the {self.size} bytes "
                               "the manifest says; refused")
        if not data:
            got = "sha256:" + self.h.hexdigest()
            if got != self.digest:
                raise SandboxError(f"{self.label}: digest mismatch (the registry sent content hashing to {got}); "
                                   "the registry's copy is corrupt or was tampered with")
            if self.n != self.size:
                raise SandboxError(f"{self.label}: size mismatch ({self.n} bytes, the manifest says {self.size})")
        else:
            self.on_data(self.n)
        return data


def _fetch_blob(store: Store, ep: Endpoint, r: Reference, desc, what: str, emit, timeout: float,
                limit: int | None = None) -> str:
    """Stream the blob `desc` names into the store, verified; its digest."""
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
        raise SandboxError(f"{r.familiar}: malformed {what} descriptor in the manifest")
    digest = desc["digest"]
    parse_digest(digest)
    size = desc.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise SandboxError(f"{r.familiar}: the {what} descriptor has no valid size")   # required by image-spec
    if limit is not None and size > limit:
        raise SandboxError(f"{r.familiar}: {what} {digest} is implausibly large ({size} bytes)")
    label = f"{what} {digest}"
    if store.has_blob(digest):
        emit(Progress(what, digest, size, size, "exists"))
        return digest
    for attempt in range(RETRIES):
        resp = _request(ep, r, f"/v2/{r.repository}/blobs/{digest}", timeout)
        try:
            _check_status(resp, ep, r, f"{label} of {r.repository}", fatal=True)
            emit(Progress(what, digest, 0, size, "download"))
            src = _VerifyingReader(resp, digest, size, label,
                                   lambda n: emit(Progress(what, digest, n, size, "download")))
            store.put_blob(digest, src, size, what)
            emit(Progress(what, digest, src.n, size, "done"))
            return digest
        except (OSError, http.client.HTTPException) as e:
            if attempt == RETRIES - 1 or not _transient(e):
                raise SandboxError(f"{label}: download from {ep.name} failed: {_describe(e, timeout)}") from None
            time.sleep(0.5 * (attempt + 1))
        finally:
            resp.close()
    raise AssertionError("unreachable")


# -- HTTP -----------------------------------------------------------------------

@dataclass
class _Response:
    """An HTTPResponse that owns its connection."""
    resp: http.client.HTTPResponse
    conn: http.client.HTTPConnection
    url: str

    @property
    def status(self) -> int:
        return self.resp.status

    def getheader(self, name: str):
        return self.resp.getheader(name)

    def read(self, n: int = -1) -> bytes:
        return self.resp.read(n)

    def close(self) -> None:
        self.resp.close()
        self.conn.close()


_TLS: dict[bool, ssl.SSLContext] = {}


def _tls(insecure: bool) -> ssl.SSLContext:
    if insecure not in _TLS:
        ctx = ssl.create_default_context()
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        _TLS[insecure] = ctx
    return _TLS[insecure]


def _send(url: str, headers: dict, insecure: bool, timeout: float) -> _Response:
    """One GET, following redirects; Authorization stays with its host."""
    headers = dict(headers)
    for _ in range(MAX_REDIRECTS + 1):
        u = urlsplit(url)
        try:
            if not u.hostname:
                raise ValueError("no host")
            conn: http.client.HTTPConnection
            if u.scheme == "https":
                conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=_tls(insecure))
            else:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        except ValueError as e:        # a bad port or host in a Location or realm the server sent
            raise SandboxError(f"{u.netloc or url[:100]}: unusable URL {url[:200]!r} ({e})") from None
        try:
            conn.request("GET", (u.path or "/") + (f"?{u.query}" if u.query else ""), headers=headers)
            resp = conn.getresponse()
        except UnicodeError:
            conn.close()
            raise SandboxError(f"{u.netloc}: unusable URL {url[:200]!r} (not ASCII)") from None
        except BaseException:
            conn.close()
            raise
        location = resp.getheader("Location")
        if resp.status not in (301, 302, 303, 307, 308) or not location:
            return _Response(resp, conn, url)
        resp.read(MAX_SMALL)
        resp.close()
        conn.close()
        new = urljoin(url, location)
        nu = urlsplit(new)
        if nu.scheme not in ("http", "https") or (nu.scheme == "http" and u.scheme == "https" and not insecure):
            raise SandboxError(f"{u.netloc}: refused a redirect from https to {nu.scheme}://{nu.netloc}")
        if (nu.scheme, nu.netloc) != (u.scheme, u.netloc):
            headers.pop("Authorization", None)
        url = new
    raise SandboxError(f"{urlsplit(url).netloc}: too many redirects")


def _request(ep: Endpoint, r: Reference, path: str, timeout: float, accept: str | None = None) -> _Response:
    """GET ep.base+path with retries, the https->http fallback of insecure
    registries, and the 401 dance (once per request).  Unreachable endpoints
    raise _Unavailable."""
    authed, attempt = False, 0
    while True:
        headers = {"User-Agent": USER_AGENT}
        if accept:
            headers["Accept"] = accept
        if ep.auth:
            headers["Authorization"] = ep.auth
        try:
            resp = _send(ep.base + path, headers, ep.insecure, timeout)
        except (OSError, http.client.HTTPException) as e:
            if ep.fallback and ep.base.startswith("https://") and isinstance(e, (ssl.SSLError, ConnectionError)):
                ep.base, ep.fallback = "http://" + ep.base[8:], False     # speaks plain http, as docker assumes
                continue
            attempt += 1
            if attempt >= RETRIES or not _transient(e):
                raise _Unavailable(f"{ep.name}: {_describe(e, timeout)}") from None
            time.sleep(0.5 * attempt)
            continue
        if resp.status == 401 and not authed:
            challenge = resp.getheader("WWW-Authenticate") or ""
            resp.read(MAX_SMALL)
            resp.close()
            ep.auth = _authenticate(ep, r, challenge, timeout)
            authed = True
            continue
        if resp.status in (429, 500, 502, 503, 504) and attempt < RETRIES - 1:
            resp.close()
            attempt += 1
            time.sleep(0.5 * attempt)
            continue
        return resp


def _transient(e: BaseException) -> bool:
    return isinstance(e, (TimeoutError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
                          http.client.IncompleteRead, http.client.RemoteDisconnected))


def _describe(e: BaseException, timeout: float) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return (f"TLS certificate verification failed ({e.verify_message}); if you trust this registry, "
                "mark it insecure in the registry config or pass --insecure")
    if isinstance(e, ssl.SSLError):
        hint = "; does it speak plain HTTP? then mark it insecure in the registry config or pass --insecure" \
            if e.reason == "WRONG_VERSION_NUMBER" else ""
        return f"TLS handshake failed ({e.reason or e}){hint}"
    if isinstance(e, ConnectionRefusedError):
        return "cannot connect: connection refused (is the registry running, and is the port right?)"
    if isinstance(e, socket.gaierror):
        return f"cannot resolve the host name ({e.strerror})"
    if isinstance(e, TimeoutError):
        return f"no answer within {timeout:g}s"
    if isinstance(e, http.client.IncompleteRead):
        return "the connection closed in the middle of the response"
    if isinstance(e, http.client.HTTPException):
        return f"not a valid HTTP response ({type(e).__name__})"
    return f"cannot connect: {e.strerror or e}" if isinstance(e, OSError) else str(e)


def _read_limited(resp: _Response, limit: int, what: str, ep: Endpoint, timeout: float) -> bytes:
    try:
        data = resp.read(limit + 1)
    except (OSError, http.client.HTTPException) as e:
        raise _Unavailable(f"{ep.name}: {_describe(e, timeout)}") from None
    if len(data) > limit:
        raise SandboxError(f"{what} is larger than {limit >> 20} MiB; refused")
    return data


def _api_error(resp: _Response) -> str:
    """'CODE: message' from a distribution error body, or the HTTP reason."""
    try:
        body = json.loads(resp.read(MAX_SMALL) or b"{}")
        errs = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            return f"{errs[0].get('code', '?')}: {errs[0].get('message', '')}".strip()
    except (ValueError, OSError, http.client.HTTPException):
        pass
    return f"HTTP {resp.status} {resp.resp.reason}"


def _check_status(resp: _Response, ep: Endpoint, r: Reference, what: str, fatal: bool = False) -> None:
    """Raise for anything but 200.  Before a manifest is in hand the error is
    _Unavailable (another endpoint may do); after, it is final."""
    if resp.status == 200:
        return
    err = SandboxError if fatal else _Unavailable
    detail = _api_error(resp)
    if resp.status == 404:
        raise err(f"{ep.name}: {what} not found ({detail})")
    if resp.status == 401:
        who = "the given credentials were refused" if ep.creds else "the registry requires credentials " \
            "(--creds USER:PASS or username/password in the registry config)"
        raise err(f"{ep.name}: unauthorized: {who} ({detail})")
    if resp.status == 403:
        raise err(f"{ep.name}: denied: no permission to pull {r.repository} ({detail})")
    raise err(f"{ep.name}: {what}: unexpected answer ({detail})")


# -- auth -----------------------------------------------------------------------

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """'Bearer realm="x",service="y"' -> ("bearer", {"realm": "x", ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2).replace('\\"', '"') if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


def _basic(creds: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


def _authenticate(ep: Endpoint, r: Reference, challenge: str, timeout: float) -> str:
    """Answer a 401: the Authorization header value for the retry."""
    scheme, params = parse_challenge(challenge)
    need = "(--creds USER:PASS or username/password in the registry config)"
    if scheme == "basic":
        if not ep.creds:
            raise _Unavailable(f"{ep.name}: unauthorized: the registry requires credentials {need}")
        return _basic(ep.creds)
    if scheme != "bearer" or not params.get("realm"):
        raise _Unavailable(f"{ep.name}: unauthorized, and the registry's challenge "
                           f"{challenge[:80]!r} is not one we can answer (Basic or Bearer realm=...)")
    realm = urlsplit(params["realm"])
    if realm.scheme not in ("http", "https") or not realm.netloc:
        raise _Unavailable(f"{ep.name}: token realm {params['realm'][:200]!r} is not an http(s) URL")
    if realm.scheme == "http" and not ep.insecure:
        raise _Unavailable(f"{ep.name}: token realm {realm.netloc} is plain HTTP; refused, since credentials "
                           "and tokens would travel in clear (mark the registry insecure to allow it)")
    query = {"service": params.get("service", ""), "scope": params.get("scope") or f"repository:{r.repository}:pull"}
    url = params["realm"] + ("&" if realm.query else "?") + urlencode({k: v for k, v in query.items() if v})
    headers = {"User-Agent": USER_AGENT}
    if ep.creds:
        headers["Authorization"] = _basic(ep.creds)
    where = f"{ep.name}: token server {realm.netloc}"
    for attempt in range(RETRIES):
        try:
            resp = _send(url, headers, ep.insecure, timeout)
        except (OSError, http.client.HTTPException) as e:
            if attempt == RETRIES - 1 or not _transient(e):
                raise _Unavailable(f"{where}: {_describe(e, timeout)}") from None
            time.sleep(0.5 * (attempt + 1))
            continue
        try:
            if resp.status in (401, 403):
                who = "refused the given credentials" if ep.creds else f"refused anonymous access {need}"
                raise _Unavailable(f"{where}: unauthorized: it {who}")
            if resp.status != 200:
                raise _Unavailable(f"{where}: unexpected answer ({_api_error(resp)})")
            try:
                body = json.loads(_read_limited(resp, MAX_SMALL, where, ep, timeout))
                token = body.get("token") or body.get("access_token")
            except (ValueError, AttributeError):
                token = None
            if not isinstance(token, str) or not token or not (token.isascii() and token.isprintable()):
                raise _Unavailable(f"{where}: the answer has no usable token or access_token")
            return "Bearer " + token
        finally:
            resp.close()
    raise AssertionError("unreachable")

