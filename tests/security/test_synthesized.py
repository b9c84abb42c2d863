"""The synthesized /proc and /sys files show the sandbox's limits whichever
way they are reached, in both fs modes (issue #13): in the default mode
they are bind mounts of the sentry's FUSE filesystem, under --strict-fs the
sentry answers each open with a memfd.  Nothing reaches the host's file."""
import json

import pytest

from conftest import FS_MODE, run_sandbox

LIMIT_KB = 200 * 1024          # --memory 200M

PROBE = r"""
import errno, json, os, sys
out = {}
def meminfo_total(read):
    try:
        text = read()
    except OSError as e:
        return "error " + errno.errorcode[e.errno]
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return "no MemTotal in %r" % text[:80]
def plain(path):
    return lambda: open(path).read()
out["plain"] = meminfo_total(plain("/proc/meminfo"))
out["self_root"] = meminfo_total(plain("/proc/self/root/proc/meminfo"))
out["pid1_root"] = meminfo_total(plain("/proc/1/root/proc/meminfo"))
out["dot_dot"] = meminfo_total(plain("/proc/../proc/./meminfo"))
def via_dirfd():
    d = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    return os.read(os.open("meminfo", os.O_RDONLY, dir_fd=d), 65536).decode()
out["dirfd"] = meminfo_total(via_dirfd)
def via_opath():
    p = os.open("/proc/meminfo", os.O_PATH)
    return open(f"/proc/self/fd/{p}").read()
out["o_path_reopen"] = meminfo_total(via_opath)
def via_sendfile():
    f = os.open("/proc/meminfo", os.O_RDONLY)
    r, w = os.pipe()
    try:
        n = os.sendfile(w, f, None, 65536)
    except OSError as e:           # EINVAL is fine: the caller then reads
        return "sendfile " + errno.errorcode[e.errno]
    return os.read(r, n).decode() if n else "sendfile gave nothing"
out["sendfile"] = via_sendfile()
def via_hardlink():
    os.link("/proc/meminfo", "/tmp/m")
try:
    via_hardlink()
    out["hardlink"] = "linked"
except OSError as e:
    out["hardlink"] = errno.errorcode[e.errno]
try:
    with open("/proc/meminfo", "w") as f:
        f.write("MemTotal: 1 kB\n")
    out["write"] = "written"
except OSError as e:
    out["write"] = errno.errorcode[e.errno]
out["cpus"] = os.cpu_count()
out["online"] = open("/sys/devices/system/cpu/online").read().strip()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def probe():
    r = run_sandbox("run", "--memory", "200M", "--cpus", "1", "--", "python3", "-c", PROBE)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("route", ["plain", "self_root", "dot_dot", "dirfd", "o_path_reopen"])
def test_every_route_to_meminfo_shows_the_limit(probe, route):
    assert probe[route] == LIMIT_KB, probe


def test_init_root_is_closed_or_shows_the_limit(probe):
    """/proc/1/root: the sandbox's init is not dumpable, so the workload
    (without CAP_SYS_PTRACE) may not follow it; if it could, it would land
    on the same bind mount."""
    assert probe["pid1_root"] in ("error EACCES", LIMIT_KB), probe


def test_sendfile_either_works_or_sends_the_caller_to_read(probe):
    got = probe["sendfile"]
    if FS_MODE == "default":
        assert got == "sendfile EINVAL", probe      # a FUSE file: callers fall back to read(2)
    else:
        assert f"{LIMIT_KB} kB" in got.split("MemTotal:", 1)[1].split("\n")[0], probe


def test_the_synthesized_files_cannot_be_changed_or_linked(probe):
    assert probe["write"] in ("EROFS", "EACCES", "EIO", "EPERM"), probe
    assert probe["hardlink"] in ("EXDEV", "EPERM", "EACCES"), probe


def test_cpus_follow_the_limit(probe):
    assert (probe["cpus"], probe["online"]) == (1, "0"), probe


def test_busybox_cat_reads_them(busybox_rootfs):
    """busybox cat uses sendfile(2) first; it must still print the file."""
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--memory", "200M", "--",
                    "/bin/sh", "-c", "cat /proc/meminfo | grep MemTotal; cat /proc/uptime | wc -w")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["MemTotal:", str(LIMIT_KB), "kB", "2"], r.stdout
