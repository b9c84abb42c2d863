"""The filesystem a sandbox sees: copy-on-write over --rootfs, --persist,
--read-only, --mask, --ro; real programs (tar, find, cp -a, ln -s, mkfifo,
du) in the busybox rootfs; and path-taking syscalls whose errnos match the
host's, checked by running the same script natively and in the sandbox."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BUSYBOX, RUN, run_sandbox

HELLO = "hello from the rootfs"


def checksum(root: Path) -> dict:
    """path -> (mode, sha256 | link target | None) for every entry under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            s = os.lstat(p)
            if os.path.islink(p):
                what = os.readlink(p)
            elif os.path.isfile(p):
                what = hashlib.sha256(Path(p).read_bytes()).hexdigest()
            else:
                what = None
            out[os.path.relpath(p, root)] = (s.st_mode, s.st_uid, s.st_gid, s.st_size, s.st_mtime_ns, what)
    return out


@pytest.fixture(scope="module")
def rootfs(busybox_rootfs, tmp_path_factory) -> Path:
    """Our copy of the busybox rootfs with more in /data: a nested dir, a
    binary file, a symlink and a mode-0640 file."""
    root = tmp_path_factory.mktemp("fs") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    data = root / "data"
    (data / "sub" / "deeper").mkdir(parents=True)
    (data / "sub" / "deeper" / "note.txt").write_text("deep\n")
    (data / "blob.bin").write_bytes(os.urandom(70_000))
    (data / "private.txt").write_text("private\n")
    os.chmod(data / "private.txt", 0o640)
    os.symlink("hello.txt", data / "link")
    return root


def sh(root, script, *extra, input="", timeout=30):
    return run_sandbox("run", "--rootfs", str(root), *extra, "--", "sh", "-c", script,
                       input=input, timeout=timeout)


MUTATE = """
set -e
echo changed > /data/hello.txt
echo new > /data/new.txt
rm /data/blob.bin /bin/ls
rm -r /data/sub/deeper
mv /data/private.txt /data/renamed.txt
mv /etc /etc2
chmod 0777 /data/link /data/renamed.txt /bin
chmod 0700 /data
mkdir -p /data/a/b/c /newdir
ln -s /data/hello.txt /data/newlink
ln -sf nowhere /data/link
ln /data/hello.txt /data/hard
touch -d '2001-01-01 00:00' /data/hello.txt /
: > /bin/busybox.copy
echo done
"""


def test_copy_on_write_leaves_rootfs_untouched(rootfs):
    before = checksum(rootfs)
    r = sh(rootfs, MUTATE + "ls /data; cat /data/hello.txt")
    assert r.returncode == 0 and "done" in r.stdout, r.stdout + r.stderr
    assert "changed" in r.stdout and "renamed.txt" in r.stdout     # the changes were visible inside
    assert checksum(rootfs) == before
    r = sh(rootfs, "cat /data/hello.txt; ls /data/blob.bin /etc/passwd")
    assert r.stdout.splitlines() == [HELLO, "/data/blob.bin", "/etc/passwd"], r.stderr   # and thrown away


def test_persist_keeps_changes(rootfs, tmp_path):
    before = checksum(rootfs)
    keep = tmp_path / "keep"
    keep.mkdir()
    r = sh(rootfs, MUTATE, "--persist", str(keep))
    assert r.returncode == 0 and "done" in r.stdout, r.stdout + r.stderr
    r = sh(rootfs, "cat /data/hello.txt /data/new.txt; readlink /data/newlink; ls /data/blob.bin; "
           "stat -c %a /data/renamed.txt", "--persist", str(keep))
    assert r.stdout.splitlines() == ["changed", "new", "/data/hello.txt", "777"], r.stdout + r.stderr
    assert "blob.bin" in r.stderr           # the deletion persisted too
    assert (keep / "upper" / "data" / "new.txt").read_text() == "new\n"
    assert (keep / "upper" / "data" / "hello.txt").read_text() == "changed\n"
    assert checksum(rootfs) == before


def test_read_only(rootfs):
    r = sh(rootfs, "touch /x; echo root=$?; echo hi > /data/hello.txt; echo data=$?; mkdir /d; echo mkdir=$?; "
           "touch /tmp/y && echo ok > /tmp/y && cat /tmp/y; echo tmp=$?", "--read-only")
    assert r.stdout.split() == ["root=1", "data=1", "mkdir=1", "ok", "tmp=0"], r.stdout + r.stderr
    assert "Read-only file system" in r.stderr


def test_mask_and_ro(rootfs):
    r = sh(rootfs, "ls -A /data; cat /data/hello.txt; echo cat=$?", "--mask", "/data")
    assert r.stdout.split() == ["cat=1"], r.stdout + r.stderr
    assert HELLO not in r.stdout
    r = sh(rootfs, "cat /data/hello.txt; echo x >> /data/hello.txt; echo w=$?; touch /data/n; echo t=$?; "
           "rm /data/hello.txt; echo rm=$?; touch /n; echo root=$?", "--ro", "/data")
    assert r.stdout.split("\n")[0] == HELLO
    assert r.stdout.split()[-4:] == ["w=1", "t=1", "rm=1", "root=0"], r.stdout + r.stderr


def test_tar_roundtrip(rootfs):
    r = sh(rootfs, "set -e; tar -cf /tmp/a.tar -C / data; mkdir /tmp/x; tar -xf /tmp/a.tar -C /tmp/x; "
           "for f in hello.txt blob.bin private.txt sub/deeper/note.txt; do cmp /data/$f /tmp/x/data/$f; done; "
           "readlink /tmp/x/data/link; stat -c %a /tmp/x/data/private.txt; tar -tf /tmp/a.tar | sort")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["hello.txt", "640"], r.stdout
    assert "data/sub/deeper/note.txt" in lines and "data/blob.bin" in lines


def test_find_counts_match_host(rootfs):
    r = sh(rootfs, "find /bin | wc -l; find /bin -type l | wc -l; find /bin -type f | wc -l")
    entries = os.listdir(rootfs / "bin")
    links = sum(os.path.islink(rootfs / "bin" / e) for e in entries)
    assert r.stdout.split() == [str(len(entries) + 1), str(links), str(len(entries) - links)], r.stderr


def test_cp_a(rootfs):
    r = sh(rootfs, "cp -a /data /tmp/copy && readlink /tmp/copy/link && stat -c '%a %s' /tmp/copy/private.txt "
           "&& cmp /data/blob.bin /tmp/copy/blob.bin && cat /tmp/copy/sub/deeper/note.txt && echo ok")
    assert r.stdout.split("\n") == ["hello.txt", "640 8", "deep", "ok", ""], r.stdout + r.stderr


def test_ln_s(rootfs):
    r = sh(rootfs, "ln -s /data/hello.txt /tmp/l && readlink /tmp/l && cat /tmp/l && "
           "cd /tmp && ln -s ../data rel && readlink rel && cat rel/hello.txt")
    assert r.stdout.splitlines() == ["/data/hello.txt", HELLO, "../data", HELLO], r.stderr


def run_or_fail(root, script, timeout=8):
    try:
        return sh(root, script, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"sandbox hung for {timeout}s; stdout={e.stdout!r} stderr={e.stderr!r}")


def test_mkfifo_writer_first(rootfs):
    """The writer's open(O_WRONLY) must block until the reader comes, not fail ENXIO."""
    r = run_or_fail(rootfs, "mkfifo /tmp/f; (echo through > /tmp/f &); cat /tmp/f")
    assert r.stdout == "through\n", r.stderr


def test_sigterm_ends_a_reader_blocked_on_fifo(rootfs):
    """SIGTERM to pysandbox ends it even while a FIFO open is still blocked."""
    p = subprocess.Popen([*RUN, "--rootfs", str(rootfs), "--", "sh", "-c", "mkfifo /tmp/f; cat /tmp/f"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1)
    p.send_signal(signal.SIGTERM)
    try:
        p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("pysandbox still running 5 s after SIGTERM (workload blocked opening a FIFO)")
    assert p.returncode == 128 + signal.SIGTERM


def test_du(rootfs):
    r = sh(rootfs, "du -s /data; du -s /bin")
    host = [subprocess.run([BUSYBOX, "du", "-s", str(rootfs / d)], capture_output=True, text=True).stdout.split()[0]
            for d in ("data", "bin")]
    assert [line.split()[0] for line in r.stdout.splitlines()] == host, r.stdout + r.stderr
    assert int(host[0]) >= 70


def test_stdin_self_and_fd_links(rootfs):
    r = sh(rootfs, "cat /dev/stdin", input="one\n")
    assert r.stdout == "one\n", r.stderr
    r = sh(rootfs, "cat /proc/self/fd/0; cat /dev/fd/0", input="two\n")
    assert r.stdout == "two\n", r.stderr
    r = sh(rootfs, "exec 5</data/hello.txt; cat /dev/fd/5; cat /proc/self/fd/5; readlink /proc/self/exe; "
           "cat /proc/self/root/data/hello.txt")
    assert r.stdout.splitlines() == [HELLO, HELLO, "/bin/busybox", HELLO], r.stderr


def test_relative_opens_from_cwd(rootfs):
    r = sh(rootfs, "cd /data && cat hello.txt && cat sub/../hello.txt && cd sub/deeper && cat note.txt "
           "../../hello.txt && cat ./../deeper/note.txt && stat -c %s ../../hello.txt")
    assert r.stdout.splitlines() == [HELLO, HELLO, "deep", HELLO, "deep", str(len(HELLO) + 1)], r.stderr
    r = sh(rootfs, "cat hello.txt sub/deeper/note.txt", "--cwd", "/data")
    assert r.stdout.splitlines() == [HELLO, "deep"], r.stderr


def test_dotdot_after_proc_magic_links(rootfs):
    """`..` after /proc/self/cwd or /proc/self/root is taken from the link's
    target, as the kernel does: /proc/self/root/.. is /, not /proc/self."""
    r = sh(rootfs, "cd /data/sub; cat /proc/self/cwd/../hello.txt; ls /proc/self/root/.. | grep -x data; "
           "cat /proc/self/root/../data/hello.txt")
    assert r.stdout.splitlines() == [HELLO, "data", HELLO], r.stdout + r.stderr


def test_creat_honours_umask(rootfs):
    r = sh(rootfs, "umask 077; touch /tmp/u; stat -c %a /tmp/u; umask 027; mkdir /tmp/d; stat -c %a /tmp/d; "
           "umask 0; echo > /tmp/z; stat -c %a /tmp/z; umask 022; touch /data/w; stat -c %a /data/w")
    assert r.stdout.split() == ["600", "750", "666", "644"], r.stderr


ERRNO_SCRIPT = r"""
import ctypes, errno, os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
loop = os.path.join(d, "loop")
os.symlink("loop", loop)
ex = os.path.join(d, "exists")
open(ex, "w").close()
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(512)
def c(fn, *a):
    if getattr(libc, fn)(*a) < 0:
        raise OSError(ctypes.get_errno(), "")
def t(name, f):
    try:
        r = f()
        if isinstance(r, int) and name.startswith("open"):
            os.close(r)
        r = "OK"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print(name, r)
t("open", lambda: os.open("/etc/hostname", os.O_RDONLY))
t("open_noent", lambda: os.open("/nonexistent", os.O_RDONLY))
t("open_notdir", lambda: os.open("/etc/hostname/x", os.O_RDONLY))
t("open_nametoolong", lambda: os.open("/" + "a" * 5000, os.O_RDONLY))
t("open_comp_toolong", lambda: os.open("/" + "a" * 300, os.O_RDONLY))
t("open_loop", lambda: os.open(loop, os.O_RDONLY))
t("open_nofollow", lambda: os.open(loop, os.O_RDONLY | os.O_NOFOLLOW))
t("open_eisdir", lambda: os.open("/etc", os.O_WRONLY))
t("open_eexist", lambda: os.open(ex, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
t("open_o_directory", lambda: os.open("/etc/hostname", os.O_RDONLY | os.O_DIRECTORY))
t("open_empty", lambda: os.open("", os.O_RDONLY))
t("stat_notdir", lambda: os.stat("/etc/hostname/x"))
t("stat_loop", lambda: os.stat(loop))
t("lstat_loop", lambda: os.lstat(loop))
t("stat_nametoolong", lambda: os.stat("/" + "a" * 5000))
t("stat_empty", lambda: c("stat", b"", buf))
t("access_notdir", lambda: c("access", b"/etc/hostname/x", 4))
t("access_noent", lambda: c("access", b"/nonexistent", 0))
t("access_badmode", lambda: c("access", b"/etc/hostname", 0o100))
t("access_loop", lambda: c("access", loop.encode(), 0))
t("readlink_einval", lambda: os.readlink("/etc/hostname"))
t("readlink_noent", lambda: os.readlink("/nonexistent"))
t("readlink_notdir", lambda: os.readlink("/etc/hostname/x"))
t("readlink_loop_ok", lambda: os.readlink(loop))
t("efault_stat", lambda: c("stat", None, buf))
t("efault_open", lambda: c("open", None, 0))
t("efault_access", lambda: c("access", None, 0))
t("efault_readlink", lambda: c("readlink", None, buf, 100))
t("efault_statbuf", lambda: c("stat", b"/etc/hostname", ctypes.c_void_p(8)))
"""


def test_errnos_match_host(tmp_path):
    """The same script natively and in the default view prints the same errno names."""
    host = subprocess.run([sys.executable, "-c", ERRNO_SCRIPT, str(tmp_path / "h")],
                          capture_output=True, text=True, timeout=30)
    assert host.returncode == 0, host.stderr
    r = run_sandbox("run", "--", "python3", "-c", ERRNO_SCRIPT, "/tmp/errnos")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == host.stdout.splitlines()
    assert "open_nametoolong ENAMETOOLONG" in host.stdout and "efault_stat EFAULT" in host.stdout
