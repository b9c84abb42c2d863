"""A container killed by its memory limit: ContainerStatus says exit code 137
and reason OOMKilled, even when the kill comes within milliseconds of the
start. A real `pysandbox cri` over gRPC, on the platform under test (the
server's `platform` setting), with cgroup memory limits."""
from __future__ import annotations

import os

import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_archive, serving
from cri_handler.v1 import api_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
EXITED = api_pb2.CONTAINER_EXITED
LIMIT = 32 << 20


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-oom")
    srv = Server(base, bridge="pysbcrioom0", cidr="10.216.0.0/24", platform=PLATFORM)
    with serving(srv, busybox_archive(base / "busybox.tar")) as client:
        yield client


def _run(cri, name, cmd, limit=LIMIT):
    pod_cfg = cri.pod_config(name)
    pod = cri.run_pod(pod_cfg)
    cfg = cri.container_config("c", cmd)
    if limit:
        cfg.linux.resources.memory_limit_in_bytes = limit
    cid = cri.create(pod, pod_cfg, cfg)
    cri.start(cid)
    return pod, cri.wait_state(cid, EXITED, 60)


@pytest.mark.parametrize("name, cmd", [
    # A pipe that grows tail's buffer past the limit at once.
    ("pipe", ["sh", "-c", "head -c 200m /dev/zero | tail"]),
    # The container's own process allocates right away: no shell in between.
    ("direct", ["tail", "/dev/zero"]),
    # Memory no process maps (tmpfs pages): the OOM killer picks the biggest
    # process of the group, which may be another than the writer (the
    # container's pid 1 here; the sandbox's init under `pysandbox run`).
    ("tmpfs", ["sh", "-c", "head -c 200m /dev/zero > /dev/shm/fill"]),
    # The kill comes late, after the container has been running for a while.
    ("late", ["sh", "-c", "sleep 1; head -c 200m /dev/zero | tail"]),
])
def test_memory_limit_kill_is_oomkilled(cri, name, cmd):
    pod, st = _run(cri, f"oom-{name}", cmd)
    try:
        assert st.state == EXITED
        assert (st.exit_code, st.reason) == (137, "OOMKilled"), st
    finally:
        cri.remove_pod(pod)


def test_other_exits_are_not_oomkilled(cri):
    # The container's sh is its pid 1, which no SIGKILL from inside reaches
    # (as under runc): a child shell kills itself, and pid 1 passes on 137.
    pod, st = _run(cri, "oom-no", ["sh", "-c", "sh -c 'head -c 1m /dev/zero | tail -c 1 >/dev/null; kill -9 $$'; "
                                   "exit $?"])
    try:
        assert (st.exit_code, st.reason) == (137, "Error"), st      # SIGKILL, but not by the OOM killer
    finally:
        cri.remove_pod(pod)
