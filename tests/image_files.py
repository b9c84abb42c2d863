"""Image files for the tests and the benchmarks, made in memory: layer tars
and docker-archive tarballs (what `docker save` writes, and what
`pysandbox images import` and `ctr images import` read).  Every member has
the same fixed mtime, so the same input gives the same digests."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"
MTIME = 1700000000
CREATED = "2024-01-02T03:04:05Z"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add_file(t: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), mode, MTIME
    t.addfile(ti, io.BytesIO(data))


def tar(entries) -> bytes:
    """A layer: entries are (name, kind, payload[, mode]) with kind dir
    (payload None), file (bytes or str), sym or link (payload: the target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, payload, *mode in entries:
            if kind == "file":
                add_file(t, name, payload if isinstance(payload, bytes) else payload.encode(),
                         mode[0] if mode else 0o644)
                continue
            ti = tarfile.TarInfo(name)
            ti.mtime = MTIME
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, mode[0] if mode else 0o755
            else:
                ti.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                ti.linkname = payload
            t.addfile(ti)
    return buf.getvalue()


def busybox_entries(dirs=("bin", "etc", "tmp", "root", "proc", "sys", "dev"), passwd: bytes = PASSWD,
                    group: bytes | None = None) -> list[tuple]:
    """/bin/busybox with a symlink per applet, the dirs (/tmp 1777), and
    /etc/passwd (and /etc/group if given)."""
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    with open(BUSYBOX, "rb") as f:
        exe = f.read()
    return ([(d + "/", "dir", None, 0o1777 if d == "tmp" else 0o755) for d in dirs]
            + [("bin/busybox", "file", exe, 0o755)]
            + [(f"bin/{a}", "sym", "busybox") for a in applets if a != "busybox"]
            + [("etc/passwd", "file", passwd)]
            + ([("etc/group", "file", group)] if group is not None else []))


def image_config(layers: list[bytes], config: dict) -> bytes:
    """An image's config blob: config is its "config" object (Env, Cmd ...)."""
    return json.dumps({"architecture": "amd64", "os": "linux", "created": CREATED, "config": config,
                       "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]}}).encode()


def docker_archive(path, ref: str, layers: list[bytes], config: dict) -> str:
    """A docker-archive tarball at path of one image named ref; returns the path."""
    blob = image_config(layers, config)
    names = [f"l{i}/layer.tar" for i in range(1, len(layers) + 1)]
    with tarfile.open(path, "w") as t:
        add_file(t, "manifest.json", json.dumps([{"Config": sha(blob)[7:] + ".json", "RepoTags": [ref],
                                                  "Layers": names}]).encode())
        add_file(t, sha(blob)[7:] + ".json", blob)
        for name, layer in zip(names, layers):
            add_file(t, name, layer)
    return str(path)
