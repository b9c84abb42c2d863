"""A small CRI client for the tests and the benchmark: start `pysandbox cri`
(or any CRI endpoint), talk to it over its unix socket, and build a busybox
image archive from Debian's static busybox."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from cri_handler.v1 import api_pb2, api_pb2_grpc
from image_files import busybox_entries, docker_archive, tar

IMAGE = "pysandbox-test/busybox:1"


def busybox_layer() -> bytes:
    return tar(busybox_entries(
        ("bin", "etc", "tmp", "root", "home", "home/app", "var", "proc", "sys", "dev"),
        passwd=b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
               b"nobody:x:65534:65534:nobody:/:/bin/sh\n",
        group=b"root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n"))


def busybox_archive(path, ref: str = IMAGE) -> str:
    """A docker-archive tarball of a one-layer busybox image named ref."""
    return docker_archive(path, ref, [busybox_layer()], {"Env": ["PATH=/bin"], "Cmd": ["sh"]})


class CRI:
    """Stubs on one channel: .rt (RuntimeService) and .img (ImageService)."""

    def __init__(self, endpoint: str, timeout: float = 60.0):
        self.endpoint = endpoint
        self.channel = grpc.insecure_channel(endpoint, options=[("grpc.max_receive_message_length", 32 << 20)])
        self.rt = api_pb2_grpc.RuntimeServiceStub(self.channel)
        self.img = api_pb2_grpc.ImageServiceStub(self.channel)
        self.timeout = timeout

    def close(self) -> None:
        self.channel.close()

    def wait_ready(self, deadline_s: float = 30.0, proc: subprocess.Popen | None = None) -> None:
        end = time.monotonic() + deadline_s
        while True:
            try:
                self.rt.Version(api_pb2.VersionRequest(), timeout=2)
                return
            except grpc.RpcError:
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"the CRI server exited with status {proc.returncode}") from None
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)

    # -- conveniences ---------------------------------------------------------------

    def pod_config(self, name: str, log_dir: str = "", **kw) -> api_pb2.PodSandboxConfig:
        cfg = api_pb2.PodSandboxConfig(hostname=kw.pop("hostname", name), log_directory=log_dir, **kw)
        cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid = name, "default", f"uid-{name}"
        cfg.linux.security_context.namespace_options.pid = api_pb2.CONTAINER
        return cfg

    def run_pod(self, cfg, handler: str = "pysandbox") -> str:
        return self.rt.RunPodSandbox(api_pb2.RunPodSandboxRequest(config=cfg, runtime_handler=handler),
                                     timeout=self.timeout).pod_sandbox_id

    def container_config(self, name: str, cmd, image: str = IMAGE, log_path: str = "", **kw):
        cfg = api_pb2.ContainerConfig(command=list(cmd), log_path=log_path, **kw)
        cfg.metadata.name = name
        cfg.image.image = image
        return cfg

    def create(self, pod_id: str, pod_cfg, cfg) -> str:
        return self.rt.CreateContainer(api_pb2.CreateContainerRequest(pod_sandbox_id=pod_id, config=cfg,
                                                                      sandbox_config=pod_cfg),
                                       timeout=self.timeout).container_id

    def start(self, cid: str) -> None:
        self.rt.StartContainer(api_pb2.StartContainerRequest(container_id=cid), timeout=self.timeout)

    def status(self, cid: str):
        return self.rt.ContainerStatus(api_pb2.ContainerStatusRequest(container_id=cid),
                                       timeout=self.timeout).status

    def wait_state(self, cid: str, state, deadline_s: float = 30.0):
        end = time.monotonic() + deadline_s
        while True:
            st = self.status(cid)
            if st.state == state or time.monotonic() > end:
                return st
            time.sleep(0.05)

    def exec_sync(self, cid: str, cmd, timeout: int = 30):
        return self.rt.ExecSync(api_pb2.ExecSyncRequest(container_id=cid, cmd=list(cmd), timeout=timeout),
                                timeout=timeout + 30 if timeout else None)

    def stop(self, cid: str, timeout: int = 0) -> None:
        self.rt.StopContainer(api_pb2.StopContainerRequest(container_id=cid, timeout=timeout),
                              timeout=timeout + self.timeout)

    def remove(self, cid: str) -> None:
        self.rt.RemoveContainer(api_pb2.RemoveContainerRequest(container_id=cid), timeout=self.timeout)

    def stop_pod(self, pod_id: str) -> None:
        self.rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=self.timeout)

    def remove_pod(self, pod_id: str) -> None:
        self.rt.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=self.timeout)


@contextmanager
def serving(srv: Server, archive: str = "") -> Iterator[CRI]:
    """srv started, with the image archive imported first if one is given,
    for a test module's fixture: on exit every pod is removed, the client
    closed, the server stopped and its bridge taken off the host."""
    if archive:
        srv.import_image(archive)
    client = srv.start()
    try:
        yield client
    finally:
        try:
            for p in client.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest()).items:
                client.remove_pod(p.id)
        finally:
            client.close()
            srv.stop()
            srv.remove_network()


class Server:
    """`pysandbox cri` in a subprocess with its own root, state dir, socket
    and built-in bridge; stop() sends SIGTERM, as a service manager does."""

    def __init__(self, base: Path, bridge: str = "pysbcri0", cidr: str = "10.215.0.0/24", platform: str = "",
                 registry_config: str = ""):
        self.base = Path(base)
        self.bridge, self.cidr = bridge, cidr
        self.root = self.base / "root"
        self.state = self.base / "state"
        self.socket = self.base / "cri.sock"
        self.log = self.base / "server.log"
        self.config = self.base / "cri.toml"
        cni = self.base / "cni-none"
        cni.mkdir(parents=True, exist_ok=True)
        top = f'platform = "{platform}"\n' if platform else ""    # the containers' sentry platform
        top += f'registry_config = "{registry_config}"\n' if registry_config else ""
        self.config.write_text(top + f'[network]\ncni_conf_dir = "{cni}"\nbridge = "{bridge}"\npod_cidr = "{cidr}"\n')
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    def import_image(self, archive: str) -> None:
        exe = str(Path(sys.executable).parent / "pysandbox")
        subprocess.run([exe, "images", "--root", str(self.root), "import", archive], check=True,
                       capture_output=True, timeout=120)

    def start(self) -> CRI:
        exe = str(Path(sys.executable).parent / "pysandbox")
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([exe, "cri", "--listen", self.endpoint, "--root", str(self.root),
                                      "--state-dir", str(self.state), "--config", str(self.config)],
                                     stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        end = time.monotonic() + 30
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"the CRI server did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)
        client = CRI(self.endpoint)
        client.wait_ready(proc=self.proc)
        return client

    def remove_network(self) -> None:
        """Take the built-in bridge and its iptables rules off the host (a
        node keeps them; a test must not).  Call once its pods are gone."""
        from cri_handler.network import NetworkError, PodNetworkManager
        mgr = PodNetworkManager(run_dir=str(self.state), state_dir=str(self.state / "network"),
                                cni_conf_dir=str(self.base / "cni-none"), pod_cidr=self.cidr, bridge=self.bridge)
        try:
            mgr.remove_builtin_network()
        except NetworkError as e:
            print(f"warning: {e}", file=sys.stderr)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.proc = None

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""
