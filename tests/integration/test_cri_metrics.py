"""ListMetricDescriptors and ListPodSandboxMetrics through a real `pysandbox
cri` over gRPC: a pod whose container does CPU work in user and system
mode, holds memory, writes files into its writable layer and serves a file
over the pod IP; two samples around that work must describe every series
they return and move the way the work says."""
from __future__ import annotations

import os
import time
import urllib.request

import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_archive, serving
from cri_handler.v1 import api_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
RUNNING = api_pb2.CONTAINER_RUNNING
MiB = 1 << 20
LIMIT = 256 * MiB
REQUIRED = {
    "container_cpu_usage_seconds_total", "container_cpu_user_seconds_total", "container_cpu_system_seconds_total",
    "container_memory_usage_bytes", "container_memory_working_set_bytes", "container_memory_rss",
    "container_memory_cache", "container_spec_memory_limit_bytes", "container_processes",
    "container_fs_usage_bytes", "container_fs_inodes_total",
    "container_network_receive_bytes_total", "container_network_transmit_bytes_total",
    "container_network_receive_packets_total", "container_network_transmit_packets_total",
}
# cAdvisor's types: counters end in _total, but for these two.
COUNTER_NOT_TOTAL, GAUGE_TOTAL = {"container_memory_failcnt"}, {"container_fs_inodes_total"}
# The work, once /tmp/go exists: > 1 s of user time (a shell loop), > 1 s of
# system time (dd's one-byte reads and writes: 0.65 s of it per 5M natively
# on this VM, so 15M; the counter is whole seconds), 40 MiB held by tail, 8 MiB
# and 50 files written. httpd serves the 8 MiB file to the test.
SCRIPT = """
mkdir /www && httpd -p 8080 -h /www
while [ ! -e /tmp/go ]; do sleep 0.05; done
(head -c 40m /dev/zero; sleep 1000) | tail -c 40m > /dev/null &
head -c 8m /dev/urandom > /www/blob
mkdir /files && for i in $(seq 1 50); do echo $i > /files/f$i; done
i=0; while [ $i -lt 1600000 ]; do i=$((i+1)); done
dd if=/dev/zero of=/dev/null bs=1 count=15000000 2>/dev/null
touch /tmp/done
sleep 1000
"""


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-metrics")
    srv = Server(base, bridge="pysbcrimet0", cidr="10.221.0.0/24", platform=PLATFORM)
    with serving(srv, busybox_archive(base / "busybox.tar")) as client:
        yield client


def _sample(cri, pod_id):
    """{(name, labels...): value} of one pod, checked against the descriptors."""
    descs = {d.name: d for d in cri.rt.ListMetricDescriptors(api_pb2.ListMetricDescriptorsRequest()).descriptors}
    resp = cri.rt.ListPodSandboxMetrics(api_pb2.ListPodSandboxMetricsRequest())
    (pm,) = [p for p in resp.pod_metrics if p.pod_sandbox_id == pod_id]
    out, now = {}, time.time_ns()
    for scope, metrics in [("pod", pm.metrics)] + [(c.container_id, c.metrics) for c in pm.container_metrics]:
        for m in metrics:
            d = descs.get(m.name)
            assert d is not None, f"{m.name} has no descriptor"
            assert d.help and list(d.label_keys[:6]) == ["container", "id", "image", "name", "namespace", "pod"]
            assert len(m.label_values) == len(d.label_keys), m
            counter = (m.name.endswith("_total") and m.name not in GAUGE_TOTAL) or m.name in COUNTER_NOT_TOTAL
            want = api_pb2.COUNTER if counter else api_pb2.GAUGE
            assert m.metric_type == want, m.name
            assert 0 < now - m.timestamp < 60 * 10**9
            labels = dict(zip(d.label_keys, m.label_values))
            out[(m.name, scope, labels.get("interface", ""))] = (m.value.value, labels)
    return out, descs


def _value(sample, name, scope, iface=""):
    return sample[(name, scope, iface)][0]


def test_metrics_describe_every_series_and_follow_the_work(cri, tmp_path):
    pod_cfg = cri.pod_config("metrics", log_dir=str(tmp_path))
    pod = cri.run_pod(pod_cfg)
    cfg = cri.container_config("worker", ["sh", "-c", SCRIPT], log_path="worker.log")
    cfg.linux.resources.memory_limit_in_bytes = LIMIT
    cfg.linux.resources.cpu_period, cfg.linux.resources.cpu_quota = 100000, 150000
    cid = cri.create(pod, pod_cfg, cfg)
    cri.start(cid)
    assert cri.wait_state(cid, RUNNING).state == RUNNING
    ip = cri.rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod)).status.network.ip
    try:
        before, descs = _sample(cri, pod)
        assert REQUIRED <= {name for name, _, _ in before}, REQUIRED - {name for name, _, _ in before}
        assert REQUIRED <= set(descs)
        _, labels = before[("container_memory_usage_bytes", cid, "")]
        assert labels == {"container": "worker", "id": labels["id"], "image": "pysandbox-test/busybox:1",
                          "name": cid, "namespace": "default", "pod": "metrics"}
        assert labels["id"].endswith(cid)                       # the cgroup path, as cAdvisor's id
        _, labels = before[("container_network_receive_bytes_total", "pod", "eth0")]
        assert (labels["container"], labels["pod"], labels["interface"]) == ("POD", "metrics", "eth0")
        assert not any(iface == "lo" for _, _, iface in before)  # cAdvisor leaves loopback out
        assert _value(before, "container_spec_memory_limit_bytes", cid) == LIMIT
        assert (_value(before, "container_spec_cpu_quota", cid), _value(before, "container_spec_cpu_period", cid)) \
            == (150000, 100000)

        cri.exec_sync(cid, ["touch", "/tmp/go"])
        deadline = time.monotonic() + 120
        while cri.exec_sync(cid, ["test", "-e", "/tmp/done"]).exit_code != 0:
            assert time.monotonic() < deadline, "the container's work did not finish"
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://{ip}:8080/blob", timeout=30) as r:   # pod-IP traffic
            assert len(r.read()) == 8 * MiB
        after, _ = _sample(cri, pod)

        def grew(name, by=1, scope=cid, iface=""):
            b, a = _value(before, name, scope, iface), _value(after, name, scope, iface)
            assert a >= b + by, f"{name}: {b} -> {a}, expected at least +{by}"

        grew("container_cpu_usage_seconds_total")
        grew("container_cpu_user_seconds_total")
        grew("container_cpu_system_seconds_total")
        total = _value(after, "container_cpu_usage_seconds_total", cid)
        parts = _value(after, "container_cpu_user_seconds_total", cid) + \
            _value(after, "container_cpu_system_seconds_total", cid)
        assert abs(total - parts) <= 2, (total, parts)           # whole seconds, each floored
        grew("container_memory_usage_bytes", 40 * MiB)
        grew("container_memory_rss", 35 * MiB)                  # tail's buffer
        grew("container_memory_cache", 4 * MiB)                 # the files just written
        usage = _value(after, "container_memory_usage_bytes", cid)
        assert _value(after, "container_memory_working_set_bytes", cid) <= usage < LIMIT
        assert _value(after, "container_memory_max_usage_bytes", cid) >= usage
        grew("container_processes", 2)          # tail, head's subshell and its sleep; the poll's sleep is gone
        grew("container_threads", 2)
        grew("container_fs_usage_bytes", 8 * MiB)
        fs_free, fs_total = (_value(after, n, cid) for n in ("container_fs_inodes_free", "container_fs_inodes_total"))
        assert 0 < fs_free < fs_total
        grew("container_network_transmit_bytes_total", 8 * MiB, "pod", "eth0")
        grew("container_network_transmit_packets_total", 8 * MiB // 65536, "pod", "eth0")
        grew("container_network_receive_packets_total", 10, "pod", "eth0")   # the client's ACKs
        grew("container_network_receive_bytes_total", 500, "pod", "eth0")
        for name, scope, iface in before:
            if name.endswith("_total") and name not in GAUGE_TOTAL:     # counters never go back
                assert after[(name, scope, iface)][0] >= before[(name, scope, iface)][0], name

        # Containers that are not running have no series; the pod's network stays.
        cri.stop(cid)
        gone, _ = _sample(cri, pod)
        assert {scope for _, scope, _ in gone} == {"pod"}
    finally:
        cri.remove_pod(pod)
