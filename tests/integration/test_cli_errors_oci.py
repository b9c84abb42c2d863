"""Bad input to `pysandbox-oci`, command by command: exit 1 (runc's status
for every error), one line on stderr naming the problem, no traceback, and
nothing left behind (tests/bad_input.py: files, mounts, processes, cgroups
under this module's cgroup parent).  With --log-format json the line is
also a JSON error entry in --log, as containerd's shim reads it.

One container runs for the whole module, so exec, update, kill, pause and
ps get bad input against a live container; it must still run at the end.
Every bad input is refused before a sentry is forked, so no sandbox starts
for a case and the module runs on one platform."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from bad_input import Leftovers, assert_fails_well, run
from conftest import BIN, only_seccomp

pytestmark = only_seccomp

OCI = str(BIN / "pysandbox-oci")
MARKER = f"clierr-oci-{uuid.uuid4().hex[:12]}"
CGROUP = f"/pysandbox-clierr-{uuid.uuid4().hex[:8]}"


def _set(cfg: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    for p in parents:
        cfg = cfg.setdefault(p, {})
    cfg[last] = value


# config.json changes, by name: (dotted path, value) pairs, or raw bytes for the whole file.
CONFIGS = {
    "garbage": bytes(range(256)) * 4,
    "empty": b"",
    "truncated": b'{"ociVersion": ',
    "list": b"[1, 2]",
    "deep": b"[" * 100000,
    "version-int": [("ociVersion", 5)],
    "args-string": [("process.args", "sh")],
    "args-nul": [("process.args", ["sh", "a\u0000b"])],
    "env-ints": [("process.env", [1, 2])],
    "uid-negative": [("process.user.uid", -1)],
    "uid-huge": [("process.user.uid", 1 << 40)],
    "gids-int": [("process.user.additionalGids", 5)],
    "rlimit-type-list": [("process.rlimits", [{"type": [], "soft": 1, "hard": 1}])],
    "rootfs-file": [("root.path", "{b}/file")],
    "rootfs-dangling": [("root.path", "{b}/dangling")],
    "hostname-nul": [("hostname", "a\u0000b")],
    "hostname-long": [("hostname", "h" * 65)],
    "ns-path-file": [("linux.namespaces", [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                           {"type": "network", "path": "/etc/passwd"}])],
    "ns-path-kind": [("linux.namespaces", [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                           {"type": "ipc", "path": "/proc/self/ns/net"}])],
    "ns-path-int": [("linux.namespaces", [{"type": "pid", "path": 5}, {"type": "mount"}, {"type": "uts"}])],
    "userns-path-kind": [("linux.namespaces", [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                               {"type": "user", "path": "/proc/self/ns/net"}])],
    "userns-path-no-maps": [("linux.namespaces", [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                                  {"type": "user", "path": "/proc/self/ns/user"}])],
    "userns-host": [("linux.namespaces", [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                          {"type": "user", "path": "/proc/self/ns/user"}]),
                    ("linux.uidMappings", [{"containerID": 0, "hostID": 0, "size": 1}]),
                    ("linux.gidMappings", [{"containerID": 0, "hostID": 0, "size": 1}])],
    "device-negative": [("linux.devices", [{"path": "/dev/x", "type": "c", "major": -1, "minor": 0}])],
    "device-mode-huge": [("linux.devices", [{"path": "/dev/x", "type": "c", "major": 1, "minor": 3,
                                             "fileMode": 1 << 70}])],
    "pids-huge": [("linux.resources", {"pids": {"limit": 1 << 70}})],
    "memory-huge": [("linux.resources", {"memory": {"limit": 1 << 70}})],
    "cpu-period-negative": [("linux.resources", {"cpu": {"quota": 1000, "period": -5}})],
    "seccomp-action-list": [("linux.seccomp", {"defaultAction": []})],
    "seccomp-syscalls-int": [("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": 5})],
    "hook-timeout-huge": [("hooks", {"poststart": [{"path": "/bin/true", "timeout": 1 << 70}]})],
    "bind-source-nul": [("mounts", [{"destination": "/mnt", "type": "bind", "source": "/tmp/a\u0000b"}])],
    "terminal": [("process.terminal", True)],
}


@pytest.fixture(scope="module")
def base(tmp_path_factory, busybox_rootfs):
    b = tmp_path_factory.mktemp(MARKER)
    (b / "dir").mkdir()
    (b / "logs").mkdir()
    os.mkfifo(b / "fifo")
    (b / "garbage").write_bytes(bytes(range(256)) * 4)
    (b / "file").write_text("a file\n")
    (b / "dangling").symlink_to(b / "nonexistent")
    (b / "list.json").write_text("[1, 2]\n")
    (b / "args-string.json").write_text('{"args": "sh"}')
    (b / "args-nul.json").write_text('{"args": ["a\\u0000b"]}')
    (b / "cwd-int.json").write_text('{"args": ["true"], "cwd": 5}')
    (b / "uid-negative.json").write_text('{"args": ["true"], "user": {"uid": -1}}')
    (b / "ok-process.json").write_text('{"args": ["true"]}')
    for name, text in (("memory-int", {"memory": 5}), ("cpu-list", {"cpu": []}),
                       ("pids-huge", {"pids": {"limit": 1 << 70}}), ("period-5", {"cpu": {"period": 5}}),
                       ("limit-string", {"pids": {"limit": "x"}}), ("limit-below", {"memory": {"limit": -5}})):
        (b / f"res-{name}.json").write_text(json.dumps(text))
    subprocess.run([OCI, "spec", "--bundle", b / "dir"], check=True)
    spec = json.loads((b / "dir" / "config.json").read_text())
    os.unlink(b / "dir" / "config.json")
    spec["process"].update(terminal=False, args=["sleep", "100000"])
    spec["root"] = {"path": str(busybox_rootfs), "readonly": True}
    for name, change in {"good": [], **CONFIGS}.items():
        d = b / "bundles" / name
        d.mkdir(parents=True)
        if isinstance(change, bytes):
            (d / "config.json").write_bytes(change)
            continue
        cfg = json.loads(json.dumps(spec))
        cfg["linux"]["cgroupsPath"] = f"{CGROUP}/{name}"
        for path, value in change:
            _set(cfg, path, json.loads(json.dumps(value).replace("{b}", str(b))))
        (d / "config.json").write_text(json.dumps(cfg))
    for name, data in (("no-config", None), ("config-dir", "dir"), ("config-fifo", "fifo"),
                       ("config-dangling", "dangling"), ("config-proc-mem", "/proc/self/mem")):
        d = b / "bundles" / name
        d.mkdir()
        if data == "dir":
            (d / "config.json").mkdir()
        elif data == "fifo":
            os.mkfifo(d / "config.json")
        elif data is not None:
            (d / "config.json").symlink_to(b / "nonexistent" if data == "dangling" else data)
    corrupt = b / "corrupt"
    for name, state in (("garbage", b"\x00\xff garbage"), ("fields", b'{"id": "fields", "pid": "x"}'),
                        ("list", b"[1]"), ("pid-huge", json.dumps(
                            {"id": "pid-huge", "bundle": "/", "rootfs": "/", "created": "", "pid": 1 << 70}).encode())):
        (corrupt / name).mkdir(parents=True)
        (corrupt / name / "state.json").write_bytes(state)
    return b


@pytest.fixture(scope="module")
def live(base):
    """A running container under base/state."""
    root = base / "state"
    with open(base / "logs" / "live.out", "w") as f:
        r = subprocess.run([OCI, "--root", root, "create", "--bundle", base / "bundles" / "good", "live"],
                           stdout=f, stderr=f, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0, (base / "logs" / "live.out").read_text()
    assert subprocess.run([OCI, "--root", root, "start", "live"]).returncode == 0
    yield root
    subprocess.run([OCI, "--root", root, "delete", "--force", "live"], timeout=60)
    for top in ["/sys/fs/cgroup"] + [f"/sys/fs/cgroup/{h}" for h in os.listdir("/sys/fs/cgroup")]:
        for d in (f"{top}{CGROUP}/good", f"{top}{CGROUP}"):
            try:
                os.rmdir(d)
            except OSError:
                pass


@pytest.fixture(scope="module")
def leftovers(base, live):
    return Leftovers(base, MARKER, cgroup_parents=[CGROUP], ignore=["logs"])


B = "{b}/bundles/"
# (id, arguments: --root {root} is added unless given, words the message must contain).
CASES = [
    ("no-command", [], ["no command"]),
    ("unknown-command", ["frobnicate"], ["frobnicate"]),
    ("unknown-flag", ["--bogus", "list"], ["--bogus"]),
    ("log-format", ["--log-format", "xml", "list"], ["--log-format", "xml"]),
    ("root-file", ["--root", "/etc/passwd", "list"], ["--root", "/etc/passwd", "not a directory"]),
    ("root-file-state", ["--root", "{b}/file", "state", "live"], ["--root", "not a directory"]),
    ("root-file-create", ["--root", "{b}/file", "create", "--bundle", B + "good", "x"], ["--root"]),
    ("root-fifo", ["--root", "{b}/fifo", "list"], ["--root", "not a directory"]),
    ("root-dangling", ["--root", "{b}/dangling", "list"], ["--root", "dangling symlink"]),
    ("root-empty", ["--root", "", "list"], ["--root", "empty"]),
    ("log-dir", ["--log", "{b}/dir", "list"], ["--log", "Is a directory"]),
    ("log-missing-dir", ["--log", "{b}/nonexistent/log", "list"], ["--log", "No such file"]),
    ("log-fifo", ["--log", "{b}/fifo", "list"], ["--log", "a FIFO nobody reads"]),
    ("bundle-missing", ["create", "--bundle", "{b}/nonexistent", "x"], ["--bundle", "no such directory"]),
    ("bundle-file", ["create", "--bundle", "{b}/file", "x"], ["--bundle", "not a directory"]),
    ("config-missing", ["create", "--bundle", B + "no-config", "x"], ["config.json", "no such file"]),
    ("config-dir", ["create", "--bundle", B + "config-dir", "x"], ["config.json", "is a directory"]),
    ("config-fifo", ["create", "--bundle", B + "config-fifo", "x"], ["config.json", "not a regular file"]),
    ("config-dangling", ["create", "--bundle", B + "config-dangling", "x"], ["config.json", "dangling symlink"]),
    ("config-proc-mem", ["create", "--bundle", B + "config-proc-mem", "x"], ["config.json", "Input/output error"]),
    ("config-garbage", ["create", "--bundle", B + "garbage", "x"], ["config.json", "not valid JSON"]),
    ("config-empty", ["create", "--bundle", B + "empty", "x"], ["config.json", "not valid JSON"]),
    ("config-truncated", ["create", "--bundle", B + "truncated", "x"], ["config.json", "not valid JSON"]),
    ("config-list", ["create", "--bundle", B + "list", "x"], ["config.json", "expected a JSON object"]),
    ("config-deep", ["create", "--bundle", B + "deep", "x"], ["config.json", "not valid JSON"]),
    ("version-int", ["create", "--bundle", B + "version-int", "x"], ["ociVersion"]),
    ("args-string", ["create", "--bundle", B + "args-string", "x"], ["process.args"]),
    ("args-nul", ["create", "--bundle", B + "args-nul", "x"], ["process.args[1]", "NUL"]),
    ("env-ints", ["create", "--bundle", B + "env-ints", "x"], ["process.env"]),
    ("uid-negative", ["create", "--bundle", B + "uid-negative", "x"], ["process.user.uid"]),
    ("uid-huge", ["create", "--bundle", B + "uid-huge", "x"], ["process.user.uid"]),
    ("gids-int", ["create", "--bundle", B + "gids-int", "x"], ["process.user.additionalGids"]),
    ("rlimit-type-list", ["create", "--bundle", B + "rlimit-type-list", "x"], ["process.rlimits[0].type"]),
    ("rootfs-file", ["create", "--bundle", B + "rootfs-file", "x"], ["root.path", "not a directory"]),
    ("rootfs-dangling", ["create", "--bundle", B + "rootfs-dangling", "x"], ["root.path", "not a directory"]),
    ("hostname-nul", ["create", "--bundle", B + "hostname-nul", "x"], ["hostname", "NUL"]),
    ("hostname-long", ["create", "--bundle", B + "hostname-long", "x"], ["hostname", "64 bytes"]),
    ("ns-path-file", ["create", "--bundle", B + "ns-path-file", "x"], ["linux.namespaces[3].path", "not a namespace"]),
    ("ns-path-kind", ["create", "--bundle", B + "ns-path-kind", "x"], ["linux.namespaces[3].path", "network"]),
    ("ns-path-int", ["create", "--bundle", B + "ns-path-int", "x"], ["linux.namespaces[0].path"]),
    ("userns-path-kind", ["create", "--bundle", B + "userns-path-kind", "x"],
     ["linux.namespaces[3].path", "network"]),
    ("userns-path-no-maps", ["create", "--bundle", B + "userns-path-no-maps", "x"],
     ["linux.uidMappings", "joined by path"]),
    ("userns-host", ["create", "--bundle", B + "userns-host", "x"],
     ["linux.namespaces[3].path", "the host's user namespace"]),
    ("device-negative", ["create", "--bundle", B + "device-negative", "x"], ["linux.devices[0]", "out of range"]),
    ("device-mode-huge", ["create", "--bundle", B + "device-mode-huge", "x"], ["linux.devices[0].fileMode"]),
    ("pids-huge", ["create", "--bundle", B + "pids-huge", "x"], ["linux.resources.pids.limit"]),
    ("memory-huge", ["create", "--bundle", B + "memory-huge", "x"], ["linux.resources.memory.limit"]),
    ("cpu-period", ["create", "--bundle", B + "cpu-period-negative", "x"], ["linux.resources.cpu.period"]),
    ("seccomp-action", ["create", "--bundle", B + "seccomp-action-list", "x"], ["linux.seccomp.defaultAction"]),
    ("seccomp-syscalls", ["create", "--bundle", B + "seccomp-syscalls-int", "x"], ["linux.seccomp.syscalls"]),
    ("hook-timeout", ["create", "--bundle", B + "hook-timeout-huge", "x"], ["hooks.poststart[0].timeout"]),
    ("bind-source-nul", ["create", "--bundle", B + "bind-source-nul", "x"], ["mounts[0].source", "NUL"]),
    ("terminal-no-socket", ["create", "--bundle", B + "terminal", "x"], ["--console-socket"]),
    ("console-socket-file", ["create", "--bundle", B + "terminal", "--console-socket", "{b}/file", "x"],
     ["--console-socket", "not a socket"]),
    ("console-socket-missing", ["create", "--bundle", B + "terminal", "--console-socket", "{b}/nonexistent", "x"],
     ["--console-socket", "No such file"]),
    ("pid-file-missing-dir", ["create", "--bundle", B + "good", "--pid-file", "{b}/nonexistent/pid", "x"],
     ["--pid-file", "does not exist"]),
    ("pid-file-dir", ["create", "--bundle", B + "good", "--pid-file", "{b}/dir", "x"], ["--pid-file", "directory"]),
    ("preserve-fds-negative", ["create", "--bundle", B + "good", "--preserve-fds", "-1", "x"], ["--preserve-fds"]),
    ("preserve-fds-string", ["create", "--bundle", B + "good", "--preserve-fds", "x", "x"], ["--preserve-fds"]),
    ("id-slash", ["create", "--bundle", B + "good", "a/b"], ["invalid container id", "a/b"]),
    ("id-dotdot", ["create", "--bundle", B + "good", ".."], ["invalid container id"]),
    ("id-unicode", ["create", "--bundle", B + "good", "\u00e9"], ["invalid container id"]),
    ("id-long", ["create", "--bundle", B + "good", "a" * 300], ["invalid container id"]),
    ("id-empty", ["state", ""], ["invalid container id"]),
    ("id-taken", ["create", "--bundle", B + "good", "live"], ["live", "already exists"]),
    ("run-bad-config", ["run", "--bundle", B + "args-string", "x"], ["process.args"]),
    ("run-pid-file", ["run", "--bundle", B + "good", "--pid-file", "{b}/nonexistent/pid", "x"], ["--pid-file"]),
    ("run-detach-console", ["run", "-d", "--bundle", B + "terminal", "--console-socket", "{b}/file", "x"],
     ["--console-socket"]),
    *[(f"{cmd}-missing", [cmd, "nope"], ["container nope does not exist"])
      for cmd in ("start", "state", "kill", "delete", "pause", "resume", "ps")],
    ("update-missing", ["update", "--pids-limit", "5", "nope"], ["container nope does not exist"]),
    ("exec-missing", ["exec", "nope", "true"], ["container nope does not exist"]),
    *[(f"kill-signal-{name}", ["kill", "live", sig], ["invalid signal"])
      for name, sig in (("name", "NOSUCHSIG"), ("zero", "0"), ("65", "65"), ("huge", "9" * 30), ("empty", ""),
                        ("float", "1.5"))],
    ("kill-extra", ["kill", "live", "KILL", "extra"], ["extra"]),
    ("start-running", ["start", "live"], ["running"]),
    ("resume-running", ["resume", "live"], ["not paused"]),
    ("ps-format", ["ps", "--format", "xml", "live"], ["--format", "xml"]),
    ("list-format", ["list", "--format", "xml"], ["--format", "xml"]),
    ("exec-no-command", ["exec", "live"], ["--process FILE or a command"]),
    ("exec-process-missing", ["exec", "--process", "{b}/nonexistent", "live"], ["--process", "No such file"]),
    ("exec-process-dir", ["exec", "--process", "{b}/dir", "live"], ["--process", "is a directory"]),
    ("exec-process-fifo", ["exec", "--process", "{b}/fifo", "live"], ["--process", "not a regular file"]),
    ("exec-process-garbage", ["exec", "--process", "{b}/garbage", "live"], ["--process", "not valid JSON"]),
    ("exec-process-list", ["exec", "--process", "{b}/list.json", "live"], ["--process", "expected a JSON object"]),
    ("exec-process-proc-mem", ["exec", "--process", "/proc/self/mem", "live"], ["--process", "/proc/self/mem"]),
    ("exec-args-string", ["exec", "--process", "{b}/args-string.json", "live"], ["process.args"]),
    ("exec-args-nul", ["exec", "--process", "{b}/args-nul.json", "live"], ["process.args[0]", "NUL"]),
    ("exec-cwd-int", ["exec", "--process", "{b}/cwd-int.json", "live"], ["process.cwd"]),
    ("exec-uid-negative", ["exec", "--process", "{b}/uid-negative.json", "live"], ["process.user.uid"]),
    ("exec-process-before-id", ["exec", "--process", "{b}/args-string.json", "nope"], ["process.args"]),
    ("exec-user-abc", ["exec", "--user", "abc", "live", "true"], ["--user", "abc"]),
    ("exec-user-negative", ["exec", "--user", "-1", "live", "true"], ["--user", "-1"]),
    ("exec-user-huge", ["exec", "--user", "4294967295", "live", "true"], ["--user"]),
    ("exec-cap", ["exec", "--cap", "CAP_BOGUS", "live", "true"], ["CAP_BOGUS"]),
    ("exec-cwd-relative", ["exec", "--cwd", "rel", "live", "true"], ["process.cwd", "rel"]),
    ("exec-preserve-fds", ["exec", "--preserve-fds", "-1", "live", "true"], ["--preserve-fds"]),
    ("exec-pid-file", ["exec", "-d", "--process", "{b}/ok-process.json", "--pid-file", "{b}/nonexistent/pid", "live"],
     ["--pid-file", "does not exist"]),
    ("exec-console-socket", ["exec", "-t", "--console-socket", "{b}/file", "live", "true"],
     ["--console-socket", "not a socket"]),
    *[(f"update-{name}", ["update", "--resources", f"{{b}}/res-{name}.json", "live"], words) for name, words in (
        ("memory-int", ["memory", "expected an object"]), ("cpu-list", ["cpu", "expected an object"]),
        ("pids-huge", ["pids.limit", "out of range"]), ("period-5", ["cpu.period", "1000"]),
        ("limit-string", ["pids.limit", "integer"]), ("limit-below", ["memory.limit", "out of range"]))],
    ("update-resources-garbage", ["update", "--resources", "{b}/garbage", "live"], ["--resources", "not valid JSON"]),
    ("update-resources-fifo", ["update", "--resources", "{b}/fifo", "live"], ["--resources", "not a regular file"]),
    ("update-resources-dir", ["update", "--resources", "{b}/dir", "live"], ["--resources", "is a directory"]),
    ("update-resources-list", ["update", "--resources", "{b}/list.json", "live"], ["--resources", "LinuxResources"]),
    ("update-memory", ["update", "--memory", "garbage", "live"], ["--memory", "garbage"]),
    ("update-pids-limit", ["update", "--pids-limit", "9" * 30, "live"], ["pids.limit", "out of range"]),
    ("update-pids-limit-string", ["update", "--pids-limit", "x", "live"], ["--pids-limit"]),
    ("update-cpu-quota-string", ["update", "--cpu-quota", "x", "live"], ["--cpu-quota"]),
    ("spec-bundle-missing", ["spec", "--bundle", "{b}/nonexistent"], ["--bundle", "no such directory"]),
    ("spec-bundle-file", ["spec", "--bundle", "{b}/file"], ["--bundle", "not a directory"]),
    ("spec-exists", ["spec", "--bundle", B + "good"], ["already exists"]),
    ("features-extra", ["features", "extra"], ["extra"]),
    *[(f"corrupt-{cmd}-{name}", ["--root", "{b}/corrupt", cmd, name], ["state", "delete --force"])
      for cmd, name in (("state", "garbage"), ("state", "fields"), ("state", "list"), ("kill", "pid-huge"),
                        ("delete", "garbage"), ("start", "list"))],
]


def _args(base, live, args):
    args = [a.replace("{b}", str(base)) for a in args]
    return args if "--root" in args else ["--root", str(live), *args]


@pytest.mark.parametrize("args,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_oci_bad_input(base, live, leftovers, args, words):
    r = run([OCI, *_args(base, live, args)], leftovers, input="" if args[:1] == ["update"] else None)
    assert_fails_well(r, 1, "pysandbox-oci", [w.replace("{b}", str(base)) for w in words])


def test_update_resources_from_stdin(base, live, leftovers):
    r = run([OCI, "--root", live, "update", "--resources", "-", "live"], leftovers, input="\x00 not json")
    assert_fails_well(r, 1, "pysandbox-oci", ["--resources -", "not valid JSON"])


@pytest.mark.parametrize("args", [["create", "--bundle", f"{B}garbage", "x"], ["kill", "live", "NOSUCHSIG"],
                                  ["exec", "--process", "{b}/fifo", "live"], ["--bogus", "list"]],
                         ids=["create", "kill", "exec", "usage"])
def test_json_log_gets_the_same_line(base, live, leftovers, args):
    """containerd's shim reads the error back from --log as JSON lines."""
    log = base / "logs" / f"{uuid.uuid4().hex[:8]}.json"
    r = run([OCI, "--log", log, "--log-format", "json", *_args(base, live, args)], leftovers)
    assert_fails_well(r, 1, "pysandbox-oci")
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(entries) == 1 and entries[0]["level"] == "error"
    assert "pysandbox-oci: " + entries[0]["msg"] == r.stderr.strip()


def test_delete_force_removes_a_corrupt_state(base, tmp_path):
    root = tmp_path / "state"
    (root / "bad").mkdir(parents=True)
    (root / "bad" / "state.json").write_bytes(b"\xff garbage")
    r = subprocess.run([OCI, "--root", root, "list", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "" and "Traceback" not in r.stderr
    r = subprocess.run([OCI, "--root", root, "delete", "--force", "bad"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.listdir(root) == []


def test_live_container_survived(live):
    """None of the bad input above touched the running container."""
    r = subprocess.run([OCI, "--root", live, "state", "live"], capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "running", r.stderr
