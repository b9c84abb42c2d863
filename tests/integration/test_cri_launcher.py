"""The CRI server's launcher (cri_handler.zygote) end to end: `pysandbox cri`
forks pysandbox-oci for CreateContainer and ExecSync from it; nothing of
the launcher or the daemon reaches a container; a launcher killed is
replaced and no call fails for it; a daemon killed takes its launcher
along and leaves its containers running."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from cri_client import Server, busybox_archive
from cri_handler.v1 import api_pb2

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)"),
    pytest.mark.platform_independent,
]
RUNNING = api_pb2.CONTAINER_RUNNING


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-launcher")
    srv = Server(base, bridge="pysbcrizyg0", cidr="10.222.0.0/24")
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
            points = [line.split()[4] for line in f if str(base) in line]
        for p in sorted(points, reverse=True):
            subprocess.run(["umount", "-l", p], capture_output=True)


def _launchers(server_pid: int) -> list[int]:
    """The server's children that are a launcher."""
    found = []
    for task in os.listdir(f"/proc/{server_pid}/task"):
        with open(f"/proc/{server_pid}/task/{task}/children") as f:
            for pid in f.read().split():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as c:
                        if b"cri_handler.zygote" in c.read():
                            found.append(int(pid))
                except FileNotFoundError:
                    pass
    return found


def _wait_for(fn, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _pod_and_container(cri, name, tmp_path, cmd):
    pc = cri.pod_config(name, log_dir=str(tmp_path))
    pod = cri.run_pod(pc)
    cid = cri.create(pod, pc, cri.container_config("c", cmd, log_path="c.log"))
    cri.start(cid)
    return pod, cid


def test_containers_and_execs_have_only_their_stdio(server, tmp_path):
    cri = server.client
    assert len(_launchers(server.proc.pid)) == 1
    pod, cid = _pod_and_container(cri, "fds", tmp_path, ["sh", "-c", "ls /proc/$$/fd; echo ready; sleep 1000"])
    assert _wait_for(lambda: b"ready" in (tmp_path / "c.log").read_bytes())
    lines = [line.split(b" ", 3)[3] for line in (tmp_path / "c.log").read_bytes().splitlines()]
    assert lines[:4] == [b"0", b"1", b"2", b"ready"]
    # Its sentry, forked by `pysandbox-oci create` in the launcher's child, shows as that command.
    status = cri.rt.ContainerStatus(api_pb2.ContainerStatusRequest(container_id=cid, verbose=True))
    info = json.loads(status.info["info"])
    with open(f"/proc/{info['sentryPid']}/cmdline", "rb") as f:
        args = f.read().rstrip(b"\0").split(b"\0")
    assert args[1].endswith(b"/pysandbox-oci") and b"create" in args and args[-1] == cid.encode()
    with open(f"/proc/{info['sentryPid']}/comm") as f:
        assert f.read() == "pysandbox-oci\n"
    r = cri.exec_sync(cid, ["sh", "-c", "ls /proc/$$/fd; echo $PYTHONPATH; umask"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, b"0\n1\n2\n\n0022\n", b"")
    r = cri.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.exit_code, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
    cri.remove_pod(pod)


def test_a_killed_launcher_is_replaced_and_no_call_fails(server, tmp_path):
    cri = server.client
    pod, cid = _pod_and_container(cri, "relaunch", tmp_path, ["sleep", "1000"])
    (first,) = _launchers(server.proc.pid)
    os.kill(first, signal.SIGKILL)
    for i in range(3):                  # right after: a subprocess or a new launcher, never an error
        assert cri.exec_sync(cid, ["echo", str(i)]).stdout == f"{i}\n".encode()
    time.sleep(1.0)
    assert cri.exec_sync(cid, ["echo", "again"]).stdout == b"again\n"
    now = _wait_for(lambda: _launchers(server.proc.pid))
    assert len(now) == 1 and now[0] != first
    cri.remove_pod(pod)


def test_a_killed_daemon_takes_its_launcher_and_leaves_its_containers(server, tmp_path):
    cri = server.client
    pod, cid = _pod_and_container(cri, "daemon-kill", tmp_path, ["sleep", "1000"])
    (launcher,) = _launchers(server.proc.pid)
    cri.close()
    server.proc.kill()                  # no graceful stop: the launcher learns it by EOF
    server.proc.wait()
    server.proc = None
    assert _wait_for(lambda: not _alive(launcher), 5)
    # The new server replaces the stale socket itself; unlinked here only so
    # that Server.start waits for the new one: a grpc client of this process
    # that tried the stale one does not get through for 30 s (as without a launcher).
    os.unlink(server.socket)
    cri = server.client = server.start()
    assert cri.status(cid).state == RUNNING
    assert cri.exec_sync(cid, ["echo", "still here"]).stdout == b"still here\n"
    assert len(_launchers(server.proc.pid)) == 1
    cri.remove_pod(pod)
