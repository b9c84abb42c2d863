"""Pid NODE (hostPID) through `pysandbox cri`, as containerd serves it: the
pod has no pid namespace, its containers run in the host's (no pid entry
in their config.json).  They see the host's processes and their pids are
host pids; ptrace (and pidfd_getfd) stay refused and signals are the
kernel's to check; the container's cgroup ends it (a SIGKILLed sentry
leaves nothing behind, a double-forked daemon included), Stop and Remove
leave no process or cgroup, ExecSync works.  A real server over gRPC, on
the platform under test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import grpc
import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_archive, serving
from cri_handler.v1 import api_pb2
from tests.integration.test_oci_hostpid import PROBE, by_cmdline, cgroup_dirs, wait_until
from tests.integration.test_oci_pid1 import alive

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
EXITED, RUNNING = api_pb2.CONTAINER_EXITED, api_pb2.CONTAINER_RUNNING


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-hostpid")
    srv = Server(base, bridge="pysbhostpid0", cidr="10.239.0.0/24", platform=PLATFORM)
    with serving(srv, busybox_archive(base / "busybox.tar")) as client:
        yield client


def _pod_cfg(cri, name):
    pc = cri.pod_config(name)
    pc.linux.security_context.namespace_options.pid = api_pb2.NODE
    return pc


@pytest.fixture
def pod(cri):
    pc = _pod_cfg(cri, f"hostpid-{os.urandom(3).hex()}")
    pod_id = cri.run_pod(pc)
    yield pod_id, pc
    cri.remove_pod(pod_id)
    assert not cgroup_dirs(f"/pysandbox-cri/{pod_id}")       # the pod's cgroup parent, in every hierarchy


@pytest.fixture(scope="module")
def probe_dir(cc, tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    os.chmod(d, 0o755)
    exe = cc(PROBE, "hostprobe")
    os.rename(exe, d / "hostprobe")
    return d


@pytest.fixture
def host_sleep():
    procs = [subprocess.Popen(["sleep", "1997"]), subprocess.Popen(["sleep", "1998"], user=1000, group=1000)]
    yield procs
    for p in procs:
        p.kill()
        p.wait()


def _start(cri, pod, name, cmd, uid=None, mounts=()):
    pod_id, pc = pod
    cc = cri.container_config(name, cmd, mounts=list(mounts))
    cc.linux.security_context.namespace_options.pid = api_pb2.NODE
    if uid is not None:
        cc.linux.security_context.run_as_user.value = uid
    cid = cri.create(pod_id, pc, cc)
    cri.start(cid)
    assert cri.wait_state(cid, RUNNING).state == RUNNING
    return cid


def _info(cri, cid) -> dict:
    return json.loads(cri.rt.ContainerStatus(api_pb2.ContainerStatusRequest(container_id=cid, verbose=True))
                      .info["info"])


def _members(info) -> list[int]:
    path = info["cgroupsPath"]
    for d in cgroup_dirs(path):
        if os.path.exists(d + "/cgroup.procs"):
            with open(d + "/cgroup.procs") as f:
                return [int(p) for p in f.read().split()]
    return []


def test_sees_the_hosts_processes_and_its_pids_are_host_pids(cri, pod, host_sleep):
    cid = _start(cri, pod, "viewer", ["sleep", "1011"])
    assert wait_until(lambda: by_cmdline(b"sleep\x001011\x00"))     # exec'd by now
    target = host_sleep[0].pid
    r = cri.exec_sync(cid, ["sh", "-c", f"cat /proc/{target}/cmdline; echo; readlink /proc/self/ns/pid; "
                                        "ps -o pid,args"])
    assert r.exit_code == 0, r.stderr
    cmdline, ns, *ps = r.stdout.decode().split("\n")
    assert cmdline == "sleep\0" "1997\0" and ns == os.readlink("/proc/self/ns/pid"), r.stdout
    (main,) = [int(line.split()[0]) for line in ps if line.split(None, 1)[1:] == ["sleep 1011"]]
    with open(f"/proc/{main}/cmdline", "rb") as f:            # the same number on the host: the same process
        assert f.read() == b"sleep\x001011\x00"
    assert any(line.split(None, 1)[1:] == ["sleep 1997"] for line in ps), ps
    info = _info(cri, cid)
    assert main in _members(info) and info["sentryPid"] not in _members(info)


def test_no_ptrace_and_signals_as_the_kernel_checks(cri, pod, host_sleep, probe_dir):
    mount = api_pb2.Mount(container_path="/probe", host_path=str(probe_dir), readonly=True)
    root_target, user_target = host_sleep[0].pid, host_sleep[1].pid
    as_root = _start(cri, pod, "asroot", ["sleep", "1012"], mounts=[mount])
    r = cri.exec_sync(as_root, ["/probe/hostprobe", str(root_target)])
    out = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    assert (out["ptrace"], out["attach"], out["kill0"], out["pidfd_getfd"]) == ("EPERM", "EPERM", "ok", "EPERM"), out
    as_user = _start(cri, pod, "asuser", ["sleep", "1013"], uid=1000, mounts=[mount])
    r = cri.exec_sync(as_user, ["/probe/hostprobe", str(root_target), str(int(signal.SIGTERM))])
    out = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    assert (out["kill0"], out["kill"], out["pidfd_send_signal"], out["ptrace"]) == \
        ("EPERM", "EPERM", "ENOSYS", "EPERM"), out               # pidfd_send_signal: refused in this mode
    assert host_sleep[0].poll() is None
    r = cri.exec_sync(as_user, ["/probe/hostprobe", str(user_target)])
    out = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    assert (out["kill0"], out["ptrace"], out["pidfd_getfd"]) == ("ok", "EPERM", "EPERM"), out


def test_killing_the_sentry_leaves_no_process(cri, pod):
    cid = _start(cri, pod, "victim", ["sh", "-c", "(setsid sleep 1014 &); exec sleep 1015"])
    info = _info(cri, cid)
    # init, sleep 1015 and the daemon, once it has exec'd (setsid forks first)
    assert wait_until(lambda: len(by_cmdline(b"sleep\x001014\x00")) == 1 and len(_members(info)) == 3), \
        _members(info)
    members = _members(info)
    assert by_cmdline(b"sleep\x001014\x00")[0] in members
    os.kill(info["sentryPid"], signal.SIGKILL)
    assert wait_until(lambda: not any(alive(p) for p in members), 3), [p for p in members if alive(p)]
    assert cri.wait_state(cid, EXITED).state == EXITED
    cri.remove(cid)
    assert not cgroup_dirs(info["cgroupsPath"])


def test_exec_stop_and_remove_clean_up(cri):
    pc = _pod_cfg(cri, "hostpid-clean")
    pod_id = cri.run_pod(pc)
    cid = _start(cri, (pod_id, pc), "daemon", ["sh", "-c", "(setsid sleep 1016 &); exec sleep 1017"])
    r = cri.exec_sync(cid, ["sh", "-c", "echo $PPID; id -u"])
    assert r.exit_code == 0 and r.stdout.decode().split()[1] == "0", r.stderr
    info = _info(cri, cid)
    assert wait_until(lambda: by_cmdline(b"sleep\x001016\x00"))
    members = _members(info)
    started = time.monotonic()
    cri.stop(cid, timeout=5)
    assert time.monotonic() - started < 5                     # sleep dies of SIGTERM: no grace period used
    st = cri.status(cid)
    assert (st.state, st.exit_code) == (EXITED, 128 + signal.SIGTERM), st
    assert not any(alive(p) for p in members) and not by_cmdline(b"sleep\x001016\x00")
    cri.remove(cid)
    assert not cgroup_dirs(info["cgroupsPath"])
    # a second container, left running: StopPodSandbox ends it, RemovePodSandbox its cgroups
    cid2 = _start(cri, (pod_id, pc), "left", ["sh", "-c", "(setsid sleep 1018 &); exec sleep 1019"])
    info2 = _info(cri, cid2)
    assert wait_until(lambda: by_cmdline(b"sleep\x001018\x00"))
    cri.stop_pod(pod_id)
    assert not by_cmdline(b"sleep\x001018\x00") and not by_cmdline(b"sleep\x001019\x00")
    cri.remove_pod(pod_id)
    assert not cgroup_dirs(info2["cgroupsPath"]) and not cgroup_dirs(f"/pysandbox-cri/{pod_id}")


def test_bad_pid_modes(cri):
    pc = cri.pod_config("target")
    pc.linux.security_context.namespace_options.pid = api_pb2.TARGET
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod(pc)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED and "pid TARGET" in e.value.details()
    pc.linux.security_context.namespace_options.pid = 9
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod(pc)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert not [p for p in cri.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest()).items
                if p.metadata.name == "target"]
