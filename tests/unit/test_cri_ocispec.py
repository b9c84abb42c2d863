"""The CRI -> OCI config mapping (cri_handler/ocispec.py) without a runtime:
what each ContainerConfig field becomes in config.json, and the requests
containerd refuses that it refuses too.  The services over gRPC are in
test_cri_server.py; the real runtime in tests/integration/test_cri.py."""
from __future__ import annotations

import json
import signal

import pytest

from cri_handler import ocispec
from cri_handler.errors import InvalidArgument
from cri_handler.ociruntime import signal_from_cri
from cri_handler.store import PodRecord
from cri_handler.v1 import api_pb2
from sentry.images.store import Image
from sentry.sandbox import caps


@pytest.fixture
def image(tmp_path) -> Image:
    layer = tmp_path / "layer"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (layer / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nextra:x:2000:app\n")
    return Image("test/img:1", "sha256:" + "1" * 64, {"config": {"digest": "sha256:" + "2" * 64}},
                 {"config": {"Env": ["PATH=/bin", "A=image"], "Entrypoint": ["/bin/ep"], "Cmd": ["c1"],
                             "WorkingDir": "/work", "User": "app"}}, [str(layer)])


def _pod(host_network=False, privileged=False) -> PodRecord:
    linux: dict = {"sysctls": {"kernel.shm_rmid_forced": "1"}}
    namespaces = {"net": "/ns/net", "ipc": "/ns/ipc", "uts": "/ns/uts"}
    if privileged:
        linux["security_context"] = {"privileged": True}
        if not host_network:
            namespaces["user"] = "/ns/user"
    return PodRecord(id="p" * 64, name="pod", namespace="ns", uid="u", attempt=0, created_at=1,
                     hostname="podhost", host_network=host_network, namespaces=namespaces,
                     config={"linux": linux})


def _build(image, pod=None, **kw):
    cfg = api_pb2.ContainerConfig(**kw)
    cfg.metadata.name = "c"
    cfg.image.image = "test/img:1"
    return cfg, (lambda: ocispec.build(cfg, container_id="c" * 64, pod=pod or _pod(), image=image,
                                       rootfs="/rootfs", cgroups_path="/pysandbox-cri/p/c",
                                       pod_files={"/etc/hosts": "/pod/hosts"}))


def test_argv_env_cwd_and_user_from_the_image(image):
    _, build = _build(image, envs=[api_pb2.KeyValue(key="A", value="cri")])
    b = build()
    p = b.spec["process"]
    assert p["args"] == ["/bin/ep", "c1"]
    assert "A=cri" in p["env"] and "A=image" not in p["env"] and "HOSTNAME=podhost" in p["env"]
    assert p["cwd"] == "/work"
    assert p["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 2000]}   # primary, then Merge
    assert p["noNewPrivileges"] is False        # the request's no_new_privs, as containerd reads it


def test_no_new_privs_is_the_requests(image):
    cfg, build = _build(image)
    cfg.linux.security_context.no_new_privs = True
    assert build().spec["process"]["noNewPrivileges"] is True


def test_command_replaces_entrypoint_and_drops_cmd(image):
    _, build = _build(image, command=["/bin/sh"], working_dir="/")
    assert build().spec["process"]["args"] == ["/bin/sh"]
    _, build = _build(image, args=["x", "y"])
    assert build().spec["process"]["args"] == ["/bin/ep", "x", "y"]


def test_run_as_user_group_and_username(image):
    cfg, build = _build(image)
    sc = cfg.linux.security_context
    sc.run_as_user.value = 1234
    sc.run_as_group.value = 99
    sc.supplemental_groups.extend([5, 6])
    assert build().spec["process"]["user"] == {"uid": 1234, "gid": 99, "additionalGids": [99, 5, 6]}
    cfg, build = _build(image)
    cfg.linux.security_context.run_as_username = "root"
    assert build().spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    cfg.linux.security_context.run_as_username = "ghost"
    with pytest.raises(InvalidArgument, match="run_as_username.*ghost"):
        build()


def test_run_as_group_alone_is_an_error(image):
    cfg, build = _build(image)
    cfg.linux.security_context.run_as_group.value = 5
    with pytest.raises(InvalidArgument, match="run_as_group"):
        build()


def test_capabilities(image):
    cfg, build = _build(image)
    cap = cfg.linux.security_context.capabilities
    cap.drop_capabilities.extend(["CHOWN", "CAP_KILL"])
    cap.add_capabilities.append("NET_ADMIN")
    got = build().spec["process"]["capabilities"]["bounding"]
    assert "CAP_CHOWN" not in got and "CAP_KILL" not in got
    assert ("CAP_NET_ADMIN" in got) == ("NET_ADMIN" in caps.host_bounding())
    cap.drop_capabilities[:] = ["ALL"]
    cap.add_capabilities[:] = []
    assert build().spec["process"]["capabilities"]["bounding"] == []
    cap.add_capabilities.append("CAP_BOGUS")
    with pytest.raises(InvalidArgument, match="capabilities"):
        build()


def test_privileged_gets_every_host_capability_and_no_masks(image):
    cfg, build = _build(image, pod=_pod(privileged=True))
    cfg.linux.security_context.privileged = True
    spec = build().spec
    assert set(spec["process"]["capabilities"]["bounding"]) == {"CAP_" + c for c in caps.host_bounding()}
    assert spec["linux"]["maskedPaths"] == [] and "seccomp" not in spec["linux"]
    # ... of the pod's user namespace, which owns the pod's network
    assert {"type": "user", "path": "/ns/user"} in spec["linux"]["namespaces"]
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 0, "size": 65536}]
    assert spec["linux"]["gidMappings"] == spec["linux"]["uidMappings"]


def test_every_container_of_a_privileged_pod_joins_its_user_namespace(image):
    # Outside it, a root container would have every capability in it (the
    # kernel's rule for the namespace's owner): the pod's network too.
    cfg, build = _build(image, pod=_pod(privileged=True))
    spec = build().spec
    assert {"type": "user", "path": "/ns/user"} in spec["linux"]["namespaces"]
    assert "CAP_NET_ADMIN" not in spec["process"]["capabilities"]["bounding"]


def test_privileged_on_the_host_network_gets_a_user_namespace_of_its_own(image):
    cfg, build = _build(image, pod=_pod(host_network=True, privileged=True))
    cfg.linux.security_context.privileged = True
    assert {"type": "user"} in build().spec["linux"]["namespaces"]


def test_a_privileged_container_needs_a_privileged_pod_as_in_containerd(image):
    cfg, build = _build(image)
    cfg.linux.security_context.privileged = True
    with pytest.raises(InvalidArgument, match="security_context.privileged: the pod sandbox is not privileged"):
        build()


def test_namespaces(image):
    cfg, build = _build(image)
    ns = build().spec["linux"]["namespaces"]
    assert {"type": "network", "path": "/ns/net"} in ns and {"type": "uts", "path": "/ns/uts"} in ns
    assert {"type": "pid"} in ns and {"type": "mount"} in ns
    host = ocispec.build(cfg, container_id="c", pod=_pod(host_network=True), image=image, rootfs="/r",
                         cgroups_path="/x/c", pod_files={})
    assert not any(n["type"] == "network" for n in host.spec["linux"]["namespaces"])
    cfg.linux.security_context.namespace_options.pid = api_pb2.TARGET
    with pytest.raises(InvalidArgument, match="pid TARGET: no target"):
        build()
    target = ocispec.build(cfg, container_id="c", pod=_pod(), image=image, rootfs="/r", cgroups_path="/x/c",
                           pod_files={}, target_pid_ns="/proc/42/ns/pid")
    assert {"type": "pid", "path": "/proc/42/ns/pid"} in target.spec["linux"]["namespaces"]
    # pid NODE: only in a host-pid pod, and then no pid entry (the host's)
    cfg.linux.security_context.namespace_options.pid = api_pb2.NODE
    with pytest.raises(InvalidArgument, match="pid NODE: the pod was not created with the host pid"):
        build()
    host_pid = _pod()
    host_pid.host_pid = True
    for mode in (api_pb2.NODE, api_pb2.POD):     # POD: the pod's pid namespace, the host's
        cfg.linux.security_context.namespace_options.pid = mode
        ns = ocispec.build(cfg, container_id="c", pod=host_pid, image=image, rootfs="/r", cgroups_path="/x/c",
                           pod_files={}).spec["linux"]["namespaces"]
        assert not any(n["type"] == "pid" for n in ns), ns
    cfg.linux.security_context.namespace_options.pid = api_pb2.CONTAINER
    ns = ocispec.build(cfg, container_id="c", pod=host_pid, image=image, rootfs="/r", cgroups_path="/x/c",
                       pod_files={}).spec["linux"]["namespaces"]
    assert {"type": "pid"} in ns


def test_pid_and_ipc_namespace_modes(image):
    shared = _pod()
    shared.pid_init_pid = 4242
    cfg, build = _build(image, pod=shared)
    cfg.linux.security_context.namespace_options.pid = api_pb2.POD
    assert {"type": "pid", "path": "/proc/4242/ns/pid"} in build().spec["linux"]["namespaces"]
    cfg.linux.security_context.namespace_options.pid = api_pb2.CONTAINER
    assert {"type": "pid"} in build().spec["linux"]["namespaces"]
    # POD in a pod holding no pid namespace (its config said CONTAINER): its own
    cfg, build = _build(image)
    cfg.linux.security_context.namespace_options.pid = api_pb2.POD
    assert {"type": "pid"} in build().spec["linux"]["namespaces"]
    # ipc NODE: only in a host-IPC pod, and then no ipc entry (the host's)
    cfg.linux.security_context.namespace_options.ipc = api_pb2.NODE
    with pytest.raises(InvalidArgument, match="ipc"):
        build()
    host_ipc = _pod()
    host_ipc.host_ipc = True
    ns = ocispec.build(cfg, container_id="c", pod=host_ipc, image=image, rootfs="/r", cgroups_path="/x/c",
                       pod_files={}).spec["linux"]["namespaces"]
    assert not any(n["type"] == "ipc" for n in ns)


def test_mounts(image, tmp_path):
    target = tmp_path / "data"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    cfg, build = _build(image, mounts=[api_pb2.Mount(container_path="/data", host_path=str(tmp_path / "link"),
                                                     readonly=True)])
    mounts = build().spec["mounts"]
    assert mounts[0] == {"destination": "/data", "type": "bind", "source": str(target),
                         "options": ["rbind", "rprivate", "ro"]}
    assert mounts[1]["destination"] == "/etc/hosts"
    cfg.mounts[0].host_path = str(tmp_path / "missing")
    with pytest.raises(InvalidArgument, match=r"config.mounts\[0\].host_path"):
        build()


def test_seccomp_profiles(image, tmp_path):
    from sentry.oci.seccomp import compile_profile
    compile_profile(ocispec.DEFAULT_PROFILE).close()          # the RuntimeDefault profile compiles
    cfg, build = _build(image)
    assert "seccomp" not in build().spec["linux"]             # unset: the sentry's filter only
    sp = cfg.linux.security_context.seccomp
    sp.profile_type = api_pb2.SecurityProfile.RuntimeDefault
    assert build().spec["linux"]["seccomp"] is ocispec.DEFAULT_PROFILE
    sp.profile_type = api_pb2.SecurityProfile.Localhost
    good = tmp_path / "p.json"
    good.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}))
    sp.localhost_ref = str(good)
    assert build().spec["linux"]["seccomp"]["syscalls"][0]["names"] == ["chmod"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    sp.localhost_ref = str(bad)
    with pytest.raises(InvalidArgument, match="localhost_ref.*not valid JSON"):
        build()


def test_resources_and_signals(image):
    cfg, build = _build(image)
    r = cfg.linux.resources
    r.memory_limit_in_bytes, r.cpu_quota, r.cpu_period, r.oom_score_adj = 64 << 20, 50000, 100000, 500
    spec = build().spec
    assert spec["linux"]["resources"] == {"memory": {"limit": 64 << 20}, "cpu": {"quota": 50000, "period": 100000}}
    assert spec["process"]["oomScoreAdj"] == 500
    assert signal_from_cri(api_pb2.SIGKILL) == signal.SIGKILL
    assert signal_from_cri(0) == signal.SIGTERM
    assert signal_from_cri(api_pb2.SIGRTMINPLUS1) == signal.SIGRTMIN + 1


# --- store and config -----------------------------------------------------------------
