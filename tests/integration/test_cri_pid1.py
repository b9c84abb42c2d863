"""Pid CONTAINER: the container's own process is pid 1 of its namespace, as
with containerd and runc.  /proc/1/cmdline is its entrypoint, its exit code
is the container's, StopContainer's SIGTERM reaches it only if it handles
it (else SIGKILL after the grace period), zombies are its to reap, and
killing the container's sentry kills it.  A real `pysandbox cri` over
gRPC, on the platform under test."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_archive, serving
from cri_handler.v1 import api_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
EXITED, RUNNING = api_pb2.CONTAINER_EXITED, api_pb2.CONTAINER_RUNNING


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-pid1")
    srv = Server(base, bridge="pysbcripid1", cidr="10.226.0.0/24", platform=PLATFORM)
    with serving(srv, busybox_archive(base / "busybox.tar")) as client:
        yield client


@pytest.fixture
def pod(cri):
    pc = cri.pod_config(f"pid1-{os.urandom(3).hex()}")       # pid CONTAINER
    pid = cri.run_pod(pc)
    yield pid, pc
    cri.remove_pod(pid)


def _start(cri, pod, name, cmd):
    pid, pc = pod
    cid = cri.create(pid, pc, cri.container_config(name, cmd))
    cri.start(cid)
    return cid


def _info(cri, cid) -> dict:
    return json.loads(cri.rt.ContainerStatus(api_pb2.ContainerStatusRequest(container_id=cid, verbose=True))
                      .info["info"])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_proc_1_is_the_entrypoint(cri, pod):
    cid = _start(cri, pod, "sleeper", ["sleep", "1000"])
    r = cri.exec_sync(cid, ["sh", "-c", "cat /proc/1/cmdline; echo; grep PPid /proc/1/status"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.decode().split("\n")[:2] == ["sleep\0" "1000\0", "PPid:\t0"]
    info = _info(cri, cid)
    with open(f"/proc/{info['pid']}/cmdline", "rb") as f:     # the "pid" an engine nsenters: the same process
        assert f.read() == b"sleep\x001000\x00"


def test_exit_code_is_pid_1s(cri, pod):
    cid = _start(cri, pod, "seven", ["sh", "-c", "exit 7"])
    st = cri.wait_state(cid, EXITED)
    assert (st.exit_code, st.reason) == (7, "Error"), st


@pytest.mark.parametrize("cmd, took_grace, code", [
    (["sleep", "1000"], True, 137),                                             # no handler: SIGKILL
    (["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"], True, 137),  # ignored
    (["sh", "-c", "trap 'exit 5' TERM; while true; do sleep 0.1; done"], False, 5),
])
def test_stop_sends_sigterm_to_pid_1(cri, pod, cmd, took_grace, code):
    cid = _start(cri, pod, "stop", cmd)
    time.sleep(0.5)                         # the trap is set by then
    started = time.monotonic()
    cri.stop(cid, timeout=2)
    took = time.monotonic() - started
    st = cri.status(cid)
    assert (st.state, st.exit_code) == (EXITED, code), st
    assert (took >= 2) == took_grace, took


def test_zombies_are_pid_1s_to_reap(cri, pod):
    cid = _start(cri, pod, "zombies", ["sh", "-c", "( sleep 0.2 & ); exec sleep 1000"])
    deadline = time.monotonic() + 10
    while True:
        r = cri.exec_sync(cid, ["sh", "-c", "cat /proc/[0-9]*/stat"])
        zombies = [line for line in r.stdout.decode().splitlines()
                   if line.rpartition(")")[2].split()[:2] == ["Z", "1"]]
        if zombies or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert zombies, r.stdout                # a zombie whose parent is pid 1 `sleep`, which never waits


def test_killing_the_sentry_kills_the_container(cri, pod):
    cid = _start(cri, pod, "victim", ["sh", "-c", "sleep 1000 & exec sleep 1001"])
    info = _info(cri, cid)
    pid1, sentry = info["pid"], info["sentryPid"]
    deadline = time.monotonic() + 5
    while not open(f"/proc/{pid1}/task/{pid1}/children").read().split() and time.monotonic() < deadline:
        time.sleep(0.02)
    (child,) = [int(c) for c in open(f"/proc/{pid1}/task/{pid1}/children").read().split()]
    os.kill(sentry, signal.SIGKILL)
    deadline = time.monotonic() + 2
    while (_alive(pid1) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid1) and not _alive(child), "the container outlived its sentry"
    st = cri.wait_state(cid, EXITED)
    assert st.state == EXITED, st
