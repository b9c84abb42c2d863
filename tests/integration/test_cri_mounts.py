"""CRI mounts through a real `pysandbox cri` over gRPC, on the platform
under test: propagation (containerd's mapping and its check of the host
path's mount) and read-only mounts (readonly: the bind's own mount;
recursive_read_only: all below it too), with real mounts made on the
host under a container's host_path."""
from __future__ import annotations

import os
import subprocess

import grpc
import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_archive, serving
from cri_handler.v1 import api_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
RUNNING = api_pb2.CONTAINER_RUNNING
PRIVATE, TO_CONTAINER, BIDIRECTIONAL = (api_pb2.PROPAGATION_PRIVATE, api_pb2.PROPAGATION_HOST_TO_CONTAINER,
                                        api_pb2.PROPAGATION_BIDIRECTIONAL)


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-mounts")
    srv = Server(base, bridge="pysbcrimnt0", cidr="10.225.0.0/24", platform=PLATFORM)
    with serving(srv, busybox_archive(base / "busybox.tar")) as client:
        yield client


def sh(*args) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def unmount_all(path) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p == str(path) or p.startswith(f"{path}/")), reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


@pytest.fixture
def host_dirs(tmp_path):
    """shared/ (a shared mount), slave/ (a slave of it), private/ (a private mount)."""
    made = {}
    for kind in ("shared", "slave", "private"):
        made[kind] = tmp_path / kind
        made[kind].mkdir()
    sh("mount", "--bind", made["shared"], made["shared"])
    sh("mount", "--make-shared", made["shared"])
    sh("mount", "--bind", made["shared"], made["slave"])
    sh("mount", "--make-slave", made["slave"])
    sh("mount", "--bind", made["private"], made["private"])
    sh("mount", "--make-private", made["private"])
    (made["shared"] / "sub").mkdir()
    yield made
    for d in made.values():
        unmount_all(d)


@pytest.fixture
def pod(cri, request):
    name = f"mnt-{os.urandom(4).hex()}"
    cfg = cri.pod_config(name)
    # A privileged container needs a privileged pod, as in containerd.
    cfg.linux.security_context.privileged = getattr(request, "param", False)
    pod_id = cri.run_pod(cfg)
    yield pod_id, cfg
    cri.stop_pod(pod_id)
    cri.remove_pod(pod_id)


def start(cri, pod, mounts, privileged=False) -> str:
    pod_id, pod_cfg = pod
    cfg = cri.container_config("c", ["sleep", "1000"], mounts=mounts)
    cfg.linux.security_context.privileged = privileged
    cid = cri.create(pod_id, pod_cfg, cfg)
    cri.start(cid)
    assert cri.wait_state(cid, RUNNING).state == RUNNING
    return cid


def sh_in(cri, cid, script) -> str:
    r = cri.exec_sync(cid, ["sh", "-c", script])
    return r.stdout.decode() + r.stderr.decode()


@pytest.mark.parametrize("propagation, source, arrives", [
    (PRIVATE, "shared", False),
    (TO_CONTAINER, "shared", True),
    (TO_CONTAINER, "slave", True),
    (BIDIRECTIONAL, "shared", True),
])
def test_host_mounts_reach_the_container(cri, pod, host_dirs, propagation, source, arrives):
    cid = start(cri, pod, [api_pb2.Mount(container_path="/mnt", host_path=str(host_dirs[source]),
                                         propagation=propagation)])
    sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", host_dirs["shared"] / "sub")
    (host_dirs["shared"] / "sub" / "f").write_text("from the host\n")
    assert sh_in(cri, cid, "cat /mnt/sub/f 2>/dev/null || echo nothing") == \
        ("from the host\n" if arrives else "nothing\n")


@pytest.mark.parametrize("propagation, source, want", [
    (TO_CONTAINER, "private", "a shared or slave mount"),
    (BIDIRECTIONAL, "private", "a shared mount"),
    (BIDIRECTIONAL, "slave", "a shared mount"),
])
def test_propagation_needs_a_shared_or_slave_host_mount(cri, pod, host_dirs, propagation, source, want):
    pod_id, pod_cfg = pod
    cfg = cri.container_config("c", ["true"], mounts=[
        api_pb2.Mount(container_path="/data", host_path="/etc/hostname"),
        api_pb2.Mount(container_path="/mnt", host_path=str(host_dirs[source]), propagation=propagation)])
    with pytest.raises(grpc.RpcError) as e:
        cri.create(pod_id, pod_cfg, cfg)
    name = api_pb2.MountPropagation.Name(propagation)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert e.value.details() == (f"config.mounts[1].propagation {name}: host_path {host_dirs[source]} is on the "
                                 f"mount at {host_dirs[source]}, which is not {want} (see mount --make-shared)")
    assert not cri.rt.ListContainers(api_pb2.ListContainersRequest(
        filter=api_pb2.ContainerFilter(pod_sandbox_id=pod_id))).containers


@pytest.mark.parametrize("pod", [True], indirect=True, ids=["privileged pod"])
def test_bidirectional_carries_nothing_out(cri, pod, host_dirs):
    """Even privileged, a container cannot mount (the sentry's filter
    refuses mount(2)): BIDIRECTIONAL's container-to-host half never happens."""
    (host_dirs["shared"] / "out").mkdir()
    cid = start(cri, pod, [api_pb2.Mount(container_path="/mnt", host_path=str(host_dirs["shared"]),
                                         propagation=BIDIRECTIONAL)], privileged=True)
    out = sh_in(cri, cid, "grep CapEff /proc/self/status; mount -t tmpfs tmpfs /mnt/out || echo refused")
    cap_eff = int(out.split()[1], 16)
    assert cap_eff & 1 << 21, out                # CAP_SYS_ADMIN, and still no mount
    assert "\nrefused\n" in out and "mount: permission denied" in out, out      # EPERM
    assert not os.path.ismount(host_dirs["shared"] / "out")


@pytest.fixture
def ro_source(tmp_path):
    """A tmpfs with another tmpfs mounted at sub/ below it."""
    src = tmp_path / "ro-src"
    src.mkdir()
    sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", src)
    (src / "sub").mkdir()
    sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", src / "sub")
    yield src
    unmount_all(src)


@pytest.mark.parametrize("readonly, recursive, expect", [
    (True, False, ["top-ro", "sub-rw"]),       # as containerd + runc: the mount below stays writable
    (True, True, ["top-ro", "sub-ro"]),
    (False, False, ["top-rw", "sub-rw"]),
])
def test_read_only_mounts(cri, pod, ro_source, readonly, recursive, expect):
    cid = start(cri, pod, [api_pb2.Mount(container_path="/mnt", host_path=str(ro_source), readonly=readonly,
                                         recursive_read_only=recursive)])
    out = sh_in(cri, cid, "touch /mnt/top 2>/dev/null && echo top-rw || echo top-ro; "
                          "touch /mnt/sub/f 2>/dev/null && echo sub-rw || echo sub-ro")
    assert out.split() == expect
    assert (ro_source / "sub" / "f").exists() == (expect[1] == "sub-rw")


@pytest.mark.parametrize("readonly, propagation, message", [
    (False, PRIVATE, "config.mounts[0].recursive_read_only: needs readonly"),
    (True, TO_CONTAINER, "config.mounts[0].recursive_read_only: needs PROPAGATION_PRIVATE, "
                         "not PROPAGATION_HOST_TO_CONTAINER"),
])
def test_recursive_read_only_needs_readonly_and_private(cri, pod, host_dirs, readonly, propagation, message):
    pod_id, pod_cfg = pod
    cfg = cri.container_config("c", ["true"], mounts=[api_pb2.Mount(
        container_path="/mnt", host_path=str(host_dirs["shared"]), readonly=readonly, recursive_read_only=True,
        propagation=propagation)])
    with pytest.raises(grpc.RpcError) as e:
        cri.create(pod_id, pod_cfg, cfg)
    assert (e.value.code(), e.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)


def test_status_reports_recursive_read_only_mounts(cri):
    st = cri.rt.Status(api_pb2.StatusRequest())
    handlers = {h.name: h.features for h in st.runtime_handlers}
    assert set(handlers) == {"pysandbox", ""}
    assert all(f.recursive_read_only_mounts and not f.user_namespaces for f in handlers.values())
