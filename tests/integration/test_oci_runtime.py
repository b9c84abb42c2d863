"""pysandbox-oci, driven the way containerd's shim and CRI-O drive runc:
create -> state -> start -> state -> delete, exec, kill, pause, update,
console sockets, hooks, seccomp profiles, and bad config.json files."""
from __future__ import annotations

import array
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, PLATFORM

OCI = str(BIN / "pysandbox-oci")


def oci(root, *args, input=None, timeout=30):
    """Run pysandbox-oci; output through files, not pipes: a created
    container's sentry keeps the stdio it was given (it is the container's)."""
    import tempfile
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        r = subprocess.run([OCI, "--root", str(root), "--platform", PLATFORM, *map(str, args)],
                           input=input, stdout=out, stderr=err, text=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(r.args, r.returncode, out.read(), err.read())


def cgroup_gone(path: str) -> bool:
    return not any(os.path.exists(f"/sys/fs/cgroup/{h}{path}") for h in ("memory", "pids", "cpu", "freezer",
                                                                          "unified"))


@pytest.fixture(scope="module", autouse=True)
def _no_cgroup_parent_left():
    """The tests' containers live under /pysandbox-test; take the (by then
    empty) parent away at the end too."""
    yield
    import glob
    for d in glob.glob("/sys/fs/cgroup/*/pysandbox-test"):
        try:
            os.rmdir(d)
        except OSError:
            pass


@pytest.fixture
def bundle(tmp_path, busybox_rootfs):
    """A bundle whose rootfs is a copy of the busybox rootfs (used as-is,
    writable), with `runc spec`'s defaults and a unique cgroupsPath."""
    b = tmp_path / "bundle"
    b.mkdir()
    shutil.copytree(busybox_rootfs, b / "rootfs", symlinks=True)
    (b / "rootfs").chmod(0o755)          # a temp dir is 0700: unusable for a shifted user namespace
    r = subprocess.run([OCI, "spec", "--bundle", str(b)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["terminal"] = False
    cfg["root"]["readonly"] = False
    cfg["linux"]["cgroupsPath"] = f"/pysandbox-test/{tmp_path.name}-{os.urandom(4).hex()}"
    (b / "config.json").write_text(json.dumps(cfg))
    return b


def configure(b: Path, **changes):
    cfg = json.loads((b / "config.json").read_text())
    for key, value in changes.items():
        target = cfg
        *parents, last = key.split("__")
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = value
    (b / "config.json").write_text(json.dumps(cfg))
    return cfg


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "state"
    yield r
    for name in os.listdir(r) if r.exists() else []:
        oci(r, "delete", "--force", name)


def wait_status(root, cid, want, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = oci(root, "state", cid)
        if r.returncode == 0 and json.loads(r.stdout)["status"] == want:
            return json.loads(r.stdout)
        time.sleep(0.05)
    raise AssertionError(f"{cid} never became {want}: {r.stdout} {r.stderr}")


def test_create_start_state_delete(bundle, root, tmp_path):
    configure(bundle, process__args=["sh", "-c", "echo hello from the container; uname -r; "
                                     "grep Seccomp: /proc/self/status; exit 3"])
    out = tmp_path / "out"
    with open(out, "w") as f:
        r = subprocess.run([OCI, "--root", str(root), "--platform", PLATFORM, "create", "--bundle", str(bundle),
                            "--pid-file", str(tmp_path / "pid"), "c1"], stdout=f, stderr=f, timeout=30)
    assert r.returncode == 0, out.read_text()
    st = json.loads(oci(root, "state", "c1").stdout)
    assert st["status"] == "created" and st["id"] == "c1" and st["bundle"] == str(bundle)
    assert int((tmp_path / "pid").read_text()) == st["pid"]
    assert "created" in oci(root, "list").stdout
    assert out.read_text() == ""                        # nothing ran before start
    assert oci(root, "start", "c1").returncode == 0
    wait_status(root, "c1", "stopped")
    assert out.read_text().splitlines() == ["hello from the container", "6.1.0-pysandbox", "Seccomp:\t2"]
    assert json.loads((root / "c1" / "exit.json").read_text())["status"] == 3
    r = oci(root, "start", "c1")
    assert r.returncode == 1 and "stopped" in r.stderr
    assert oci(root, "delete", "c1").returncode == 0
    assert not (root / "c1").exists()
    assert cgroup_gone(json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"])
    r = oci(root, "state", "c1")
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_run_exit_status_and_config_mapping(bundle, root):
    configure(bundle, process__args=["sh", "-c", "id; ulimit -n; cat /proc/sys/kernel/shmmax; hostname; "
                                     "touch /ro 2>/dev/null || echo read-only; ls /dev/mqueue >/dev/null && "
                                     "echo mqueue; cat /data/hello.txt; exit 5"],
              process__user={"uid": 0, "gid": 0, "additionalGids": [10, 20]},
              process__rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
              linux__sysctl={"kernel.shmmax": "12345"}, hostname="oci-host", root__readonly=True)
    r = oci(root, "run", "--bundle", bundle, "r1")
    assert r.returncode == 5, r.stderr
    assert r.stdout.splitlines() == ["uid=0(root) gid=0 groups=10,20", "100", "12345", "oci-host", "read-only",
                                     "mqueue", "hello from the rootfs"]
    assert not (root / "r1").exists()                   # run deletes after


def test_exec_kill_ps_pause_update(bundle, root, tmp_path):
    configure(bundle, process__args=["sh", "-c", "trap 'echo got TERM; exit 9' TERM; echo up; "
                                     "while true; do sleep 0.05; done"],
              linux__resources={"memory": {"limit": 256 << 20}, "pids": {"limit": 100}})
    out = tmp_path / "out"
    with open(out, "w") as f:
        assert subprocess.run([OCI, "--root", str(root), "--platform", PLATFORM, "create", "--bundle", str(bundle),
                               "c2"], stdout=f, timeout=30).returncode == 0
    assert oci(root, "start", "c2").returncode == 0
    wait_status(root, "c2", "running")
    r = oci(root, "exec", "c2", "sh", "-c", "echo in exec; grep Seccomp: /proc/self/status; exit 4")
    assert r.returncode == 4 and r.stdout.splitlines() == ["in exec", "Seccomp:\t2"], r.stderr
    proc = tmp_path / "proc.json"
    proc.write_text(json.dumps({"args": ["sh", "-c", "echo detached > /tmp/x"], "cwd": "/", "env": []}))
    r = oci(root, "exec", "--detach", "--pid-file", tmp_path / "epid", "--process", proc, "c2")
    assert r.returncode == 0 and int((tmp_path / "epid").read_text()) > 0, r.stderr
    pids = json.loads(oci(root, "ps", "--format", "json", "c2").stdout)
    assert len(pids) >= 2
    assert oci(root, "pause", "c2").returncode == 0
    wait_status(root, "c2", "paused")
    assert oci(root, "resume", "c2").returncode == 0
    wait_status(root, "c2", "running")
    r = oci(root, "update", "--resources", "-", "c2", input=json.dumps({"memory": {"limit": 128 << 20}}))
    assert r.returncode == 0, r.stderr
    r = oci(root, "exec", "c2", "cat", "/tmp/x")
    assert r.stdout == "detached\n"
    r = oci(root, "delete", "c2")
    assert r.returncode == 1 and "not stopped: running" in r.stderr
    assert oci(root, "kill", "c2", "TERM").returncode == 0
    wait_status(root, "c2", "stopped")
    assert "got TERM" in out.read_text()
    assert json.loads((root / "c2" / "exit.json").read_text())["status"] == 9
    assert oci(root, "delete", "c2").returncode == 0


def test_delete_force_and_created_kill(bundle, root):
    configure(bundle, process__args=["sleep", "100"])
    assert oci(root, "create", "--bundle", bundle, "c3").returncode == 0
    sentry = json.loads(oci(root, "state", "c3").stdout)["pid"]
    assert oci(root, "delete", "--force", "c3").returncode == 0
    assert not os.path.exists(f"/proc/{sentry}/status") or "zombie" in open(f"/proc/{sentry}/status").read()
    assert oci(root, "delete", "--force", "c3").returncode == 0      # already gone: fine with --force


def test_console_socket(bundle, root, tmp_path):
    configure(bundle, process__args=["sh", "-c", "tty; echo on-a-tty"], process__terminal=True)
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    p = subprocess.Popen([OCI, "--root", str(root), "--platform", PLATFORM, "create", "--bundle", str(bundle),
                          "--console-socket", path, "t1"])
    conn, _ = srv.accept()
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4))
    fds = array.array("i")
    fds.frombytes(anc[0][2][:4])
    master = fds[0]
    assert p.wait(30) == 0
    assert oci(root, "start", "t1").returncode == 0
    data = b""
    deadline = time.monotonic() + 10
    while b"on-a-tty" not in data and time.monotonic() < deadline:
        try:
            data += os.read(master, 4096)
        except OSError:
            break
    os.close(master)
    assert b"/dev/pts/" in data and b"on-a-tty" in data


def test_hooks_get_the_state(bundle, root, tmp_path):
    log = tmp_path / "hooks.log"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\necho \"$1 $(cat)\" >> {log}\n")
    hook.chmod(0o755)
    configure(bundle, process__args=["true"],
              hooks={k: [{"path": str(hook), "args": ["hook.sh", k]}] for k in ("createRuntime", "poststart",
                                                                              "poststop")})
    assert oci(root, "create", "--bundle", bundle, "h1").returncode == 0
    assert oci(root, "start", "h1").returncode == 0
    wait_status(root, "h1", "stopped")
    assert oci(root, "delete", "h1").returncode == 0
    lines = log.read_text().splitlines()
    assert [x.split()[0] for x in lines] == ["createRuntime", "poststart", "poststop"]
    assert all(json.loads(x.split(" ", 1)[1])["id"] == "h1" for x in lines)


def test_seccomp_profile_only_narrows(bundle, root):
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    configure(bundle, process__args=["sh", "-c", "mkdir /tmp/d || echo mkdir-refused; "
                                     "mount -t tmpfs x /mnt 2>/dev/null || echo mount-refused; echo ok > /tmp/f "
                                     "&& cat /tmp/f"], linux__seccomp=profile)
    r = oci(root, "run", "--bundle", bundle, "s1")
    assert r.returncode == 0, r.stderr
    # the profile's ALLOW default does not undo our refusal of mount
    assert r.stdout.splitlines() == ["mkdir-refused", "mount-refused", "ok"]


@pytest.mark.parametrize("change, message", [
    ({"process__args": []}, "process.args: empty"),
    ({"process__args": "sh"}, "process.args: expected a list of strings"),
    ({"root__path": "nope"}, "root.path nope: not a directory"),
    ({"ociVersion": "0.9"}, "ociVersion"),
    ({"mounts": [{"destination": "/x", "type": "nfs", "source": "h:/x"}]}, "mounts[0].type 'nfs'"),
    ({"mounts": [{"destination": "rel", "type": "tmpfs"}]}, "mounts[0].destination"),
    ({"linux__namespaces": [{"type": "user"}]}, "linux.uidMappings: a user namespace needs at least one mapping"),
    ({"linux__uidMappings": [{"containerID": 0, "hostID": 0, "size": 1}]}, "given without a user namespace"),
    ({"linux__sysctl": {"kernel.panic": "1"}}, "linux.sysctl.kernel.panic"),
    ({"linux__seccomp": {"defaultAction": "SCMP_ACT_NOTIFY"}}, "SCMP_ACT_NOTIFY is not supported"),
    ({"linux__cgroupsPath": "system.slice:x:y"}, "linux.cgroupsPath"),
    ({"process__rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]}, "process.rlimits[0].type"),
    ({"hooks": {"createContainer": [{"path": "/bin/true"}]}}, "hooks.createContainer"),
    # runc looks the program up at create: a missing one fails create, not the start
    ({"process__args": ["/no/such/binary"]}, "exec: /no/such/binary: no such file or directory"),
    ({"process__args": ["nosuchcmd", "x"]}, "exec: 'nosuchcmd': executable file not found in $PATH"),
    ({"process__args": ["/bin"]}, "exec: /bin: permission denied"),
])
def test_bad_config_is_named_and_leaves_nothing(bundle, root, tmp_path, change, message):
    cgroup = json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"]
    configure(bundle, **change)
    r = oci(root, "create", "--bundle", bundle, "bad")
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (root / "bad").exists()
    assert cgroup_gone(cgroup)


def test_malformed_json_and_cli_errors(bundle, root, tmp_path):
    (bundle / "config.json").write_text("{not json")
    log = tmp_path / "log.json"
    r = subprocess.run([OCI, "--root", str(root), "--log", str(log), "--log-format", "json", "create",
                        "--bundle", str(bundle), "x"], capture_output=True, text=True)
    assert r.returncode == 1 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "not valid JSON" in entry["msg"]
    r = oci(root, "--systemd-cgroup", "state", "x")
    assert r.returncode == 1 and "systemd" in r.stderr
    for args in (["state", "../etc"], ["kill", "nope", "NOSUCHSIG"], ["frobnicate"]):
        r = oci(root, *args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, args
    assert not root.exists() or os.listdir(root) == []


def test_features_and_spec(tmp_path):
    r = subprocess.run([OCI, "features"], capture_output=True, text=True)
    feats = json.loads(r.stdout)
    assert "createRuntime" in feats["hooks"] and feats["linux"]["seccomp"]["enabled"]
    assert subprocess.run([OCI, "spec", "--bundle", str(tmp_path)]).returncode == 0
    r = subprocess.run([OCI, "spec", "--bundle", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 1 and "already exists" in r.stderr


def test_user_namespace_identity_map_caps_stay_inside(bundle, root):
    """All capabilities, but in the workload's own user namespace: the
    host's clock, network and kernel stay out of reach."""
    ident = [{"containerID": 0, "hostID": 0, "size": 65536}]
    configure(bundle, process__capabilities={"bounding": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_TIME",
                                                          "CAP_DAC_OVERRIDE", "CAP_CHOWN"]},
              process__args=["sh", "-c", "cat /proc/self/uid_map; grep CapEff /proc/self/status; "
                             "ip link set lo down 2>/dev/null && echo net-admin || echo no-net-admin; "
                             "date -s 2001-01-01 2>&1 | grep -q 'not permitted' && echo no-clock; "
                             "touch /etc/written && echo wrote"],
              linux__namespaces=[{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")],
              linux__uidMappings=ident, linux__gidMappings=ident)
    r = oci(root, "run", "--bundle", bundle, "u1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].split() == ["0", "0", "65536"]
    assert lines[1] == "CapEff:\t0000000002201003"     # CHOWN DAC_OVERRIDE NET_ADMIN SYS_ADMIN SYS_TIME
    assert lines[2:5] == ["no-net-admin", "no-clock", "wrote"]


def test_user_namespace_shifted_ids(bundle, root):
    shifted = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    configure(bundle, process__args=["sh", "-c", "id -u; stat -c '%u %g' /bin/busybox; "
                                     "touch /etc/x 2>/dev/null || echo refused; "
                                     "echo hi > /dev/shm/f && stat -c '%u' /dev/shm/f"],
              linux__namespaces=[{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")],
              linux__uidMappings=shifted, linux__gidMappings=shifted)
    r = oci(root, "run", "--bundle", bundle, "u2")
    assert r.returncode == 0, r.stderr
    # host root's files are unmapped (65534) and not writable; a new file is
    # the container root's own, as the sentry reports it translated
    assert r.stdout.split("\n")[:4] == ["0", "65534 65534", "refused", "0"]


def test_user_namespace_needs_mapped_ids(bundle, root):
    configure(bundle, linux__namespaces=[{"type": t} for t in ("pid", "mount", "uts", "user")],
              linux__uidMappings=[{"containerID": 1000, "hostID": 1000, "size": 1}],
              linux__gidMappings=[{"containerID": 0, "hostID": 0, "size": 1}])
    r = oci(root, "create", "--bundle", bundle, "u3")
    assert r.returncode == 1 and "uid 0 is not mapped" in r.stderr


def test_shared_pid_namespace_as_containerd_asks(bundle, root, tmp_path):
    """containerd points a pod's containers at /proc/<pid from state>/ns/pid
    of its first one: that pid is a sentry, and means its container."""
    configure(bundle, process__args=["sleep", "30"])
    assert oci(root, "create", "--bundle", bundle, "first").returncode == 0
    assert oci(root, "start", "first").returncode == 0
    sentry = json.loads(oci(root, "state", "first").stdout)["pid"]
    second = tmp_path / "second"
    shutil.copytree(bundle, second, symlinks=True)
    cfg = configure(second, process__args=["sh", "-c", "ps -o comm | grep -c sleep"],
                    linux__namespaces=[{"type": "pid", "path": f"/proc/{sentry}/ns/pid"},
                                       {"type": "mount"}, {"type": "network"}, {"type": "uts"}])
    cfg["linux"]["cgroupsPath"] += "-2"
    (second / "config.json").write_text(json.dumps(cfg))
    r = oci(root, "run", "--bundle", second, "second")
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stdout + r.stderr
    assert oci(root, "delete", "--force", "first").returncode == 0


def test_exec_joins_the_containers_user_namespace(bundle, root):
    shifted = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    configure(bundle, process__args=["sleep", "30"],
              linux__namespaces=[{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")],
              linux__uidMappings=shifted, linux__gidMappings=shifted)
    assert oci(root, "create", "--bundle", bundle, "ue").returncode == 0
    assert oci(root, "start", "ue").returncode == 0
    wait_status(root, "ue", "running")
    r = oci(root, "exec", "ue", "sh", "-c", "readlink /proc/self/ns/user; readlink /proc/1/ns/user; id -u")
    lines = r.stdout.split()
    assert r.returncode == 0 and lines[0] == lines[1] and lines[2] == "0", r.stdout + r.stderr
    assert oci(root, "delete", "--force", "ue").returncode == 0


def test_absent_ipc_and_uts_mean_the_hosts(bundle, root):
    host_ipc, host_uts = os.readlink("/proc/self/ns/ipc"), os.readlink("/proc/self/ns/uts")
    cfg = configure(bundle, process__args=["sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts"],
                    linux__namespaces=[{"type": "pid"}, {"type": "mount"}, {"type": "network"}])
    cfg.pop("hostname")
    (bundle / "config.json").write_text(json.dumps(cfg))
    r = oci(root, "run", "--bundle", bundle, "h1")
    assert r.returncode == 0 and r.stdout.split() == [host_ipc, host_uts], r.stdout + r.stderr
    cfg["hostname"] = "x"
    (bundle / "config.json").write_text(json.dumps(cfg))
    r = oci(root, "run", "--bundle", bundle, "h2")
    assert r.returncode == 1 and "needs a uts namespace" in r.stderr
