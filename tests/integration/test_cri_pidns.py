"""`pysandbox cri` pod namespace modes end to end: a pod-shared pid namespace
(Kubernetes shareProcessNamespace: pid POD in the pod and container configs),
held by the pod init (cri_handler.podinit), across a server restart and until
StopPodSandbox; pid CONTAINER pods; ipc NODE.  A real server in a subprocess
(tests/cri_client.Server) with its own bridge, real containers."""
from __future__ import annotations

import json
import os
import subprocess

import grpc
import pytest

from cri_client import Server, busybox_archive
from cri_handler.v1 import api_pb2
from sentry.oci.container import start_time

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)"),
    pytest.mark.platform_independent,     # the CRI server runs its sentries on the default platform
]
RUNNING = api_pb2.CONTAINER_RUNNING


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("cripid")
    srv = Server(base, bridge="pysbpid0", cidr="10.217.0.0/24")
    srv.import_image(busybox_archive(base / "busybox.tar"))
    srv.client = srv.start()
    yield srv
    try:
        for p in srv.client.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest()).items:
            srv.client.remove_pod(p.id)
    finally:
        srv.client.close()
        srv.stop()
        srv.remove_network()
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        for p in sorted((p for p in points if p.startswith(str(base))), reverse=True):
            subprocess.run(["umount", "-l", p], capture_output=True)


def _pod_cfg(cri, name, pid=api_pb2.POD, ipc=api_pb2.POD):
    pc = cri.pod_config(name)
    pc.linux.security_context.namespace_options.pid = pid
    pc.linux.security_context.namespace_options.ipc = ipc
    return pc


def _ctr(cri, pod, pc, name, cmd):
    cc = cri.container_config(name, cmd)
    cc.linux.security_context.namespace_options.CopyFrom(pc.linux.security_context.namespace_options)
    cid = cri.create(pod, pc, cc)
    cri.start(cid)
    assert cri.wait_state(cid, RUNNING).state == RUNNING
    return cid


def _ps(cri, cid) -> str:
    r = cri.exec_sync(cid, ["ps", "-o", "pid,args"])
    assert r.exit_code == 0, r.stderr
    return r.stdout.decode()


def _pod_init(cri, pod) -> tuple[int, int]:
    info = json.loads(cri.rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod, verbose=True))
                      .info["info"])
    return info["pid_init_pid"], info["pid_init_start"]


def _sees(ps: str, what: str) -> bool:
    return any(line.split(None, 1)[1:] == [what] for line in ps.splitlines())


def test_shared_pid_namespace_survives_a_restart_and_dies_with_the_pod(server):
    cri = server.client
    pc = _pod_cfg(cri, "shared")
    pod = cri.run_pod(pc)
    init_pid, init_start = _pod_init(cri, pod)
    assert init_pid and start_time(init_pid) == init_start
    assert os.readlink(f"/proc/{init_pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    _ctr(cri, pod, pc, "sleeper", ["sleep", "31"])
    watcher = _ctr(cri, pod, pc, "watcher", ["sleep", "32"])
    ps = _ps(cri, watcher)
    assert _sees(ps, "sleep 31") and _sees(ps, "sleep 32"), ps
    first = [line.split(None, 1) for line in ps.splitlines()[1:] if line.split()[0] == "1"]
    assert first and "podinit" in first[0][1], ps          # the pod init is pid 1

    cri.close()
    assert server.stop() == 0
    assert start_time(init_pid) == init_start              # the pod init outlives the server
    cri = server.client = server.start()
    assert _pod_init(cri, pod) == (init_pid, init_start)
    late = _ctr(cri, pod, pc, "late", ["sleep", "33"])     # joins the same namespace after the restart
    ps = _ps(cri, late)
    assert _sees(ps, "sleep 31") and _sees(ps, "sleep 32"), ps

    cri.stop_pod(pod)
    assert start_time(init_pid) != init_start              # StopPodSandbox killed the pod init
    cri.stop_pod(pod)                                      # idempotent
    st = cri.rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod)).status
    assert st.state == api_pb2.SANDBOX_NOTREADY
    cri.remove_pod(pod)


def test_container_pid_mode_pods_do_not_share(server):
    cri = server.client
    pc = _pod_cfg(cri, "private", pid=api_pb2.CONTAINER)
    pod = cri.run_pod(pc)
    assert _pod_init(cri, pod) == (0, 0)                   # no pod init at all
    _ctr(cri, pod, pc, "one", ["sleep", "34"])
    two = _ctr(cri, pod, pc, "two", ["sleep", "35"])
    ps = _ps(cri, two)
    assert _sees(ps, "sleep 35") and not _sees(ps, "sleep 34"), ps
    cri.remove_pod(pod)


def test_a_pod_with_host_ipc(server):
    cri = server.client
    pc = _pod_cfg(cri, "hostipc", pid=api_pb2.CONTAINER, ipc=api_pb2.NODE)
    pod = cri.run_pod(pc)
    cid = _ctr(cri, pod, pc, "ipc", ["sleep", "36"])
    r = cri.exec_sync(cid, ["readlink", "/proc/self/ns/ipc"])
    assert r.stdout.decode().strip() == os.readlink("/proc/self/ns/ipc"), r.stderr
    other = _pod_cfg(cri, "podipc", pid=api_pb2.CONTAINER)
    pod2 = cri.run_pod(other)
    cid2 = _ctr(cri, pod2, other, "ipc", ["sleep", "37"])
    r = cri.exec_sync(cid2, ["readlink", "/proc/self/ns/ipc"])
    assert r.stdout.decode().strip() != os.readlink("/proc/self/ns/ipc")
    for p in (pod, pod2):
        cri.remove_pod(p)


def test_pid_target_joins_the_target_containers_namespace(server):
    """kubectl debug --target: a container with pid TARGET shares the pid
    namespace of the running container target_id names (the target's own
    process is its pid 1); each sees the other's processes."""
    cri = server.client
    pc = _pod_cfg(cri, "target", pid=api_pb2.CONTAINER)
    pod = cri.run_pod(pc)
    try:
        app = _ctr(cri, pod, pc, "app", ["sleep", "1234"])
        cc = cri.container_config("debug", ["sleep", "1235"])
        cc.linux.security_context.namespace_options.pid = api_pb2.TARGET
        cc.linux.security_context.namespace_options.target_id = app
        dbg = cri.create(pod, pc, cc)
        cri.start(dbg)
        assert cri.wait_state(dbg, RUNNING).state == RUNNING
        r = cri.exec_sync(dbg, ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; "
                                            "ps -o args | grep -c '^sleep 123[45]'"])
        assert r.stdout.decode().splitlines() == ["sleep 1234 ", "2"], r
        r = cri.exec_sync(app, ["sh", "-c", "ps -o args | grep -c '^sleep 1235'"])
        assert r.stdout.decode().split() == ["1"], r
    finally:
        cri.stop_pod(pod)
        cri.remove_pod(pod)


def test_pid_target_must_be_a_running_container_of_the_same_pod(server):
    cri = server.client
    pc = _pod_cfg(cri, "tgt-a", pid=api_pb2.CONTAINER)
    pod = cri.run_pod(pc)
    other_pc = _pod_cfg(cri, "tgt-b", pid=api_pb2.CONTAINER)
    other = cri.run_pod(other_pc)
    try:
        elsewhere = _ctr(cri, other, other_pc, "elsewhere", ["sleep", "1236"])
        done = _ctr(cri, pod, pc, "done", ["sleep", "1237"])
        cri.stop(done)
        cc = cri.container_config("debug", ["true"])
        cc.linux.security_context.namespace_options.pid = api_pb2.TARGET
        for target, code, words in ((elsewhere, "INVALID_ARGUMENT", "same pod sandbox"),
                                    (done, "FAILED_PRECONDITION", "not running")):
            cc.linux.security_context.namespace_options.target_id = target
            with pytest.raises(grpc.RpcError) as e:
                cri.create(pod, pc, cc)
            assert e.value.code().name == code and words in e.value.details(), e.value.details()
    finally:
        for p in (pod, other):
            cri.stop_pod(p)
            cri.remove_pod(p)
