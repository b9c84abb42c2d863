"""Filesystem escapes: nothing outside the sandbox root is ever readable.

Canary files with random content are planted on the host where the sandbox
must not reach them: in a host temp dir that is not bound in, beside the
rootfs dir, and under /var/tmp (a path the rootfs also has).  Every test
runs a workload that tries to read them some way and asserts no canary
content appears in its stdout or stderr; each also reads an allowed file,
so a workload that did not run cannot pass."""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import RUN, run_sandbox

HELLO = "hello from the rootfs"


@dataclass
class World:
    base: Path                  # holds rootfs/, canary.txt and outside/
    root: Path                  # our copy of the busybox rootfs, with planted links
    tmp_paths: list[str]        # canaries under the host's /tmp (hidden in the default view too)
    all_paths: list[str]        # every canary's host path
    tokens: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)   # planted in root: name -> target

    def assert_clean(self, r, *also: str):
        out = r.stdout + r.stderr
        for tok in self.tokens + list(also):
            assert tok not in out, f"canary {tok!r} leaked:\n{out}"


def snapshot(root: Path) -> dict:
    """Every entry under root: mode, size, mtime, links, content hash or link target."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for p in (os.path.join(dirpath, n) for n in dirnames + filenames):
            s = os.lstat(p)
            what = os.readlink(p) if os.path.islink(p) else \
                hashlib.sha256(Path(p).read_bytes()).hexdigest() if os.path.isfile(p) else None
            snap[os.path.relpath(p, root)] = (s.st_mode, s.st_size, s.st_mtime_ns, s.st_nlink, what)
    return snap


@pytest.fixture(scope="module")
def world(busybox_rootfs, tmp_path_factory):
    base = tmp_path_factory.mktemp("escapes")
    root = base / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    for d in ("mnt", "bnd", "var/tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (base / "outside").mkdir()
    vardir = Path(tempfile.mkdtemp(prefix="pysandbox-canary-", dir="/var/tmp"))
    paths = [base / "outside" / "secret.txt", base / "canary.txt", vardir / "secret.txt"]
    w = World(base, root, [str(p) for p in paths[:2]], [str(p) for p in paths])
    for p in paths:
        tok = "CANARY-" + secrets.token_hex(16)
        p.write_text(tok + "\n")
        w.tokens.append(tok)
    up = "../" * 12
    w.links = links = {"abs_tmp": w.all_paths[0], "abs_var": w.all_paths[2], "abs_beside": w.all_paths[1],
             "data/rel_tmp": up + w.all_paths[0][1:], "data/rel_var": up + w.all_paths[2][1:],
             "beside": "../canary.txt", "data/beside": "../../canary.txt", "data/up": "../..",
             "data/chain1": "chain2", "data/chain2": "/abs_var", "tmplink": "/proc/self/root/../canary.txt"}
    for name, target in links.items():
        os.symlink(target, root / name)
    yield w
    shutil.rmtree(vardir, ignore_errors=True)


def sandbox(w: World, script: str, *extra: str, input="", timeout=30):
    return run_sandbox("run", "--rootfs", str(w.root), *extra, "--", "sh", "-c", script,
                       input=input, timeout=timeout)


def cats(paths) -> str:
    return "".join(f"cat '{p}' 2>&1; " for p in paths)


def test_symlinks_pointing_outside(world):
    """Absolute, relative (many ../), chained and `..` symlinks stay inside the root."""
    before = snapshot(world.root)
    names = ["/" + n for n in world.links]
    script = cats(names) + cats(["/data/up/canary.txt", "/data/up/up/up/canary.txt",
                                 "/data/up/../../canary.txt"]) + "cat /data/hello.txt"
    r = sandbox(world, script)
    assert HELLO in r.stdout, r.stderr
    world.assert_clean(r)
    assert snapshot(world.root) == before


def test_dotdot_chains(world):
    """`..` from /, from a deep cwd and from --cwd never climbs above the root."""
    dots = "../" * 15
    tries = [p for p in world.all_paths] + ["/../../../" + p for p in world.all_paths]
    script = (cats(tries) + cats(["/../canary.txt", "/../../canary.txt", "/.././../canary.txt"]) +
              "mkdir -p /tmp/a/b/c/d/e/f/g/h && cd /tmp/a/b/c/d/e/f/g/h && " +
              cats([dots + p[1:] for p in world.all_paths] + [dots + "canary.txt"]) +
              "cd /data && " + cats(["../canary.txt", "../../canary.txt", dots + "canary.txt"]) +
              "cat hello.txt")
    r = sandbox(world, script)
    assert HELLO in r.stdout, r.stderr
    world.assert_clean(r)
    r = sandbox(world, cats([dots + p[1:] for p in world.all_paths]) + "cat hello.txt", "--cwd", "/data")
    assert HELLO in r.stdout, r.stderr
    world.assert_clean(r)


def test_dotdot_and_symlinks_default_view(world):
    """The host root is visible in the default view, but its /tmp (where two
    canaries live) is a private tmpfs: no path, link or `..` reaches them."""
    dots = "../" * 15
    script = ("".join(f"ln -s '{p}' /tmp/l{i}; cat /tmp/l{i} 2>&1; " for i, p in enumerate(world.tmp_paths)) +
              cats(world.tmp_paths + ["/../../.." + p for p in world.tmp_paths] +
                   ["/proc/self/root" + p for p in world.tmp_paths] +
                   ["/proc/1/root" + p for p in world.tmp_paths]) +
              "mkdir -p /tmp/a/b/c/d && cd /tmp/a/b/c/d && " + cats([dots + p[1:] for p in world.tmp_paths]) +
              "cat /etc/hostname >/dev/null && echo host-root-visible")
    r = run_sandbox("run", "--", "sh", "-c", script, input="")
    assert "host-root-visible" in r.stdout, r.stderr
    world.assert_clean(r)


def test_proc_self_root(world):
    """/proc/self/root, /proc/thread-self/root, /proc/$$/root and /dev/fd/../root are the sandbox root."""
    roots = ["/proc/self/root", "/proc/thread-self/root", "/proc/$$/root", "/dev/fd/../root",
             "/proc/self/cwd/../../../.."]
    tries = [r + p for r in roots for p in world.all_paths]
    tries += [r + "/../canary.txt" for r in roots] + [r + "/../../canary.txt" for r in roots]
    r = sandbox(world, cats(tries).replace("'", '"') + "cat /proc/self/root/data/hello.txt")
    assert HELLO in r.stdout, r.stderr
    world.assert_clean(r)


def test_proc_1_cwd_and_root_refused(world):
    """Init is non-dumpable: its cwd and root links cannot be followed or read."""
    checks = ["ls /proc/1/root/", "ls /proc/1/cwd/", "cat /proc/1/root/data/hello.txt",
              "cat /proc/1/cwd/data/hello.txt", "readlink /proc/1/root", "readlink /proc/1/cwd",
              "cd /proc/1/root", "cat /proc/1/root/../canary.txt"] + \
             [f"cat /proc/1/root{p}" for p in world.all_paths]
    script = "".join(f"({c}) >/dev/null 2>&1; echo \"rc=$?\"; " for c in checks) + "cat /data/hello.txt"
    r = sandbox(world, script)
    assert HELLO in r.stdout, r.stderr
    codes = [line for line in r.stdout.splitlines() if line.startswith("rc=")]
    assert len(codes) == len(checks), r.stdout
    assert "rc=0" not in codes, list(zip(checks, codes))
    world.assert_clean(r)


@pytest.mark.parametrize("view", ["rootfs", "default"])
def test_passed_host_fd_not_visible(world, view):
    """A host fd open on a canary, passed to pysandbox, is in no sandbox process's fd table."""
    fd = os.open(world.all_paths[0], os.O_RDONLY)
    high = os.dup2(fd, 40)
    script = ("ls -l /proc/[0-9]*/fd/ 2>&1; "
              "for p in /proc/[0-9]*/fd/* /proc/self/fd/* /dev/fd/*; do "
              "case $p in */fd/[012]) ;; *) cat $p 2>&1 ;; esac; done; "
              f"cat /proc/self/fd/{fd} /proc/self/fd/40 /dev/fd/40 2>&1; "
              "echo fds: $(ls /proc/self/fd)")
    cmd = RUN + (["--rootfs", str(world.root)] if view == "rootfs" else []) + \
          ["--", "sh", "-c", script]
    try:
        r = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=30, pass_fds=(fd, high))
    finally:
        os.close(fd)
        os.close(high)
    assert "fds: 0 1 2 3\n" in r.stdout, r.stdout + r.stderr
    world.assert_clean(r, world.all_paths[0])


def test_hard_links(world):
    """ln of /proc magic links fails; a hard link to a rootfs file made inside
    does not touch the rootfs dir on the host."""
    before = snapshot(world.root)
    checks = ["ln /proc/1/exe /tmp/l1", "ln /proc/self/exe /tmp/l2", "ln /proc/1/root/data/hello.txt /tmp/l3",
              "ln /proc/1/cwd /tmp/l4", "ln /proc/self/root/../canary.txt /tmp/l5", "ln /abs_var /tmp/l6"]
    script = "".join(f"{c} 2>/dev/null; echo \"rc=$?\"; " for c in checks) + \
        ("ln /data/hello.txt /data/hl && echo linked; echo modified >> /data/hl; cat /data/hello.txt; "
         "ln /bin/busybox /bin/bb2 && echo linked2; echo junk >> /bin/bb2; cat /tmp/l6 2>/dev/null")
    r = sandbox(world, script)
    assert "linked" in r.stdout and "linked2" in r.stdout, r.stdout + r.stderr
    assert HELLO + "\nmodified" in r.stdout         # both names are one file inside
    codes = [line for line in r.stdout.splitlines() if line.startswith("rc=")]
    assert len(codes) == len(checks) and "rc=0" not in codes, list(zip(checks, codes))
    world.assert_clean(r)
    assert snapshot(world.root) == before
    assert not (world.root / "data" / "hl").exists()


@pytest.fixture(scope="module")
def tool(cc):
    return cc(TOOL_C, "escape_tool")


def test_rename_across_bind(world, tool, tmp_path):
    """rename(2) in or out of a --bind mount is EXDEV; mv's copy fallback moves
    nothing anywhere on the host but into the bound dir."""
    src = tmp_path / "bindsrc"
    src.mkdir()
    (src / "x").write_text("in-bind\n")
    before, around = snapshot(world.root), sorted(os.listdir(tmp_path))
    script = ("echo top > /top; "
              "/mnt/escape_tool rename /bnd/x /x; /mnt/escape_tool rename /top /bnd/top; "
              "/mnt/escape_tool rename /bnd /moved; /mnt/escape_tool rename /bnd/x /bnd/../../x; "
              "/mnt/escape_tool rename /bnd/x /bnd/y; /mnt/escape_tool rename /bnd/y /bnd/x; "
              "mv /bnd/x /x; echo mv1=$?; mv /top /bnd/; echo mv2=$?; cat /x")
    r = sandbox(world, script, "--bind", f"{src}:/bnd", "--bind", f"{tool.parent}:/mnt:ro")
    lines = r.stdout.splitlines()
    assert lines[:6] == ["rename EXDEV", "rename EXDEV", "rename EBUSY", "rename EXDEV",
                         "rename OK", "rename OK"], r.stdout + r.stderr
    assert "in-bind" in r.stdout
    assert sorted(os.listdir(src)) == ["top"]              # moved out of / into the bind: stays in the bind
    assert snapshot(world.root) == before                  # nothing landed in the rootfs
    assert sorted(os.listdir(tmp_path)) == around
    world.assert_clean(r)


def test_open_stat_readlink_race(world, tool):
    """One thread flips a path buffer between /data/hello.txt and the canaries'
    host paths while another calls open() 100,000 times, then stat() and
    readlink(): only the allowed file is ever seen."""
    r = sandbox(world, f"/mnt/escape_tool /data/hello.txt 100000 100000 {' '.join(world.all_paths)}",
                "--bind", f"{tool.parent}:/mnt:ro", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    world.assert_clean(r)
    assert "LEAK" not in r.stdout, r.stdout
    stats = dict(kv.split("=") for kv in r.stdout.split())
    assert int(stats["opened"]) > 0 and int(stats["opened"]) + int(stats["failed"]) == 100000, stats


# `escape_tool rename A B`, `escape_tool handles PATH`, or the race:
# `escape_tool ALLOWED N_OPEN N_STAT OTHER...`
TOOL_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
static void say(const char *what, long rc) { printf("%s %s\n", what, rc < 0 ? strerrorname_np(errno) : "OK"); }
static int handles(const char *path) {
    struct { unsigned int bytes; int type; unsigned char h[128]; } fh = { 128, 1, {0} };
    int mount_id, dir = open("/", O_RDONLY | O_DIRECTORY);
    say("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, path, &fh, &mount_id, 0));
    fh.bytes = 8; fh.type = 1; fh.h[0] = 2;   /* made up: ext4 FILEID_INO32_GEN, inode 2 */
    say("open_by_handle_at", syscall(SYS_open_by_handle_at, dir, &fh, O_RDONLY));
    say("open_by_handle_at_cwd", syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
    return 0;
}
static char path[4096], **paths;
static volatile int npaths, stop;
static void *flipper(void *arg) {
    for (int i = 1; !stop; i = i % (npaths - 1) + 1) {
        memcpy(path, paths[0], strlen(paths[0]) + 1);
        memcpy(path, paths[i], strlen(paths[i]) + 1);
    }
    return arg;
}
int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "rename")) return say("rename", rename(argv[2], argv[3])), 0;
    if (argc == 3 && !strcmp(argv[1], "handles")) return handles(argv[2]);
    long n_open = atol(argv[2]), n_stat = atol(argv[3]), ok = 0, fail = 0, leaks = 0, sok = 0, rinval = 0;
    char want[256], got[256];
    struct stat ast, s;
    int fd = open(argv[1], O_RDONLY);
    ssize_t k, wlen = read(fd, want, sizeof want);
    fstat(fd, &ast), close(fd);
    paths = argv + 3; paths[0] = argv[1]; npaths = argc - 3;
    strcpy(path, argv[1]);
    pthread_t th;
    pthread_create(&th, NULL, flipper, NULL);
    for (long i = 0; i < n_open; i++) {
        if ((fd = open(path, O_RDONLY)) < 0) { fail++; continue; }
        k = read(fd, got, sizeof got - 1);
        close(fd);
        if (k == wlen && !memcmp(got, want, k)) { ok++; continue; }
        got[k > 0 ? k : 0] = 0;
        leaks++, printf("LEAK-open:%s\n", got);
    }
    for (long i = 0; i < n_stat; i++) {
        int rc = stat(path, &s);
        if (rc == 0 && (s.st_ino != ast.st_ino || s.st_dev != ast.st_dev))
            leaks++, printf("LEAK-stat:ino=%lu,size=%ld\n", (unsigned long)s.st_ino, (long)s.st_size);
        else if (rc == 0) sok++;
        if ((k = readlink(path, got, sizeof got - 1)) >= 0) { got[k] = 0; leaks++, printf("LEAK-readlink:%s\n", got); }
        else if (errno == EINVAL) rinval++;
    }
    stop = 1, pthread_join(th, NULL);
    printf("opened=%ld failed=%ld stat_ok=%ld readlink_einval=%ld leaks=%ld\n", ok, fail, sok, rinval, leaks);
    return 0;
}
"""


def test_file_handles_refused(world, tool):
    """name_to_handle_at and open_by_handle_at (which bypass the mount namespace) are EPERM."""
    r = sandbox(world, "/mnt/escape_tool handles /data/hello.txt", "--bind", f"{tool.parent}:/mnt:ro")
    assert r.stdout.splitlines() == ["name_to_handle_at EPERM", "open_by_handle_at EPERM",
                                     "open_by_handle_at_cwd EPERM"], r.stdout + r.stderr


def test_file_handles_refused_default_view():
    """The same through python3 ctypes in the default view."""
    script = ("import ctypes, errno, os\n"
              "libc = ctypes.CDLL(None, use_errno=True)\n"
              "buf = ctypes.create_string_buffer(b'\\x80' + b'\\0' * 135)\n"
              "mid = ctypes.c_int()\n"
              "for name, args in (('name_to_handle_at', (303, -100, b'/etc/hostname', buf, ctypes.byref(mid), 0)),\n"
              "                   ('open_by_handle_at', (304, -100, buf, 0))):\n"
              "    rc = libc.syscall(*args)\n"
              "    print(name, 'OK' if rc >= 0 else errno.errorcode[ctypes.get_errno()])\n")
    r = run_sandbox("run", "--", "python3", "-c", script)
    assert r.stdout.splitlines() == ["name_to_handle_at EPERM", "open_by_handle_at EPERM"], r.stdout + r.stderr
