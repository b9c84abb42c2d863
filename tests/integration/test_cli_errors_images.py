"""Bad input to `pysandbox images` (import, pull, ls, rm, inspect; --root,
--registry-config) and to `run --image`: exit 125, one line naming the
problem, no traceback, nothing left behind (tests/bad_input.py); a failed
command makes no store where there was none.  No sandbox runs here."""
from __future__ import annotations

import io
import json
import os
import tarfile
import uuid

import pytest

from bad_input import Leftovers, assert_fails_well, run
from conftest import PYSANDBOX, only_seccomp
from image_files import sha

pytestmark = only_seccomp

MARKER = f"clierr-images-{uuid.uuid4().hex[:12]}"


def _tar(path, files: dict) -> str:
    with tarfile.open(path, "w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return str(path)


LAYER = io.BytesIO()
with tarfile.open(fileobj=LAYER, mode="w") as _t:
    _ti = tarfile.TarInfo("etc/hostname")
    _ti.size = 3
    _t.addfile(_ti, io.BytesIO(b"img"))
LAYER = LAYER.getvalue()


def oci_layout(path, config=None, manifest_change=None, index_change=None) -> str:
    """A one-layer OCI image layout tar, with a part replaced by garbage of
    the right JSON syntax and the wrong shape."""
    config = config if config is not None else {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                                                "rootfs": {"type": "layers", "diff_ids": [sha(LAYER)]}}
    cfg = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg),
                           "size": len(cfg)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(LAYER),
                            "size": len(LAYER)}]}
    (manifest_change or (lambda m: None))(manifest)
    man = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], "digest": sha(man),
                                                "size": len(man),
                                                "annotations": {"org.opencontainers.image.ref.name": "x:1"}}]}
    index = (index_change or (lambda i: i))(index)
    return _tar(path, {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index).encode(),
                       f"blobs/sha256/{sha(cfg)[7:]}": cfg, f"blobs/sha256/{sha(man)[7:]}": man,
                       f"blobs/sha256/{sha(LAYER)[7:]}": LAYER})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    b = tmp_path_factory.mktemp(MARKER)
    (b / "dir").mkdir()
    os.mkfifo(b / "fifo")
    (b / "garbage").write_bytes(bytes(range(256)) * 16)
    (b / "empty").write_bytes(b"")
    (b / "dangling").symlink_to(b / "nonexistent")
    (b / "file").write_text("a file\n")
    (b / "list.json").write_text("[1, 2]\n")
    (b / "wrong.toml").write_text("x = 1\n")
    (b / "reg-shape.toml").write_text('[registry."a.b"]\nmirrors = "not a list"\n')
    (b / "reg-url.toml").write_text('[registry."a.b"]\nmirrors = [5]\n')
    _tar(b / "not-an-image.tar", {"x": b"hi"})
    oci_layout(b / "index-list.tar", index_change=lambda i: [i])
    oci_layout(b / "digest-int.tar", index_change=lambda i: {"manifests": [{"digest": 5}]})
    oci_layout(b / "annotations-int.tar", index_change=lambda i: {"manifests": [{**i["manifests"][0],
                                                                                 "annotations": 5}]})
    oci_layout(b / "name-newline.tar", index_change=lambda i: {"manifests": [{
        **i["manifests"][0], "annotations": {"org.opencontainers.image.ref.name": "a\nb"}}]})
    oci_layout(b / "rootfs-int.tar", config={"rootfs": 5})
    oci_layout(b / "diffid-int.tar", config={"rootfs": {"diff_ids": [5]}})
    oci_layout(b / "cmd-int.tar", config={"rootfs": {"diff_ids": [sha(LAYER)]}, "config": {"Cmd": 5}})
    oci_layout(b / "config-list.tar", config={"rootfs": {"diff_ids": [sha(LAYER)]}, "config": []})
    oci_layout(b / "layers-dict.tar", manifest_change=lambda m: m.update(layers={"a": 1}))
    # Stores with broken insides.
    for name, refs in (("refs-list", b"[1, 2]"), ("refs-garbage", bytes(range(256))), ("refs-int", b'{"a": 5}'),
                       ("refs-empty", b"")):
        (b / name).mkdir()
        (b / name / "refs.json").write_bytes(refs)
    (b / "refs-fifo").mkdir()
    os.mkfifo(b / "refs-fifo" / "refs.json")
    (b / "refs-dir").mkdir()
    (b / "refs-dir" / "refs.json").mkdir()
    bad = json.dumps({"config": 5, "layers": []}).encode()      # a manifest of the wrong shape
    (b / "manifest-shape" / "blobs" / "sha256").mkdir(parents=True)
    (b / "manifest-shape" / "blobs" / "sha256" / sha(bad)[7:]).write_bytes(bad)
    (b / "manifest-shape" / "refs.json").write_text(json.dumps({"bad:1": sha(bad)}))
    return b


@pytest.fixture(scope="module")
def leftovers(base):
    return Leftovers(base, MARKER)


# (id, arguments after `pysandbox`, words the message must contain); {b} is the base directory.
CASES = [
    ("root-file-ls", ["images", "--root", "/etc/passwd", "ls"], ["--root", "/etc/passwd", "not a directory"]),
    ("root-file-inspect", ["images", "--root", "{b}/file", "inspect", "x"], ["--root", "not a directory"]),
    ("root-file-rm", ["images", "--root", "{b}/file", "rm", "x"], ["--root", "not a directory"]),
    ("root-file-import", ["images", "--root", "{b}/file", "import", "{b}/index-list.tar"], ["--root"]),
    ("root-fifo", ["images", "--root", "{b}/fifo", "ls"], ["--root", "not a directory"]),
    ("root-dangling", ["images", "--root", "{b}/dangling", "ls"], ["--root", "dangling symlink"]),
    ("root-proc-mem", ["images", "--root", "/proc/self/mem", "ls"], ["--root", "not a directory"]),
    ("root-empty", ["images", "--root", "", "ls"], ["--root", "empty"]),
    ("rm-no-store", ["images", "--root", "{b}/new-store", "rm", "x"], ["no image 'x'"]),
    ("inspect-no-store", ["images", "--root", "{b}/new-store", "inspect", "x"], ["no image 'x'"]),
    ("import-missing", ["images", "--root", "{b}/new-store", "import", "{b}/nonexistent"], ["nonexistent"]),
    ("import-dir", ["images", "--root", "{b}/new-store", "import", "{b}/dir"], ["dir", "is a directory"]),
    ("import-fifo", ["images", "--root", "{b}/new-store", "import", "{b}/fifo"], ["fifo", "not a regular file"]),
    ("import-dangling", ["images", "--root", "{b}/new-store", "import", "{b}/dangling"], ["dangling symlink"]),
    ("import-garbage", ["images", "--root", "{b}/new-store", "import", "{b}/garbage"], ["not a tar archive"]),
    ("import-empty", ["images", "--root", "{b}/new-store", "import", "{b}/empty"], ["not a tar archive"]),
    ("import-proc-mem", ["images", "--root", "{b}/new-store", "import", "/proc/self/mem"], ["/proc/self/mem"]),
    ("import-not-image", ["images", "--root", "{b}/new-store", "import", "{b}/not-an-image.tar"],
     ["neither an OCI image layout"]),
    ("import-index-list", ["images", "--root", "{b}/new-store", "import", "{b}/index-list.tar"],
     ["index.json is not a JSON object"]),
    ("import-digest-int", ["images", "--root", "{b}/new-store", "import", "{b}/digest-int.tar"], ["digest"]),
    ("import-annotations", ["images", "--root", "{b}/new-store", "import", "{b}/annotations-int.tar"],
     ["manifests[0].annotations"]),
    ("import-name-newline", ["images", "--root", "{b}/new-store", "import", "{b}/name-newline.tar"],
     ["not a usable image name"]),
    ("import-rootfs-int", ["images", "--root", "{b}/new-store", "import", "{b}/rootfs-int.tar"], ["rootfs.diff_ids"]),
    ("import-diffid-int", ["images", "--root", "{b}/new-store", "import", "{b}/diffid-int.tar"],
     ["rootfs.diff_ids[0]"]),
    ("import-cmd-int", ["images", "--root", "{b}/new-store", "import", "{b}/cmd-int.tar"], ["config.Cmd"]),
    ("import-config-list", ["images", "--root", "{b}/new-store", "import", "{b}/config-list.tar"], ["config:"]),
    ("import-into-empty-dir", ["images", "--root", "{b}/dir", "import", "{b}/cmd-int.tar"], ["config.Cmd"]),
    ("import-layers-dict", ["images", "--root", "{b}/new-store", "import", "{b}/layers-dict.tar"], ["layers"]),
    ("refs-list", ["images", "--root", "{b}/refs-list", "ls"], ["refs.json is corrupt"]),
    ("refs-garbage", ["images", "--root", "{b}/refs-garbage", "ls"], ["refs.json is corrupt"]),
    ("refs-int", ["images", "--root", "{b}/refs-int", "inspect", "a"], ["refs.json is corrupt"]),
    ("refs-empty", ["images", "--root", "{b}/refs-empty", "rm", "a"], ["refs.json is corrupt"]),
    ("refs-fifo", ["images", "--root", "{b}/refs-fifo", "ls"], ["refs.json", "not a regular file"]),
    ("refs-dir", ["images", "--root", "{b}/refs-dir", "ls"], ["refs.json", "is a directory"]),
    ("manifest-shape", ["images", "--root", "{b}/manifest-shape", "inspect", "bad:1"], ["manifest", "config"]),
    ("run-manifest-shape", ["run", "--root", "{b}/manifest-shape", "--image", "bad:1", "--", "true"],
     ["manifest", "config"]),
    ("run-root-file", ["run", "--root", "/etc/passwd", "--image", "x", "--", "true"], ["--root", "not a directory"]),
    ("run-root-fifo", ["run", "--root", "{b}/fifo", "--image", "x", "--", "true"], ["--root", "not a directory"]),
    ("run-root-no-image", ["run", "--root", "{b}/dir", "--", "true"], ["--root", "--image"]),
    ("pull-no-ref", ["images", "--root", "{b}/new-store", "pull"], ["REF"]),
    ("pull-bad-ref", ["images", "--root", "{b}/new-store", "pull", "UPPER/x"], ["UPPER", "lower-case"]),
    ("pull-bad-digest", ["images", "--root", "{b}/new-store", "pull", "a@sha256:zz"], ["digest"]),
    ("pull-bad-creds", ["images", "--root", "{b}/new-store", "pull", "--creds", "nocolon", "a"], ["--creds"]),
    ("regcfg-missing", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "{b}/nonexistent", "a"],
     ["registry config", "nonexistent"]),
    ("regcfg-dir", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "{b}/dir", "a"],
     ["registry config", "is a directory"]),
    ("regcfg-fifo", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "{b}/fifo", "a"],
     ["registry config", "not a regular file"]),
    ("regcfg-garbage", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "{b}/garbage", "a"],
     ["registry config", "not valid TOML"]),
    ("regcfg-proc-mem", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "/proc/self/mem", "a"],
     ["registry config", "/proc/self/mem"]),
    ("regcfg-empty-path", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "", "a"],
     ["registry config", "empty"]),
    ("regcfg-wrong-key", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "{b}/wrong.toml", "a"],
     ["unknown key 'x'"]),
    ("regcfg-shape", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "{b}/reg-shape.toml", "a"],
     ["mirrors", "must be a list"]),
    ("regcfg-url", ["images", "--root", "{b}/new-store", "pull", "--registry-config", "{b}/reg-url.toml", "a"],
     ["mirrors[0]"]),
    ("images-no-command", ["images"], ["images_command"]),
    ("images-bogus", ["images", "bogus"], ["bogus"]),
    ("images-bad-flag", ["images", "ls", "--bogus"], ["--bogus"]),
]


@pytest.mark.parametrize("args,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_images_bad_input(base, leftovers, args, words):
    args = [a.replace("{b}", str(base)) for a in args]
    r = run([PYSANDBOX, *args], leftovers)
    assert_fails_well(r, 125, "pysandbox", [w.replace("{b}", str(base)) for w in words])
    assert not (base / "new-store").exists()      # a failed command makes no store


def test_failed_import_keeps_an_existing_store_as_it_was(base, tmp_path):
    """A store that was there stays (empty), with no blobs of the failed import."""
    store = tmp_path / "store"
    for d in ("blobs", "layers"):
        (store / d / "sha256").mkdir(parents=True)
    (store / "lock").write_text("")
    r = run([PYSANDBOX, "images", "--root", store, "import", base / "cmd-int.tar"], Leftovers(tmp_path, MARKER))
    assert_fails_well(r, 125, "pysandbox", ["config.Cmd"])
    assert os.listdir(store / "blobs" / "sha256") == []
