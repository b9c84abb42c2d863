"""no_new_privs in the container's security context, as containerd reads it:
false lets a setuid-root binary run by a non-root user get euid 0 (still
under the sentry's filter: mount stays refused with CAP_SYS_ADMIN in the
bounding set), true keeps it uid 1000.  ExecSync gets the container's
setting.  A real `pysandbox cri` over gRPC on the platform under test; the
image is tests/cri_client.py's busybox with a setuid-root probe added as
a second layer."""
from __future__ import annotations

import os
import re

import pytest

from conftest import PLATFORM
from cri_client import Server, busybox_layer, serving
from image_files import docker_archive, tar
from tests.integration.test_no_new_privs import PROBE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)")
IMAGE = "pysandbox-test/setuid:1"


def _archive(path, probe: bytes) -> str:
    """A docker-archive: busybox, then a layer with /bin/setuid-probe (root, 04755) and /mnt."""
    setuid = tar([("mnt/", "dir", None), ("bin/setuid-probe", "file", probe, 0o4755)])
    return docker_archive(path, IMAGE, [busybox_layer(), setuid], {"Env": ["PATH=/bin"], "Cmd": ["sh"]})


@pytest.fixture(scope="module")
def cri(tmp_path_factory, cc):
    base = tmp_path_factory.mktemp("cri-nnp")
    srv = Server(base, bridge="pysbcrinnp0", cidr="10.227.0.0/24", platform=PLATFORM)
    with serving(srv, _archive(base / "setuid.tar", cc(PROBE, "setuid-probe").read_bytes())) as client:
        yield client


@pytest.mark.parametrize("nnp", [False, True])
def test_setuid_root_binary(cri, nnp):
    pc = cri.pod_config(f"nnp-{str(nnp).lower()}")
    pod = cri.run_pod(pc)
    try:
        cc = cri.container_config("c", ["sleep", "1000"], image=IMAGE)
        sc = cc.linux.security_context
        sc.run_as_user.value = 1000
        sc.no_new_privs = nnp
        sc.capabilities.add_capabilities.append("SYS_ADMIN")
        cid = cri.create(pod, pc, cc)
        cri.start(cid)
        status = cri.exec_sync(cid, ["cat", "/proc/1/status"]).stdout.decode()
        assert re.search(r"^NoNewPrivs:\s+(\d)$", status, re.M).group(1) == str(int(nnp))
        r = cri.exec_sync(cid, ["/bin/setuid-probe"])
        assert r.exit_code == 0, r
        out = r.stdout.decode().split("\n")
        assert out[0] == ("euid=1000 uid=1000 nnp=1" if nnp else "euid=0 uid=1000 nnp=0")
        assert out[1] == "mount=Operation not permitted"
        cap_eff = int(out[2].split()[1], 16)
        assert (cap_eff >> 21 & 1) == (not nnp), out[2]            # CAP_SYS_ADMIN: root's, from the bounding set
    finally:
        cri.remove_pod(pod)
