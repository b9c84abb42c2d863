"""Bad input to `pysandbox cri` (--config TOML, --listen, --root,
--state-dir): exit 125, one line naming the problem, no traceback, and the
server never starts, so nothing is made (no state directory, no socket)
and nothing is removed (a file at the --listen path stays).  Every case
names paths under its own base directory, never the defaults (flags win
over the file, so the TOML cases use keys no flag sets)."""
from __future__ import annotations

import os
import socket
import uuid

import pytest

from bad_input import Leftovers, assert_fails_well, run
from conftest import PYSANDBOX, only_seccomp

pytestmark = only_seccomp

MARKER = f"clierr-cri-{uuid.uuid4().hex[:12]}"

TOML = {
    "listen-int": "listen = 5\n",
    "network-int": "network = 5\n",
    "unknown-key": "bogus = 1\n",
    "unknown-network-key": "[network]\nbogus = 1\n",
    "bin-dirs-ints": "[network]\ncni_bin_dirs = [1]\n",
    "stream-port": 'stream_address = "127.0.0.1:99999999"\n',
    "stream-no-port": 'stream_address = "localhost"\n',
    "platform": 'platform = "bogus"\n',
    "pod-cidr": '[network]\npod_cidr = "garbage"\n',
    "pod-cidr-v6": '[network]\npod_cidr = "fd00::/64"\n',
    "bridge-long": '[network]\nbridge = "waytoolongbridgename0123"\n',
    "oci-missing": 'oci_runtime = "/nonexistent/pysandbox-oci"\n',
    "oci-not-exec": 'oci_runtime = "/etc/passwd"\n',
    "regcfg-garbage": 'registry_config = "{b}/garbage"\n',
    "cgroup-root": 'cgroup_root = "system.slice:x"\n',
    "nul": 'oci_runtime = "/a\\u0000b"\n',
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    b = tmp_path_factory.mktemp(MARKER)
    (b / "dir").mkdir()
    os.mkfifo(b / "fifo")
    (b / "garbage").write_bytes(bytes(range(256)) * 4)
    (b / "dangling").symlink_to(b / "nonexistent")
    (b / "precious").write_text("not a socket\n")
    (b / "list.json").write_text("[1, 2]\n")
    for name, text in TOML.items():
        (b / f"{name}.toml").write_text(text.replace("{b}", str(b)))
    return b


@pytest.fixture(scope="module")
def leftovers(base):
    return Leftovers(base, MARKER)


# (id, `pysandbox cri` arguments replacing the defaults, words); {b}: the base directory.
CASES = [
    ("config-missing", ["--config", "{b}/nonexistent"], ["--config", "No such file"]),
    ("config-dir", ["--config", "{b}/dir"], ["--config", "is a directory"]),
    ("config-fifo", ["--config", "{b}/fifo"], ["--config", "not a regular file"]),
    ("config-garbage", ["--config", "{b}/garbage"], ["--config", "not valid TOML"]),
    ("config-dangling", ["--config", "{b}/dangling"], ["--config", "dangling symlink"]),
    ("config-proc-mem", ["--config", "/proc/self/mem"], ["--config", "/proc/self/mem"]),
    ("config-json", ["--config", "{b}/list.json"], ["--config", "not valid TOML"]),
    ("config-empty-path", ["--config", ""], ["--config", "empty"]),
    *[(f"toml-{name}", ["--config", f"{{b}}/{name}.toml"], words) for name, words in (
        ("listen-int", ["listen", "expected a string"]),
        ("network-int", ["[network] must be a table"]),
        ("unknown-key", ["bogus", "unknown key"]),
        ("unknown-network-key", ["network.bogus", "unknown key"]),
        ("bin-dirs-ints", ["network.cni_bin_dirs", "list of strings"]),
        ("stream-port", ["stream_address", "65535"]),
        ("stream-no-port", ["stream_address", "HOST:PORT"]),
        ("platform", ["platform", "bogus"]),
        ("pod-cidr", ["network.pod_cidr", "garbage"]),
        ("pod-cidr-v6", ["network.pod_cidr", "IPv4"]),
        ("bridge-long", ["network.bridge", "15"]),
        ("oci-missing", ["oci_runtime", "/nonexistent/pysandbox-oci"]),
        ("oci-not-exec", ["oci_runtime", "not executable"]),
        ("regcfg-garbage", ["registry config", "garbage", "not valid TOML"]),
        ("cgroup-root", ["cgroup_root", "system.slice:x"]),
        ("nul", ["oci_runtime", "NUL"]),
    )],
    ("listen-file", ["--listen", "unix://{b}/precious"], ["--listen", "precious", "not a socket"]),
    ("listen-dir", ["--listen", "unix://{b}/dir"], ["--listen", "not a socket"]),
    ("listen-fifo", ["--listen", "unix://{b}/fifo"], ["--listen", "not a socket"]),
    ("listen-parent-file", ["--listen", "unix://{b}/precious/s.sock"], ["--listen", "not a directory"]),
    ("listen-relative", ["--listen", "unix://rel.sock"], ["--listen", "absolute"]),
    ("listen-too-long", ["--listen", "unix:///" + "s" * 120], ["--listen", "longer than"]),
    ("listen-scheme", ["--listen", "http://127.0.0.1:1"], ["--listen", "unix:///path or tcp://host:port"]),
    ("listen-tcp-port", ["--listen", "tcp://127.0.0.1:99999"], ["--listen", "65535"]),
    ("listen-tcp-no-host", ["--listen", "tcp://:1"], ["--listen", "HOST:PORT"]),
    ("listen-live", ["--listen", "unix://{b}/live.sock"], ["another server is listening"]),
    ("root-file", ["--root", "/etc/passwd"], ["--root", "/etc/passwd", "not a directory"]),
    ("root-fifo", ["--root", "{b}/fifo"], ["--root", "not a directory"]),
    ("root-empty-flag", ["--root", ""], ["--root", "empty"]),
    ("state-dir-file", ["--state-dir", "{b}/precious"], ["--state-dir", "not a directory"]),
    ("state-dir-dangling", ["--state-dir", "{b}/dangling"], ["--state-dir", "dangling symlink"]),
    ("log-level", ["--log-level", "loud"], ["--log-level", "loud"]),
    ("unknown-flag", ["--bogus"], ["--bogus"]),
]


@pytest.mark.parametrize("args,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cri_bad_input(base, leftovers, args, words):
    args = [a.replace("{b}", str(base)) for a in args]
    flags = {"--listen": f"unix://{base}/cri.sock", "--root": f"{base}/root", "--state-dir": f"{base}/state"}
    for flag in list(flags):
        if flag in args:
            del flags[flag]
    live = None
    if "live.sock" in " ".join(args):          # another server's socket, answering
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        live.bind(str(base / "live.sock"))
        live.listen()
    try:
        r = run([PYSANDBOX, "cri", *[x for kv in flags.items() for x in kv], *args], leftovers, timeout=20)
    finally:
        if live is not None:
            live.close()
            os.unlink(base / "live.sock")
    assert_fails_well(r, 125, "pysandbox", [w.replace("{b}", str(base)) for w in words])
    assert (base / "precious").read_text() == "not a socket\n"
