"""--strace's formatting: one syscall's arguments and result as strace shows them.

    openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3
    execve("/bin/ls", ["ls", "-l"], 0x7ffd3c1e9a28 /* 12 vars */) = ? <host>
    newfstatat(AT_FDCWD, "/nope", 0x7ffc6f0e5a40, 0) = -1 ENOENT (No such file or directory)

The decoder of an argument is chosen by data, from the most specific rule to
the least: (syscall, argument name) in BY_CALL, then (C type, argument name)
in BY_ARG, then the argument name alone in BY_NAME, then the C type in
BY_TYPE; any other pointer prints as a pointer (hex, NULL), any other
value in hex.  Names and
C types come from python-ptrace's prototypes (EXTRA_PROTOTYPES adds the
calls it lacks).  A kind is a flag table (FLAGS), a value table (ENUMS) or a
function (DECODERS); a decoder may return None to leave the argument out, as
strace leaves out open's mode when neither O_CREAT nor O_TMPFILE is set.

strace's conventions kept: strings are quoted with C escapes (other bytes in
octal) and cut after STRSIZE bytes with `"..."...`, as `strace -s 64`;
paths are never cut (strace prints file names in full); NULL for a null
pointer; a pointer whose memory cannot be read prints as hex; arrays stop
after STRSIZE elements with `...`; envp shows as a pointer and a count.

Kernel facts relied on: the flag values are x86_64's (asm-generic fcntl.h,
x86 mman.h, sched.h, fcntl.h's AT_*, stat.h's STATX_*); the struct layouts
read at exit (struct stat, struct statx, struct new_utsname) are x86_64's.
Memory is read for display only: nothing here decides anything.
"""
from __future__ import annotations

import errno
import os
import resource
import signal
import socket
from dataclasses import dataclass

from sentry.abi import linux
from sentry.abi.linux import AT_FDCWD, O_CREAT, O_TMPFILE, PATH_MAX
from sentry.errors import SysError
from sentry.platform.base import ANSWERED, CONTINUE, Task

STRSIZE = 64            # strace -s 64
ENV_MAX = 4096          # stop counting envp entries here

# Calls python-ptrace has no prototype for, in its format: (C type, name) pairs.
EXTRA_PROTOTYPES = {
    "arch_prctl": (("int", "code"), ("unsigned long", "addr")),
    "rseq": (("struct rseq *", "rseq"), ("u32", "rseq_len"), ("int", "flags"), ("u32", "sig")),
    "clone3": (("struct clone_args *", "uargs"), ("size_t", "size")),
    "close_range": (("unsigned int", "fd"), ("unsigned int", "max_fd"), ("unsigned int", "flags")),
    "faccessat2": (("int", "dfd"), ("const char *", "filename"), ("int", "mode"), ("int", "flags")),
    "fchmodat2": (("int", "dfd"), ("const char *", "filename"), ("umode_t", "mode"), ("unsigned int", "flags")),
    "openat2": (("int", "dfd"), ("const char *", "filename"), ("struct open_how *", "how"), ("size_t", "usize")),
    "pkey_mprotect": (("unsigned long", "start"), ("size_t", "len"), ("unsigned long", "prot"), ("int", "pkey")),
    "pidfd_open": (("pid_t", "pid"), ("unsigned int", "flags")),
    "pidfd_send_signal": (("int", "pidfd"), ("int", "sig"), ("siginfo_t *", "info"), ("unsigned int", "flags")),
    "pidfd_getfd": (("int", "pidfd"), ("int", "fd"), ("unsigned int", "flags")),
}


def prototypes() -> dict[str, tuple]:
    """syscall name -> ((C type, argument name), ...)."""
    from ptrace.syscall.prototypes import SYSCALL_PROTOTYPES
    protos = {name: params for name, (_ret, params) in SYSCALL_PROTOTYPES.items()}
    protos.update(EXTRA_PROTOTYPES)
    return protos


# ---- flag and value tables --------------------------------------------------

@dataclass(frozen=True)
class Flags:
    """A flag word.  `field` is a multi-bit value printed first (O_ACCMODE's
    O_RDONLY...); `bits` are (mask, name) in print order: an entry matches
    when all its bits are set, so combined names (O_SYNC, O_TMPFILE,
    STATX_BASIC_STATS) go before their parts.  Bits no entry names print
    as hex."""
    bits: tuple
    field: tuple | None = None       # (mask, {value: name})
    zero: str = "0"


def _bits(*pairs) -> tuple:
    return tuple(zip(pairs[::2], pairs[1::2]))


def _names(*names) -> tuple:
    """(value, name) pairs for ABI constants, in print order; a leading
    "__" (__WALL) is the kernel's spelling of linux.WALL."""
    return tuple((getattr(linux, n.lstrip("_")), n) for n in names)


O_ACCMODE = (3, {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"})
OPEN_BITS = _names("O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_SYNC", "O_DSYNC",
    "O_DIRECT", "O_LARGEFILE", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH", "O_TMPFILE",
    "O_DIRECTORY", "FASYNC")
AT_BITS = _names("AT_SYMLINK_NOFOLLOW", "AT_SYMLINK_FOLLOW", "AT_NO_AUTOMOUNT", "AT_EMPTY_PATH",
    "AT_RECURSIVE")
STATX_BITS = _names("STATX_ALL", "STATX_BASIC_STATS", "STATX_TYPE", "STATX_MODE", "STATX_NLINK", "STATX_UID",
    "STATX_GID", "STATX_ATIME", "STATX_MTIME", "STATX_CTIME", "STATX_INO", "STATX_SIZE",
    "STATX_BLOCKS", "STATX_BTIME", "STATX_MNT_ID", "STATX_DIOALIGN", "STATX_MNT_ID_UNIQUE",
    "STATX_SUBVOL", "STATX_WRITE_ATOMIC", "STATX_DIO_READ_ALIGN")
CLONE_BITS = _names("CLONE_VM", "CLONE_FS", "CLONE_FILES", "CLONE_SIGHAND", "CLONE_PIDFD", "CLONE_PTRACE",
    "CLONE_VFORK", "CLONE_PARENT", "CLONE_THREAD", "CLONE_NEWNS", "CLONE_SYSVSEM",
    "CLONE_SETTLS", "CLONE_PARENT_SETTID", "CLONE_CHILD_CLEARTID", "CLONE_DETACHED",
    "CLONE_UNTRACED", "CLONE_CHILD_SETTID", "CLONE_NEWCGROUP", "CLONE_NEWUTS", "CLONE_NEWIPC",
    "CLONE_NEWUSER", "CLONE_NEWPID", "CLONE_NEWNET", "CLONE_IO", "CLONE_CLEAR_SIGHAND",
    "CLONE_INTO_CGROUP")
CLOEXEC_BITS = _names("O_CLOEXEC", "O_NONBLOCK", "O_DIRECT")

FLAGS = {
    "open_flags": Flags(OPEN_BITS, field=O_ACCMODE),
    "status_flags": Flags(OPEN_BITS),          # fcntl(F_SETFL): no access mode
    "at_flags": Flags(AT_BITS),
    "unlinkat_flags": Flags(_names("AT_REMOVEDIR")),
    "faccessat2_flags": Flags(_names("AT_SYMLINK_NOFOLLOW", "AT_EACCESS", "AT_EMPTY_PATH")),
    "statx_flags": Flags(AT_BITS, field=(0x6000, {0: "AT_STATX_SYNC_AS_STAT", 0x2000: "AT_STATX_FORCE_SYNC",
                                                  0x4000: "AT_STATX_DONT_SYNC"})),
    "statx_mask": Flags(STATX_BITS),
    "access_mode": Flags(_names("R_OK", "W_OK", "X_OK"), zero="F_OK"),
    "rename_flags": Flags(_names("RENAME_NOREPLACE", "RENAME_EXCHANGE", "RENAME_WHITEOUT")),
    "xattr_flags": Flags(_names("XATTR_CREATE", "XATTR_REPLACE")),
    "prot": Flags(_names("PROT_READ", "PROT_WRITE", "PROT_EXEC", "PROT_SEM", "PROT_GROWSDOWN", "PROT_GROWSUP"),
                  zero="PROT_NONE"),
    "map_flags": Flags(_names("MAP_FIXED", "MAP_ANONYMOUS", "MAP_32BIT", "MAP_ABOVE4G", "MAP_GROWSDOWN",
    "MAP_DENYWRITE", "MAP_EXECUTABLE", "MAP_LOCKED", "MAP_NORESERVE", "MAP_POPULATE", "MAP_NONBLOCK",
    "MAP_STACK", "MAP_HUGETLB", "MAP_SYNC", "MAP_FIXED_NOREPLACE", "MAP_UNINITIALIZED"),
        field=(0xF, {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE", 8: "MAP_DROPPABLE"})),
    "clone_bits": Flags(CLONE_BITS),
    "fd_flags": Flags(CLOEXEC_BITS),
    "fd_cloexec": Flags(_names("FD_CLOEXEC")),
    "wait_options": Flags(_names("WNOHANG", "WUNTRACED", "WCONTINUED", "__WNOTHREAD", "__WALL", "__WCLONE")),
    "close_range_flags": Flags(_names("CLOSE_RANGE_UNSHARE", "CLOSE_RANGE_CLOEXEC")),
    "getrandom_flags": Flags(_names("GRND_NONBLOCK", "GRND_RANDOM", "GRND_INSECURE")),
    "sock_type": Flags(_names("SOCK_NONBLOCK", "SOCK_CLOEXEC"),
                       field=(0xF, {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM",
                                    5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"})),
    "inotify_mask": Flags(_names("IN_ACCESS", "IN_MODIFY", "IN_ATTRIB", "IN_CLOSE_WRITE", "IN_CLOSE_NOWRITE", "IN_OPEN",
    "IN_MOVED_FROM", "IN_MOVED_TO", "IN_CREATE", "IN_DELETE", "IN_DELETE_SELF", "IN_MOVE_SELF",
    "IN_ONLYDIR", "IN_DONT_FOLLOW", "IN_EXCL_UNLINK", "IN_MASK_CREATE", "IN_MASK_ADD",
    "IN_ISDIR", "IN_ONESHOT")),
}

S_IFMT = 0o170000
FILE_TYPES = {0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG", 0o60000: "S_IFBLK",
              0o40000: "S_IFDIR", 0o20000: "S_IFCHR", 0o10000: "S_IFIFO"}
FCNTL_CMDS = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
              6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG", 11: "F_GETSIG",
              36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1024: "F_SETLEASE",
              1025: "F_GETLEASE", 1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ",
              1033: "F_ADD_SEALS", 1034: "F_GET_SEALS"}
FUTEX_OPS = {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
             5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI", 8: "FUTEX_TRYLOCK_PI",
             9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET", 11: "FUTEX_WAIT_REQUEUE_PI",
             12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"}
ENUMS = {
    "fcntl_cmd": FCNTL_CMDS,
    "whence": {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"},
    "sigprocmask_how": {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"},
    "arch_prctl": {0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS", 0x1004: "ARCH_GET_GS",
                   0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID", 0x5001: "ARCH_SHSTK_ENABLE",
                   0x5002: "ARCH_SHSTK_DISABLE", 0x5003: "ARCH_SHSTK_LOCK", 0x5005: "ARCH_SHSTK_STATUS"},
    "rlimit": {v: k for k, v in vars(resource).items() if k.startswith("RLIMIT_")},
    "signal": {s.value: s.name for s in signal.Signals},
    "af": {f.value: f.name for f in socket.AddressFamily},
}

# ---- which decoder for which argument --------------------------------------

PATH_NAMES = ("filename", "pathname", "path", "oldname", "newname", "old", "new", "specialfile",
              "library", "new_root", "put_old")
BY_CALL = {
    **{(c, "flags"): "open_flags" for c in ("open", "openat")},
    **{(c, "mode"): "open_mode" for c in ("open", "openat")},
    **{(c, "mode"): "access_mode" for c in ("access", "faccessat", "faccessat2")},
    **{(c, a): "at_flags" for c, a in (("newfstatat", "flag"), ("fchownat", "flag"), ("utimensat", "flags"),
                                       ("execveat", "flags"), ("linkat", "flags"), ("fchmodat2", "flags"),
                                       ("name_to_handle_at", "flag"))},
    ("unlinkat", "flag"): "unlinkat_flags", ("faccessat2", "flags"): "faccessat2_flags",
    ("statx", "flags"): "statx_flags", ("statx", "mask"): "statx_mask", ("renameat2", "flags"): "rename_flags",
    **{(c, "flags"): "xattr_flags" for c in ("setxattr", "lsetxattr", "fsetxattr")},
    ("inotify_add_watch", "mask"): "inotify_mask",
    **{(c, "prot"): "prot" for c in ("mmap", "mprotect", "pkey_mprotect")},
    ("mmap", "flags"): "map_flags", ("mmap", "pgoff"): "hex",
    ("clone", "flags"): "clone_flags", ("clone", "regs"): "ptr", ("clone3", "uargs"): "clone_args",
    **{(c, "dev"): "dev" for c in ("mknod", "mknodat")},
    ("futex", "op"): "futex_op", ("rseq", "sig"): "hex",
    ("fcntl", "cmd"): "fcntl_cmd", ("fcntl", "arg"): "fcntl_arg",
    ("rt_sigprocmask", "how"): "sigprocmask_how", ("lseek", "whence"): "whence",
    **{(c, "resource"): "rlimit" for c in ("prlimit64", "getrlimit", "setrlimit")},
    ("arch_prctl", "code"): "arch_prctl",
    **{(c, "domain"): "af" for c in ("socket", "socketpair")},
    **{(c, "type"): "sock_type" for c in ("socket", "socketpair")},
    **{(c, "flags"): "fd_flags" for c in ("pipe2", "dup3", "epoll_create1", "inotify_init1", "eventfd2")},
    ("wait4", "options"): "wait_options", ("waitid", "options"): "wait_options",
    ("close_range", "flags"): "close_range_flags",
    ("getrandom", "flags"): "getrandom_flags",
    **{(c, "name"): "buf_next" for c in ("sethostname", "setdomainname")},
    ("sendto", "buf"): "buf_next",
    ("uname", "buf"): "utsname", ("statx", "statxbuf"): "statx",
    **{(c, "statbuf"): "stat" for c in ("stat", "lstat", "fstat", "newfstatat")},
}
BY_ARG = {
    **{(t, n): "path" for t in ("const char *", "char *") for n in PATH_NAMES},
    ("char *", "dev_name"): "path", ("char *", "dir_name"): "path",
    ("const char *", "buf"): "buf_next", ("const void *", "value"): "buf_next",
    ("char *", "buf"): "out_buf", ("void *", "buf"): "out_buf",
    ("const char *const *", "argv"): "argv", ("const char *const *", "envp"): "envp",
}
BY_NAME = {
    **dict.fromkeys(("dfd", "dirfd", "olddfd", "newdfd"), "dirfd"),
    **dict.fromkeys(("fd", "oldfd", "newfd", "sockfd", "pidfd", "fd_in", "fd_out", "epfd"), "fd"),
    **dict.fromkeys(("sig", "signum"), "signal"),
    **dict.fromkeys(("addr", "start", "brk", "child_stack", "new_stack"), "ptr"),
}
BY_TYPE = {
    **dict.fromkeys(("int", "pid_t", "__s32", "key_t", "clockid_t", "mqd_t"), "int"),
    **dict.fromkeys(("long", "off_t", "loff_t"), "long"),
    **dict.fromkeys(("unsigned int", "unsigned", "u32", "qid_t"), "uint"),
    **dict.fromkeys(("uid_t", "gid_t"), "id"),
    **dict.fromkeys(("size_t", "unsigned long", "u64"), "ulong"),
    "umode_t": "mode", "const char *": "string",
}
# Kinds decoded when the call returns (the buffer is filled by then).
AT_EXIT = frozenset({"out_buf", "stat", "statx", "utsname"})


def kind_of(call: str, ctype: str, name: str) -> str:
    return (BY_CALL.get((call, name)) or BY_ARG.get((ctype, name)) or BY_NAME.get(name)
            or BY_TYPE.get(ctype) or ("ptr" if "*" in ctype or "[" in ctype else "hex"))


# ---- one call ---------------------------------------------------------------

@dataclass
class Call:
    """A call formatted at entry; `late` are the arguments to decode at
    exit: (position in args, kind, raw value)."""
    name: str
    args: list
    late: list


def format_entry(t, name: str, params) -> Call:
    """Decode every argument of t (read, read_cstr, nr, arg) that can be
    decoded before the call runs."""
    if params is None:
        return Call(name, [hex(t.arg(i)) for i in range(6)], [])
    values = [t.arg(i) for i in range(len(params))]
    ctx = Ctx(t, name, params, values)
    args: list[str] = []
    late: list[tuple[int, str, int]] = []
    for i, ((ctype, pname), value) in enumerate(zip(params, values)):
        kind = kind_of(name, ctype, pname)
        if kind in AT_EXIT:
            late.append((len(args), kind, value))
            args.append(_ptr(value))
            continue
        text = decode(ctx, kind, value, i)
        if text is not None:
            args.append(text)
    return Call(name, args, late)


def format_exit(t, call: Call, result) -> str:
    """The whole line but the pid: decode what the call wrote, add the result."""
    if call.late and type(result) is int and result >= 0:
        for pos, kind, value in call.late:
            if value:
                try:
                    call.args[pos] = LATE[kind](t, value, result)
                except (OSError, SysError):
                    pass          # unreadable: the pointer stays
    return f"{call.name}({', '.join(call.args)}) = {format_result(result)}"


@dataclass
class Ctx:
    t: Task
    call: str
    params: tuple
    values: list

    def value(self, name: str) -> int | None:
        for (_ctype, pname), v in zip(self.params, self.values):
            if pname == name:
                return v
        return None


def decode(ctx: Ctx, kind: str, value: int, index: int) -> str | None:
    if kind in FLAGS:
        return flags(FLAGS[kind], value & 0xFFFFFFFF)
    if kind in ENUMS:
        v = _s32(value)
        return ENUMS[kind].get(v, str(v))
    fn = DECODERS[kind]
    try:
        return fn(ctx, value, index)
    except (OSError, SysError):
        return _ptr(value)


def format_result(result) -> str:
    if result is CONTINUE:
        return "? <host>"             # the host kernel ran it; we never see its return
    if result is ANSWERED:
        return "? <fd injected>"      # ADDFD|SEND: the fd number went to the tracee, not to us
    if isinstance(result, SysError):
        return format_errno(result.errno)
    if type(result) is int:
        return str(result)
    return f"? <{result!r}>"


def format_errno(err: int) -> str:
    return f"-1 {errno.errorcode.get(err, err)} ({os.strerror(err)})"


# ---- decoders ---------------------------------------------------------------

def flags(table: Flags, value: int) -> str:
    parts = []
    if table.field is not None:
        mask, names = table.field
        if value & mask or 0 in names:
            parts.append(names.get(value & mask, hex(value & mask)))
        value &= ~mask
    for bits, name in table.bits:
        if value & bits == bits:
            parts.append(name)
            value &= ~bits
    if value:
        parts.append(hex(value))
    return "|".join(parts) or table.zero


def mode(value: int) -> str:
    ftype = FILE_TYPES.get(value & S_IFMT)
    perms = f"{value & 0o7777:#o}".replace("0o", "0").zfill(3)     # C's %#03o
    rest = value & ~(S_IFMT | 0o7777)
    text = f"{ftype}|{perms}" if ftype else perms
    return f"{text}|{rest:#o}" if rest else text


def escape(data: bytes) -> str:
    """C escapes as strace writes them; other bytes in octal, padded to
    three digits only where an octal digit follows."""
    out = []
    for i, b in enumerate(data):
        c = chr(b)
        if c in ESCAPES:
            out.append(ESCAPES[c])
        elif 0x20 <= b < 0x7F:
            out.append(c)
        elif i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x37:
            out.append(f"\\{b:03o}")
        else:
            out.append(f"\\{b:o}")
    return "".join(out)


ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", "\v": "\\v"}


def quote(data: bytes, limit: int = STRSIZE, cut: bool = False) -> str:
    cut = cut or len(data) > limit
    return f'"{escape(data[:limit])}"' + ("..." if cut else "")


def cstring(t, addr: int, limit: int = STRSIZE) -> str:
    """A NUL-terminated string at addr, cut after `limit` bytes."""
    if addr == 0:
        return "NULL"
    try:
        return quote(t.read_cstr(addr, limit + 1), limit)
    except (OSError, SysError) as e:
        if e.errno != errno.ENAMETOOLONG:
            return _ptr(addr)
    try:
        return quote(t.read(addr, limit), limit, cut=True)
    except (OSError, SysError):
        return _ptr(addr)


def buffer(t, addr: int, size: int, limit: int = STRSIZE) -> str:
    if addr == 0:
        return "NULL"
    try:
        return quote(t.read(addr, min(size, limit)), limit, cut=size > limit)
    except (OSError, SysError):
        return _ptr(addr)


def pointers(t, addr: int, limit: int):
    """The pointers of a NULL-terminated array, at most `limit` (and
    whether there were more)."""
    out: list[int] = []
    while len(out) < limit:
        p = int.from_bytes(t.read(addr + 8 * len(out), 8), "little")
        if p == 0:
            return out, False
        out.append(p)
    return out, int.from_bytes(t.read(addr + 8 * limit, 8), "little") != 0


def argv(ctx: Ctx, addr: int, _i: int) -> str:
    if addr == 0:
        return "NULL"
    items, more = pointers(ctx.t, addr, STRSIZE)
    shown = [cstring(ctx.t, p) for p in items] + (["..."] if more else [])
    return "[" + ", ".join(shown) + "]"


def envp(ctx: Ctx, addr: int, _i: int) -> str:
    if addr == 0:
        return "NULL"
    items, more = pointers(ctx.t, addr, ENV_MAX)
    return f"{addr:#x} /* {len(items)}{'+' if more else ''} vars */"


def buf_next(ctx: Ctx, addr: int, i: int) -> str:
    """A buffer whose length is the next argument (write, sethostname)."""
    return buffer(ctx.t, addr, ctx.values[i + 1] if i + 1 < len(ctx.values) else STRSIZE)


def open_mode(ctx: Ctx, value: int, _i: int) -> str | None:
    fl = ctx.value("flags") or 0
    return mode(value & 0xFFFFFFFF) if fl & O_CREAT or fl & O_TMPFILE == O_TMPFILE else None


def dev(ctx: Ctx, value: int, _i: int) -> str | None:
    """mknod's device: only for a character or block device, as strace."""
    if (ctx.value("mode") or 0) & S_IFMT not in (0o20000, 0o60000):
        return None
    return _makedev(value)


def _makedev(d: int) -> str:
    return f"makedev({_hex(os.major(d))}, {_hex(os.minor(d))})"


def fcntl_arg(ctx: Ctx, value: int, _i: int) -> str | None:
    cmd = FCNTL_CMDS.get(ctx.value("cmd") or 0)
    if cmd in ("F_GETFD", "F_GETFL", "F_GETOWN", "F_GETSIG", "F_GETLEASE", "F_GETPIPE_SZ", "F_GET_SEALS"):
        return None
    if cmd == "F_SETFD":
        return flags(FLAGS["fd_cloexec"], value & 0xFFFFFFFF)
    if cmd == "F_SETFL":
        return flags(FLAGS["status_flags"], value & 0xFFFFFFFF)
    if cmd in ("F_GETLK", "F_SETLK", "F_SETLKW", "F_OFD_GETLK", "F_OFD_SETLK", "F_OFD_SETLKW"):
        return _ptr(value)
    return str(_s32(value))


def clone_flags(value: int) -> str:
    sig = value & 0xFF
    parts = [flags(FLAGS["clone_bits"], value & ~0xFF)] if value & ~0xFF else []
    if sig:
        parts.append(ENUMS["signal"].get(sig, str(sig)))
    return "|".join(parts) or "0"


def clone_args(ctx: Ctx, addr: int, _i: int) -> str:
    """struct clone_args: flags first, then the fields that are set."""
    raw = ctx.t.read(addr, 64)
    f = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 64, 8)]
    names = ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls")
    shown = [f"flags={flags(FLAGS['clone_bits'], f[0]) if f[0] else 0}"]
    for n, v in zip(names[1:], f[1:]):
        if v:
            shown.append(f"{n}={ENUMS['signal'].get(v, v) if n == 'exit_signal' else hex(v)}")
    return "{" + ", ".join(shown) + "}"


def futex_op(_ctx: Ctx, value: int, _i: int) -> str:
    op = value & 0xFFFFFFFF
    text = FUTEX_OPS.get(op & 0x7F, str(op & 0x7F)) + ("_PRIVATE" if op & 0x80 else "")
    return text + ("|FUTEX_CLOCK_REALTIME" if op & 0x100 else "") + (f"|{op & ~0x1FF:#x}" if op & ~0x1FF else "")


def out_buf(t, addr: int, result: int) -> str:
    return buffer(t, addr, result)


def stat(t, addr: int, _result: int) -> str:
    """struct stat (x86_64): st_mode at 24, st_rdev at 40, st_size at 48."""
    raw = t.read(addr, 56)
    m = int.from_bytes(raw[24:28], "little")
    if m & S_IFMT in (0o20000, 0o60000):
        return f"{{st_mode={mode(m)}, st_rdev={_makedev(int.from_bytes(raw[40:48], 'little'))}, ...}}"
    return f"{{st_mode={mode(m)}, st_size={int.from_bytes(raw[48:56], 'little', signed=True)}, ...}}"


def statx(t, addr: int, _result: int) -> str:
    """struct statx: stx_mask at 0, stx_mode at 28, stx_size at 40."""
    raw = t.read(addr, 48)
    mask = int.from_bytes(raw[0:4], "little")
    m = int.from_bytes(raw[28:30], "little")
    return (f"{{stx_mask={flags(FLAGS['statx_mask'], mask)}, stx_mode={mode(m)}, "
            f"stx_size={int.from_bytes(raw[40:48], 'little')}, ...}}")


def utsname(t, addr: int, _result: int) -> str:
    """struct new_utsname: six 65-byte fields; strace shows the first two."""
    raw = t.read(addr, 130)
    sysname, nodename = (raw[i:i + 65].split(b"\0")[0] for i in (0, 65))
    return f"{{sysname={quote(sysname)}, nodename={quote(nodename)}, ...}}"


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _s64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >> 63 else v


def _hex(v: int) -> str:
    return hex(v) if v else "0"      # C's %#x


def _ptr(v: int) -> str:
    return "NULL" if v == 0 else hex(v)


DECODERS = {
    "path": lambda ctx, v, _i: cstring(ctx.t, v, PATH_MAX),
    "string": lambda ctx, v, _i: cstring(ctx.t, v),
    "argv": argv, "envp": envp, "buf_next": buf_next,
    "open_mode": open_mode, "dev": dev, "fcntl_arg": fcntl_arg, "clone_args": clone_args, "futex_op": futex_op,
    "clone_flags": lambda _ctx, v, _i: clone_flags(v),
    "mode": lambda _ctx, v, _i: mode(v & 0xFFFFFFFF),
    "dirfd": lambda _ctx, v, _i: "AT_FDCWD" if _s32(v) == AT_FDCWD else str(_s32(v)),
    "fd": lambda _ctx, v, _i: str(_s32(v)),
    "int": lambda _ctx, v, _i: str(_s32(v)),
    "long": lambda _ctx, v, _i: str(_s64(v)),
    "uint": lambda _ctx, v, _i: str(v & 0xFFFFFFFF),
    "id": lambda _ctx, v, _i: "-1" if v & 0xFFFFFFFF == 0xFFFFFFFF else str(v & 0xFFFFFFFF),
    "ulong": lambda _ctx, v, _i: str(v),
    "hex": lambda _ctx, v, _i: _hex(v),
    "ptr": lambda _ctx, v, _i: _ptr(v),
}
LATE = {"out_buf": out_buf, "stat": stat, "statx": statx, "utsname": utsname}
