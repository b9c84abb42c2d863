"""Where an image comes from: image references, the registries config file,
and the list of endpoints a pull tries.

Facts relied upon (docker's reference grammar, github.com/distribution/reference):
- REF is [DOMAIN/]PATH[:TAG][@DIGEST].  The first path component is a domain
  only if it contains "." or ":" or is "localhost"; otherwise the registry is
  docker.io, and a one-component path there gets "library/" in front
  ("busybox" -> docker.io/library/busybox).  (docker also takes a first
  component with upper-case letters for a host; we call it a bad name
  instead, which is what the user almost always meant.)
- Path components are [a-z0-9]+ joined by ".", "_", "__" or runs of "-";
  the whole name is at most 255 characters; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]
  {0,127}; no tag and no digest means ":latest".  We accept only sha256
  digests, as the store does.
- Docker Hub's API is served by registry-1.docker.io; index.docker.io and
  registry-1.docker.io are other spellings of docker.io.
- The store records a pulled image under its *familiar* name, as `docker
  save` and `docker images` do (docker.io/library/busybox:latest ->
  busybox:latest), so `run --image busybox` finds it; `canonical` gives the
  fully qualified form for callers that want it (CRI).

The config file is TOML (default /etc/pysandbox/registries.toml; a missing
default file means no settings):

    [registry."docker.io"]
    mirrors = ["http://127.0.0.1:5000"]   # tried in order, then docker.io
    [registry."127.0.0.1:5000"]
    insecure = true                       # allows http:// and unverified TLS
    [registry."myreg.example"]
    username = "u"
    password = "p"

Endpoints: mirrors in order, then the registry itself over https.  Plain
http is used only for a registry marked insecure (in the file, or for every
endpoint of one pull with --insecure): a mirror URL may say http:// then, and
a registry named without a scheme is tried over https (certificate not
verified) and, if that connection fails, over http, as docker does.
Loopback addresses get no special treatment: 127.0.0.1 must be marked
insecure like any other host, so a registry's security never depends on
where it happens to run.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sentry import inputs
from sentry.errors import SandboxError

DEFAULT_CONFIG = "/etc/pysandbox/registries.toml"
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "https://registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
MAX_REF = 512              # checked before any regex runs on the input
MAX_NAME = 255

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                     r"(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Reference:
    registry: str               # "docker.io", "127.0.0.1:5000"
    repository: str             # "library/busybox"
    tag: str | None             # None only when a digest is given alone
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        if self.registry != DOCKER_HUB:
            return self.name
        return self.repository[len("library/"):] if self.repository.startswith("library/") \
            and self.repository.count("/") == 1 else self.repository

    def _suffix(self) -> str:
        return f"@{self.digest}" if self.digest else f":{self.tag}"

    @property
    def canonical(self) -> str:
        """docker.io/library/busybox:latest, or ...@sha256:... when pinned."""
        return self.name + self._suffix()

    @property
    def familiar(self) -> str:
        """busybox:latest: the name the store records."""
        return self.familiar_name + self._suffix()

    @property
    def manifest_ref(self) -> str:
        """What goes after /manifests/ in the API path."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise SandboxError(f"image reference {self.name}: neither a tag nor a digest")


def parse(ref: str) -> Reference:
    """Parse and normalise an image reference; SandboxError names what is wrong."""
    if not isinstance(ref, str) or not ref:
        raise SandboxError("empty image reference")
    if len(ref) > MAX_REF:
        raise SandboxError(f"image reference is too long ({len(ref)} characters, at most {MAX_REF})")
    shown = repr(ref) if ref.isprintable() else ascii(ref)     # no terminal escapes in messages
    rest, _, digest = ref.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise SandboxError(f"invalid image reference {shown}: digest must be sha256:<64 lower-case hex digits>")
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise SandboxError(f"invalid image reference {shown}: bad tag {tag!r} "
                               "(letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
    first, sep, path = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain = first
        port = domain.rpartition("]")[2].partition(":")[2]
        if not _DOMAIN.fullmatch(domain) or (port and not 0 < int(port) < 65536):
            raise SandboxError(f"invalid image reference {shown}: bad registry host {domain!r}")
    else:
        domain, path = DOCKER_HUB, rest
    if domain in _HUB_ALIASES:
        domain = DOCKER_HUB
        if "/" not in path:
            path = "library/" + path
    if not path:
        raise SandboxError(f"invalid image reference {shown}: no repository name")
    for comp in path.split("/"):
        if not _COMPONENT.fullmatch(comp):
            why = "must be lower-case" if comp.lower() != comp and _COMPONENT.fullmatch(comp.lower()) \
                else "allowed are a-z, 0-9 and single '.', '_' or '-' between them"
            raise SandboxError(f"invalid image reference {shown}: bad name component {comp!r} ({why})")
    if len(domain) + 1 + len(path) > MAX_NAME:
        raise SandboxError(f"invalid image reference: the name is {len(domain) + 1 + len(path)} characters "
                           f"long (at most {MAX_NAME})")
    if tag is None and not digest:
        tag = "latest"
    return Reference(domain, path, tag, digest or None)


# -- the config file ------------------------------------------------------------

@dataclass
class RegistryConfig:
    mirrors: list[str] = field(default_factory=list)
    insecure: bool = False
    username: str | None = None
    password: str | None = None

    @property
    def creds(self) -> tuple[str, str] | None:
        if self.username is None and self.password is None:
            return None
        if self.username is None or self.password is None:
            raise SandboxError("registry config: username and password must be given together")
        return self.username, self.password


@dataclass
class Config:
    registries: dict[str, RegistryConfig] = field(default_factory=dict)
    path: str | None = None

    def get(self, host: str) -> RegistryConfig:
        return self.registries.get(_canonical_host(host)) or RegistryConfig()


_KEYS = {"mirrors": list, "insecure": bool, "username": str, "password": str}


def load(path: str | None = None) -> Config:
    """Read the registries config.  path=None reads the default file if it
    exists; an explicit path must exist."""
    explicit = path is not None
    path = DEFAULT_CONFIG if path is None else path
    if not explicit and not os.path.lexists(path):
        return Config(path=None)
    data = inputs.read_toml(path, "registry config")
    return parse_config(data, path)


def parse_config(data: dict, path: str = "<config>") -> Config:
    """Validate a decoded config; every error names the offending key."""
    for key in data:
        if key != "registry":
            raise SandboxError(f"registry config {path}: unknown key {key!r} (expected [registry.\"HOST\"] tables)")
    tables = data.get("registry", {})
    if not isinstance(tables, dict):
        raise SandboxError(f"registry config {path}: 'registry' must be a table of [registry.\"HOST\"] tables")
    out = {}
    for host, table in tables.items():
        where = f"registry config {path}: registry.{_quote(host)}"
        if not _DOMAIN.fullmatch(host):
            raise SandboxError(f"{where}: not a registry host[:port] (no scheme or path)")
        if not isinstance(table, dict):
            raise SandboxError(f"{where}: must be a table")
        for key, value in table.items():
            if key not in _KEYS and isinstance(value, dict):     # [registry.docker.io] unquoted
                raise SandboxError(f"{where}.{key}: unknown key; a host name with dots must be quoted: "
                                   f'[registry."{host}.{key}"]')
            if key not in _KEYS:
                raise SandboxError(f"{where}.{key}: unknown key (known: {', '.join(_KEYS)})")
            if not isinstance(value, _KEYS[key]):
                raise SandboxError(f"{where}.{key}: must be a {_KEYS[key].__name__.replace('str', 'string')}")
        rc = RegistryConfig(insecure=table.get("insecure", False),
                            username=table.get("username"), password=table.get("password"))
        if (rc.username is None) != (rc.password is None):
            raise SandboxError(f"{where}: username and password must be given together")
        for i, url in enumerate(table.get("mirrors", [])):
            rc.mirrors.append(_mirror_url(url, f"{where}.mirrors[{i}]"))
        key = _canonical_host(host)
        if key in out:
            raise SandboxError(f"{where}: given twice (as another spelling of {key})")
        out[key] = rc
    return Config(out, path)


def _quote(host: str) -> str:
    return f'"{host}"' if not re.fullmatch(r"[A-Za-z0-9_-]+", host) else host


def _mirror_url(url, where: str) -> str:
    if not isinstance(url, str):
        raise SandboxError(f"{where}: must be a string URL")
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise SandboxError(f"{where}: {url!r} is not an http:// or https:// URL")
    if "@" in u.netloc:
        raise SandboxError(f"{where}: credentials do not belong in the URL; "
                           f"use username/password in the mirror host's own table")
    if u.query or u.fragment:
        raise SandboxError(f"{where}: {url!r} has a query or fragment")
    return url.rstrip("/")


def _canonical_host(host: str) -> str:
    return DOCKER_HUB if host in _HUB_ALIASES else host


# -- endpoints ------------------------------------------------------------------

@dataclass
class Endpoint:
    """One place to pull from.  `auth` is filled in by the first 401 dance
    and reused for the rest of the pull."""
    name: str                   # for messages: "127.0.0.1:5000", "mirror http://..."
    base: str                   # "https://registry-1.docker.io", no trailing slash
    insecure: bool              # unverified TLS allowed (and plain http)
    fallback: bool              # https may fall back to http once
    creds: tuple[str, str] | None = field(default=None, repr=False)
    auth: str | None = field(default=None, repr=False)
    problem: str | None = None  # why this endpoint cannot be used at all


def endpoints(ref: Reference, config: Config, *, creds: tuple[str, str] | None = None,
              insecure: bool = False) -> list[Endpoint]:
    """Mirrors in order, then the registry.  `creds` (from --creds) apply to
    the registry itself only: a mirror gets the credentials of its own
    table, so one host's password is never sent to another."""
    rc = config.get(ref.registry)
    out = []
    for url in rc.mirrors:
        netloc = urlsplit(url).netloc
        mc = config.get(netloc)
        ok = insecure or mc.insecure
        ep = Endpoint(f"mirror {url}", url, insecure=ok, fallback=False, creds=mc.creds)
        if url.startswith("http://") and not ok:
            ep.problem = (f"mirror {url} is plain HTTP but {netloc} is not marked insecure "
                          f"(insecure = true in [registry.\"{netloc}\"], or --insecure)")
        out.append(ep)
    ok = insecure or rc.insecure
    base = DOCKER_HUB_API if ref.registry == DOCKER_HUB else "https://" + ref.registry
    name = f"{ref.registry} ({base[8:]})" if ref.registry == DOCKER_HUB else ref.registry
    out.append(Endpoint(name, base, insecure=ok, fallback=ok, creds=creds or rc.creds))
    return out


def parse_creds(text: str) -> tuple[str, str]:
    """USER:PASS (the password may contain ':'); the message never echoes it."""
    user, sep, password = (text or "").partition(":")
    if not sep or not user:
        raise SandboxError("--creds: expected USER:PASS")
    return user, password

