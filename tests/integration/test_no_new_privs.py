"""process.noNewPrivileges false: a setuid-root binary run by a non-root
container user gets euid 0 (and the bounding set's capabilities), still
under the sentry's filter; true, or absent, keeps it from gaining anything.
pysandbox-oci run and exec, on the platform under test."""
from __future__ import annotations

import json
import os

import pytest

from tests.integration.test_oci_runtime import bundle, configure, oci, root, wait_status  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, setuid files)")

# What a setuid program sees.  mount is what the filter refuses even to a
# process whose capabilities would let the kernel do it.
PROBE = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(void) {
    char line[256];
    printf("euid=%d uid=%d nnp=%d\n", geteuid(), getuid(), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    int r = mount("none", "/mnt", "tmpfs", 0, NULL);
    printf("mount=%s\n", r == 0 ? "ok" : strerror(errno));
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "CapEff:", 7))
            fputs(line, stdout);
    return 0;
}
"""
BOUNDING = ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN"]
MASK = f"{(1 << 0) | (1 << 6) | (1 << 7) | (1 << 21):016x}"


@pytest.fixture
def setuid_bundle(bundle, cc):  # noqa: F811 - the imported fixture
    exe = bundle / "rootfs" / "bin" / "setuid-probe"     # not an applet name: those are links to busybox
    exe.write_bytes(cc(PROBE, "setuid-probe").read_bytes())
    os.chown(exe, 0, 0)
    exe.chmod(0o4755)
    (bundle / "rootfs" / "mnt").mkdir(exist_ok=True)
    configure(bundle, process__args=["/bin/setuid-probe"], process__user={"uid": 1000, "gid": 1000},
              process__capabilities={k: BOUNDING for k in ("bounding", "effective", "permitted")})
    return bundle


def _run(root, bundle, cid, **changes):
    configure(bundle, **changes)
    r = oci(root, "run", "--bundle", bundle, cid)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.split("\n")


@pytest.mark.parametrize("nnp", [False, True, None])
def test_setuid_gains_root_only_without_no_new_privs(setuid_bundle, root, nnp):
    cfg = json.loads((setuid_bundle / "config.json").read_text())
    if nnp is None:
        cfg["process"].pop("noNewPrivileges", None)     # absent: off, as runc reads it
    else:
        cfg["process"]["noNewPrivileges"] = nnp
    (setuid_bundle / "config.json").write_text(json.dumps(cfg))
    out = _run(root, setuid_bundle, "n1")
    if not nnp:
        assert out[0] == "euid=0 uid=1000 nnp=0"
        assert out[2] == f"CapEff:\t{MASK}"                       # root's: the bounding set
    else:
        assert out[0] == "euid=1000 uid=1000 nnp=1"
        assert out[2] == "CapEff:\t0000000000000000"
    assert out[1] == "mount=Operation not permitted"             # the filter, with CAP_SYS_ADMIN or not


def test_in_a_user_namespace(setuid_bundle, root):
    """The filter is loaded with the capabilities of the workload's own user
    namespace, before it drops them."""
    ident = [{"containerID": 0, "hostID": 0, "size": 65536}]
    out = _run(root, setuid_bundle, "n2", process__noNewPrivileges=False,
               linux__namespaces=[{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")],
               linux__uidMappings=ident, linux__gidMappings=ident)
    assert out[:3] == ["euid=0 uid=1000 nnp=0", "mount=Operation not permitted", f"CapEff:\t{MASK}"]


def test_exec_takes_its_own_process_setting(setuid_bundle, root, tmp_path):
    configure(setuid_bundle, process__args=["sleep", "1000"], process__noNewPrivileges=False)
    assert oci(root, "create", "--bundle", setuid_bundle, "n3").returncode == 0
    assert oci(root, "start", "n3").returncode == 0
    wait_status(root, "n3", "running")
    for nnp, want in ((False, "euid=0 uid=1000 nnp=0"), (True, "euid=1000 uid=1000 nnp=1"),
                      (None, "euid=0 uid=1000 nnp=0")):      # absent: off, as runc reads it
        proc = {"args": ["/bin/setuid-probe"], "cwd": "/", "env": [], "user": {"uid": 1000, "gid": 1000},
                "capabilities": {"bounding": BOUNDING}}
        if nnp is not None:
            proc["noNewPrivileges"] = nnp
        (tmp_path / "p.json").write_text(json.dumps(proc))
        r = oci(root, "exec", "--process", tmp_path / "p.json", "n3")
        assert r.returncode == 0 and r.stdout.split("\n")[0] == want, (nnp, r.stdout, r.stderr)
    assert oci(root, "delete", "--force", "n3").returncode == 0


def test_a_profile_refusing_the_privilege_drop(setuid_bundle, root):
    """Without no_new_privs the OCI profile is loaded before the uid change
    too (as runc does): one refusing setgroups stops the start-up, named on
    the container's stderr (the sentry reads the socket no more)."""
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["setgroups"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    configure(setuid_bundle, process__noNewPrivileges=False, linux__seccomp=profile)
    r = oci(root, "run", "--bundle", setuid_bundle, "n4")
    assert (r.returncode, r.stdout, r.stderr) == (125, "", "pysandbox: setting uid/gid: Operation not permitted\n")
    configure(setuid_bundle, process__noNewPrivileges=True)         # then it comes after: no effect on start-up
    r = oci(root, "run", "--bundle", setuid_bundle, "n5")
    assert r.returncode == 0 and r.stdout.startswith("euid=1000 "), r.stderr
