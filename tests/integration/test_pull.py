"""`pysandbox images pull` against Debian's docker-registry on loopback.

One registry (plain HTTP, anonymous) gets the test images pushed with the
distribution API's own upload calls; three more serve the same storage
directory behind TLS (a self-signed openssl certificate), htpasswd Basic
auth, and Bearer tokens from a token server run here (RS256 JWTs signed with
`openssl dgst`, whose certificate is the registry's rootcertbundle).
Images are Debian's static busybox as a gzip layer, in all four manifest
formats: Docker schema2, OCI manifest, OCI index, Docker manifest list.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

from conftest import BUSYBOX, PYSANDBOX, platform_independent, run_sandbox
from image_files import sha

pytestmark = platform_independent      # nothing here depends on the sandbox platform
REGISTRY = "/usr/bin/docker-registry"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {(True, True): "application/vnd.oci.image.layer.v1.tar+gzip",       # (oci, gzip)
               (True, False): "application/vnd.oci.image.layer.v1.tar",
               (False, True): "application/vnd.docker.image.rootfs.diff.tar.gzip",
               (False, False): "application/vnd.docker.image.rootfs.diff.tar"}


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted({os.path.dirname(n) + "/" for n in files}):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            t.addfile(ti)
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o755, 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


BASE_TAR = _tar({"bin/busybox": open(BUSYBOX, "rb").read(), "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n"})
BASE_GZ = gzip.compress(BASE_TAR, compresslevel=1, mtime=0)


class Image:
    """A manifest with its config and layers, as bytes ready to push."""

    def __init__(self, layers: list[bytes], arch="amd64", oci=False, note="", plain=()):
        """plain: indexes of layers pushed as uncompressed tars."""
        self.layers = [t if i in plain else BASE_GZ if t is BASE_TAR else gzip.compress(t, compresslevel=1, mtime=0)
                       for i, t in enumerate(layers)]
        self.diff_ids = [sha(t) for t in layers]
        self.config = json.dumps({"architecture": arch, "os": "linux", "created": "2024-05-06T07:08:09Z",
                                  "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/busybox", "echo", note]},
                                  "rootfs": {"type": "layers", "diff_ids": self.diff_ids}}).encode()
        self.media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": self.media_type,
            "config": {"mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                       "digest": sha(self.config), "size": len(self.config)},
            "layers": [{"mediaType": LAYER_TYPES[oci, i not in plain], "digest": sha(layer), "size": len(layer)}
                       for i, layer in enumerate(self.layers)]}, indent=3).encode()
        self.digest = sha(self.manifest)

    def descriptor(self, arch: str) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.manifest),
                "platform": {"os": "linux", "architecture": arch}}


def _index(images: dict[str, Image], oci: bool) -> tuple[bytes, str]:
    media = OCI_INDEX if oci else DOCKER_LIST
    return json.dumps({"schemaVersion": 2, "mediaType": media,
                       "manifests": [img.descriptor(arch) for arch, img in images.items()]}).encode(), media


# -- the registries -------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_registry(tmp, storage, name: str, **extra) -> tuple[subprocess.Popen, int]:
    """docker-registry serving `storage` on a free loopback port (YAML is a
    superset of JSON, so the config is written as JSON)."""
    port = _free_port()
    http_cfg = {"addr": f"127.0.0.1:{port}", **extra.pop("http", {})}
    cfg = {"version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": True}},
           "storage": {"filesystem": {"rootdirectory": str(storage)}}, "http": http_cfg, **extra}
    path = tmp / f"{name}.yml"
    path.write_text(json.dumps(cfg))
    log = open(tmp / f"{name}.log", "wb")
    proc = subprocess.Popen([REGISTRY, "serve", str(path)], stdout=log, stderr=log)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{name} registry did not start: {(tmp / f'{name}.log').read_text()}") from None
            time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _http(method: str, url: str, data: bytes | None = None, headers=None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push(base: str, repo: str, tag: str, blobs: list[bytes], manifest: bytes, media_type: str) -> None:
    """The distribution push flow: POST an upload, PUT it with ?digest=,
    then PUT the manifest."""
    for blob in blobs:
        if _http("HEAD", f"{base}/v2/{repo}/blobs/{sha(blob)}")[0] == 200:
            continue
        status, headers, body = _http("POST", f"{base}/v2/{repo}/blobs/uploads/", b"")
        assert status == 202, body
        loc = urllib.parse.urljoin(base, headers["Location"])
        loc += ("&" if "?" in loc else "?") + urllib.parse.urlencode({"digest": sha(blob)})
        status, _, body = _http("PUT", loc, blob, {"Content-Type": "application/octet-stream"})
        assert status == 201, body
    status, _, body = _http("PUT", f"{base}/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": media_type})
    assert status == 201, body


def push_image(base: str, repo: str, tag: str, img: Image) -> None:
    push(base, repo, tag, [img.config, *img.layers], img.manifest, img.media_type)


def _openssl_cert(tmp, name: str) -> tuple[str, str]:
    key, cert = str(tmp / f"{name}.key"), str(tmp / f"{name}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(http.server.ThreadingHTTPServer):
    """GET /token?service=&scope= with Basic USER:PASS -> an RS256 JWT
    granting the scope; `field` says which JSON key carries it."""
    daemon_threads = True

    def __init__(self, key: str, cert: str, creds: tuple[str, str]):
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.key, self.creds, self.field, self.requests = key, creds, "token", 0
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        return signing_input + "." + _b64url(sig)


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.requests += 1
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        want = "Basic " + base64.b64encode(":".join(srv.creds).encode()).decode()
        if self.headers.get("Authorization") != want:
            return self._answer(401, {"details": "bad credentials"})
        access = []
        for scope in q.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        jwt = srv.sign({"iss": "pysandbox-test-issuer", "sub": srv.creds[0], "aud": q["service"][0],
                        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
                        "access": access})
        self._answer(200, {srv.field: jwt, "expires_in": 300})

    def _answer(self, code: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@dataclass
class Env:
    """What the tests need to know about the running registries."""
    images: dict[str, Image]
    ports: dict[str, int]         # plain, tls, basic, token
    token_server: TokenServer


def _tamper(storage, digest: str, edit) -> None:
    """Change a blob in the registry's storage in place, keeping its length,
    so the registry serves the changed bytes under the old digest."""
    path = storage / "docker/registry/v2/blobs/sha256" / digest[7:9] / digest[7:] / "data"
    data = edit(path.read_bytes())
    assert len(data) == path.stat().st_size
    path.write_bytes(data)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    storage = tmp / "storage"
    procs = []
    token_server = None
    try:
        plain, port = _start_registry(tmp, storage, "plain")
        procs.append(plain)
        base = f"http://127.0.0.1:{port}"
        busybox = Image([BASE_TAR], note="from busybox")
        amd = Image([BASE_TAR, _tar({"etc/arch": b"amd64\n"})], oci=True, plain={1})
        arm = Image([BASE_TAR, _tar({"etc/arch": b"arm64\n"})], arch="arm64", oci=True)
        d_amd = Image([BASE_TAR, _tar({"etc/arch": b"amd64 docker\n"})])
        d_arm = Image([BASE_TAR, _tar({"etc/arch": b"arm64 docker\n"})], arch="arm64")
        tamper = Image([BASE_TAR, _tar({"etc/tampered": b"this layer gets edited in storage\n" * 64})])
        mtamper = Image([BASE_TAR], note="its manifest gets edited in storage")
        for repo, tag, img in (("test/busybox", "v1", busybox), ("library/busybox", "latest", busybox),
                               ("test/multi", "parts", amd), ("test/multi", "parts-arm", arm),
                               ("test/multi", "parts-d", d_amd), ("test/multi", "parts-d-arm", d_arm),
                               ("test/tamper", "v1", tamper), ("test/mtamper", "v1", mtamper)):
            push_image(base, repo, tag, img)
        for tag, images, oci in (("oci", {"arm64": arm, "amd64": amd}, True),
                                 ("docker", {"arm64": d_arm, "amd64": d_amd}, False),
                                 ("armonly", {"arm64": arm}, True)):
            push(base, "test/multi", tag, [], *_index(images, oci))
        _tamper(storage, sha(tamper.layers[1]), lambda b: b[:len(b) // 2] + bytes([b[len(b) // 2] ^ 0xFF])
                + b[len(b) // 2 + 1:])
        _tamper(storage, mtamper.digest, lambda b: b.replace(b"\n   ", b"\n\t  ", 1))     # still valid JSON

        tls_key, tls_cert = _openssl_cert(tmp, "tls")
        tls, tls_port = _start_registry(tmp, storage, "tls", http={"tls": {"certificate": tls_cert, "key": tls_key}})
        procs.append(tls)
        subprocess.run(["htpasswd", "-Bbc", str(tmp / "htpasswd"), "alice", "s3cret-basic"],
                       check=True, capture_output=True)
        basic, basic_port = _start_registry(tmp, storage, "basic",
                                            auth={"htpasswd": {"realm": "test", "path": str(tmp / "htpasswd")}})
        procs.append(basic)
        sign_key, sign_cert = _openssl_cert(tmp, "token")
        token_server = TokenServer(sign_key, sign_cert, ("bob", "s3cret-token"))
        threading.Thread(target=token_server.serve_forever, daemon=True).start()
        token, token_port = _start_registry(tmp, storage, "token", auth={"token": {
            "realm": f"http://127.0.0.1:{token_server.server_address[1]}/token", "service": "pysandbox-test",
            "issuer": "pysandbox-test-issuer", "rootcertbundle": sign_cert}})
        procs.append(token)

        yield Env(images={"busybox": busybox, "amd": amd, "d_amd": d_amd, "tamper": tamper, "mtamper": mtamper},
                  ports={"plain": port, "tls": tls_port, "basic": basic_port, "token": token_port},
                  token_server=token_server)
    finally:
        for p in procs:
            _stop(p)
        if token_server is not None:
            token_server.shutdown()
            token_server.server_close()


def config(tmp_path, text: str = "") -> str:
    path = tmp_path / f"registries-{hashlib.sha256(text.encode()).hexdigest()[:8]}.toml"
    path.write_text(text)
    return str(path)


def insecure(*ports: int) -> str:
    return "".join(f'[registry."127.0.0.1:{p}"]\ninsecure = true\n' for p in ports)


def pull(store, ref: str, cfg: str, *flags):
    return run_sandbox("images", "--root", str(store), "pull", "--registry-config", cfg, *flags, ref)


def store_state(root) -> list:
    """Every file and directory in the store but its lock, with file sizes."""
    out = []
    for p, ds, fs in os.walk(root):
        for name in ds + fs:
            full = os.path.join(p, name)
            if name != "lock":
                out.append((os.path.relpath(full, root), os.path.getsize(full) if name in fs else None))
    return sorted(out)


def assert_store_empty(root) -> None:
    """Nothing in the store, which may not even exist (errors found before
    anything is written leave no trace at all)."""
    empty = [("blobs", None), ("blobs/sha256", None), ("layers", None), ("layers/sha256", None)]
    assert not os.path.exists(root) or store_state(root) == empty, store_state(root)


def assert_clean_error(r, *words):
    assert r.returncode == 125, (r.stdout, r.stderr)
    # Progress lines may come first; the error is one line, the last.
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("pysandbox: error: ") == 1, r.stderr
    assert r.stderr.splitlines()[-1].startswith("pysandbox: error: "), r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


# -- the tests ------------------------------------------------------------------

def test_pull_http_then_run(env, tmp_path):
    store, port = tmp_path / "store", env.ports["plain"]
    ref = f"127.0.0.1:{port}/test/busybox:v1"
    r = pull(store, ref, config(tmp_path, insecure(port)))
    assert r.returncode == 0, r.stderr
    img = env.images["busybox"]
    assert r.stdout.startswith(f"pulled {ref}: {img.digest} 1 layer, ") and " MB in " in r.stdout
    lines = r.stderr.splitlines()          # not a tty: one plain line per blob
    assert any(x.startswith(f"config {sha(img.config)[7:19]} ") and x.endswith(" done") for x in lines), lines
    assert any(x.startswith(f"layer 1/1 {sha(img.layers[0])[7:19]} ") and x.endswith(" done") for x in lines)
    r = run_sandbox("run", "--root", str(store), "--image", ref, "--", "/bin/busybox", "echo", "hello", "registry")
    assert (r.returncode, r.stdout) == (0, "hello registry\n"), r.stderr
    r = run_sandbox("run", "--root", str(store), "--image", ref)          # the image's Cmd
    assert r.stdout == "from busybox\n", r.stderr
    # Again, with --insecure instead of the config: https is tried first and
    # the registry's plain-HTTP answer makes it fall back; blobs are not fetched again.
    r = pull(store, ref, config(tmp_path), "--insecure")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("already present") == 2, r.stderr
    assert run_sandbox("images", "--root", str(store), "ls").stdout.count(ref) == 1


def test_progress_bar_on_a_tty(env, tmp_path):
    port = env.ports["plain"]
    master, slave = os.openpty()
    cmd = [PYSANDBOX, "images", "--root", str(tmp_path / "store"), "pull", "--registry-config",
           config(tmp_path, insecure(port)), f"127.0.0.1:{port}/test/busybox:v1"]
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:         # EIO: every writer has closed the terminal
                return
            if not data:
                return
            chunks.append(data)
    reader = threading.Thread(target=drain)
    reader.start()
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, text=True, timeout=60)
    finally:
        os.close(slave)
        reader.join(10)
        os.close(master)
    tty = b"".join(chunks).decode()
    assert r.returncode == 0, tty
    assert "pulled 127.0.0.1" in r.stdout
    assert "\r\x1b[K" in tty and "[" + "#" * 30 + "]" in tty and "layer 1/1" in tty, tty


def test_pull_by_digest(env, tmp_path):
    store, port = tmp_path / "store", env.ports["plain"]
    img = env.images["busybox"]
    ref = f"127.0.0.1:{port}/test/busybox@{img.digest}"
    r = pull(store, ref, config(tmp_path, insecure(port)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"pulled {ref}: {img.digest} ")
    r = run_sandbox("images", "--root", str(store), "inspect", ref)
    assert json.loads(r.stdout)["config"]["Cmd"][-1] == "from busybox"
    r = pull(store, f"127.0.0.1:{port}/test/busybox@sha256:{'0' * 64}", config(tmp_path, insecure(port)))
    assert_clean_error(r, "not found")


@pytest.mark.parametrize("tag", ["oci", "docker"])
def test_pull_index_picks_linux_amd64(env, tmp_path, tag):
    store, port = tmp_path / "store", env.ports["plain"]
    ref = f"127.0.0.1:{port}/test/multi:{tag}"
    r = pull(store, ref, config(tmp_path, insecure(port)))
    assert r.returncode == 0, r.stderr
    want = env.images["amd" if tag == "oci" else "d_amd"]
    assert f": {want.digest} 2 layers" in r.stdout, r.stdout
    assert json.loads(run_sandbox("images", "--root", str(store), "inspect", ref).stdout)["architecture"] == "amd64"
    layer = store / "layers/sha256" / want.diff_ids[1][7:]     # uncompressed in the OCI image, gzip in the other
    assert (layer / "etc/arch").read_text().startswith("amd64")


def test_pull_index_without_amd64(env, tmp_path):
    port = env.ports["plain"]
    r = pull(tmp_path / "store", f"127.0.0.1:{port}/test/multi:armonly", config(tmp_path, insecure(port)))
    assert_clean_error(r, "no linux/amd64 image", "linux/arm64")
    assert_store_empty(tmp_path / "store")


def test_https_self_signed(env, tmp_path):
    store, port = tmp_path / "store", env.ports["tls"]
    ref = f"127.0.0.1:{port}/test/busybox:v1"
    r = pull(store, ref, config(tmp_path))
    assert_clean_error(r, f"127.0.0.1:{port}", "TLS certificate verification failed", "insecure")
    assert_store_empty(store)
    r = pull(store, ref, config(tmp_path, insecure(port)))
    assert r.returncode == 0, r.stderr
    assert f"pulled {ref}: {env.images['busybox'].digest}" in r.stdout


def test_basic_auth(env, tmp_path):
    store, port = tmp_path / "store", env.ports["basic"]
    ref = f"127.0.0.1:{port}/test/busybox:v1"
    cfg = config(tmp_path, insecure(port))
    r = pull(store, ref, cfg)
    assert_clean_error(r, "unauthorized", "requires credentials")
    r = pull(store, ref, cfg, "--creds", "alice:wrong-password")
    assert_clean_error(r, "unauthorized", "refused")
    assert "wrong-password" not in r.stderr + r.stdout
    assert_store_empty(store)
    r = pull(store, ref, cfg, "--creds", "alice:s3cret-basic")
    assert r.returncode == 0, r.stderr
    assert "s3cret" not in r.stderr + r.stdout
    r = run_sandbox("images", "--root", str(store), "rm", ref)
    assert r.returncode == 0, r.stderr
    cfg = config(tmp_path, f'[registry."127.0.0.1:{port}"]\ninsecure = true\n'
                           'username = "alice"\npassword = "s3cret-basic"\n')
    r = pull(store, ref, cfg)                 # credentials from the config file
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_bearer_token_auth(env, tmp_path, field):
    store, port = tmp_path / "store", env.ports["token"]
    env.token_server.field = field
    ref = f"127.0.0.1:{port}/test/busybox:v1"
    cfg = config(tmp_path, insecure(port))
    before = env.token_server.requests
    r = pull(store, ref, cfg, "--creds", "bob:s3cret-token")
    assert r.returncode == 0, r.stderr
    assert "s3cret" not in r.stderr + r.stdout
    assert env.token_server.requests > before
    r = pull(tmp_path / "other", ref, cfg, "--creds", "bob:nope")
    assert_clean_error(r, "unauthorized", "token server")
    r = pull(tmp_path / "other", ref, cfg)
    assert_clean_error(r, "unauthorized", "anonymous")


def test_docker_io_mirror(env, tmp_path):
    store, port = tmp_path / "store", env.ports["plain"]
    cfg = config(tmp_path, f'[registry."docker.io"]\nmirrors = ["http://127.0.0.1:{port}"]\n' + insecure(port))
    r = pull(store, "busybox", cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"pulled busybox:latest: {env.images['busybox'].digest} ")
    r = run_sandbox("run", "--root", str(store), "--image", "busybox", "--", "/bin/busybox", "echo", "mirrored")
    assert (r.returncode, r.stdout) == (0, "mirrored\n"), r.stderr
    # A plain-HTTP mirror of a host not marked insecure is not used (and the
    # message says why) before docker.io itself is tried.
    cfg = config(tmp_path, f'[registry."docker.io"]\nmirrors = ["http://127.0.0.1:{port}"]\n')
    r = pull(store, "library/busybox:latest", cfg, "--creds", "x:y")
    assert_clean_error(r, f"mirror http://127.0.0.1:{port} is plain HTTP", "not marked insecure")


def test_tampered_blob(env, tmp_path):
    store, port = tmp_path / "store", env.ports["plain"]
    cfg = config(tmp_path, insecure(port))
    assert pull(store, f"127.0.0.1:{port}/test/busybox:v1", cfg).returncode == 0
    before = store_state(store)
    img = env.images["tamper"]
    r = pull(store, f"127.0.0.1:{port}/test/tamper:v1", cfg)
    assert_clean_error(r, f"layer 2/2 {sha(img.layers[1])}", "digest mismatch", "tampered")
    assert store_state(store) == before
    assert "test/tamper" not in run_sandbox("images", "--root", str(store), "ls").stdout
    # A manifest is trusted only when pulled by digest: then its bytes must match.
    img = env.images["mtamper"]
    r = pull(store, f"127.0.0.1:{port}/test/mtamper@{img.digest}", cfg)
    assert_clean_error(r, "manifest digest mismatch", "tampered")
    assert store_state(store) == before


@pytest.mark.parametrize("case", ["unreachable", "unknown-repo", "unknown-tag", "upper-case", "bad-tag",
                                  "bad-digest", "huge", "empty-component", "bad-config", "bad-creds"])
def test_errors(env, tmp_path, case):
    port = env.ports["plain"]
    good = config(tmp_path, insecure(port))
    ref, cfg, flags, words = {
        "unreachable": (f"127.0.0.1:{_free_port()}/test/busybox:v1", good, (), ["connection refused"]),
        "unknown-repo": (f"127.0.0.1:{port}/test/nope:v1", good, (), ["test/nope:v1 not found", "MANIFEST_UNKNOWN"]),
        "unknown-tag": (f"127.0.0.1:{port}/test/busybox:nope", good, (),
                        ["test/busybox:nope not found", "MANIFEST_UNKNOWN"]),
        "upper-case": ("Example.com/Busybox:1", good, (), ["'Busybox'", "lower-case"]),
        "bad-tag": ("busybox:-x", good, (), ["bad tag"]),
        "bad-digest": ("busybox@sha256:1234", good, (), ["digest must be sha256"]),
        "huge": ("a/" * 400 + "b", good, (), ["too long"]),
        "empty-component": ("a//b", good, (), ["bad name component ''"]),
        "bad-config": ("busybox", config(tmp_path, '[registry."docker.io"]\nmirros = ["http://x"]\n'), (),
                       ['registry."docker.io".mirros: unknown key']),
        "bad-creds": ("busybox", good, ("--creds", "no-colon-secret"), ["--creds: expected USER:PASS"]),
    }[case]
    store = tmp_path / "store"
    r = pull(store, ref, cfg, *flags)
    assert_clean_error(r, *words)
    assert "secret" not in r.stderr
    assert_store_empty(store)
