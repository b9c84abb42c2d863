"""A private containerd for tests/integration/test_containerd.py: its config,
the images it is given (built here from Debian's static busybox), and the
/proc helpers the tests use to find shims and sentries.  See that module's
header for what the containerd is and what is removed at the end."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from conftest import BIN
from image_files import busybox_entries, docker_archive, tar

CONTAINERD, CTR = shutil.which("containerd"), shutil.which("ctr")
SHIM = shutil.which("containerd-shim-runc-v2")
OCI = str(BIN / "pysandbox-oci")
CNI_BIN = "/usr/lib/cni"
BRIDGE, SUBNET = "pysbk0", "10.217.0.0/24"
BUSYBOX_IMAGE, PAUSE_IMAGE = "pysandbox.test/busybox:1", "pysandbox.test/pause:1"
CRI_NS = "k8s.io"

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


# -- images: docker-archive tarballs (tests/image_files.py) --------------------------

def busybox_image(path: Path) -> str:
    return docker_archive(path, BUSYBOX_IMAGE, [tar(busybox_entries())], {"Env": ["PATH=/bin"], "Cmd": ["sh"]})


def pause_image(path: Path, pause_exe: Path) -> str:
    layer = tar([(d + "/", "dir", None) for d in ("proc", "sys", "dev", "etc")]
                + [("pause", "file", pause_exe.read_bytes(), 0o755)])
    return docker_archive(path, PAUSE_IMAGE, [layer], {"Entrypoint": ["/pause"]})


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


def sockets(pid: int) -> set[str]:
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
