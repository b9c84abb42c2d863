"""Unit tests for --strace's formatting (sentry/syscalls/strace_format.py)
and its line pairing (sentry/syscalls/strace.py), against a task whose
memory is a dict: the formatter needs only pid, nr, arg, read, read_cstr."""
from __future__ import annotations

import errno
import io
import os
import struct

import pytest

from sentry.errors import SysError
from sentry.platform.base import ANSWERED, CONTINUE
from sentry.syscalls import strace_format as fmt
from sentry.syscalls import table
from sentry.syscalls.strace import Tracer

PROTOS = fmt.prototypes()
AT_FDCWD = 0xFFFFFF9C
BASE = 0x7F0000001000


class FakeTask:
    """One syscall of a fake tracee: `memory` maps addresses to bytes."""

    def __init__(self, name: str, *args: int, memory=None, pid=None):
        self.nr = table.BY_NAME[name].nr
        self.pid = pid if pid is not None else os.getpid()
        self.args = list(args) + [0] * (6 - len(args))
        self.memory = dict(memory or {})

    def arg(self, i: int) -> int:
        return self.args[i]

    def read(self, addr: int, size: int) -> bytes:
        for base, data in self.memory.items():
            if base <= addr and addr + size <= base + len(data):
                return data[addr - base:addr - base + size]
        raise OSError(errno.EFAULT, "bad address")

    def read_cstr(self, addr: int, max_len: int = 4096) -> bytes:
        for base, data in self.memory.items():
            if base <= addr < base + len(data):
                rest = data[addr - base:addr - base + max_len]
                if b"\0" in rest:
                    return rest[:rest.index(b"\0")]
                raise OSError(errno.ENAMETOOLONG if len(rest) == max_len else errno.EFAULT, "")
        raise OSError(errno.EFAULT, "bad address")


class Memory:
    """Lays strings and pointer arrays out one after another."""

    def __init__(self):
        self.regions = {}
        self.next = BASE

    def put(self, data: bytes) -> int:
        addr = self.next
        self.regions[addr] = data
        self.next += (len(data) + 0x100) & ~0xFF
        return addr

    def cstr(self, s: str | bytes) -> int:
        return self.put((s.encode() if isinstance(s, str) else s) + b"\0")

    def vector(self, items) -> int:
        ptrs = [self.cstr(s) for s in items]
        return self.put(b"".join(struct.pack("<Q", p) for p in ptrs + [0]))


def line(name: str, *args: int, result=0, mem: Memory | None = None) -> str:
    t = FakeTask(name, *args, memory=mem.regions if mem else None)
    return fmt.format_exit(t, fmt.format_entry(t, name, PROTOS.get(name)), result)


def test_openat_flags_and_mode_shown_only_with_o_creat():
    m = Memory()
    p = m.cstr("/etc/passwd")
    assert line("openat", AT_FDCWD, p, os.O_RDONLY | os.O_CLOEXEC, 0o777, result=3, mem=m) == \
        'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3'
    assert line("openat", 3, p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, result=4, mem=m) == \
        'openat(3, "/etc/passwd", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 4'
    assert line("open", p, os.O_RDWR | os.O_TMPFILE, 0o600, mem=m) == 'open("/etc/passwd", O_RDWR|O_TMPFILE, 0600) = 0'


@pytest.mark.parametrize("value, text", [
    (os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_DIRECTORY, "O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY"),
    (os.O_WRONLY | os.O_APPEND | os.O_SYNC, "O_WRONLY|O_APPEND|O_SYNC"),
    (os.O_RDWR | os.O_DSYNC, "O_RDWR|O_DSYNC"),
    (os.O_PATH | os.O_NOFOLLOW, "O_RDONLY|O_NOFOLLOW|O_PATH"),
    (os.O_RDONLY | 0x40000000, "O_RDONLY|0x40000000"),       # no name: the rest in hex
])
def test_open_flags(value, text):
    assert fmt.flags(fmt.FLAGS["open_flags"], value) == text


def test_dirfd_at_fdcwd_either_width_and_plain_fds():
    m = Memory()
    p = m.cstr("x")
    assert line("unlinkat", 0xFFFFFFFFFFFFFF9C, p, 0, mem=m) == 'unlinkat(AT_FDCWD, "x", 0) = 0'
    assert line("unlinkat", 5, p, 0x200, mem=m) == 'unlinkat(5, "x", AT_REMOVEDIR) = 0'


def test_at_flags_per_call():
    m = Memory()
    p = m.cstr("")
    assert line("newfstatat", 3, p, 0x5000, 0x1100, result=SysError(errno.EBADF), mem=m) == \
        'newfstatat(3, "", 0x5000, AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH) = -1 EBADF (Bad file descriptor)'
    assert line("faccessat2", AT_FDCWD, p, 0, 0x200, mem=m) == 'faccessat2(AT_FDCWD, "", F_OK, AT_EACCESS) = 0'
    assert line("renameat2", AT_FDCWD, p, AT_FDCWD, p, 1, mem=m) == \
        'renameat2(AT_FDCWD, "", AT_FDCWD, "", RENAME_NOREPLACE) = 0'


def test_statx_flags_and_mask():
    m = Memory()
    p = m.cstr("/nonexistent")
    assert line("statx", AT_FDCWD, p, 0x900, 2, 0x5000, result=SysError(errno.ENOENT), mem=m) == (
        'statx(AT_FDCWD, "/nonexistent", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW|AT_NO_AUTOMOUNT, '
        'STATX_MODE, 0x5000) = -1 ENOENT (No such file or directory)')
    assert fmt.flags(fmt.FLAGS["statx_mask"], 0x17FF) == "STATX_BASIC_STATS|STATX_MNT_ID"
    assert fmt.flags(fmt.FLAGS["statx_mask"], 0x1) == "STATX_TYPE"
    assert fmt.flags(fmt.FLAGS["statx_flags"], 0x4000) == "AT_STATX_DONT_SYNC"


@pytest.mark.parametrize("mode, text", [(os.F_OK, "F_OK"), (os.R_OK, "R_OK"), (os.R_OK | os.W_OK, "R_OK|W_OK"),
                                        (7, "R_OK|W_OK|X_OK"), (0x10, "0x10")])
def test_access_modes(mode, text):
    m = Memory()
    assert line("access", m.cstr("/f"), mode, mem=m) == f'access("/f", {text}) = 0'


@pytest.mark.parametrize("value, text", [(0o644, "0644"), (0o755, "0755"), (0, "000"), (0o4755, "04755"),
                                         (0o100644, "S_IFREG|0644"), (0o20600, "S_IFCHR|0600")])
def test_modes_in_octal(value, text):
    assert fmt.mode(value) == text


def test_mkdir_and_mknod_device():
    m = Memory()
    p = m.cstr("/dev/null")
    assert line("mkdir", p, 0o750, mem=m) == 'mkdir("/dev/null", 0750) = 0'
    assert line("mknodat", AT_FDCWD, p, 0o20666, os.makedev(1, 3), mem=m) == \
        'mknodat(AT_FDCWD, "/dev/null", S_IFCHR|0666, makedev(0x1, 0x3)) = 0'
    assert line("mknod", p, 0o10644, 0, mem=m) == 'mknod("/dev/null", S_IFIFO|0644) = 0'


def test_results():
    assert fmt.format_result(SysError(errno.ENOENT)) == "-1 ENOENT (No such file or directory)"
    assert fmt.format_result(SysError(errno.EACCES)) == "-1 EACCES (Permission denied)"
    assert fmt.format_result(CONTINUE) == "? <host>"
    assert fmt.format_result(ANSWERED) == "? <fd injected>"
    assert fmt.format_result(3) == "3"


def test_execve_argv_decoded_and_envp_counted():
    m = Memory()
    path = m.cstr("/bin/sh")
    argv = m.vector(["sh", "-c", 'echo "hi"\n'])
    envp = m.vector([f"V{i}=x" for i in range(23)])
    assert line("execve", path, argv, envp, result=CONTINUE, mem=m) == \
        f'execve("/bin/sh", ["sh", "-c", "echo \\"hi\\"\\n"], {envp:#x} /* 23 vars */) = ? <host>'


def test_long_argv_is_elided_and_long_strings_cut():
    m = Memory()
    argv = m.vector([str(i) for i in range(100)])
    text = fmt.argv(fmt.Ctx(FakeTask("execve", memory=m.regions), "execve", (), []), argv, 1)
    assert text.startswith('["0", "1", ') and text.endswith('"62", "63", ...]')
    assert text.count('"') == 2 * fmt.STRSIZE
    long = m.vector(["a" * 100])
    text = fmt.argv(fmt.Ctx(FakeTask("execve", memory=m.regions), "execve", (), []), long, 1)
    assert text == '["' + "a" * 64 + '"...]'


def test_paths_are_never_cut():
    m = Memory()
    p = "/" + "d" * 200
    assert line("chdir", m.cstr(p), result=CONTINUE, mem=m) == f'chdir("{p}") = ? <host>'


def test_null_and_unreadable_pointers():
    assert line("execve", 0, 0, 0, result=CONTINUE) == "execve(NULL, NULL, NULL) = ? <host>"
    assert line("execve", 0x1000, 0x2000, 0x3000, result=CONTINUE) == "execve(0x1000, 0x2000, 0x3000) = ? <host>"


def test_escapes_as_strace():
    assert fmt.escape(b'a"b\\c\t\n') == 'a\\"b\\\\c\\t\\n'
    assert fmt.escape(b"\x00x\x007\x7f\xc3\xa9") == "\\0x\\0007\\177\\303\\251"


def test_write_buffer_uses_the_count():
    m = Memory()
    buf = m.put(b"hello\nworld")
    assert line("write", 1, buf, 6, result=CONTINUE, mem=m) == 'write(1, "hello\\n", 6) = ? <host>'
    big = m.put(b"x" * 200)
    assert line("write", 1, big, 200, result=CONTINUE, mem=m) == f'write(1, "{"x" * 64}"..., 200) = ? <host>'


def test_sethostname_reads_len_bytes():
    m = Memory()
    name = m.put(b"boxNOTTHIS")
    assert line("sethostname", name, 3, mem=m) == 'sethostname("box", 3) = 0'


def test_clone_flags_with_exit_signal():
    assert line("clone", 0x01200011, 0, 0, 0x7F00, 0, result=CONTINUE) == \
        "clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, NULL, NULL, 0x7f00, NULL) = ? <host>"
    assert fmt.clone_flags(0x3D0F00) == ("CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|"
                                         "CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID")


def test_clone3_args():
    m = Memory()
    args = m.put(struct.pack("<8Q", 0x200000 | 0x1000000, 0, 0x7f10, 0, 17, 0, 0, 0))
    assert line("clone3", args, 88, result=CONTINUE, mem=m) == \
        "clone3({flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID, child_tid=0x7f10, exit_signal=SIGCHLD}, 88) = ? <host>"


def test_mmap_prot_and_flags():
    assert line("mmap", 0, 8192, 3, 0x22, 0xFFFFFFFF, 0, result=CONTINUE) == \
        "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ? <host>"
    assert line("mmap", 0x7F33D94BD000, 1400832, 5, 0x812, 3, 0x26000, result=CONTINUE) == \
        ("mmap(0x7f33d94bd000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000)"
         " = ? <host>")
    assert line("mprotect", 0x1000, 4096, 0, result=CONTINUE) == "mprotect(0x1000, 4096, PROT_NONE) = ? <host>"


def test_value_tables():
    assert line("fcntl", 3, 2, 1, result=CONTINUE) == "fcntl(3, F_SETFD, FD_CLOEXEC) = ? <host>"
    assert line("fcntl", 3, 3, 0, result=CONTINUE) == "fcntl(3, F_GETFL) = ? <host>"
    assert line("prlimit64", 0, 3, 0, 0x10, result=CONTINUE) == "prlimit64(0, RLIMIT_STACK, NULL, 0x10) = ? <host>"
    assert line("kill", 1, 15, result=CONTINUE) == "kill(1, SIGTERM) = ? <host>"
    assert line("futex", 0x10, 0x81, 1, result=CONTINUE).startswith("futex(0x10, FUTEX_WAKE_PRIVATE, 1,")
    assert line("socket", 1, 0o2000005, 0, result=CONTINUE) == \
        "socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0) = ? <host>"


def test_buffers_filled_by_the_call_are_read_at_exit():
    m = Memory()
    path = m.cstr("/proc/self/exe")
    buf = m.put(b"\0" * 64)
    t = FakeTask("readlink", path, buf, 64, memory=m.regions)
    call = fmt.format_entry(t, "readlink", PROTOS["readlink"])
    t.memory[buf] = b"/usr/bin/true" + b"\0" * 51          # what the handler wrote
    assert fmt.format_exit(t, call, 13) == 'readlink("/proc/self/exe", "/usr/bin/true", 64) = 13'
    failed = fmt.format_entry(t, "readlink", PROTOS["readlink"])
    assert fmt.format_exit(t, failed, SysError(errno.EINVAL)) == \
        f'readlink("/proc/self/exe", {buf:#x}, 64) = -1 EINVAL (Invalid argument)'


def test_stat_and_uname_at_exit():
    m = Memory()
    p = m.cstr("/etc")
    st = m.put(struct.pack("<QQQIII4xQq", 1, 2, 3, 0o40755, 0, 0, 0, 4096) + b"\0" * 80)
    assert line("newfstatat", AT_FDCWD, p, st, 0, mem=m) == \
        'newfstatat(AT_FDCWD, "/etc", {st_mode=S_IFDIR|0755, st_size=4096, ...}, 0) = 0'
    uts = m.put(b"".join(s.ljust(65, b"\0") for s in (b"Linux", b"pysandbox", b"6.1", b"#1", b"x86_64", b"")))
    assert line("uname", uts, mem=m) == 'uname({sysname="Linux", nodename="pysandbox", ...}) = 0'


def test_every_argument_of_every_row_has_a_decoder():
    kinds = set(fmt.FLAGS) | set(fmt.ENUMS) | set(fmt.DECODERS) | set(fmt.LATE)
    for row in table.ROWS:
        for ctype, pname in PROTOS.get(row.name, ()):
            assert fmt.kind_of(row.name, ctype, pname) in kinds, (row.name, pname)
    for (call, _arg) in fmt.BY_CALL:
        assert call in PROTOS, call


def test_tracer_one_line_per_call():
    out = io.StringIO()
    tr = Tracer(None, out=out)
    m = Memory()
    t = FakeTask("chdir", m.cstr("/tmp"), memory=m.regions)
    tr.enter(t)
    tr.exit(t, CONTINUE)
    u = FakeTask("access", m.cstr("/x"), 4, memory=m.regions)
    tr.enter(u)
    tr.exit(u, SysError(errno.ENOENT))
    vpid = tr.vpid(os.getpid())
    assert out.getvalue().splitlines() == [
        f'[{vpid:>5}] chdir("/tmp") = ? <host>',
        f'[{vpid:>5}] access("/x", R_OK) = -1 ENOENT (No such file or directory)']


def test_tracer_never_loses_a_call():
    out = io.StringIO()
    tr = Tracer(None, out=out)
    m = Memory()
    t = FakeTask("chdir", m.cstr("/a"), memory=m.regions)
    tr.enter(t)                                   # no exit: the tracee died mid-call
    u = FakeTask("chdir", m.cstr("/b"), memory=m.regions)
    tr.enter(u)
    tr.exit(u, CONTINUE)
    w = FakeTask("rmdir", m.cstr("/c"), memory=m.regions)
    tr.exit(w, 0)                                 # an exit whose enter was skipped
    lines = [ln.split("] ", 1)[1] for ln in out.getvalue().splitlines()]
    assert lines == ['chdir("/a") = ? <unfinished>', 'chdir("/b") = ? <host>', 'rmdir("/c") = 0']


def test_a_formatting_bug_shows_in_the_line_instead_of_stopping_the_sandbox():
    class Broken(FakeTask):
        def read(self, addr, size):
            raise RuntimeError("boom")
    out = io.StringIO()
    tr = Tracer(None, out=out)
    t = Broken("execve", 0x1000, 0x2000, 0x3000)
    tr.enter(t)
    tr.exit(t, CONTINUE)
    (text,) = out.getvalue().splitlines()
    assert text.endswith("execve(0x1000, 0x2000, 0x3000, 0x0, 0x0, 0x0, /* strace: RuntimeError('boom') */)"
                         " = ? <host>"), text
