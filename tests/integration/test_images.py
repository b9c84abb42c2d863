"""OCI images: import (OCI layout, docker-archive), ls/inspect/rm, run --image,
and the unpacker's refusal to write outside a layer.  Images are built here
from Debian's static busybox with tarfile."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import tarfile

import pytest

import image_files
from conftest import BUSYBOX, run_sandbox
from image_files import add_file, image_config, sha, tar
from sentry.errors import SandboxError
from sentry.images import unpack

APPLETS = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()


LAYER1 = tar([("bin/", "dir", None), ("bin/busybox", "file", open(BUSYBOX, "rb").read(), 0o755)]
             + [(f"bin/{a}", "sym", "busybox") for a in APPLETS if a != "busybox"]
             + [("etc/", "dir", None),
                ("etc/passwd", "file", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"),
                ("app/", "dir", None), ("data/", "dir", None),
                ("data/keep.txt", "file", "kept\n"), ("data/old.txt", "file", "old\n"),
                ("data/hard.txt", "link", "data/keep.txt"),
                ("opq/", "dir", None), ("opq/lower.txt", "file", "lower\n")])
LAYER2 = tar([("data/new.txt", "file", "new\n"), ("data/.wh.old.txt", "file", ""),
              ("opq/", "dir", None), ("opq/.wh..wh..opq", "file", ""), ("opq/upper.txt", "file", "upper\n")])
LAYER2_GZ = gzip.compress(LAYER2, mtime=0)


OCI_CONFIG = image_config([LAYER1, LAYER2], {"Env": ["PATH=/bin", "GREETING=hello"],
                                              "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo $GREETING from $(pwd)"],
                                              "WorkingDir": "/app", "User": "app"})


def oci_archive(path, tamper=False):
    layers = [("application/vnd.oci.image.layer.v1.tar", LAYER1),
              ("application/vnd.oci.image.layer.v1.tar+gzip", LAYER2_GZ)]
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(OCI_CONFIG), "size": len(OCI_CONFIG)},
        "layers": [{"mediaType": m, "digest": sha(d), "size": len(d)} for m, d in layers]}).encode()
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
            "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"},
            "annotations": {"org.opencontainers.image.ref.name": "test/oci:1"}}
    other = dict(desc, digest="sha256:" + "0" * 64, platform={"os": "linux", "architecture": "arm64"})
    with tarfile.open(path, "w") as t:
        add_file(t, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add_file(t, "index.json", json.dumps({"schemaVersion": 2, "manifests": [other, desc]}).encode())
        for data in (manifest, OCI_CONFIG, LAYER1, LAYER2_GZ):
            if tamper and data is LAYER2_GZ:
                data = gzip.compress(LAYER2.replace(b"upper\n", b"evil!\n"), mtime=0)
                add_file(t, f"blobs/sha256/{sha(LAYER2_GZ)[7:]}", data)
            else:
                add_file(t, f"blobs/sha256/{sha(data)[7:]}", data)
    return str(path)


def docker_archive(path):
    return image_files.docker_archive(path, "test/docker:latest", [LAYER1, LAYER2],
                                      {"Cmd": ["cat", "/data/new.txt", "/data/keep.txt"], "User": "1000:1000"})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    root = str(d / "store")
    r = run_sandbox("images", "--root", root, "import", oci_archive(d / "oci.tar"))
    assert r.returncode == 0, r.stderr
    assert "test/oci:1" in r.stdout and "layer 2/2" in r.stderr
    r = run_sandbox("images", "--root", root, "import", docker_archive(d / "docker.tar"))
    assert r.returncode == 0, r.stderr
    assert "layer 1/2" in r.stderr and "already unpacked" in r.stderr   # shared with the OCI image
    return root


def run_image(store, ref, *cmd, flags=()):
    return run_sandbox("run", "--root", store, "--image", ref, *flags, "--", *cmd)


def test_ls_and_inspect(store):
    r = run_sandbox("images", "--root", store, "ls")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["REF", "DIGEST", "SIZE", "CREATED"]
    assert any(x.startswith("test/oci:1 ") and "2024-01-02 03:04:05" in x for x in lines)
    assert any(x.startswith("test/docker:latest ") for x in lines)
    r = run_sandbox("images", "--root", store, "inspect", "test/oci:1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["config"]["User"] == "app"
    assert len(os.listdir(os.path.join(store, "layers", "sha256"))) == 2    # layers shared


def test_layers_merge(store):
    r = run_image(store, "test/oci:1", "cat /data/new.txt /data/keep.txt /data/hard.txt; ls /data; ls /opq")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["new", "kept", "kept", "hard.txt", "keep.txt", "new.txt", "upper.txt"]
    r = run_image(store, "test/oci:1", "cat /data/old.txt")
    assert r.returncode != 0 and "No such file" in r.stderr


def test_image_config_applied(store):
    r = run_image(store, "test/oci:1")             # Entrypoint + Cmd, Env, WorkingDir
    assert (r.returncode, r.stdout) == (0, "hello from /app\n"), r.stderr
    r = run_image(store, "test/oci:1", "id -u; id -g; echo $HOME; echo $GREETING", flags=("-e", "GREETING=hi"))
    assert r.stdout.split() == ["1000", "1000", "/app", "hi"], r.stderr
    r = run_image(store, "test/oci:1", "id -u; pwd", flags=("--user", "0", "--cwd", "/data"))
    assert r.stdout.split() == ["0", "/data"], r.stderr
    r = run_image(store, "test/docker")             # docker-archive, numeric User, ':latest' implied
    assert (r.returncode, r.stdout) == (0, "new\nkept\n"), r.stderr
    r = run_image(store, "test/docker", "id", "-u")
    assert r.stdout == "1000\n"


def test_run_errors(store, busybox_rootfs):
    r = run_image(store, "nope:1", "true")
    assert r.returncode == 125 and "no image 'nope:1'" in r.stderr
    r = run_sandbox("run", "--root", store, "--image", "test/oci:1", "--rootfs", str(busybox_rootfs), "--", "x")
    assert r.returncode == 125 and "mutually exclusive" in r.stderr


def test_rm_collects_garbage(tmp_path):
    root = str(tmp_path / "store")
    for make, name in ((oci_archive, "oci.tar"), (docker_archive, "docker.tar")):
        assert run_sandbox("images", "--root", root, "import", make(tmp_path / name)).returncode == 0
    r = run_sandbox("images", "--root", root, "rm", "test/oci:1")
    assert r.returncode == 0, r.stderr
    assert len(os.listdir(os.path.join(root, "layers", "sha256"))) == 2     # docker image still uses both
    r = run_sandbox("images", "--root", root, "rm", "test/docker:latest")
    assert r.returncode == 0, r.stderr
    assert os.listdir(os.path.join(root, "blobs", "sha256")) == []
    assert os.listdir(os.path.join(root, "layers", "sha256")) == []
    assert "test/" not in run_sandbox("images", "--root", root, "ls").stdout


def test_digest_mismatch_refused(tmp_path):
    root = str(tmp_path / "store")
    r = run_sandbox("images", "--root", root, "import", oci_archive(tmp_path / "bad.tar", tamper=True))
    assert r.returncode == 125
    assert "digest mismatch" in r.stderr and "Traceback" not in r.stderr
    assert not os.path.exists(root)          # the store this import made is gone again
    os.makedirs(os.path.join(root, "blobs", "sha256"))
    r = run_sandbox("images", "--root", root, "import", str(tmp_path / "bad.tar"))
    assert r.returncode == 125 and "digest mismatch" in r.stderr
    assert os.listdir(root) == ["blobs"]                  # what was there, and nothing else
    assert os.listdir(os.path.join(root, "blobs", "sha256")) == []


def _snapshot(d, skip):
    """Every path under d but the layer, with file contents."""
    return sorted((os.path.join(p, f), open(os.path.join(p, f), "rb").read()
                   if os.path.isfile(os.path.join(p, f)) else None)
                  for p, ds, fs in os.walk(d) if not p.startswith(str(skip)) for f in fs + ds)


@pytest.mark.parametrize("entries", [
    [("../escape", "file", "x")],
    [("/abs", "file", "x")],
    [("a/../../escape", "file", "x")],
    [("link", "sym", "{out}"), ("link/pwned", "file", "x")],
    [("rel", "sym", "../outside"), ("rel/pwned", "file", "x")],
    [("hl", "link", "../outside/secret")],
    [("ls", "sym", "{out}"), ("hl", "link", "ls/secret"), ("hl", "file", "overwritten")],
], ids=["dotdot", "absolute", "nested-dotdot", "symlink-dir", "relative-symlink-dir",
        "hardlink-dotdot", "hardlink-via-symlink"])
def test_unpack_refuses_escapes(tmp_path, entries):
    out, layer = tmp_path / "outside", tmp_path / "layer"
    out.mkdir()
    layer.mkdir()
    (out / "secret").write_text("secret\n")
    path = tmp_path / "evil.tar"
    path.write_bytes(tar([(n, k, p.format(out=out) if isinstance(p, str) else p) for n, k, p in entries]))
    before = _snapshot(tmp_path, layer)
    with pytest.raises(SandboxError):
        unpack.unpack(str(path), str(layer))
    assert _snapshot(tmp_path, layer) == before and not os.path.lexists("/abs")
    assert (out / "secret").read_text() == "secret\n" and os.listdir(out) == ["secret"]


def test_unpack_replaces_symlink_not_its_target(tmp_path):
    out, layer = tmp_path / "outside", tmp_path / "layer"
    out.mkdir()
    layer.mkdir()
    (out / "target").write_text("host\n")
    path = tmp_path / "t.tar"
    path.write_bytes(tar([("f", "sym", str(out / "target")), ("f", "file", "layer\n"),
                          ("d/", "dir", None), ("d/.wh.gone", "file", ""), ("d/.wh..wh..opq", "file", "")]))
    unpack.unpack(str(path), str(layer))
    assert (out / "target").read_text() == "host\n"
    assert (layer / "f").read_text() == "layer\n" and not (layer / "f").is_symlink()
    st = os.lstat(layer / "d" / "gone")
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0 and (st.st_mode & 0o170000) == 0o020000
    assert os.getxattr(layer / "d", "trusted.overlay.opaque") == b"y"
