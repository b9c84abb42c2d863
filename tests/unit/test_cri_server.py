"""cri_handler without the OCI runtime: the records (store), the config
file, and the RuntimeService / ImageService over real gRPC with a recording
fake of pysandbox-oci and of the pod network.  Pods still get real
namespaces (netns.py) and containers a real overlayfs root, so the tests
need root; the CRI -> OCI mapping is test_cri_ocispec.py, and the real
runtime is driven by tests/integration/test_cri.py."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import grpc
import pytest

from cri_handler import config as cri_config
from cri_handler.network import PodNetworkStatus
from cri_handler.ociruntime import OciState
from cri_handler.store import ContainerRecord, MetadataStore, PodRecord
from cri_handler.v1 import api_pb2
from sentry.errors import SandboxError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cri_client import CRI, IMAGE, busybox_archive  # noqa: E402

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, overlayfs)")


# --- records and the config file ----------------------------------------------------

def test_records_round_trip(tmp_path):
    m = MetadataStore(str(tmp_path))
    m.save_pod(PodRecord(id="p" * 64, name="pod", namespace="ns", uid="u", attempt=0, created_at=1,
                         hostname="podhost", host_network=False, namespaces={"net": "/ns/net"},
                         config={"linux": {"sysctls": {"kernel.shm_rmid_forced": "1"}}}))
    m.save_container(ContainerRecord(id="c1", pod_id="p", name="n", attempt=1, created_at=5, exit_code=3))
    (tmp_path / "cri" / "pods" / "x.json.1.tmp").write_text("half")
    pods, ctrs = m.load()
    assert pods[0].hostname == "podhost" and ctrs[0].exit_code == 3
    assert not (tmp_path / "cri" / "pods" / "x.json.1.tmp").exists()
    m.delete_container("c1")
    assert m.load()[1] == []


def test_config_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('root = "/r"\n[network]\nbridge = "br9"\ncni_bin_dirs = ["/x"]\n')
    cfg = cri_config.load(str(f), state_dir="/s", listen=None)
    assert (cfg.root, cfg.state_dir, cfg.network.bridge, cfg.network.cni_bin_dirs) == ("/r", "/s", "br9", ["/x"])
    f.write_text('bogus = 1\n')
    with pytest.raises(SandboxError, match="bogus"):
        cri_config.load(str(f))


# --- the services over gRPC, with fakes ----------------------------------------------

class FakeOci:
    """Records calls; containers are states in a dict.  exec runs the argv
    on the host (through the process file), which is all ExecSync needs."""

    def __init__(self, root):
        self.root, self.binary = root, "fake-oci"
        self.states: dict[str, OciState] = {}
        self.calls: list[tuple] = []
        self.exit_on_start: set[str] = set()     # these exit before start returns,
        self.on_exit = None                      # and this sees it then (as the exit monitor would)

    def create(self, cid, bundle, stdin, stdout, stderr, console_socket=""):
        self.calls.append(("create", cid))
        assert json.load(open(os.path.join(bundle, "config.json")))["root"]["path"] == os.path.join(bundle, "rootfs")
        # the writable layer is never synced: its removal would sync the host's filesystem (rootfs.py)
        with open("/proc/self/mountinfo") as f:
            (fstype, sb_opts), = [(m[m.index("-") + 1], m[-1]) for m in map(str.split, f)
                                  if m[4] == os.path.join(bundle, "rootfs")]
        assert fstype == "overlay" and {"volatile", "fsync=volatile"} & set(sb_opts.split(",")), sb_opts
        os.write(stdout, b"hello from create\n")         # what a container would print
        self.states[cid] = OciState("created", pid=0)
        return 1

    def start(self, cid):
        self.calls.append(("start", cid))
        self.states[cid] = OciState("running", started="2024-01-02T03:04:05.5Z")
        if cid in self.exit_on_start:
            self.exit(cid, 3)
            if self.on_exit:
                self.on_exit(cid)

    def kill(self, cid, sig, all_procs=False):
        self.calls.append(("kill", cid, int(sig)))
        st = self.states[cid]
        if st.status in ("created", "running"):
            self.states[cid] = OciState("stopped", started=st.started,
                                        exit={"status": 128 + int(sig), "finishedAt": "2024-01-02T03:04:06Z"})

    def delete(self, cid, force=True):
        self.calls.append(("delete", cid))
        self.states.pop(cid, None)

    def update(self, cid, res):
        self.calls.append(("update", cid, res))

    def state(self, cid):
        return self.states.get(cid, OciState("absent"))

    def wait(self, cid, timeout):
        return self.state(cid).status in ("stopped", "absent")

    def exec_argv(self, cid, process_file):
        return [sys.executable, "-c", "import json, os, sys; a = json.load(open(sys.argv[1]))['args'];"
                " os.execvp(a[0], a)", process_file]

    def exec_process(self, cid, process_file, stdin=-1, stdout=-1, stderr=-1):
        from cri_handler.spawn import subprocess_child
        return subprocess_child(self.exec_argv(cid, process_file), stdin, stdout, stderr, new_session=True)

    def exit(self, cid, status):
        self.states[cid] = OciState("stopped", started=self.states[cid].started,
                                    exit={"status": status, "finishedAt": "2024-01-02T03:04:07Z", "oomKilled": False})


class FakeNet:
    ifname = "eth0"

    def __init__(self):
        self.up: set[str] = set()
        self.cidrs: list[str] = []

    def status(self):
        return True, "fake"

    def setup(self, pod_id, netns_path, port_mappings=(), name="", namespace="", uid=""):
        assert os.path.exists(netns_path)
        self.up.add(pod_id)
        return PodNetworkStatus("10.9.0.2", "eth0", "10.9.0.1", "builtin")

    def teardown(self, pod_id, *a):
        self.up.discard(pod_id)

    def update_pod_cidr(self, cidr):
        self.cidrs.append(cidr)


@pytest.fixture
def served(tmp_path):
    """A Runtime with FakeOci/FakeNet behind a real gRPC server on a unix socket."""
    from cri_handler.runtime import Runtime
    from cri_handler.server import build_server
    if os.geteuid() != 0:
        pytest.skip("needs root")
    cfg = cri_config.load(None, root=str(tmp_path / "root"), state_dir=str(tmp_path / "state"),
                          listen=f"unix://{tmp_path}/s.sock", cgroup_root="/pysandbox-cri-unit")
    from sentry.images.importer import import_archive
    from sentry.images.store import Store
    import_archive(Store(cfg.root), busybox_archive(tmp_path / "bb.tar"), progress=lambda m: None)
    oci, net = FakeOci(str(tmp_path / "oci")), FakeNet()
    state = {}

    def start():
        rt = Runtime(cfg, oci=oci, network=net)
        rt.recover()
        server = build_server(rt, None)
        server.add_insecure_port(cfg.listen)
        server.start()
        state.update(rt=rt, server=server, client=CRI(cfg.listen, timeout=20))
        return state["client"]

    def stop():
        state["client"].close()
        state["server"].stop(0).wait()
        state["rt"].close()

    start()
    yield state, oci, net, start, stop, tmp_path
    for pod in list(state["rt"].pods):
        state["rt"].pods_svc.remove(pod)
    stop()


def _code(fn, *a):
    with pytest.raises(grpc.RpcError) as e:
        fn(*a)
    return e.value.code(), e.value.details()


@root_only
def test_lifecycle_with_fakes(served):
    state, oci, net, start, stop, tmp = served
    c = state["client"]
    pc = c.pod_config("unit", log_dir=str(tmp / "logs"))
    pod = c.run_pod(pc)
    assert pod in net.up
    st = c.rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod)).status
    assert st.state == api_pb2.SANDBOX_READY and st.network.ip == "10.9.0.2" and st.created_at > 0
    assert st.linux.namespaces.options.pid == api_pb2.CONTAINER
    cc = c.container_config("app", ["sleep", "100"], log_path="app/0.log", labels={"k": "v"})
    cid = c.create(pod, pc, cc)
    assert c.status(cid).state == api_pb2.CONTAINER_CREATED
    # as containerd's, CreateContainer makes no sentry yet: StartContainer runs `create`, then `start`
    assert not any(call[0] == "create" for call in oci.calls)
    c.start(cid)
    assert [call[0] for call in oci.calls if call[0] in ("create", "start")] == ["create", "start"]
    # the output the "container" wrote during create reaches the CRI log through the relay
    deadline = time.time() + 10
    log_file = tmp / "logs" / "app" / "0.log"
    while time.time() < deadline and b"hello from create" not in (log_file.read_bytes() if log_file.exists() else b""):
        time.sleep(0.05)
    assert b" stdout F hello from create\n" in log_file.read_bytes()
    s = c.status(cid)
    assert s.state == api_pb2.CONTAINER_RUNNING and s.started_at == 1704164645500000000
    assert s.image.image == IMAGE and s.image_id.startswith("sha256:") and s.log_path == str(log_file)
    r = c.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 7)
    assert _code(c.exec_sync, cid, ["sleep", "5"], 1)[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    lst = c.rt.ListContainers(api_pb2.ListContainersRequest(filter=api_pb2.ContainerFilter(
        label_selector={"k": "v"}))).containers
    assert [x.id for x in lst] == [cid]
    c.stop(cid, 5)
    s = c.status(cid)
    assert (s.state, s.exit_code, s.reason) == (api_pb2.CONTAINER_EXITED, 128 + signal.SIGTERM, "Error")
    c.stop(cid, 5)                                    # idempotent
    assert ("kill", cid, int(signal.SIGTERM)) in oci.calls
    c.remove(cid)
    c.remove(cid)
    assert _code(c.status, cid)[0] == grpc.StatusCode.NOT_FOUND
    c.stop_pod(pod)
    c.stop_pod(pod)
    assert pod not in net.up
    c.remove_pod(pod)
    c.remove_pod(pod)
    assert c.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest()).items == []


@root_only
def test_restart_recovers_records(served):
    state, oci, net, start, stop, tmp = served
    c = state["client"]
    pc = c.pod_config("restart")
    pod = c.run_pod(pc)
    running = c.create(pod, pc, c.container_config("run", ["sleep", "100"]))
    c.start(running)
    done = c.create(pod, pc, c.container_config("done", ["true"]))
    c.start(done)
    stop()
    oci.exit(done, 0)                                 # exits while the server is down
    c = start()
    assert c.status(running).state == api_pb2.CONTAINER_RUNNING
    s = c.status(done)
    assert (s.state, s.exit_code, s.reason) == (api_pb2.CONTAINER_EXITED, 0, "Completed")
    assert [p.id for p in c.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest()).items] == [pod]
    # names stay reserved across the restart
    assert _code(c.create, pod, pc, c.container_config("run", ["true"]))[0] == grpc.StatusCode.ALREADY_EXISTS


@root_only
def test_bad_requests_get_codes(served):
    state, oci, net, start, stop, tmp = served
    c = state["client"]
    rt, img = c.rt, c.img
    IA, NF = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    assert _code(rt.PodSandboxStatus, api_pb2.PodSandboxStatusRequest())[0] == IA
    assert _code(rt.PodSandboxStatus, api_pb2.PodSandboxStatusRequest(pod_sandbox_id="nope"))[0] == NF
    assert _code(rt.ContainerStatus, api_pb2.ContainerStatusRequest(container_id="nope"))[0] == NF
    assert _code(rt.StartContainer, api_pb2.StartContainerRequest())[0] == IA
    code, msg = _code(c.run_pod, c.pod_config("h"), "runc")
    assert code == IA and "runtime_handler" in msg
    assert _code(c.run_pod, api_pb2.PodSandboxConfig())[0] == IA
    # already gone: fine
    rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id="0" * 64))
    rt.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id="0" * 64))
    rt.StopContainer(api_pb2.StopContainerRequest(container_id="0" * 64))
    rt.RemoveContainer(api_pb2.RemoveContainerRequest(container_id="0" * 64))
    img.RemoveImage(api_pb2.RemoveImageRequest(image=api_pb2.ImageSpec(image="0" * 64)))
    pc = c.pod_config("bad")
    pod = c.run_pod(pc)
    cc = c.container_config("x", ["true"], mounts=[api_pb2.Mount(container_path="/d", host_path="/no/such")])
    code, msg = _code(c.create, pod, pc, cc)
    assert code == IA and "config.mounts[0].host_path" in msg
    code, msg = _code(c.create, pod, pc, c.container_config("x", ["true"], image="no/such:img"))
    assert code == NF
    assert _code(c.create, pod, pc, c.container_config("", ["true"]))[0] == IA
    huge = api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image="a" * 100_000))
    assert _code(img.PullImage, huge)[0] == IA
    assert _code(img.PullImage, api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image="UPPER/Case")))[0] == IA
    assert not img.ImageStatus(api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image="no/such"))).HasField("image")
    # and the server is still serving
    assert rt.Version(api_pb2.VersionRequest()).runtime_name == "pysandbox"


@root_only
def test_images_and_status(served):
    state, *_ = served
    c = state["client"]
    imgs = c.img.ListImages(api_pb2.ListImagesRequest()).images
    assert len(imgs) == 1 and IMAGE in imgs[0].repo_tags and imgs[0].size > 0
    iid = imgs[0].id
    for ref in (IMAGE, iid, iid[7:19], f"{IMAGE.split(':')[0]}@{imgs[0].repo_digests[0].split('@')[1]}"):
        got = c.img.ImageStatus(api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image=ref))).image
        assert got.id == iid, ref
    fs = c.img.ImageFsInfo(api_pb2.ImageFsInfoRequest()).image_filesystems[0]
    assert fs.used_bytes.value > 0 and fs.timestamp > 0
    st = c.rt.Status(api_pb2.StatusRequest())
    assert {x.type: x.status for x in st.status.conditions} == {"RuntimeReady": True, "NetworkReady": True}
    assert [h.name for h in st.runtime_handlers] == ["pysandbox", ""]
    v = c.rt.Version(api_pb2.VersionRequest())
    assert (v.runtime_name, v.runtime_api_version) == ("pysandbox", "v1")
    assert c.rt.RuntimeConfig(api_pb2.RuntimeConfigRequest()).linux.cgroup_driver == api_pb2.CGROUPFS


@root_only
def test_events_in_order_when_the_container_exits_during_start(served):
    """The exit is seen (by refresh, as the exit monitor would) before
    StartContainer records RUNNING: still CREATED, STARTED, STOPPED,
    DELETED, once each, and each event has every container of the pod."""
    state, oci, *_ = served
    c = state["client"]
    stream = c.rt.GetContainerEvents(api_pb2.GetEventsRequest())
    stream.initial_metadata()                        # the server has subscribed us
    pc = c.pod_config("events")
    pod = c.run_pod(pc)
    other = c.create(pod, pc, c.container_config("other", ["true"]))
    cid = c.create(pod, pc, c.container_config("quick", ["true"]))
    oci.exit_on_start.add(cid)
    oci.on_exit = state["rt"].ctrs.refresh
    c.start(cid)
    c.remove(cid)
    got = []
    for ev in stream:
        if ev.container_id == cid:
            got.append(ev)
            if ev.container_event_type == api_pb2.CONTAINER_DELETED_EVENT:
                break
    stream.cancel()
    assert [e.container_event_type for e in got] == [
        api_pb2.CONTAINER_CREATED_EVENT, api_pb2.CONTAINER_STARTED_EVENT, api_pb2.CONTAINER_STOPPED_EVENT,
        api_pb2.CONTAINER_DELETED_EVENT]
    states = [{s.id: s.state for s in e.containers_statuses} for e in got]
    assert [s.get(cid) for s in states] == [api_pb2.CONTAINER_CREATED, api_pb2.CONTAINER_RUNNING,
                                            api_pb2.CONTAINER_EXITED, None]
    assert all(s[other] == api_pb2.CONTAINER_CREATED for s in states)
    assert got[2].containers_statuses[[s.id for s in got[2].containers_statuses].index(cid)].exit_code == 3
    assert all(e.pod_sandbox_status.id == pod and e.created_at > 0 for e in got)


@root_only
def test_container_status_stop_signal_and_verbose_info(served):
    state, *_ = served
    c = state["client"]
    pc = c.pod_config("sig")
    pod = c.run_pod(pc)
    plain = c.create(pod, pc, c.container_config("plain", ["true"]))
    killed = c.create(pod, pc, c.container_config("killed", ["true"], stop_signal=api_pb2.SIGKILL))
    # the effective signal: the request's, else the image's STOPSIGNAL (busybox has none), else SIGTERM
    assert c.status(plain).stop_signal == api_pb2.SIGTERM
    assert c.status(killed).stop_signal == api_pb2.SIGKILL
    resp = c.rt.ContainerStatus(api_pb2.ContainerStatusRequest(container_id=plain))
    assert dict(resp.info) == {}                     # only with verbose
    info = json.loads(c.rt.ContainerStatus(api_pb2.ContainerStatusRequest(
        container_id=plain, verbose=True)).info["info"])
    assert info["sandboxID"] == pod and info["config"]["metadata"]["name"] == "plain"
    assert info["runtimeSpec"]["root"]["path"].endswith("/rootfs") and "pid" in info


@root_only
def test_status_features_and_verbose(served):
    state, *_ = served
    c = state["client"]
    st = c.rt.Status(api_pb2.StatusRequest())
    assert dict(st.info) == {} and st.features.supplemental_groups_policy
    st = c.rt.Status(api_pb2.StatusRequest(verbose=True))
    assert json.loads(st.info["config"])["oci_runtime"] == "fake-oci"


@root_only
def test_update_runtime_config_takes_the_ipv4_cidr_of_a_dual_stack_node(served):
    state, oci, net, *_ = served
    c = state["client"]

    def update(cidr):
        c.rt.UpdateRuntimeConfig(api_pb2.UpdateRuntimeConfigRequest(
            runtime_config=api_pb2.RuntimeConfig(network_config=api_pb2.NetworkConfig(pod_cidr=cidr))))
    update("10.244.1.0/24,fd00:10:244:1::/64")      # the kubelet joins the node's PodCIDRs
    update("fd00:10:244:1::/64")                     # IPv6 only: the bridge keeps its CIDR
    update("")                                       # nothing to do
    assert net.cidrs == ["10.244.1.0/24"]
    code, msg = _code(update, "10.244.1.0/24,bogus")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "pod_cidr" in msg


# --- the gated log relay (CreateContainer starts it alongside `create`) ----------------

def _wait_relay_gone(pid, deadline_s=10.0) -> None:
    import select
    try:
        fd = os.pidfd_open(pid)                          # not our child: a pidfd tells its exit
    except OSError:
        return
    try:
        select.select([fd], [], [], deadline_s)
    finally:
        os.close(fd)


def test_gated_relay_reads_nothing_until_the_gate_opens(tmp_path):
    from cri_handler import logrelay
    log_path = tmp_path / "c.log"
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    relay = logrelay.start_gated(str(log_path), out_r, err_r)
    os.write(out_w, b"the runtime's complaint\n")       # before the gate: not the container's output
    time.sleep(0.3)
    assert not log_path.exists() or log_path.read_bytes() == b""
    logrelay.abort(relay)                                # create failed
    os.set_blocking(out_r, False)
    assert os.read(out_r, 100) == b"the runtime's complaint\n"   # still ours to read back
    assert not log_path.exists(), "an aborted relay leaves no empty log file behind"
    for fd in (out_r, out_w, err_r, err_w):
        os.close(fd)

    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    relay = logrelay.start_gated(str(log_path), out_r, err_r)
    pid = logrelay.open_gate(relay)
    os.close(out_r)
    os.close(err_r)
    os.write(out_w, b"hello\n")
    os.write(err_w, b"oops\n")
    os.close(out_w)
    os.close(err_w)                                      # EOF on both: the relay finishes
    _wait_relay_gone(pid)
    lines = log_path.read_bytes().splitlines()
    assert sorted(line.split(b" ", 1)[1] for line in lines) == [b"stderr F oops", b"stdout F hello"]
