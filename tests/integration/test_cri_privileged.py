"""Privileged containers through a real `pysandbox cri` over gRPC, on the
platform under test: in a privileged pod, a privileged container joins the
pod's user namespace, which owns the pod's network, so it can do what
privileged containers are used for there (a bridge, links, the network's
sysctls) while the host's network, kernel settings and mounts stay out of
reach.  An unprivileged container in the same pod cannot; a privileged
container in an unprivileged pod is refused, as containerd refuses it."""
from __future__ import annotations

import os

import grpc
import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_archive, serving
from cri_handler.v1 import api_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
RUNNING = api_pb2.CONTAINER_RUNNING
CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-priv")
    srv = Server(base, bridge="pysbcripriv0", cidr="10.233.0.0/24", platform=PLATFORM)
    with serving(srv, busybox_archive(base / "busybox.tar")) as client:
        yield client


@pytest.fixture(scope="module")
def pod(cri):
    cfg = cri.pod_config(f"priv-{os.urandom(4).hex()}")
    cfg.linux.security_context.privileged = True
    pod_id = cri.run_pod(cfg)
    yield pod_id, cfg
    cri.stop_pod(pod_id)
    cri.remove_pod(pod_id)


def start(cri, pod, name, privileged) -> str:
    pod_id, pod_cfg = pod
    cfg = cri.container_config(name, ["sleep", "1000"])
    cfg.linux.security_context.privileged = privileged
    cid = cri.create(pod_id, pod_cfg, cfg)
    cri.start(cid)
    assert cri.wait_state(cid, RUNNING).state == RUNNING
    return cid


def sh_in(cri, cid, script) -> tuple[int, str]:
    r = cri.exec_sync(cid, ["sh", "-c", script])
    return r.exit_code, r.stdout.decode() + r.stderr.decode()


def host_sysctl(name: str) -> str:
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return f.read().strip()


def test_a_privileged_container_runs_its_pods_network(cri, pod):
    cid = start(cri, pod, "admin", privileged=True)
    code, out = sh_in(cri, cid, "grep CapEff /proc/self/status")
    cap_eff = int(out.split()[1], 16)
    assert code == 0 and cap_eff & (1 << CAP_NET_ADMIN) and cap_eff & (1 << CAP_SYS_ADMIN), out

    code, out = sh_in(cri, cid, "busybox ip link add pbr0 type bridge && busybox ip link set pbr0 up && "
                                "busybox ip -o link show pbr0 && busybox brctl addbr pbr1 && "
                                "busybox ip -o link show pbr1")
    assert code == 0 and "pbr0:" in out and "pbr1" in out, out
    assert not os.path.exists("/sys/class/net/pbr0") and not os.path.exists("/sys/class/net/pbr1")

    ttl = host_sysctl("net.ipv4.ip_default_ttl")
    code, out = sh_in(cri, cid, "echo 33 > /proc/sys/net/ipv4/ip_default_ttl && cat /proc/sys/net/ipv4/ip_default_ttl")
    assert (code, out) == (0, "33\n"), out
    assert host_sysctl("net.ipv4.ip_default_ttl") == ttl       # the pod's network's, not the host's


def test_the_host_stays_out_of_a_privileged_containers_reach(cri, pod):
    cid = start(cri, pod, "reach", privileged=True)
    core = host_sysctl("kernel.core_pattern")
    code, out = sh_in(cri, cid, "echo '|/bin/false' > /proc/sys/kernel/core_pattern")
    assert code != 0 and "Read-only file system" in out, out
    assert host_sysctl("kernel.core_pattern") == core
    # Mount stays refused to every container (the sentry's filter).
    code, out = sh_in(cri, cid, "mount -t tmpfs tmpfs /mnt")
    assert code != 0 and "permission denied" in out, out
    # The host's own network namespace is not its to change: joining it
    # takes CAP_SYS_ADMIN over the host's user namespace.
    code, out = sh_in(cri, cid, "busybox nsenter -n/proc/1/ns/net true; echo rc=$?")
    assert "rc=0" not in out, out


def test_an_unprivileged_container_in_the_same_pod_cannot(cri, pod):
    cid = start(cri, pod, "plain", privileged=False)
    code, out = sh_in(cri, cid, "busybox ip link add pbr2 type bridge")
    assert code != 0 and "not permitted" in out, out
    code, out = sh_in(cri, cid, "echo 44 > /proc/sys/net/ipv4/ip_default_ttl")
    assert code != 0 and "Read-only file system" in out, out


def test_a_privileged_container_needs_a_privileged_pod(cri):
    cfg = cri.pod_config(f"plain-{os.urandom(4).hex()}")
    pod_id = cri.run_pod(cfg)
    try:
        ctr = cri.container_config("p", ["true"])
        ctr.linux.security_context.privileged = True
        with pytest.raises(grpc.RpcError) as e:
            cri.create(pod_id, cfg, ctr)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "the pod sandbox is not privileged" in e.value.details()
    finally:
        cri.stop_pod(pod_id)
        cri.remove_pod(pod_id)


def test_a_privileged_pods_namespaces_go_with_it(cri):
    cfg = cri.pod_config(f"gone-{os.urandom(4).hex()}")
    cfg.linux.security_context.privileged = True
    pod_id = cri.run_pod(cfg)
    with open("/proc/self/mountinfo") as f:
        pinned = [line.split()[4] for line in f if pod_id in line]
    assert any(p.endswith(f"{pod_id}/user") for p in pinned), pinned
    cri.stop_pod(pod_id)
    cri.remove_pod(pod_id)
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if pod_id in line]
