"""pysandbox-oci under a real containerd (Debian's 1.6): the io.containerd.runc.v2
shim runs it as its runc (`BinaryName`), through `ctr` and through
containerd's own CRI plugin with the RuntimeClass handler `pysandbox`.

A private containerd is started here: its own config (version 2), root,
state, gRPC and ttrpc sockets in a short directory under /run, the overlayfs
snapshotter (native where overlayfs does not work), cgroupfs, and
`restrict_oom_score_adj` (root here lacks CAP_SYS_RESOURCE).  Pods get
their network from Debian's CNI plugins (bridge pysbk0, host-local IPAM with
its leases in the temporary directory, 10.217.0.0/24, no masquerading).
Images are built here from Debian's static busybox: a busybox image, and a
pause image whose /pause is a static C program waiting for SIGTERM.

The shim passes containerd's environment on to pysandbox-oci, so
PYSANDBOX_PLATFORM given to containerd picks the sentry's platform: these
tests run in both passes of the suite, each on its platform, and check it.

Everything made here goes at the end: pods, containers, tasks, containerd
and any shim or sentry it left, mounts under the directory, the pod
network namespaces (kept under containerd's state directory), cgroups,
the bridge and shim sockets."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PLATFORM
from containerd_harness import (
    BRIDGE,
    BUSYBOX_IMAGE,
    CRI_NS,
    PAUSE_C,
    Containerd,
    ancestors,
    busybox_image,
    cmdline,
    is_sentry,
    pause_image,
    ppid,
    proc_status,
    sockets,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (containerd, namespaces, mounts, cgroups)")


@pytest.fixture(scope="module")
def containerd(cc, tmp_path_factory):
    images = tmp_path_factory.mktemp("containerd-images")
    # unix socket paths are limited to 108 bytes: a short directory under /run
    base = Path("/run") / f"pysbk-{secrets.token_hex(4)}"     # also a valid containerd namespace name
    base.mkdir(mode=0o700)
    if Path(f"/sys/class/net/{BRIDGE}").exists():        # a crashed earlier run's
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, timeout=10)
    cd = Containerd(base, PLATFORM)
    try:
        cd.start()
        if not cd.snapshotter_ok("overlayfs"):
            cd.stop()
            cd.snapshotter = "native"
            cd.start()
        busybox = busybox_image(images / "busybox.tar")
        cd.import_image(busybox, cd.ns)
        cd.import_image(busybox, CRI_NS)
        cd.import_image(pause_image(images / "pause.tar", cc(PAUSE_C, "pause", flags=("-Os",))), CRI_NS)
        yield cd
    finally:
        try:
            try:
                if cd.proc is not None and cd.proc.poll() is None:
                    _remove_pods(cd)
            finally:
                cd.remove_everything()
        finally:
            cd.stop()
            cd.cleanup_host()


# -- ctr ------------------------------------------------------------------------------

def test_ctr_run_output_exit_code_and_sentry(containerd):
    """`ctr run --runc-binary pysandbox-oci`: the workload's output, its exit
    status (7), and proof the sentry served it: a seccomp filter on the
    process, and a kernel release only the sentry's uname answers."""
    cd = containerd
    cd.shim_ids.add((cd.ns, "run1"))
    r = subprocess.run(cd.ctr_run_args("--rm", BUSYBOX_IMAGE, "run1", "sh", "-c",
                                       "echo hello from containerd; grep '^Seccomp:' /proc/self/status; "
                                       "uname -r; exit 7"),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 7, f"{r.stdout}{r.stderr}\n--- containerd.log\n{cd.log}"
    assert r.stdout.split("\n") == ["hello from containerd", "Seccomp:\t2", "6.1.0-pysandbox", ""], r.stdout
    assert "run1" not in cd.tasks()
    assert cd.ctr("containers", "ls", "-q").stdout.split() == []
    assert not os.path.exists(f"{cd.base}/oci/{cd.ns}/run1"), "pysandbox-oci delete left its state"


def test_ctr_task_under_shim_exec_and_kill(containerd):
    """A sleeping container: `ctr task ls` names the sentry (a Python process
    running pysandbox-oci, the shim's child); `ctr task ps` lists the
    workload below it under the sentry's filter (traced by the sentry on
    the ptrace platform); `ctr task exec` runs in it; `ctr task kill` ends
    it (SIGTERM is ignored by its pid 1 `sleep`, as under runc; SIGKILL is
    not) and `ctr run` reports 128+SIGKILL."""
    cd = containerd
    cd.shim_ids.add((cd.ns, "sleeper"))
    proc = subprocess.Popen(cd.ctr_run_args("--rm", BUSYBOX_IMAGE, "sleeper", "sleep", "300"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        end = time.monotonic() + 30
        while cd.tasks().get("sleeper", (0, ""))[1] != "RUNNING":
            assert proc.poll() is None, f"ctr run exited: {proc.communicate()}\n{cd.log}"
            assert time.monotonic() < end, f"the task did not start\n{cd.log}"
            time.sleep(0.1)
        sentry = cd.tasks()["sleeper"][0]
        assert is_sentry(sentry), cmdline(sentry)
        shim = ppid(sentry)
        assert os.path.basename(os.readlink(f"/proc/{shim}/exe")) == "containerd-shim-runc-v2"
        assert cmdline(shim)[cmdline(shim).index("-id") + 1] == "sleeper"
        state = json.loads(Path(f"{cd.base}/oci/{cd.ns}/sleeper/state.json").read_text())
        assert state["pid"] == sentry
        assert state["platform"] == PLATFORM, "PYSANDBOX_PLATFORM did not reach pysandbox-oci through the shim"
        # The shim runs its runc with its own ttrpc listener as an inheritable
        # fd 3; the long-lived sentry must not keep it (nor any shim socket).
        shared = sockets(shim) & sockets(sentry)
        assert not shared, f"the sentry holds the shim's sockets {shared}"

        pids = [int(line.split()[0]) for line in cd.ctr("task", "ps", "sleeper").stdout.splitlines()[1:]]
        assert pids and all(sentry in ancestors(p) for p in pids), (sentry, pids)
        sleep = [p for p in pids if cmdline(p) == ["sleep", "300"]]
        assert len(sleep) == 1, [cmdline(p) for p in pids]
        st = proc_status(sleep[0])
        assert st["Seccomp"] == "2"
        if PLATFORM == "ptrace":
            assert proc_status(int(st["TracerPid"]))["Tgid"] == str(sentry)

        r = cd.ctr("task", "exec", "--exec-id", "e1", "sleeper", "sh", "-c",
                   "uname -r; grep '^Seccomp:' /proc/self/status; exit 5", check=False)
        assert (r.returncode, r.stdout) == (5, "6.1.0-pysandbox\nSeccomp:\t2\n"), r.stderr

        r = cd.ctr("task", "exec", "--exec-id", "e2", "sleeper", "cat", "/proc/1/cmdline", check=False)
        assert r.stdout == "sleep\x00300\x00", r.stderr     # the container's own process is its pid 1
        cd.ctr("task", "kill", "sleeper")              # SIGTERM: pid 1 `sleep` has no handler, as under runc
        time.sleep(1)
        assert proc.poll() is None and cd.tasks()["sleeper"][1] == "RUNNING", cd.tasks()
        cd.ctr("task", "kill", "-s", "SIGKILL", "sleeper")
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + signal.SIGKILL, f"{out}{err}\n{cd.log}"
        assert not os.path.exists(f"/proc/{sentry}"), "the sentry outlived its container"
        assert "sleeper" not in cd.tasks()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# -- containerd's CRI plugin ---------------------------------------------------------------

@pytest.fixture(scope="module")
def cri(containerd):
    import grpc

    from cri_handler.v1 import api_pb2, api_pb2_grpc
    channel = grpc.insecure_channel(f"unix://{containerd.sock}")
    rt = api_pb2_grpc.RuntimeServiceStub(channel)
    end = time.monotonic() + 30
    while True:                  # the CNI config is loaded asynchronously
        conds = {c.type: c.status for c in rt.Status(api_pb2.StatusRequest(), timeout=10).status.conditions}
        if conds.get("RuntimeReady") and conds.get("NetworkReady"):
            break
        assert time.monotonic() < end, f"CRI not ready: {conds}\n{containerd.log}"
        time.sleep(0.2)
    rt.pb = api_pb2
    rt.cd = containerd
    yield rt
    channel.close()


def _remove_pods(cd: Containerd) -> None:
    import grpc

    from cri_handler.v1 import api_pb2, api_pb2_grpc
    with grpc.insecure_channel(f"unix://{cd.sock}") as channel:
        rt = api_pb2_grpc.RuntimeServiceStub(channel)
        for p in rt.ListPodSandbox(api_pb2.ListPodSandboxRequest(), timeout=20).items:
            try:
                rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=p.id), timeout=60)
                rt.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=60)
            except grpc.RpcError:
                pass


class Pod:
    """A pod with the runtime handler `pysandbox`, as a kubelet asks for it
    (namespace_options.pid = CONTAINER unless shareProcessNamespace)."""

    def __init__(self, rt, name: str, log_dir: Path, pid=None):
        pb = rt.pb
        self.rt, self.pb, self.log_dir = rt, pb, log_dir
        self.pid = pb.CONTAINER if pid is None else pid         # the kubelet sends the pod's to its containers
        cfg = pb.PodSandboxConfig(hostname=f"{name}-host", log_directory=str(log_dir))
        cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid = name, "default", f"uid-{name}"
        cfg.linux.cgroup_parent = rt.cd.pods_cgroup
        cfg.linux.security_context.namespace_options.pid = self.pid
        self.cfg = cfg
        self.id = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg, runtime_handler="pysandbox"),
                                   timeout=60).pod_sandbox_id
        rt.cd.shim_ids.add((CRI_NS, self.id))

    def status(self):
        r = self.rt.PodSandboxStatus(self.pb.PodSandboxStatusRequest(pod_sandbox_id=self.id, verbose=True),
                                     timeout=20)
        return r.status, json.loads(r.info["info"])

    def create(self, name: str, command: list[str]) -> str:
        pb = self.pb
        cfg = pb.ContainerConfig(command=command, log_path=f"{name}.log")
        cfg.metadata.name = name
        cfg.image.image = BUSYBOX_IMAGE
        cfg.linux.security_context.namespace_options.pid = self.pid
        cid = self.rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=self.id, config=cfg,
                                                                sandbox_config=self.cfg), timeout=60).container_id
        self.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
        return cid

    def container(self, cid: str):
        r = self.rt.ContainerStatus(self.pb.ContainerStatusRequest(container_id=cid, verbose=True), timeout=20)
        return r.status, json.loads(r.info.get("info") or "{}")

    def wait_exited(self, cid: str, deadline: float = 30):
        end = time.monotonic() + deadline
        while True:
            st, _ = self.container(cid)
            if st.state == self.pb.CONTAINER_EXITED:
                return st
            assert time.monotonic() < end, f"container {st.metadata.name} still {st.state}\n{self.rt.cd.log}"
            time.sleep(0.05)

    def log(self, name: str) -> list[str]:
        """The CRI log file's lines, without timestamps: 'stdout F text'."""
        return [line.split(" ", 1)[1] for line in (self.log_dir / f"{name}.log").read_text().splitlines()]

    def remove(self) -> None:
        self.rt.StopPodSandbox(self.pb.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=60)
        self.rt.RemovePodSandbox(self.pb.RemovePodSandboxRequest(pod_sandbox_id=self.id), timeout=60)


def _assert_sentry_under_shim(pid: int) -> None:
    assert is_sentry(pid), cmdline(pid)
    assert os.path.basename(os.readlink(f"/proc/{ppid(pid)}/exe")) == "containerd-shim-runc-v2"


def test_cri_pod_runs_under_sentry(cri, tmp_path):
    """RunPodSandbox(runtime_handler="pysandbox"): the pause container and a
    busybox container both run under a sentry; the container's output
    reaches its CRI log file, its exit code its ContainerStatus; it has the
    pod's hostname and the pod IP from CNI.  Then the pod goes, leaving no
    state behind in pysandbox-oci's root."""
    pod = Pod(cri, "pysbk-pod1", tmp_path)
    try:
        st, info = pod.status()
        assert st.state == cri.pb.SANDBOX_READY
        assert info["runtimeHandler"] == "pysandbox"
        _assert_sentry_under_shim(info["pid"])
        assert st.network.ip.startswith("10.217.0."), st.network
        state = json.loads(Path(f"{cri.cd.base}/oci/{CRI_NS}/{pod.id}/state.json").read_text())
        assert (state["pid"], state["platform"]) == (info["pid"], PLATFORM)
        cid = pod.create("c1", ["sh", "-c", "echo hello from a pod; grep '^Seccomp:' /proc/self/status; uname -r; "
                                            "hostname; ip -4 -o addr show eth0; exit 3"])
        cst = pod.wait_exited(cid)
        assert (cst.exit_code, cst.reason) == (3, "Error"), (cst, cri.cd.log)
        lines = pod.log("c1")
        assert lines[:4] == ["stdout F hello from a pod", "stdout F Seccomp:\t2", "stdout F 6.1.0-pysandbox",
                             "stdout F pysbk-pod1-host"], lines
        assert f"inet {st.network.ip}/24" in lines[4], lines
        assert not os.path.exists(f"{cri.cd.base}/oci/{CRI_NS}/{cid}"), "the exited task was not deleted"
        cri.RemoveContainer(cri.pb.RemoveContainerRequest(container_id=cid), timeout=60)
    finally:
        pod.remove()
    assert os.listdir(f"{cri.cd.base}/oci/{CRI_NS}") == []
    assert [p.id for p in cri.ListPodSandbox(cri.pb.ListPodSandboxRequest(), timeout=20).items] == []


def test_cri_exec_and_stop(cri, tmp_path):
    """A long-running pod container: its sentry is under the pod's shim,
    ExecSync runs under a sentry too, and StopContainer ends it: its pid 1
    `sleep` ignores SIGTERM, as under runc, so with SIGKILL after the grace
    period (exit 137)."""
    pod = Pod(cri, "pysbk-pod2", tmp_path)
    try:
        cid = pod.create("sleeper", ["sleep", "300"])
        st, info = pod.container(cid)
        assert st.state == cri.pb.CONTAINER_RUNNING
        sentry = info["pid"]
        _assert_sentry_under_shim(sentry)
        kids = open(f"/proc/{sentry}/task/{sentry}/children").read().split()
        assert kids

        def sleep_below_holder() -> bool:
            grandkids = open(f"/proc/{kids[0]}/task/{kids[0]}/children").read().split()
            return any(cmdline(int(k)) == ["sleep", "300"] for k in grandkids)
        # RUNNING once `start` released it, as with runc: its pid 1 execs
        # the command a moment later (on ptrace, after the seize and filter).
        deadline = time.monotonic() + 5
        while not sleep_below_holder() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sleep_below_holder()
        r = cri.ExecSync(cri.pb.ExecSyncRequest(container_id=cid, timeout=20, cmd=[
            "sh", "-c", "uname -r; grep '^Seccomp:' /proc/self/status; echo oops >&2; exit 4"]), timeout=60)
        assert (r.exit_code, r.stdout, r.stderr) == (4, b"6.1.0-pysandbox\nSeccomp:\t2\n", b"oops\n")
        r = cri.ExecSync(cri.pb.ExecSyncRequest(container_id=cid, timeout=20, cmd=["cat", "/proc/1/cmdline"]),
                         timeout=60)
        assert r.stdout == b"sleep\x00300\x00", r           # the container's own process is its pid 1
        started = time.monotonic()
        cri.StopContainer(cri.pb.StopContainerRequest(container_id=cid, timeout=2), timeout=60)
        st, _ = pod.container(cid)
        assert (st.state, st.exit_code) == (cri.pb.CONTAINER_EXITED, 128 + signal.SIGKILL), st
        assert time.monotonic() - started >= 2, "pid 1 `sleep` has no SIGTERM handler: killed after the grace period"
        assert not os.path.exists(f"/proc/{sentry}")
    finally:
        pod.remove()


def test_cri_host_pid_pod(cri, tmp_path):
    """hostPID (pid NODE) through containerd: its configs come without a pid
    namespace entry, which pysandbox-oci reads as runc does.  The container
    sees the host's processes and runs in the host's pid namespace; on
    StopContainer nothing of it is left, a double-forked daemon included."""
    host = subprocess.Popen(["sleep", "2997"])
    pod = Pod(cri, "pysbk-hostpid", tmp_path, pid=cri.pb.NODE)
    try:
        _, info = pod.status()
        _assert_sentry_under_shim(info["pid"])
        cid = pod.create("viewer", ["sh", "-c", "(setsid sleep 2998 &); exec sleep 2999"])
        st, info = pod.container(cid)
        assert st.state == cri.pb.CONTAINER_RUNNING
        _assert_sentry_under_shim(info["pid"])
        # containerd (1.6) writes no pid entry for the pause container, and for
        # the container the path of the pause container's pid namespace, by
        # the pid `state` gave (its sentry's): both mean the host's.
        host_ns = os.readlink("/proc/self/ns/pid")
        for task, want in ((pod.id, []), (cid, [f"/proc/{pod.status()[1]['pid']}/ns/pid"])):
            state = json.loads(Path(f"{cri.cd.base}/oci/{CRI_NS}/{task}/state.json").read_text())
            config = json.loads(Path(state["bundle"], "config.json").read_text())
            assert [n.get("path") for n in config["linux"]["namespaces"] if n["type"] == "pid"] == want, config
            assert os.readlink(f"/proc/{state['init_pid']}/ns/pid") == host_ns
        r = cri.ExecSync(cri.pb.ExecSyncRequest(container_id=cid, timeout=20, cmd=[
            "sh", "-c", f"cat /proc/{host.pid}/cmdline; echo; readlink /proc/self/ns/pid"]), timeout=60)
        assert r.stdout.decode().split("\n")[:2] == ["sleep\0" "2997\0", os.readlink("/proc/self/ns/pid")], r
        end = time.monotonic() + 10
        while not _by_cmdline(["sleep", "2998"]):
            assert time.monotonic() < end, "the daemon did not start"
            time.sleep(0.05)
        cri.StopContainer(cri.pb.StopContainerRequest(container_id=cid, timeout=2), timeout=60)
        st, _ = pod.container(cid)
        assert (st.state, st.exit_code) == (cri.pb.CONTAINER_EXITED, 128 + signal.SIGTERM), st
        assert not _by_cmdline(["sleep", "2998"]) and not _by_cmdline(["sleep", "2999"])
    finally:
        pod.remove()
        host.kill()
        host.wait()


def test_cri_shared_pid_pod(cri, tmp_path):
    """shareProcessNamespace (pid POD) through containerd: it asks each
    container to join /proc/<pid>/ns/pid of the pause task, by the pid
    `state` gave (its sentry's, in the host's pid namespace), and
    pysandbox-oci reads that as the namespace of the sentry's container.
    The containers see each other, the pause process as their pid 1, and
    none of the host's processes; stopping one leaves the other running."""
    host = subprocess.Popen(["sleep", "2994"])
    pod = Pod(cri, "pysbk-sharedpid", tmp_path, pid=cri.pb.POD)
    try:
        a = pod.create("a", ["sleep", "2995"])
        b = pod.create("b", ["sleep", "2996"])

        def view(cid: str, settled) -> tuple[str, list[str]]:
            # RUNNING comes when `start` released a container; its command is
            # exec'd a moment later: so look again until it settles.
            end = time.monotonic() + 10
            while True:
                r = cri.ExecSync(cri.pb.ExecSyncRequest(container_id=cid, timeout=20, cmd=[
                    "sh", "-c", "readlink /proc/self/ns/pid; cat /proc/1/cmdline; echo; ps -o args"]), timeout=60)
                assert r.exit_code == 0, r
                ns, init, *ps = r.stdout.decode().splitlines()
                assert init.rstrip("\0") == "/pause", r
                if settled(ps) or time.monotonic() > end:
                    return ns, ps
                time.sleep(0.05)

        def both(ps):
            return {"sleep 2995", "sleep 2996", "/pause"} <= set(ps)
        ns_a, ps_a = view(a, both)
        ns_b, ps_b = view(b, both)
        assert ns_a == ns_b != os.readlink("/proc/self/ns/pid")
        for ps in (ps_a, ps_b):
            assert both(ps), ps
            assert "sleep 2994" not in ps, ps
        cri.StopContainer(cri.pb.StopContainerRequest(container_id=a, timeout=2), timeout=60)
        assert pod.container(a)[0].state == cri.pb.CONTAINER_EXITED
        assert pod.container(b)[0].state == cri.pb.CONTAINER_RUNNING
        _, ps_b = view(b, lambda ps: "sleep 2995" not in ps)
        assert "sleep 2995" not in ps_b and "sleep 2996" in ps_b, ps_b
    finally:
        pod.remove()
        host.kill()
        host.wait()


def _by_cmdline(argv: list[str]) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if cmdline(int(name)) == argv:
                    out.append(int(name))
            except OSError:
                pass
    return out
