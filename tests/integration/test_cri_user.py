"""ContainerStatus.user.linux: the uid, gid and supplemental groups the
container's process really has, for SupplementalGroupsPolicy Merge (the
image's /etc/group memberships of the user added) and Strict (only the
primary and the requested groups). A real `pysandbox cri` over gRPC on the
platform under test; the image is tests/cri_client.py's busybox, where user
app (1000) is a member of group extra (2000)."""
from __future__ import annotations

import os
import re

import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_archive, serving
from cri_handler.v1 import api_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
RUNNING = api_pb2.CONTAINER_RUNNING


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    base = tmp_path_factory.mktemp("cri-user")
    srv = Server(base, bridge="pysbcriusr0", cidr="10.218.0.0/24", platform=PLATFORM)
    with serving(srv, busybox_archive(base / "busybox.tar")) as client:
        yield client


def _applied(cri, cid) -> tuple[int, int, list[int]]:
    """Real uid, gid and groups of the container's own process (`sleep`)."""
    script = 'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = sleep ] && cat $p/status; done'
    status = cri.exec_sync(cid, ["sh", "-c", script]).stdout.decode()
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
    gid = int(re.search(r"^Gid:\s+(\d+)", status, re.M).group(1))
    groups = [int(g) for g in re.search(r"^Groups:(.*)$", status, re.M).group(1).split()]
    return uid, gid, groups


@pytest.mark.parametrize("policy, user, group, extra, expected", [
    # The e2e case of KEP-3619: runAsUser 1000, runAsGroup 3000, supplementalGroups [4000].
    (api_pb2.Merge, 1000, 3000, [4000], (1000, 3000, [3000, 2000, 4000])),
    (api_pb2.Strict, 1000, 3000, [4000], (1000, 3000, [3000, 4000])),
    # The image's primary group, no extra groups.
    (api_pb2.Merge, 1000, None, [], (1000, 1000, [1000, 2000])),
    (api_pb2.Strict, 1000, None, [], (1000, 1000, [1000])),
    # The image's user (root): no memberships in the image's /etc/group.
    (api_pb2.Merge, None, None, [5000], (0, 0, [0, 5000])),
])
def test_status_user_is_what_the_process_has(cri, policy, user, group, extra, expected):
    name = f"user-{api_pb2.SupplementalGroupsPolicy.Name(policy).lower()}-{user}-{group}-{len(extra)}"
    pod_cfg = cri.pod_config(name)
    pod_cfg.linux.security_context.supplemental_groups_policy = policy
    pod = cri.run_pod(pod_cfg)
    try:
        cfg = cri.container_config("c", ["sleep", "1000"])
        sc = cfg.linux.security_context
        sc.supplemental_groups_policy = policy
        if user is not None:
            sc.run_as_user.value = user
        if group is not None:
            sc.run_as_group.value = group
        sc.supplemental_groups.extend(extra)
        cid = cri.create(pod, pod_cfg, cfg)
        cri.start(cid)
        st = cri.wait_state(cid, RUNNING)
        lu = st.user.linux
        reported = (lu.uid, lu.gid, list(lu.supplemental_groups))
        assert reported == expected
        uid, gid, groups = _applied(cri, cid)
        assert (uid, gid, sorted(groups)) == (lu.uid, lu.gid, sorted(lu.supplemental_groups))
        # an exec'd process gets the same identity
        ids = cri.exec_sync(cid, ["sh", "-c", "id -u; id -g; id -G"]).stdout.decode().split()
        assert [int(i) for i in ids[:2]] == [lu.uid, lu.gid]
        assert sorted({int(i) for i in ids[2:]}) == sorted(set(lu.supplemental_groups))
    finally:
        cri.remove_pod(pod)
