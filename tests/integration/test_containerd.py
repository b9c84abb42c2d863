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

import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import BIN, BUSYBOX, PLATFORM

CONTAINERD, CTR = shutil.which("containerd"), shutil.which("ctr")
SHIM = shutil.which("containerd-shim-runc-v2")
OCI = str(BIN / "pysandbox-oci")
CNI_BIN = "/usr/lib/cni"
BRIDGE, SUBNET = "pysbk0", "10.217.0.0/24"
BUSYBOX_IMAGE, PAUSE_IMAGE = "pysandbox.test/busybox:1", "pysandbox.test/pause:1"
CRI_NS = "k8s.io"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (containerd, namespaces, mounts, cgroups)")
# `make setup` installs Debian's containerd: its absence is a failure, not a skip.
assert CONTAINERD and CTR and SHIM, "containerd, ctr or containerd-shim-runc-v2 is missing: run make setup"

PAUSE_C = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) ; }
int main(void) {
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    signal(SIGCHLD, reap);
    for (;;)
        pause();
}
"""


# -- images: docker-archive tarballs built here ---------------------------------------

def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(t: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), mode, 1700000000
    t.addfile(ti, io.BytesIO(data))


def _layer(dirs, files, links=()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in dirs:
            ti = tarfile.TarInfo(d + "/")
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755, 1700000000
            t.addfile(ti)
        for name, data, mode in files:
            _add(t, name, data, mode)
        for name, target in links:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, target, 1700000000
            t.addfile(ti)
    return buf.getvalue()


def _docker_archive(path: Path, ref: str, layer: bytes, config: dict) -> str:
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
                      "config": config, "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]}}).encode()
    with tarfile.open(path, "w") as t:
        _add(t, "manifest.json", json.dumps([{"Config": _sha(cfg)[7:] + ".json", "RepoTags": [ref],
                                              "Layers": ["l1/layer.tar"]}]).encode())
        _add(t, _sha(cfg)[7:] + ".json", cfg)
        _add(t, "l1/layer.tar", layer)
    return str(path)


def busybox_image(path: Path) -> str:
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    layer = _layer(("bin", "etc", "tmp", "root", "proc", "sys", "dev"),
                   [("bin/busybox", Path(BUSYBOX).read_bytes(), 0o755),
                    ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)],
                   [(f"bin/{a}", "busybox") for a in applets if a != "busybox"])
    return _docker_archive(path, BUSYBOX_IMAGE, layer, {"Env": ["PATH=/bin"], "Cmd": ["sh"]})


def pause_image(path: Path, pause_exe: Path) -> str:
    layer = _layer(("proc", "sys", "dev", "etc"), [("pause", pause_exe.read_bytes(), 0o755)])
    return _docker_archive(path, PAUSE_IMAGE, layer, {"Entrypoint": ["/pause"]})


# -- containerd -----------------------------------------------------------------------

CONFIG = """version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{base}/c.sock"
[ttrpc]
  address = "{base}/c.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "{snapshotter}"
    default_runtime_name = "pysandbox"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.pysandbox]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.pysandbox.options]
        BinaryName = "{oci}"
        Root = "{base}/oci"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{base}/net.d"
"""


def _conflist(base: Path) -> dict:
    return {"cniVersion": "0.4.0", "name": "pysbk", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "dataDir": f"{base}/cni-leases", "ranges": [[{"subnet": SUBNET}]],
                  "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "loopback"}]}


def _pids_with(needle: str) -> list[int]:
    """Processes whose command line mentions needle (our temporary directory):
    the shims and sentries our containerd started."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        out.append(int(name))
            except OSError:
                pass
    return out


def ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def is_sentry(pid: int) -> bool:
    """A Python interpreter running our pysandbox-oci."""
    argv = cmdline(pid)
    return "python" in os.path.basename(os.readlink(f"/proc/{pid}/exe")) and any(
        a.endswith("/pysandbox-oci") for a in argv[:2])


def _sockets(pid: int) -> set[str]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out


def ancestors(pid: int) -> list[int]:
    out = []
    while pid > 1:
        pid = ppid(pid)
        out.append(pid)
    return out


class Containerd:
    def __init__(self, base: Path, platform: str):
        self.base, self.platform = base, platform
        self.sock = f"{base}/c.sock"
        self.ns = base.name           # ctr's namespace: its containers' cgroups are /<ns>/<id>
        self.pods_cgroup = f"/{self.ns}-pods"
        self.proc: subprocess.Popen | None = None
        self.snapshotter = "overlayfs"
        self.shim_ids: set[tuple[str, str]] = set()   # (namespace, id): their socket names

    @property
    def log(self) -> str:
        try:
            return (self.base / "containerd.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def start(self) -> None:
        (self.base / "net.d").mkdir(exist_ok=True)
        (self.base / "net.d" / "10-pysbk.conflist").write_text(json.dumps(_conflist(self.base)))
        (self.base / "config.toml").write_text(CONFIG.format(
            base=self.base, pause=PAUSE_IMAGE, oci=OCI, cni_bin=CNI_BIN, snapshotter=self.snapshotter))
        env = dict(os.environ, PYSANDBOX_PLATFORM=self.platform)
        with open(self.base / "containerd.log", "ab") as log:
            self.proc = subprocess.Popen([CONTAINERD, "--config", str(self.base / "config.toml")],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                         start_new_session=True)
        end = time.monotonic() + 30
        while self.ctr("version", check=False, timeout=5).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"containerd did not start:\n{self.log}")
            time.sleep(0.1)

    def snapshotter_ok(self, name: str) -> bool:
        out = self.ctr("plugins", "ls").stdout
        return any(line.split()[:2] == ["io.containerd.snapshotter.v1", name] and line.split()[-1] == "ok"
                   for line in out.splitlines() if line.strip())

    def ctr(self, *args, ns: str | None = None, check=True, timeout=60) -> subprocess.CompletedProcess:
        r = subprocess.run([CTR, "--address", self.sock, "-n", ns or self.ns, *args], capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)}: exit {r.returncode}: {r.stderr}\n--- containerd.log\n"
                                 f"{self.log}")
        return r

    def ctr_run_args(self, *args: str) -> list[str]:
        """`ctr run` with the runc.v2 shim running pysandbox-oci as its runc."""
        return [CTR, "--address", self.sock, "-n", self.ns, "run", "--runtime", "io.containerd.runc.v2",
                "--runc-binary", OCI, "--runc-root", f"{self.base}/oci", *args]

    def tasks(self, ns: str | None = None) -> dict[str, tuple[int, str]]:
        out = self.ctr("task", "ls", ns=ns).stdout.splitlines()[1:]
        return {f[0]: (int(f[1]), f[2]) for f in (line.split() for line in out) if len(f) >= 3}

    def import_image(self, archive: str, ns: str) -> None:
        self.ctr("images", "import", archive, ns=ns, timeout=120)

    # -- teardown ----------------------------------------------------------------------

    def remove_everything(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for ns in (self.ns, CRI_NS):
            try:
                tasks = self.tasks(ns)
            except (AssertionError, subprocess.TimeoutExpired):
                tasks = {}
            for cid in tasks:
                self.ctr("task", "kill", "-s", "SIGKILL", cid, ns=ns, check=False, timeout=20)
                self.ctr("task", "rm", "-f", cid, ns=ns, check=False, timeout=30)
            for cid in self.ctr("containers", "ls", "-q", ns=ns, check=False).stdout.split():
                self.ctr("containers", "rm", cid, ns=ns, check=False, timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # Shims (and the sentries under them) outlive containerd by design.
        for pid in _pids_with(str(self.base)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for ns, cid in self.shim_ids:
            name = hashlib.sha256(f"{self.sock}/{ns}/{cid}".encode()).hexdigest()
            try:
                os.unlink(f"/run/containerd/s/{name}")
            except OSError:
                pass

    def cleanup_host(self) -> None:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        for p in sorted((p for p in points if p.startswith(str(self.base) + "/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", p], capture_output=True, timeout=10)
        for top in (self.ns, self.pods_cgroup.lstrip("/")):
            for hier in Path("/sys/fs/cgroup").iterdir():
                _rmdir_tree(hier / top)
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, timeout=10)
        # libcni's result cache of pods whose network a failed test left up
        cache = Path("/var/lib/cni/results")
        for ns, pod_id in self.shim_ids:
            if ns == CRI_NS and cache.is_dir():
                for f in cache.glob(f"*-{pod_id}-*"):
                    f.unlink(missing_ok=True)
        shutil.rmtree(self.base, ignore_errors=True)


def _rmdir_tree(path: Path) -> None:
    if not path.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(path), key=lambda w: len(w[0]), reverse=True):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


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
        shared = _sockets(shim) & _sockets(sentry)
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
