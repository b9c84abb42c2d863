"""sentry/vfs/fuse.py on the real kernel FUSE: reading, attributes, the
directory, writes, bind mounts over other files.  Each test runs in a
forked child with its own mount namespace (/ made private), mounts the
filesystem on a temporary directory and serves it on a thread; readers are
that process's threads and real subprocesses.  Every wait is bounded."""
from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import tempfile
import threading

import pytest

from sentry.vfs import fuse, procfs, procfuse
from tests.fuse_helpers import MiB, bound, expect_errno, in_mount_ns, pid_echo, read_fd, served, tmpfs_with, wait_for

pytestmark = pytest.mark.platform_independent      # no sentry involved

# --- reading ------------------------------------------------------------------

@in_mount_ns()
def test_reads_give_the_callbacks_bytes():
    text = b"".join(b"line %04d of a synthesized file\n" % i for i in range(300))
    with served({"meminfo": lambda pid: text, "empty": lambda pid: b""}) as (mnt, server):
        path = f"{mnt}/meminfo"
        assert subprocess.run(["cat", path], capture_output=True, timeout=10, check=True).stdout == text
        with open(path, "rb") as f:
            assert f.read() == text
        with open(path) as f:                        # text mode, line by line
            assert f.readline() == "line 0000 of a synthesized file\n"
        fd = os.open(path, os.O_RDONLY)
        try:
            assert os.pread(fd, 20, 33) == text[33:53]
            assert os.pread(fd, 100, len(text) - 10) == text[-10:]
            assert os.pread(fd, 100, len(text)) == b""
            assert os.pread(fd, 100, 10 * len(text)) == b""
            assert read_fd(fd, 7) == text                # many small reads
        finally:
            os.close(fd)
        assert open(f"{mnt}/empty", "rb").read() == b""
        # One LOOKUP per name: entries and attributes are cached.
        assert server.counts[fuse.LOOKUP] == 2
        assert server.counts[fuse.FLUSH] == 0            # FOPEN_NOFLUSH
        assert wait_for(lambda: server.open_handles() == 0)   # RELEASE comes after close(2)


@in_mount_ns()
def test_reads_larger_than_max_read_span_several_requests():
    big = os.urandom(MiB)
    renders = []

    def render(pid):
        renders.append(pid)
        return big
    with served({"big": render}, max_read=16384) as (mnt, server):
        fd = os.open(f"{mnt}/big", os.O_RDONLY)
        try:
            before = server.counts[fuse.READ]
            data = os.read(fd, 2 * MiB)                  # one read(2)
            assert data == big
            # 1 MiB in requests of max_read (64), then one finding EOF, as
            # the read(2) asked for more; all from one rendering.
            assert server.counts[fuse.READ] - before == 65
            assert len(renders) == 1
            assert os.read(fd, 4096) == b""
            assert os.pread(fd, 5, MiB - 2) == big[-2:]
        finally:
            os.close(fd)
        with open(f"{mnt}/big", "rb") as f:             # Python's loop up to EOF
            assert f.read() == big
        out = subprocess.run(["sha256sum", f"{mnt}/big"], capture_output=True, text=True,
                             timeout=10, check=True).stdout
        assert out.split()[0] == hashlib.sha256(big).hexdigest()


@in_mount_ns()
def test_content_is_rendered_per_open_and_again_on_a_reread_from_zero():
    n = [0]

    def counter(pid):
        n[0] += 1
        return b"render %d\n" % n[0] + b"x" * 100_000
    with served({"c": counter}, max_read=4096) as (mnt, server):
        a = os.open(f"{mnt}/c", os.O_RDONLY)
        b = os.open(f"{mnt}/c", os.O_RDONLY)
        try:
            assert n[0] == 2                                   # once per open
            assert os.read(a, 9) == b"render 1\n"
            assert os.pread(b, 9, 0) == b"render 2\n"
            # The rest of a's pass: the same snapshot, in 4 KiB requests.
            assert os.read(a, 200_000) == b"x" * 100_000
            assert os.pread(a, 5, 50_000) == b"xxxxx"
            assert n[0] == 2
            # Reading from the start again renders anew, as procfs does
            # (procps keeps /proc/meminfo open and re-reads it).
            os.lseek(a, 0, os.SEEK_SET)
            assert os.read(a, 9) == b"render 3\n"
            assert os.pread(b, 9, 0) == b"render 4\n"
        finally:
            os.close(a)
            os.close(b)


@in_mount_ns()
def test_the_reader_pid_is_the_reading_threads():
    with served({"who": pid_echo}) as (mnt, server):
        path = f"{mnt}/who"
        assert open(path, "rb").read() == b"reader %d\n" % os.getpid()
        out = {}

        def in_thread():
            out["tid"] = threading.get_native_id()
            out["data"] = open(path, "rb").read()
        t = threading.Thread(target=in_thread)
        t.start()
        t.join(10)
        # The kernel passes task_pid: a thread's own id, not its process's.
        assert out["tid"] != os.getpid()
        assert out["data"] == b"reader %d\n" % out["tid"]
        p = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        assert p.communicate(timeout=10)[0] == b"reader %d\n" % p.pid


def test_the_reader_pid_is_in_the_mounters_pid_namespace():
    """Mounted from inside a new pid namespace, the server sees its own
    namespace's pids, and 0 for a reader (us) not visible there."""
    mnt = tempfile.mkdtemp(prefix="fuse-", dir="/tmp")
    script = (
        "import os, sys, threading\n"
        "from sentry.vfs import fuse\n"
        "fd = fuse.open_device(); fuse.mount(sys.argv[1], fd)\n"
        "srv = fuse.FuseServer(fd, {'who': lambda pid: b'%d' % pid})\n"
        "threading.Thread(target=srv.serve, daemon=True).start()\n"
        "print(os.getpid(), open(sys.argv[1] + '/who').read(), flush=True)\n"
        "sys.stdin.read()\n")
    p = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--mount-proc",
                          sys.executable, "-c", script, mnt],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        assert line == ["1", "1"]                 # its own pid, as its namespace numbers it
        children = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        server_pid = int(children[0])             # the python under unshare, as we number it
        with open(f"/proc/{server_pid}/root{mnt}/who") as f:   # into its mount namespace
            assert f.read() == "0"
    finally:
        p.stdin.close()
        p.wait(10)
        os.rmdir(mnt)
    assert p.returncode == 0


# --- attributes, directory, names ------------------------------------------------

@in_mount_ns()
def test_attributes_look_like_procfs():
    with served({"meminfo": pid_echo, "cpuinfo": pid_echo}) as (mnt, server):
        st = os.stat(f"{mnt}/meminfo")
        assert (oct(st.st_mode), st.st_size, st.st_nlink, st.st_uid, st.st_gid) == \
            (oct(0o100444), 0, 1, 0, 0)
        assert st.st_mtime == st.st_ctime == st.st_atime == pytest.approx(server.mount_time, abs=1e-6)
        root = os.stat(mnt)
        assert (oct(root.st_mode), root.st_ino) == (oct(0o040555), fuse.ROOT_ID)
        # Stable inode numbers: from the sorted names, the same on every mount.
        inos = {n: os.stat(f"{mnt}/{n}").st_ino for n in ("cpuinfo", "meminfo")}
        assert inos == {"cpuinfo": 2, "meminfo": 3}
        assert os.stat(f"{mnt}/meminfo").st_ino == 3
        vfs = os.statvfs(mnt)
        assert (vfs.f_namemax, vfs.f_blocks, vfs.f_files) == (255, 0, 3)
        expect_errno(errno.ENODATA, os.getxattr, f"{mnt}/meminfo", "user.x")
        expect_errno(errno.ENODATA, os.getxattr, f"{mnt}/meminfo", "security.capability")
        assert os.listxattr(f"{mnt}/meminfo") == []
        assert os.access(f"{mnt}/meminfo", os.R_OK) and not os.access(f"{mnt}/meminfo", os.W_OK)
        line = [ln for ln in open("/proc/self/mountinfo") if f" {mnt} " in ln][0]
        assert " - fuse.pysandbox pysandbox ro," in line and " ro,nosuid,nodev,noexec" in line


@in_mount_ns()
def test_readdir_lists_the_names_and_unknown_names_are_enoent():
    names = {f"file{i:02d}": pid_echo for i in range(40)}
    with served(names) as (mnt, server):
        assert sorted(os.listdir(mnt)) == sorted(names)
        with os.scandir(mnt) as it:
            assert all(e.is_file() and not e.is_dir() for e in it)
        ls = subprocess.run(["ls", "-la", mnt], capture_output=True, text=True, timeout=10, check=True)
        assert ls.stdout.count("-r--r--r--") == 40
        expect_errno(errno.ENOENT, os.stat, f"{mnt}/nope")
        expect_errno(errno.ENOENT, os.open, f"{mnt}/nope", os.O_RDONLY)
        expect_errno(errno.ENOTDIR, os.stat, f"{mnt}/file00/x")
        expect_errno(errno.EISDIR, os.open, mnt, os.O_RDWR)


@in_mount_ns()
def test_concurrent_readers_each_get_their_own_content():
    with served({"who": pid_echo}, max_read=4096) as (mnt, server):
        loop = f"for i in $(seq 30); do cat {mnt}/who; done"
        procs = [subprocess.Popen(["sh", "-c", loop], stdout=subprocess.PIPE) for _ in range(6)]
        for p in procs:
            out = p.communicate(timeout=30)[0].decode().splitlines()
            assert len(out) == 30 and p.returncode == 0
            # Each cat is a child of that shell: a pid of its own, never another's.
            assert len(set(out)) == 30 and all(line.startswith("reader ") for line in out)
        assert wait_for(lambda: server.open_handles() == 0)


@in_mount_ns()
def test_a_failing_callback_gives_eio_and_the_server_goes_on():
    def broken(pid):
        raise RuntimeError("no cgroup")
    with served({"broken": broken, "wrong": lambda pid: "str", "ok": pid_echo}) as (mnt, server):
        expect_errno(errno.EIO, os.open, f"{mnt}/broken", os.O_RDONLY)
        expect_errno(errno.EIO, os.open, f"{mnt}/wrong", os.O_RDONLY)
        assert server.errors == 2 and isinstance(server.last_error, TypeError)
        assert open(f"{mnt}/ok", "rb").read() == b"reader %d\n" % os.getpid()


# --- writes -----------------------------------------------------------------------

def _write_attempts(path, mnt):
    return [(os.open, path, os.O_WRONLY), (os.open, path, os.O_RDWR),
            (os.open, path, os.O_RDONLY | os.O_TRUNC), (os.truncate, path, 0),
            (os.open, f"{mnt}/new", os.O_WRONLY | os.O_CREAT, 0o644), (os.mkdir, f"{mnt}/d"),
            (os.unlink, path), (os.rename, path, f"{mnt}/other"), (os.chmod, path, 0o666),
            (os.utime, path, (1, 1)), (os.setxattr, path, "user.k", b"v"),
            (os.symlink, "x", f"{mnt}/link")]


@in_mount_ns()
def test_writes_fail_with_erofs():
    with served({"meminfo": pid_echo}) as (mnt, server):
        for fn, *args in _write_attempts(f"{mnt}/meminfo", mnt):
            expect_errno(errno.EROFS, fn, *args)


@in_mount_ns()
def test_on_a_writable_mount_the_server_refuses_writes_itself():
    """Without MS_RDONLY root passes the 0444 bits (CAP_DAC_OVERRIDE): the
    requests reach the server, which says EROFS; others get EACCES from the
    kernel's mode check (default_permissions) and can still read."""
    with served({"meminfo": pid_echo}, readonly=False) as (mnt, server):
        path = f"{mnt}/meminfo"
        for fn, *args in _write_attempts(path, mnt):
            expect_errno(errno.EROFS, fn, *args)
        assert server.counts[fuse.OPEN] >= 2 and server.counts[fuse.SETATTR] >= 1
        code = ("import os, sys\n"
                "try: os.open(sys.argv[1], os.O_WRONLY)\n"
                "except OSError as e: print(e.errno)\n"
                "print(open(sys.argv[1]).read(), end='')\n")
        p = subprocess.run(["/usr/bin/python3", "-c", code, path], user=65534, group=65534,
                           capture_output=True, text=True, timeout=20)
        lines = p.stdout.splitlines()
        assert lines[0] == str(errno.EACCES), p.stderr
        assert lines[1].startswith("reader ")


# --- bind mounts over other files -------------------------------------------------------

@in_mount_ns()
def test_a_bind_mount_over_a_tmpfs_file_shows_the_synthesized_content():
    with served({"meminfo": pid_echo}) as (mnt, server), tmpfs_with("meminfo", b"original\n") as target:
        with bound(f"{mnt}/meminfo", target):
            mine = b"reader %d\n" % os.getpid()
            assert open(target, "rb").read() == mine
            st = os.stat(target)
            assert (st.st_mode, st.st_size, st.st_ino) == (0o100444, 0, 2)
            # An O_PATH fd reopened through /proc/self/fd/N, and a path
            # through /proc/self/root, land on the bind mount too.
            opath = os.open(target, os.O_PATH)
            try:
                fd = os.open(f"/proc/self/fd/{opath}", os.O_RDONLY)
                try:
                    assert read_fd(fd) == mine
                finally:
                    os.close(fd)
            finally:
                os.close(opath)
            assert open(f"/proc/self/root{target}", "rb").read() == mine
            cat = subprocess.Popen(["cat", f"/proc/self/root{target}"], stdout=subprocess.PIPE)
            assert cat.communicate(timeout=10)[0] == b"reader %d\n" % cat.pid
            expect_errno(errno.EROFS, os.open, target, os.O_WRONLY)
        assert open(target, "rb").read() == b"original\n"     # unbound: the file itself


PROBE = r"""
import os, subprocess, sys
from sentry import native
mnt = sys.argv[1]
binds = [(f"{mnt}/{name}", path) for name, path in
         [("meminfo", "/proc/meminfo"), ("cpu_online", "/sys/devices/system/cpu/online")]]
real = open("/proc/meminfo").read()
for src, dst in binds:
    native.mount(src, dst, None, 4096)          # MS_BIND
print("pid", os.getpid())
print("meminfo", open("/proc/meminfo").read().splitlines()[0])
print("cat", subprocess.run(["cat", "/proc/meminfo"], capture_output=True, text=True).stdout.splitlines()[0])
opath = os.open("/proc/meminfo", os.O_PATH)
print("opath", open(f"/proc/self/fd/{opath}").read().splitlines()[0])
print("root", open("/proc/self/root/proc/meminfo").read().splitlines()[0])
print("free", subprocess.run(["free", "-k"], capture_output=True, text=True).stdout.splitlines()[1].split()[1])
print("cpus", os.cpu_count(), open("/sys/devices/system/cpu/online").read().strip())
print("status", open("/proc/self/status").read().splitlines()[0].split()[0])
os.close(opath)
for src, dst in reversed(binds):
    native.umount(dst, 2)
print("after", open("/proc/meminfo").read() == real or open("/proc/meminfo").read().startswith("MemTotal"))
"""


@in_mount_ns()
def test_a_bind_mount_over_proc_meminfo_in_a_new_pid_namespace():
    """procfuse's files bound over /proc/meminfo (a procfs of the child's own
    pid namespace) and /sys/devices/system/cpu/online: the child's readers,
    free and os.cpu_count() see the sandbox's limits."""
    readers = []

    def view(pid):
        readers.append(pid)
        return procfs.View(read_host=lambda name: open(f"/proc/{name}", "rb").read(),
                           memory_limit=256 * MiB, memory_usage=64 * MiB, cpus=1.0, uptime=5.0,
                           nr_threads=1, nr_running=1, last_pid=1, hostname="box", mounts=[])
    with served(procfuse.files(view)) as (mnt, server):
        p = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc",
                            sys.executable, "-c", PROBE, mnt],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        out = dict(line.split(" ", 1) for line in p.stdout.splitlines())
        total = "MemTotal:         262144 kB"
        assert out["pid"] == "1"
        assert out["meminfo"] == out["cat"] == out["opath"] == out["root"] == total
        assert out["free"] == "262144"
        assert out["cpus"] == "1 0"
        assert out["status"] == "Name:"            # the rest of procfs is procfs
        assert out["after"] == "True"
        # The server saw host pids: the child's pid 1 was one of them.
        assert readers and all(pid > 1 for pid in readers)
