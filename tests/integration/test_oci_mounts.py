"""Bind mounts through pysandbox-oci as runc makes them: propagation
(bind options and linux.rootfsPropagation) and read-only binds ("ro": the
bind's own mount, "rro": everything below too), tested with real mounts
made on the host under a running container's bind source.

The host here has no shared mounts of its own (no systemd), so each test
makes one: a directory bound onto itself and marked shared, as
`mount --make-shared` leaves a systemd host's /."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from test_oci_runtime import _no_cgroup_parent_left, bundle, oci, root, wait_status  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, namespaces)")


def sh(*args) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def make_shared(path: Path) -> None:
    sh("mount", "--bind", path, path)
    sh("mount", "--make-shared", path)


def unmount_all(path: Path) -> None:
    """Whatever is mounted at or below path, innermost first (lazily)."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p == str(path) or p.startswith(f"{path}/")), reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


@pytest.fixture
def shared_dir(tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    make_shared(d)
    yield d
    unmount_all(d)


def add_mounts(b: Path, *mounts, **linux) -> None:
    cfg = json.loads((b / "config.json").read_text())
    cfg["mounts"] += list(mounts)
    cfg["linux"].update(linux)
    cfg["process"]["args"] = ["sleep", "1000"]
    (b / "config.json").write_text(json.dumps(cfg))


def run_detached(root, b: Path, cid: str) -> int:
    """Create and start; the host pid of the container's `sleep`."""
    r = oci(root, "create", "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    assert oci(root, "start", cid).returncode == 0
    sentry = wait_status(root, cid, "running")["pid"]
    for _ in range(200):
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    comm = f.read().split(") ")[0].split(" (", 1)[1]
            except OSError:
                continue
            if comm == "sleep" and _descends(pid, sentry):
                return pid
        subprocess.run(["sleep", "0.05"])
    raise AssertionError("the container's sleep never showed up")


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(") ", 1)[1].split()[1])
        except OSError:
            return False
        if pid == ancestor:
            return True
    return False


def in_container(root, cid: str, script: str) -> str:
    r = oci(root, "exec", cid, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    return r.stdout


def host_mount_tmpfs(path: Path, content: str) -> None:
    sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", path)
    (path / "f").write_text(content)


@pytest.mark.parametrize("options, arrives", [
    (["rbind", "rslave"], True),
    (["rbind", "slave"], True),
    (["rbind", "rshared"], True),
    (["bind", "shared"], True),
    (["rbind", "rprivate"], False),
    (["rbind", "private"], False),
    (["rbind"], False),                     # no propagation option: rprivate
    (["rbind", "rprivate", "slave"], False),    # in order, as runc: a private mount has no master left
])
def test_host_mounts_reach_slave_and_shared_binds(bundle, root, shared_dir, options, arrives):
    (shared_dir / "sub").mkdir()
    add_mounts(bundle, {"destination": "/mnt", "type": "bind", "source": str(shared_dir), "options": options})
    run_detached(root, bundle, "p1")
    host_mount_tmpfs(shared_dir / "sub", "made on the host\n")
    seen = in_container(root, "p1", "cat /mnt/sub/f 2>/dev/null || echo nothing")
    assert seen == ("made on the host\n" if arrives else "nothing\n")
    sh("umount", shared_dir / "sub")           # an unmount propagates the same way
    assert in_container(root, "p1", "ls /mnt/sub") == ""


def test_nothing_mounted_in_the_container_reaches_the_host(bundle, root, shared_dir):
    """The container cannot mount (the sentry's filter refuses mount(2)),
    so mount from the host inside its mount namespace (nsenter): even
    through an rshared bind and an rshared root nothing comes out."""
    rootfs = bundle / "rootfs"
    make_shared(rootfs)
    try:
        (shared_dir / "out").mkdir()
        (rootfs / "data" / "out").mkdir()
        add_mounts(bundle, {"destination": "/mnt", "type": "bind", "source": str(shared_dir),
                            "options": ["rbind", "rshared"]}, rootfsPropagation="rshared")
        pid = run_detached(root, bundle, "p2")
        for inside in ("/mnt/out", "/data/out"):
            sh("nsenter", f"--mount=/proc/{pid}/ns/mnt", "mount", "-t", "tmpfs", "tmpfs", inside)
            sh("nsenter", f"--mount=/proc/{pid}/ns/mnt", "touch", f"{inside}/f")
        assert in_container(root, "p2", "ls /mnt/out; ls /data/out").split() == ["f", "f"]
        assert os.listdir(shared_dir / "out") == [] and os.listdir(rootfs / "data" / "out") == []
        assert not os.path.ismount(shared_dir / "out") and not os.path.ismount(rootfs / "data" / "out")
        r = oci(root, "exec", "p2", "mount", "-t", "tmpfs", "tmpfs", "/mnt/out")
        assert r.returncode != 0                 # and the container itself cannot mount at all
    finally:
        oci(root, "delete", "--force", "p2")
        unmount_all(rootfs)


@pytest.mark.parametrize("propagation, arrives", [
    ("rslave", True), ("slave", True), ("shared", True), ("rprivate", False), (None, False),
])
def test_rootfs_propagation(bundle, root, propagation, arrives):
    rootfs = bundle / "rootfs"
    make_shared(rootfs)
    try:
        (rootfs / "data" / "sub").mkdir()
        add_mounts(bundle, **({"rootfsPropagation": propagation} if propagation else {}))
        run_detached(root, bundle, "r1")
        host_mount_tmpfs(rootfs / "data" / "sub", "under the rootfs\n")
        seen = in_container(root, "r1", "cat /data/sub/f 2>/dev/null || echo nothing")
        assert seen == ("under the rootfs\n" if arrives else "nothing\n")
    finally:
        oci(root, "delete", "--force", "r1")
        unmount_all(rootfs)


def test_bad_rootfs_propagation_is_named(bundle, root):
    add_mounts(bundle, rootfsPropagation="sideways")
    r = oci(root, "create", "--bundle", bundle, "bad")
    assert r.returncode == 1 and "linux.rootfsPropagation 'sideways'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (root / "bad").exists()


def mount_options(pid: int, point: str) -> set[str]:
    """The per-mount options of the mount at point in pid's mount namespace,
    as the kernel lists them (the host's /proc: not the sandbox's view)."""
    with open(f"/proc/{pid}/mountinfo") as f:
        found = [line.split()[5] for line in f if line.split()[4] == point]
    assert found, f"nothing mounted at {point}"
    return set(found[-1].split(","))


@pytest.fixture
def ro_source(tmp_path):
    """A nosuid,nodev tmpfs with another tmpfs mounted at sub/ below it."""
    src = tmp_path / "ro-src"
    src.mkdir()
    sh("mount", "-t", "tmpfs", "-o", "size=1m,nosuid,nodev", "tmpfs", src)
    (src / "sub").mkdir()
    sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", src / "sub")
    yield src
    unmount_all(src)


@pytest.mark.parametrize("options, below_writable", [
    (["rbind", "ro"], True),             # as runc: the mounts below an ro bind stay writable
    (["rbind", "rw", "ro"], True),       # the last of ro and rw wins
    (["rbind", "rro"], False),
    (["rbind", "ro", "rro"], False),
])
def test_read_only_binds(bundle, root, ro_source, options, below_writable):
    add_mounts(bundle, {"destination": "/mnt", "type": "bind", "source": str(ro_source), "options": options})
    pid = run_detached(root, bundle, "ro1")
    out = in_container(root, "ro1", "touch /mnt/top 2>/dev/null && echo top-rw || echo top-ro; "
                                    "touch /mnt/sub/f 2>/dev/null && echo sub-rw || echo sub-ro")
    assert out.split() == ["top-ro", "sub-rw" if below_writable else "sub-ro"]
    assert not (ro_source / "top").exists() and (ro_source / "sub" / "f").exists() == below_writable
    top, below = mount_options(pid, "/mnt"), mount_options(pid, "/mnt/sub")
    assert {"ro", "nosuid", "nodev"} <= top       # read-only, and the host mount's own flags kept
    assert ("rw" if below_writable else "ro") in below


def test_rw_bind_is_writable_all_the_way(bundle, root, ro_source):
    add_mounts(bundle, {"destination": "/mnt", "type": "bind", "source": str(ro_source), "options": ["rbind"]})
    run_detached(root, bundle, "rw1")
    assert in_container(root, "rw1", "touch /mnt/top /mnt/sub/f && echo ok") == "ok\n"
    assert (ro_source / "top").exists() and (ro_source / "sub" / "f").exists()


@pytest.mark.parametrize("options, below", [(["bind"], False), (["rbind"], True), ([], True)])
def test_bind_alone_leaves_the_mounts_below_out(bundle, root, ro_source, options, below):
    """runc: "bind" is MS_BIND, "rbind" MS_BIND|MS_REC (type bind alone: rbind here)."""
    (ro_source / "sub" / "f").write_text("in the tmpfs below\n")
    add_mounts(bundle, {"destination": "/mnt", "type": "bind", "source": str(ro_source), "options": options})
    pid = run_detached(root, bundle, "b1")
    seen = in_container(root, "b1", "cat /mnt/sub/f 2>/dev/null || echo nothing")
    assert seen == ("in the tmpfs below\n" if below else "nothing\n")
    with open(f"/proc/{pid}/mountinfo") as f:
        assert any(line.split()[4] == "/mnt/sub" for line in f) == below


def test_masks_and_read_only_paths_mount_once(bundle, root):
    """The bundle lists runc's default maskedPaths and readonlyPaths, which
    are also the sandbox's own: each path gets one mount, none stacked on
    another at the same point (in the host's /proc/PID/mountinfo, a mount
    whose parent is mounted at the same path)."""
    cfg = json.loads((bundle / "config.json").read_text())
    assert "/proc/keys" in cfg["linux"]["maskedPaths"] and "/proc/sys" in cfg["linux"]["readonlyPaths"]
    add_mounts(bundle, maskedPaths=cfg["linux"]["maskedPaths"] + ["/proc/keys"])
    pid = run_detached(root, bundle, "m1")
    with open(f"/proc/{pid}/mountinfo") as f:
        mounts = [line.split() for line in f]
    point = {m[0]: m[4] for m in mounts}
    stacked = sorted(m[4] for m in mounts if point.get(m[1]) == m[4])
    assert stacked == [], stacked
    assert "/proc/keys" in point.values() and "/proc/sys" in point.values()
