"""`pysandbox cri` end to end: a real server in a subprocess (its own root,
state dir, socket and built-in bridge in a temporary directory), real gRPC
over its unix socket, real containers under pysandbox-oci, a busybox image
built here from Debian's static busybox and imported into its store.

The CRI server is platform-independent (it drives pysandbox-oci with the
default platform), so these run in the seccomp pass of the suite only."""
from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess
import threading
import time

import grpc
import pytest

from cri_client import IMAGE, Server, busybox_archive
from cri_handler.logs import parse_record
from cri_handler.v1 import api_pb2
from tests.ws_client import OP_TEXT, connect

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)"),
    pytest.mark.platform_independent,     # the CRI server runs its sentries on the default platform
]
EXITED, RUNNING = api_pb2.CONTAINER_EXITED, api_pb2.CONTAINER_RUNNING


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri")
    srv = Server(base)
    srv.import_image(busybox_archive(base / "busybox.tar"))
    client = srv.start()
    srv.client = client
    yield srv
    try:
        client = srv.client
        for p in client.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest()).items:
            client.remove_pod(p.id)
    finally:
        srv.client.close()
        srv.stop()
        srv.remove_network()
        _cleanup(base)


def _cleanup(base) -> None:
    """Whatever a failed test left mounted under base."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p.startswith(str(base))), reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


@pytest.fixture
def cri(server):
    return server.client


def _log_records(path) -> list:
    with open(path, "rb") as f:
        return [parse_record(line) for line in f if line.strip()]


def _wait_for(fn, timeout=20.0, every=0.05):
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(every)


def _read_first(*paths) -> str | None:
    for p in paths:
        try:
            with open(p) as f:
                return f.read().strip()
        except OSError:
            continue
    return None


def _code(fn, *args):
    with pytest.raises(grpc.RpcError) as e:
        fn(*args)
    return e.value.code(), e.value.details()


def test_pod_lifecycle(cri, tmp_path):
    events = []
    stream = cri.rt.GetContainerEvents(api_pb2.GetEventsRequest())

    def read_events():
        try:
            for e in stream:
                events.append(e)
        except grpc.RpcError:
            pass                                    # cancelled at the end of the test
    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()
    stream.initial_metadata()                       # subscribed: every event from here on is ours
    pc = cri.pod_config("life", log_dir=str(tmp_path / "logs"), hostname="life-host",
                        labels={"app": "life"}, annotations={"note": "kept as is"})
    pc.dns_config.servers.append("10.96.0.10")
    pc.dns_config.searches.extend(["default.svc.cluster.local", "svc.cluster.local"])
    pc.dns_config.options.append("ndots:5")
    pod = cri.run_pod(pc)
    ps = cri.rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod)).status
    assert ps.state == api_pb2.SANDBOX_READY and ps.created_at > 0 and ps.network.ip.startswith("10.215.0.")
    assert ps.metadata.name == "life" and ps.labels["app"] == "life" and ps.annotations["note"] == "kept as is"

    script = "echo hello; echo oops >&2; cat /etc/resolv.conf; hostname; exit 3"
    cc = cri.container_config("hello", ["sh", "-c", script], log_path="hello/0.log", labels={"role": "once"})
    cid = cri.create(pod, pc, cc)
    assert cri.status(cid).state == api_pb2.CONTAINER_CREATED
    cri.start(cid)
    st = cri.wait_state(cid, EXITED)
    assert st.state == EXITED, st
    assert (st.exit_code, st.reason) == (3, "Error")
    assert 0 < st.created_at <= st.started_at <= st.finished_at
    assert st.image.image == IMAGE and st.image_ref and st.labels["role"] == "once"
    assert st.log_path == str(tmp_path / "logs" / "hello" / "0.log")

    # the CRI log: every line parses; stdout and stderr are told apart
    recs = _wait_for(lambda: [r for r in _log_records(st.log_path)] if os.path.exists(st.log_path) else [])
    out = [r.content.decode() for r in recs if r.stream == "stdout"]
    err = [r.content.decode() for r in recs if r.stream == "stderr"]
    assert out[0] == "hello" and err == ["oops"] and not any(r.partial for r in recs)
    assert "nameserver 10.96.0.10" in out and "search default.svc.cluster.local svc.cluster.local" in out
    assert "options ndots:5" in out and out[-1] == "life-host"

    lst = cri.rt.ListContainers(api_pb2.ListContainersRequest(filter=api_pb2.ContainerFilter(
        pod_sandbox_id=pod, state=api_pb2.ContainerStateValue(state=EXITED)))).containers
    assert [c.id for c in lst] == [cid]
    stats = cri.rt.ContainerStats(api_pb2.ContainerStatsRequest(container_id=cid)).stats
    assert stats.attributes.id == cid and stats.cpu.timestamp > 0
    pstats = cri.rt.PodSandboxStats(api_pb2.PodSandboxStatsRequest(pod_sandbox_id=pod)).stats
    assert pstats.attributes.id == pod and [c.attributes.id for c in pstats.linux.containers] == [cid]
    assert pstats.linux.network.default_interface.name == "eth0"

    cri.stop_pod(pod)
    ps = cri.rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod)).status
    assert ps.state == api_pb2.SANDBOX_NOTREADY
    ready = cri.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest(filter=api_pb2.PodSandboxFilter(
        state=api_pb2.PodSandboxStateValue(state=api_pb2.SANDBOX_READY)))).items
    assert pod not in [p.id for p in ready]
    cri.remove_pod(pod)
    assert _code(cri.status, cid)[0] == grpc.StatusCode.NOT_FOUND
    assert os.path.exists(st.log_path)             # logs belong to the kubelet
    # each event once, in order, even when the container exits before StartContainer has
    # recorded it as running; each carries the status as of its transition
    mine = lambda: [e for e in events if e.container_id == cid]  # noqa: E731
    _wait_for(lambda: len(mine()) >= 4, timeout=5)
    stream.cancel()
    got = mine()
    assert [e.container_event_type for e in got] == [
        api_pb2.CONTAINER_CREATED_EVENT, api_pb2.CONTAINER_STARTED_EVENT, api_pb2.CONTAINER_STOPPED_EVENT,
        api_pb2.CONTAINER_DELETED_EVENT], [e.container_event_type for e in got]
    assert [e.containers_statuses[0].state for e in got[:3]] == [api_pb2.CONTAINER_CREATED, RUNNING, EXITED]
    assert got[2].containers_statuses[0].exit_code == 3 and not got[3].containers_statuses


LOOP_WITH_TRAP = "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done"


def test_exec_stats_and_stop_with_sigterm_first(cri, tmp_path):
    pc = cri.pod_config("long", log_dir=str(tmp_path / "logs"))
    pod = cri.run_pod(pc)
    cc = cri.container_config("loop", ["sh", "-c", LOOP_WITH_TRAP], log_path="loop.log")
    cc.linux.resources.memory_limit_in_bytes = 128 << 20
    cid = cri.create(pod, pc, cc)
    cri.start(cid)
    log_path = str(tmp_path / "logs" / "loop.log")
    assert _wait_for(lambda: os.path.exists(log_path) and b"ready" in open(log_path, "rb").read())
    assert cri.status(cid).state == RUNNING

    r = cri.exec_sync(cid, ["sh", "-c", "cat /etc/hostname; echo to-err >&2; exit 42"])
    assert (r.stdout, r.stderr, r.exit_code) == (b"long\n", b"to-err\n", 42)
    r = cri.exec_sync(cid, ["id", "-u"])
    assert (r.stdout, r.exit_code) == (b"0\n", 0)
    assert _code(cri.exec_sync, cid, ["sleep", "10"], 1)[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    r = cri.exec_sync(cid, ["sh", "-c", "ps | grep -c '[s]leep 10' || true"])
    assert r.stdout.strip() == b"0", "the timed-out exec process must be gone"

    stats = cri.rt.ContainerStats(api_pb2.ContainerStatsRequest(container_id=cid)).stats
    assert stats.memory.usage_bytes.value > 0 and stats.cpu.usage_core_nano_seconds.value > 0
    listed = cri.rt.ListContainerStats(api_pb2.ListContainerStatsRequest()).stats
    assert cid in [s.attributes.id for s in listed]

    started = time.monotonic()
    cri.stop(cid, timeout=20)
    took = time.monotonic() - started
    st = cri.status(cid)
    assert (st.state, st.exit_code, st.reason) == (EXITED, 0, "Completed"), st
    assert took < 10, f"the TERM trap should end it long before the grace period ({took:.1f}s)"
    assert b"got TERM" in open(log_path, "rb").read()
    cri.stop(cid, timeout=5)                       # idempotent

    # a container ignoring SIGTERM is SIGKILLed after the grace period (once its trap is set:
    # a TERM that comes first ends it, as it would under any runtime)
    cc = cri.container_config("stubborn", ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"],
                              log_path="stubborn.log")
    cid2 = cri.create(pod, pc, cc)
    cri.start(cid2)
    log2 = str(tmp_path / "logs" / "stubborn.log")
    assert _wait_for(lambda: os.path.exists(log2) and b"ready" in open(log2, "rb").read())
    started = time.monotonic()
    cri.stop(cid2, timeout=1)
    st = cri.status(cid2)
    assert st.state == EXITED and st.exit_code == 137 and 1 <= time.monotonic() - started < 15
    cri.remove_pod(pod)


def test_containers_of_a_pod_share_localhost_and_the_pod_ip(cri):
    pc = cri.pod_config("pair")
    pod = cri.run_pod(pc)
    pod_ip = cri.rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod)).status.network.ip
    server = cri.create(pod, pc, cri.container_config(
        "server", ["sh", "-c", "while true; do echo pong | nc -l -p 8080; done"]))
    client = cri.create(pod, pc, cri.container_config("client", ["sh", "-c", "while true; do sleep 1; done"]))
    cri.start(server)
    cri.start(client)

    def ping(host):
        r = cri.exec_sync(client, ["sh", "-c", f"echo ping | nc -w 2 {host} 8080"], timeout=10)
        return r.stdout == b"pong\n"
    assert _wait_for(lambda: ping("127.0.0.1"), timeout=15, every=0.2)
    assert _wait_for(lambda: ping(pod_ip), timeout=10, every=0.2)
    for cid in (server, client):
        r = cri.exec_sync(cid, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        assert r.exit_code == 0 and f"inet {pod_ip}/" in r.stdout.decode(), r
    cri.remove_pod(pod)


def test_bad_requests_get_the_right_codes_and_the_server_keeps_serving(cri):
    IA, NF = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    rt = cri.rt
    assert _code(rt.PodSandboxStatus, api_pb2.PodSandboxStatusRequest())[0] == IA
    assert _code(rt.ContainerStatus, api_pb2.ContainerStatusRequest())[0] == IA
    assert _code(rt.PodSandboxStatus, api_pb2.PodSandboxStatusRequest(pod_sandbox_id="f" * 64))[0] == NF
    assert _code(rt.ContainerStatus, api_pb2.ContainerStatusRequest(container_id="f" * 64))[0] == NF
    assert _code(rt.ContainerStats, api_pb2.ContainerStatsRequest(container_id="f" * 64))[0] == NF
    code, msg = _code(cri.run_pod, cri.pod_config("h"), "runc")
    assert code == IA and "runtime_handler" in msg
    # already gone (or never there) is fine for stop and remove
    rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id="f" * 64))
    rt.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id="f" * 64))
    rt.StopContainer(api_pb2.StopContainerRequest(container_id="f" * 64))
    rt.RemoveContainer(api_pb2.RemoveContainerRequest(container_id="f" * 64))

    pc = cri.pod_config("bad")
    pod = cri.run_pod(pc)
    cc = cri.container_config("grp", ["true"])
    cc.linux.security_context.run_as_group.value = 10        # without run_as_user: the CRI says error
    code, msg = _code(cri.create, pod, pc, cc)
    assert code == IA and "run_as_group" in msg
    cc = cri.container_config("pid", ["true"])
    cc.linux.security_context.namespace_options.pid = api_pb2.NODE      # the pod is not hostPID
    code, msg = _code(cri.create, pod, pc, cc)
    assert code == IA and "pid NODE: the pod was not created with the host pid namespace" in msg
    cc.linux.security_context.namespace_options.pid = api_pb2.TARGET
    code, msg = _code(cri.create, pod, pc, cc)
    assert code == IA and "target_id: missing" in msg
    cc.linux.security_context.namespace_options.target_id = "f" * 64
    assert _code(cri.create, pod, pc, cc)[0] == NF
    code, msg = _code(cri.create, pod, pc, cri.container_config("huge", ["true"], image="a" * 1_000_000))
    assert code == IA and "too long" in msg
    code, msg = _code(cri.create, pod, pc, cri.container_config("inv", ["true"], image="Not A/Ref!"))
    assert code == IA and "config.image.image" in msg
    assert _code(cri.create, pod, pc, cri.container_config("gone", ["true"], image="no/such:1"))[0] == NF
    assert _code(cri.create, "f" * 64, pc, cri.container_config("nopod", ["true"]))[0] == NF
    pull = api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image="b" * 1_000_000))
    assert _code(cri.img.PullImage, pull)[0] == IA
    assert not cri.img.ImageStatus(api_pb2.ImageStatusRequest(
        image=api_pb2.ImageSpec(image="no/such:1"))).HasField("image")
    assert rt.Version(api_pb2.VersionRequest()).runtime_name == "pysandbox"
    st = rt.Status(api_pb2.StatusRequest())
    assert all(c.status for c in st.status.conditions) and "pysandbox" in [h.name for h in st.runtime_handlers]
    cri.remove_pod(pod)


def test_restart_keeps_pods_and_containers(server, tmp_path):
    cri = server.client
    pc = cri.pod_config("restart", log_dir=str(tmp_path / "logs"))
    pod = cri.run_pod(pc)
    running = cri.create(pod, pc, cri.container_config("run", ["sh", "-c", LOOP_WITH_TRAP], log_path="run.log"))
    done = cri.create(pod, pc, cri.container_config("done", ["sh", "-c", "exit 4"]))
    later = cri.create(pod, pc, cri.container_config("later", ["sh", "-c", "sleep 1; echo bye; exit 5"],
                                                     log_path="later.log"))
    for cid in (running, done, later):
        cri.start(cid)
    assert cri.wait_state(done, EXITED).exit_code == 4

    cri.close()
    assert server.stop() == 0                      # SIGTERM: graceful, containers stay
    time.sleep(1.5)                                # `later` exits while nobody serves
    cri = server.client = server.start()

    items = cri.rt.ListPodSandbox(api_pb2.ListPodSandboxRequest(filter=api_pb2.PodSandboxFilter(id=pod))).items
    assert [(p.id, p.state) for p in items] == [(pod, api_pb2.SANDBOX_READY)]
    assert cri.status(running).state == RUNNING
    assert cri.exec_sync(running, ["echo", "still here"]).stdout == b"still here\n"
    st = cri.status(done)
    assert (st.state, st.exit_code, st.reason) == (EXITED, 4, "Error")
    st = cri.wait_state(later, EXITED)
    assert (st.state, st.exit_code) == (EXITED, 5)
    assert b"bye" in open(tmp_path / "logs" / "later.log", "rb").read()   # the relay outlived the server
    cri.stop(running, timeout=10)
    assert cri.status(running).exit_code == 0
    assert re.search(rb"stdout F got TERM", open(tmp_path / "logs" / "run.log", "rb").read())
    cri.remove_pod(pod)


def _ws_messages(ws, until=None, deadline_s=15.0):
    """(channel, payload) messages until the server closes (or until(msgs) holds)."""
    out, end = [], time.monotonic() + deadline_s
    while time.monotonic() < end:
        m = ws.recv()
        if m is None:
            break
        out.append((m.data[0] - 48, base64.b64decode(m.data[1:])) if m.opcode == OP_TEXT
                   else (m.data[0], m.data[1:]))
        if until is not None and until(out):
            break
    return out


def test_streaming_exec_attach_and_portforward(cri, tmp_path):
    pc = cri.pod_config("stream", log_dir=str(tmp_path))
    pod = cri.run_pod(pc)
    web = cri.create(pod, pc, cri.container_config(
        "web", ["sh", "-c", "while true; do echo pong | nc -l -p 9090; done"]))
    echo = cri.create(pod, pc, cri.container_config(
        "echo", ["sh", "-c", "while read l; do echo got $l; done"], stdin=True,
        log_path="echo.log"))
    cri.start(web)
    cri.start(echo)
    try:
        # exec: stdin in, stdout and stderr apart, the exit status on channel 3
        url = cri.rt.Exec(api_pb2.ExecRequest(container_id=web, cmd=["sh", "-c", "cat; echo err >&2; exit 2"],
                                              stdin=True, stdout=True, stderr=True)).url
        ws = connect(url, ["v5.channel.k8s.io"], timeout=10)
        ws.send(b"\x00hello\n")
        ws.send(bytes([255, 0]))                     # v5: close stdin
        msgs = _ws_messages(ws)
        ws.disconnect()
        chan = lambda n: b"".join(d for c, d in msgs if c == n)  # noqa: E731
        assert chan(1) == b"hello\n" and chan(2) == b"err\n"
        assert json.loads(chan(3))["details"]["causes"][0]["message"] == "2"

        # attach: stdin reaches the container's process, its output comes back
        url = cri.rt.Attach(api_pb2.AttachRequest(container_id=echo, stdin=True, stdout=True)).url
        ws = connect(url, ["v5.channel.k8s.io"], timeout=10)
        time.sleep(0.3)                              # attached from "now" on
        ws.send(b"\x00hi\n")
        msgs = _ws_messages(ws, until=lambda m: b"got hi" in b"".join(d for c, d in m if c == 1))
        ws.disconnect()
        assert b"got hi\n" in b"".join(d for c, d in msgs if c == 1)

        # port forward: 127.0.0.1:9090 inside the pod's network namespace
        url = cri.rt.PortForward(api_pb2.PortForwardRequest(pod_sandbox_id=pod, port=[9090])).url
        ws = connect(url, ["v4.channel.k8s.io"], timeout=10)
        first = [ws.recv(), ws.recv()]
        assert [m.data[1:] for m in first] == [struct.pack("<H", 9090)] * 2
        ws.send(b"\x00ping\n")
        msgs = _ws_messages(ws, until=lambda m: b"pong" in b"".join(d for c, d in m if c == 0))
        ws.disconnect()
        assert b"pong\n" in b"".join(d for c, d in msgs if c == 0)
    finally:
        cri.remove_pod(pod)


def test_reopen_log_and_update_resources(cri, tmp_path):
    pc = cri.pod_config("logs", log_dir=str(tmp_path))
    pod = cri.run_pod(pc)
    cid = cri.create(pod, pc, cri.container_config(
        "ticker", ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done"],
        log_path="ticker.log"))
    cri.start(cid)
    log_path = tmp_path / "ticker.log"
    assert _wait_for(lambda: log_path.exists() and b"tick 2" in log_path.read_bytes())
    os.rename(log_path, tmp_path / "ticker.log.1")
    cri.rt.ReopenContainerLog(api_pb2.ReopenContainerLogRequest(container_id=cid))
    assert log_path.exists()                           # synchronous: the new file is there
    assert _wait_for(lambda: b"tick" in log_path.read_bytes())
    old = (tmp_path / "ticker.log.1").read_bytes()
    time.sleep(0.3)
    assert (tmp_path / "ticker.log.1").read_bytes() == old, "the rotated file must not grow"

    res = api_pb2.LinuxContainerResources(memory_limit_in_bytes=96 << 20, cpu_quota=50_000, cpu_period=100_000)
    cri.rt.UpdateContainerResources(api_pb2.UpdateContainerResourcesRequest(container_id=cid, linux=res))
    st = cri.status(cid)
    assert st.resources.linux.memory_limit_in_bytes == 96 << 20 and st.resources.linux.cpu_quota == 50_000
    info = json.loads(cri.rt.ContainerStatus(api_pb2.ContainerStatusRequest(
        container_id=cid, verbose=True)).info["info"])
    # "pid" is the container's pid 1 on the host (what `nsenter -t` wants), not its sentry
    assert info["sandboxID"] == pod and info["pid"] > 0 and info["pid"] != info["sentryPid"]
    assert os.readlink(f"/proc/{info['pid']}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert info["runtimeSpec"]["linux"]["cgroupsPath"] == info["cgroupsPath"]
    group = info["cgroupsPath"].strip("/")
    limit = _read_first(f"/sys/fs/cgroup/memory/{group}/memory.limit_in_bytes",
                        f"/sys/fs/cgroup/{group}/memory.max")
    assert limit == str(96 << 20)
    cri.stop_pod(pod)
    assert cri.status(cid).state == EXITED
    os.rename(log_path, tmp_path / "ticker.log.2")
    code, _ = _code(cri.rt.ReopenContainerLog, api_pb2.ReopenContainerLogRequest(container_id=cid))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert not log_path.exists(), "after an error, no new log file (api.proto)"
    cri.remove_pod(pod)


def test_security_context(cri, tmp_path):
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    pc = cri.pod_config("sec")
    pc.linux.sysctls["kernel.shm_rmid_forced"] = "1"
    pod = cri.run_pod(pc)
    cc = cri.container_config("locked", ["sleep", "1000"])
    sc = cc.linux.security_context
    sc.run_as_user.value, sc.run_as_group.value = 1000, 1000
    sc.supplemental_groups.append(3000)
    sc.readonly_rootfs = True
    sc.capabilities.drop_capabilities.append("ALL")
    sc.seccomp.profile_type = api_pb2.SecurityProfile.Localhost
    sc.seccomp.localhost_ref = str(profile)
    locked = cri.create(pod, pc, cc)
    cc = cri.container_config("default", ["sleep", "1000"])
    cc.linux.security_context.seccomp.profile_type = api_pb2.SecurityProfile.RuntimeDefault
    cc.linux.security_context.capabilities.add_capabilities.append("NET_ADMIN")
    cc.linux.security_context.no_new_privs = True      # allowPrivilegeEscalation: false
    default = cri.create(pod, pc, cc)
    for cid in (locked, default):
        cri.start(cid)

    def sh(cid, script):
        return cri.exec_sync(cid, ["sh", "-c", script]).stdout.decode()
    # id -G: the primary group, "extra" from the image's /etc/group (Merge), the supplemental one
    assert sh(locked, "id -u; id -g; id -G").split() == ["1000", "1000", "1000", "2000", "3000"]
    assert "Read-only file system" in cri.exec_sync(locked, ["touch", "/x"]).stderr.decode()
    assert "Operation not permitted" in cri.exec_sync(locked, ["mkdir", "/tmp/d"]).stderr.decode()
    assert re.search(r"CapEff:\s+0+\n", sh(locked, "cat /proc/self/status"))
    status = sh(default, "cat /proc/self/status")
    assert "NoNewPrivs:\t1" in status and "Seccomp_filters:\t2" in status
    cap_eff = int(re.search(r"CapEff:\s+([0-9a-f]+)", status).group(1), 16)
    assert cap_eff >> 12 & 1, "CAP_NET_ADMIN (12) was added"
    assert sh(default, "cat /proc/sys/kernel/shm_rmid_forced").strip() == "1"
    r = cri.exec_sync(default, ["sh", "-c", "touch /x && echo writable"])
    assert r.stdout == b"writable\n", r
    cri.remove_pod(pod)


def test_create_makes_no_sentry_and_start_takes_resources_updated_meanwhile(cri, tmp_path):
    # As containerd, whose CreateContainer makes no task: the sentry (`pysandbox-oci
    # create`) is StartContainer's, so resources updated before it are what it applies.
    pc = cri.pod_config("late")
    pod = cri.run_pod(pc)
    cid = cri.create(pod, pc, cri.container_config("worker", ["sleep", "1000"]))
    info = json.loads(cri.rt.ContainerStatus(api_pb2.ContainerStatusRequest(
        container_id=cid, verbose=True)).info["info"])
    group = info["cgroupsPath"].strip("/")
    assert cri.status(cid).state == api_pb2.CONTAINER_CREATED
    assert _read_first(f"/sys/fs/cgroup/memory/{group}/memory.limit_in_bytes",
                       f"/sys/fs/cgroup/{group}/memory.max") is None, "a cgroup already at create"
    res = api_pb2.LinuxContainerResources(memory_limit_in_bytes=80 << 20)
    cri.rt.UpdateContainerResources(api_pb2.UpdateContainerResourcesRequest(container_id=cid, linux=res))
    code, _ = _code(cri.exec_sync, cid, ["true"])
    assert code == grpc.StatusCode.FAILED_PRECONDITION       # not running yet
    cri.start(cid)
    assert cri.status(cid).state == api_pb2.CONTAINER_RUNNING
    assert _read_first(f"/sys/fs/cgroup/memory/{group}/memory.limit_in_bytes",
                       f"/sys/fs/cgroup/{group}/memory.max") == str(80 << 20)
    assert cri.status(cid).resources.linux.memory_limit_in_bytes == 80 << 20
    cri.stop_pod(pod)


def test_a_missing_executable_fails_start_as_in_containerd(cri, tmp_path):
    # containerd + runc: CreateContainer succeeds, StartContainer fails (runc
    # create cannot exec), and the container is EXITED with reason StartError.
    pc = cri.pod_config("nostart")
    pod = cri.run_pod(pc)
    cid = cri.create(pod, pc, cri.container_config("ghost", ["/no/such/binary"]))
    assert cri.status(cid).state == api_pb2.CONTAINER_CREATED
    code, details = _code(cri.start, cid)
    assert code == grpc.StatusCode.UNKNOWN and "/no/such/binary" in details, (code, details)
    st = cri.status(cid)
    assert (st.state, st.reason, st.exit_code) == (api_pb2.CONTAINER_EXITED, "StartError", 128), st
    assert "/no/such/binary" in st.message
    code, _ = _code(cri.start, cid)
    assert code == grpc.StatusCode.FAILED_PRECONDITION      # exited: it cannot be started again
    cri.rt.RemoveContainer(api_pb2.RemoveContainerRequest(container_id=cid))
    code, _ = _code(cri.status, cid)
    assert code == grpc.StatusCode.NOT_FOUND
    cri.stop_pod(pod)
