"""The one module that imports the compiled C extension (csrc/ -> sentry._native).

Everything else calls the typed functions and classes here; no other module
sees cffi's `ffi` or `lib`.  Conventions:
- Calls the sentry makes for itself raise OSError (`check`, in one place).
- Raw calls a handler makes on a tracee's behalf (the path calls at the end)
  return the kernel's result or -errno, as the C side does: the handler
  decides which errno is the tracee's answer.
- C structs that cross into Python are small classes with named fields
  (Sentry, Stat, Statx, Statfs).  Their bytes() is what a tracee gets, byte
  for byte as the kernel wrote it; no caller slices bytes at offsets.
- Paths and names are bytes (cffi passes them as `const char *`).
"""
from __future__ import annotations

import errno as _errno
import os
import sys
from collections.abc import Callable

from sentry._native import ffi, lib
from sentry.abi.linux import AT_RECURSIVE, O_CLOEXEC
from sentry.errors import TaskGone


def check(ret: int, what: str = "") -> int:
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret), what or None)
    return ret


# -- tracee memory and the seccomp listener (csrc/notify.c) ------------------

def mem_read(pid: int, addr: int, size: int) -> bytes:
    """Exactly `size` bytes of tracee memory; OSError(EFAULT) otherwise."""
    buf = ffi.new("char[]", size)
    if lib.sb_mem_read(pid, addr, buf, size) != size:
        raise OSError(_errno.EFAULT, "bad address")
    return ffi.buffer(buf, size)[:]


def mem_read_cstr(pid: int, addr: int, max_len: int = 4096) -> bytes:
    """A NUL-terminated string (without the NUL).  OSError(EFAULT), or
    OSError(ENAMETOOLONG) when no NUL is found within max_len bytes."""
    buf = ffi.new("char[]", max_len)
    n = check(lib.sb_mem_read_cstr(pid, addr, buf, max_len))
    return ffi.buffer(buf, n)[:]


def mem_write(pid: int, addr: int, data: bytes) -> int:
    """Bytes written, or -errno (ptrace: the tracee is held in its stop)."""
    return lib.sb_mem_write(pid, addr, data, len(data))


def mem_write_checked(listener: int, id: int, pid: int, addr: int, data: bytes) -> int:
    """ID_VALID, then write: bytes written, -ESRCH if the notification is
    gone, else -errno."""
    return lib.sb_mem_write_checked(listener, id, pid, addr, data, len(data))


def id_valid(listener: int, id: int) -> bool:
    return bool(lib.sb_id_valid(listener, id))


def addfd_send(listener: int, id: int, fd: int, cloexec: bool) -> int:
    """Install fd in the tracee and complete its syscall with the new
    number (ADDFD|SEND): that number, or -errno."""
    return lib.sb_addfd_send(listener, id, fd, O_CLOEXEC if cloexec else 0)


def addfd(listener: int, id: int, fd: int, cloexec: bool) -> int:
    """Install fd in the tracee without completing its syscall (ADDFD):
    the tracee's new fd number, or -errno; the caller replies later."""
    return lib.sb_addfd(listener, id, fd, O_CLOEXEC if cloexec else 0)


def respond(listener: int, id: int, result: int) -> int:
    """Send an encoded result (see DispatchResult) for a notification
    answered off the loop; 0 or -errno."""
    return lib.sb_respond_result(listener, id, result)


def set_sync_wakeup(listener: int) -> int:
    return lib.sb_set_sync_wakeup(listener)


# -- the dispatch loop (csrc/notify.c, csrc/ptrace.c) --------------------------

MAX_NR = lib.SB_MAX_NR
# What a serve call returns.
STOP_EINTR, STOP_GONE, STOP_REQUEST = lib.SB_STOP_EINTR, lib.SB_STOP_GONE, lib.SB_STOP_REQUEST
# What the Python dispatch returns besides a result >= 0 or a negated errno.
PY_CONTINUE, PY_DEFERRED = lib.SB_PY_CONTINUE, lib.SB_PY_DEFERRED
PY_DROPPED, PY_STOP = lib.SB_PY_DROPPED, lib.SB_PY_STOP
# sb_sentry.kind[nr]: K_PYTHON calls Python; fast_kind(name) a C fast path.
K_PYTHON = lib.SB_K_PYTHON


def fast_kind(name: str) -> int:
    """The kind of the C fast path called name (a syscall table row's
    `fast`, or "continue"); ValueError if csrc/notify.c has none."""
    kind = lib.sb_fast_kind(name.encode())
    if kind < 0:
        raise ValueError(f"no C fast path called {name!r} (csrc/notify.c fast_paths)")
    return kind
# csrc/protocol.h: the start-up protocol's tags (sentry/sandbox/protocol.py)
MESSAGE_TAGS = {name: getattr(lib, f"SB_MSG_{name}")
                for name in ("READY", "GO", "TTY", "SEIZE", "SEIZED", "LISTENER", "ERROR", "USERNS", "MAPPED")}
UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
UTS_LEN = 64                                   # __NEW_UTS_LEN; each field has room for a NUL


class Sentry:
    """struct sb_sentry: what the C loop serves with (csrc/sb.h)."""
    __slots__ = ("_c",)

    def __init__(self):
        self._c = ffi.new("struct sb_sentry *")
        self._c.fd = -1
        self._c.procfd = -1
        self._c.cap_limit = (1 << 64) - 1

    listener = property(lambda self: self._c.fd, lambda self, v: setattr(self._c, "fd", v))
    procfd = property(lambda self: self._c.procfd, lambda self, v: setattr(self._c, "procfd", v))
    outstanding = property(lambda self: self._c.outstanding, lambda self, v: setattr(self._c, "outstanding", v))
    completed = property(lambda self: self._c.completed, lambda self, v: setattr(self._c, "completed", v))
    cap_limit = property(lambda self: self._c.cap_limit, lambda self, v: setattr(self._c, "cap_limit", v))
    synth_dev = property(lambda self: self._c.synth_dev, lambda self, v: setattr(self._c, "synth_dev", v))
    fast = property(lambda self: self._c.fast)
    slow = property(lambda self: self._c.slow)

    def set_kind(self, nr: int, kind: int) -> None:
        self._c.kind[nr] = kind

    def counts(self) -> dict[int, int]:
        """Notifications per syscall number, those seen at least once."""
        return {nr: self._c.count[nr] for nr in range(MAX_NR) if self._c.count[nr]}

    def uts(self, name: str) -> bytes:
        return ffi.string(getattr(self._c.uts, name))

    def set_uts(self, name: str, value: bytes) -> None:
        """Store value NUL-padded to the field's 65 bytes, as the kernel does."""
        if len(value) > UTS_LEN:
            raise ValueError(f"uts {name}: longer than {UTS_LEN} bytes")
        ffi.memmove(getattr(self._c.uts, name), value.ljust(UTS_LEN + 1, b"\0"), UTS_LEN + 1)

    def uts_bytes(self) -> bytes:
        """struct utsname, as uname(2) writes it."""
        return ffi.buffer(ffi.addressof(self._c.uts))[:]


_dispatch: Callable | None = None


def set_dispatch(fn: Callable) -> None:
    """fn(id, pid, nr, args, prefetched) -> encoded result: what the C loop
    calls for every notification it does not answer itself.  prefetched is
    None, or (addr, bytes): a path a C fast path already read from the
    tracee before falling back (read once; see Task.read_cstr)."""
    global _dispatch
    _dispatch = fn


def _dispatch_failed(exc_type, exc, tb):
    import traceback  # only on this fatal path: ~1 ms off every start-up
    sys.stderr.write("pysandbox: sentry dispatch failed:\n")
    traceback.print_exception(exc_type, exc, tb)
    return lib.SB_PY_STOP


@ffi.def_extern(onerror=_dispatch_failed)
def sb_py_dispatch(id, pid, nr, a0, a1, a2, a3, a4, a5, path_addr, path, path_len):
    prefetched = None if path_len < 0 else (path_addr, ffi.unpack(path, path_len))
    return _dispatch(id, pid, nr, (a0, a1, a2, a3, a4, a5), prefetched)


def serve_notify(sentry: Sentry) -> int:
    """Serve the listener until a signal, the end, or a stop: STOP_* or -errno."""
    return lib.sb_serve(sentry._c)


# -- acting as the calling thread (csrc/creds.c) -----------------------------

def act_as(sentry: Sentry, tid: int) -> bool:
    """Make this thread act as tracee tid for file access (its current
    fsuid, fsgid, groups, effective capabilities).  True if the tracee
    chrooted.  TaskGone if it is gone."""
    r = lib.sb_act_as(sentry._c, tid)
    if r == -_errno.ESRCH:
        raise TaskGone()
    return bool(check(r, f"acting as thread {tid}"))


def act_reset() -> None:
    lib.sb_act_reset()


def forget_creds(tid: int) -> None:
    """Thread tid is changing its credentials or root (an observed call)."""
    lib.sb_tctx_forget(tid)


def forget_all_creds() -> None:
    """An exec: credentials and tids may change."""
    lib.sb_tctx_forget_all()


def proc_open(procfd: int, rel: str, flags: int) -> int:
    """openat(procfd, rel), with CAP_SYS_PTRACE if a tracee's entry needs it."""
    fd = lib.sb_proc_open(procfd, rel.encode(), flags)
    if fd < 0:
        raise OSError(-fd, os.strerror(-fd), rel)
    return fd


def proc_readlink(procfd: int, rel: str) -> str:
    buf = ffi.new("char[]", 4096)
    n = lib.sb_proc_readlink(procfd, rel.encode(), buf, 4096)
    if n < 0:
        raise OSError(-n, os.strerror(-n), rel)
    return os.fsdecode(ffi.buffer(buf, n)[:])


def enter_root(rootfd: int) -> None:
    """Make this thread's root and cwd the directory rootfd (the thread
    has unshared CLONE_FS): to resolve as a chrooted tracee would."""
    check(lib.sb_enter_root(rootfd), "chroot")


def ptrace_seize(pid: int) -> None:
    check(lib.sb_ptrace_seize(pid), f"PTRACE_SEIZE {pid}")


def ptrace_serve(sentry: Sentry, init_pid: int) -> tuple[int, int]:
    """Serve seccomp stops: (STOP_* or -errno, init's wait status once it exited)."""
    status = ffi.new("int *")
    rc = lib.sb_ptrace_serve(sentry._c, init_pid, status)
    return rc, status[0]


def ptrace_complete(sentry: Sentry, pid: int, result: int) -> None:
    lib.sb_ptrace_complete(sentry._c, pid, result)


def ptrace_inject_fd(sentry: Sentry, pid: int, fd: int, cloexec: bool) -> int:
    """Make the stopped tracee receive fd: its new number, or -errno."""
    return lib.sb_ptrace_inject_fd(sentry._c, pid, fd, int(cloexec))


# -- seccomp filters (csrc/filter.c, libseccomp) -------------------------------

A_ALLOW, A_NOTIFY, A_ERRNO, A_KILL = lib.SB_A_ALLOW, lib.SB_A_NOTIFY, lib.SB_A_ERRNO, lib.SB_A_KILL
A_TRACE, A_TRAP, A_LOG, A_KILL_THREAD = lib.SB_A_TRACE, lib.SB_A_TRAP, lib.SB_A_LOG, lib.SB_A_KILL_THREAD


class FilterCtx:
    """An owned scmp_filter_ctx; close() frees it (idempotent)."""
    __slots__ = ("_ctx",)

    def __init__(self, ctx):
        if ctx == ffi.NULL:
            raise OSError(_errno.ENOMEM, "seccomp_init failed")
        self._ctx = ctx

    def close(self) -> None:
        if self._ctx != ffi.NULL:
            lib.sb_filter_free(self._ctx)
            self._ctx = ffi.NULL

    def add(self, nr: int, action: int, err: int = 0) -> int:
        return lib.sb_filter_add(self._ctx, nr, action, err)

    def add_flags(self, nr: int, action: int, err: int, arg: int, mask: int, bit_action: int, bit_err: int) -> int:
        """action, except when (args[arg] & mask) != 0: bit_action instead."""
        return lib.sb_filter_add_flags(self._ctx, nr, action, err, arg, mask, bit_action, bit_err)

    def rule(self, nr: int, action: int, err: int, conds: list[tuple[int, int, int, int]]) -> int:
        """An OCI-profile rule: action when every (arg, op, a, b) holds."""
        n = len(conds)
        return lib.sb_filter_rule(self._ctx, nr, action, err, n,
                                  ffi.new("unsigned[]", [c[0] for c in conds] or [0]),
                                  ffi.new("int[]", [c[1] for c in conds] or [0]),
                                  ffi.new("uint64_t[]", [c[2] for c in conds] or [0]),
                                  ffi.new("uint64_t[]", [c[3] for c in conds] or [0]))


def filter_new(default_errno: int) -> FilterCtx:
    """The sentry's filter: x86_64 only, others (and x32) killed."""
    return FilterCtx(lib.sb_filter_new(default_errno))


def filter_new_profile(default_action: int, default_errno: int) -> FilterCtx:
    """An OCI profile's filter, loaded after ours."""
    return FilterCtx(lib.sb_filter_new_profile(default_action, default_errno))


def syscall_number(name: str) -> int:
    """libseccomp's number for a syscall name on x86_64, or a negative value."""
    return lib.sb_syscall_number(name.encode())


# -- starting the workload (csrc/spawn.c) ----------------------------------------

def init_run(**fields) -> None:
    """Become the sandbox's reaping init: fork the workload (which loads
    the filter and execs) and exit with it.  Returns only by raising OSError
    if the fork failed.  See struct sb_spawn for the fields (_spawn)."""
    sp, _keep = _spawn(**fields)
    check(lib.sb_init_run(sp), "fork")


def pid1_exec(**fields) -> None:
    """An OCI container's pid 1 becomes its workload (no fork): never
    returns.  The fields as for init_run."""
    sp, _keep = _spawn(**fields)
    lib.sb_pid1_exec(sp)


def holder_run(pid: int, status_fd: int) -> None:
    """Hold a container's pid 1 (our child `pid`) until it exits, then
    write its wait status to status_fd and exit: never returns."""
    lib.sb_holder_run(pid, status_fd)


def _spawn(*, argv: list[str], env: list[str], cwd: str, sock: int, status_fd: int, tty: int,
           filter: FilterCtx, caps: int, uid: int, gid: int, ptrace: bool, user_filter: FilterCtx | None,
           groups: list[int], new_userns: bool, host_uid: int, host_gid: int,
           userns_fd: int, no_new_privs: bool):
    """A struct sb_spawn and the cdata it points to (keep both alive)."""
    keep = []

    def cstr(s: str):
        c = ffi.new("char[]", s.encode())
        keep.append(c)
        return c

    def cstrings(items):
        arr = [cstr(s) for s in items]
        out = ffi.new("char *[]", arr + [ffi.NULL])
        keep.append(out)
        return out

    sp = ffi.new("struct sb_spawn *")
    sp.argv, sp.envp, sp.cwd = cstrings(argv), cstrings(env), cstr(cwd)
    sp.sock, sp.status_fd, sp.tty = sock, status_fd, tty
    sp.filter = filter._ctx
    sp.user_filter = user_filter._ctx if user_filter is not None else ffi.NULL
    sp.caps, sp.uid, sp.gid, sp.ptrace = caps, uid, gid, int(ptrace)
    if groups:
        g = ffi.new("uint32_t[]", groups)
        keep.append(g)
        sp.groups, sp.ngroups = g, len(groups)
    sp.new_userns, sp.host_uid, sp.host_gid = int(new_userns), host_uid, host_gid
    sp.userns_fd = userns_fd
    sp.no_new_privs = int(no_new_privs)
    return sp, keep


def become(uid: int, gid: int, effective_caps: int) -> None:
    """Take the workload's identity (saved uid 0 and permitted caps kept)."""
    check(lib.sb_become(uid, gid, effective_caps), "taking the workload's identity")


def unbecome() -> None:
    check(lib.sb_unbecome(), "taking root back")


# -- kernel calls missing from Python 3.11's os module (csrc/sysdeps.c) ---------

def unshare(flags: int) -> None:
    check(lib.sb_unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    check(lib.sb_setns(fd, nstype), "setns")


def ns_holder(flags: int) -> tuple[int, int]:
    """A child cloned with `flags` (CLONE_NEW*; a new user namespace owns
    the others), blocked until released: (pid, release_fd).  Write a byte
    to release_fd, close it, then waitpid(pid) (csrc/sysdeps.c)."""
    release = ffi.new("int *")
    pid = check(lib.sb_ns_holder(flags, release), "cloning into new namespaces")
    return pid, release[0]


def mount(src: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    def enc(s):
        return s.encode() if s is not None else ffi.NULL
    check(lib.sb_mount(enc(src), target.encode(), enc(fstype), flags, enc(data)), f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    check(lib.sb_umount(target.encode(), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    check(lib.sb_pivot_root(new_root.encode(), put_old.encode()), "pivot_root")


def make_tree_readonly(path: str) -> None:
    check(lib.sb_mount_setattr_ro(path.encode()), f"read-only {path}")


def mount_setattr(path: str, *, recursive: bool = False, attr_set: int = 0, attr_clr: int = 0,
                  propagation: int = 0) -> None:
    """mount_setattr(2) on the mount at path (its whole tree when recursive):
    MOUNT_ATTR_* bits to set and clear, the others left as they are, and a
    propagation type (MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE; 0: kept)."""
    check(lib.sb_mount_setattr(path.encode(), AT_RECURSIVE if recursive else 0, attr_set, attr_clr,
                               propagation), f"mount_setattr {path}")


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return check(lib.sb_prctl(option, a2, a3, a4, a5), "prctl")


def openat2(dirfd: int, path: str | bytes, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): an fd, or OSError naming the path."""
    p = os.fsencode(path)
    return check(lib.sb_openat2(dirfd, p, flags, mode, resolve), os.fsdecode(p))


def host_sysinfo() -> dict[str, int]:
    """The host's sysinfo(2), amounts in bytes (mem_unit applied)."""
    si = ffi.new("struct sysinfo *")
    check(-_errno.EFAULT if lib.sysinfo(si) < 0 else 0, "sysinfo")
    unit = si.mem_unit or 1
    return {"uptime": si.uptime, "totalram": si.totalram * unit, "freeram": si.freeram * unit,
            "sharedram": si.sharedram * unit, "bufferram": si.bufferram * unit,
            "totalswap": si.totalswap * unit, "freeswap": si.freeswap * unit}


def hide_cmdline(name: str) -> None:
    """Overwrite our own command line (what /proc/PID/cmdline shows) with
    name; a no-op if it does not fit."""
    lib.sb_hide_cmdline(name.encode())


def swap_cmdline(name: str) -> tuple[int, bytes]:
    """hide_cmdline(name), returning what restore_cmdline() puts back."""
    start = ffi.new("uintptr_t *")
    size = lib.sb_cmdline_area(start)
    saved = ffi.buffer(ffi.cast("char *", start[0]), size)[:] if size else b""
    lib.sb_hide_cmdline(name.encode())
    return start[0], saved


def restore_cmdline(swapped: tuple[int, bytes]) -> None:
    start, saved = swapped
    if saved:
        ffi.memmove(ffi.cast("char *", start), saved, len(saved))


# -- path calls a handler makes for a tracee: 0 (or a result) or -errno -----------

class _Struct:
    __slots__ = ("_c",)
    CTYPE = ""

    def __init__(self):
        self._c = ffi.new(self.CTYPE)

    def bytes(self) -> bytes:
        return ffi.buffer(self._c)[:]


class Stat(_Struct):
    """struct stat, as newfstatat(2) fills it."""
    __slots__ = ()
    CTYPE = "struct stat *"
    uid = property(lambda self: self._c.st_uid, lambda self, v: setattr(self._c, "st_uid", v))
    gid = property(lambda self: self._c.st_gid, lambda self, v: setattr(self._c, "st_gid", v))
    size = property(lambda self: self._c.st_size)


class Statx(_Struct):
    """struct statx, as statx(2) fills it."""
    __slots__ = ()
    CTYPE = "struct statx *"
    uid = property(lambda self: self._c.stx_uid, lambda self, v: setattr(self._c, "stx_uid", v))
    gid = property(lambda self: self._c.stx_gid, lambda self, v: setattr(self._c, "stx_gid", v))


class Statfs(_Struct):
    """struct statfs, as statfs(2) fills it."""
    __slots__ = ()
    CTYPE = "struct statfs *"
    type = property(lambda self: self._c.f_type)


def fstatat(dirfd: int, path: bytes, st: Stat, flags: int) -> int:
    return lib.sb_fstatat_raw(dirfd, path, st._c, flags)


def statx(dirfd: int, path: bytes, flags: int, mask: int, sx: Statx) -> int:
    return lib.sb_statx_raw(dirfd, path, flags, mask, sx._c)


def statfs_at(dirfd: int, path: bytes, sf: Statfs) -> int:
    return lib.sb_statfs_at(dirfd, path, sf._c)


def fstatfs_type(fd: int) -> int:
    """f_type of an fd's filesystem (PROC_SUPER_MAGIC, ...), or -errno."""
    return lib.sb_fstatfs_type(fd)


def faccessat2(dirfd: int, path: bytes, mode: int, flags: int) -> int:
    return lib.sb_faccessat2(dirfd, path, mode, flags)


def renameat2(olddirfd: int, old: bytes, newdirfd: int, new: bytes, flags: int) -> int:
    return lib.sb_renameat2(olddirfd, old, newdirfd, new, flags)


def linkat(olddirfd: int, old: bytes, newdirfd: int, new: bytes, flags: int) -> int:
    return lib.sb_linkat(olddirfd, old, newdirfd, new, flags)


def fchmodat2(dirfd: int, path: bytes, mode: int, flags: int) -> int:
    return lib.sb_fchmodat2(dirfd, path, mode, flags)


def fchownat(dirfd: int, path: bytes, uid: int, gid: int, flags: int) -> int:
    return lib.sb_fchownat(dirfd, path, uid, gid, flags)


def timespecs(raw: bytes, n: int = 2) -> list[tuple[int, int]]:
    """n struct timespec, as a tracee passed them: [(tv_sec, tv_nsec)]."""
    ts = ffi.cast("struct timespec *", ffi.from_buffer(raw))
    return [(ts[i].tv_sec, ts[i].tv_nsec) for i in range(n)]


def timevals(raw: bytes, n: int = 2) -> list[tuple[int, int]]:
    """n struct timeval: [(tv_sec, tv_usec)]."""
    tv = ffi.cast("struct timeval *", ffi.from_buffer(raw))
    return [(tv[i].tv_sec, tv[i].tv_usec) for i in range(n)]


TIMESPEC_SIZE = ffi.sizeof("struct timespec")
TIMEVAL_SIZE = ffi.sizeof("struct timeval")
UTIMBUF_SIZE = ffi.sizeof("struct utimbuf")


def utimbuf(raw: bytes) -> tuple[int, int]:
    """struct utimbuf: (actime, modtime)."""
    u = ffi.cast("struct utimbuf *", ffi.from_buffer(raw))
    return u.actime, u.modtime


def utimensat(dirfd: int, path: bytes, times: list[tuple[int, int]] | None, flags: int) -> int:
    """times: None (now) or [(sec, nsec), (sec, nsec)] (UTIME_NOW/OMIT allowed)."""
    buf = ffi.NULL
    if times is not None:
        buf = ffi.new("struct timespec[2]")
        for i, (sec, nsec) in enumerate(times):
            buf[i].tv_sec, buf[i].tv_nsec = sec, nsec
    return lib.sb_utimensat(dirfd, path, buf, flags)


def pidfd_getfd(pidfd: int, fd: int) -> int:
    return lib.sb_pidfd_getfd(pidfd, fd)


def truncate_at(dirfd: int, path: bytes, length: int) -> int:
    return lib.sb_truncate_at(dirfd, path, length)


def inotify_add_watch_at(ifd: int, dirfd: int, path: bytes, mask: int) -> int:
    return lib.sb_inotify_add_watch_at(ifd, dirfd, path, mask)


def use_xattrat(on: bool) -> None:
    """Whether the xattr calls may use getxattrat & co. (tests turn it off)."""
    lib.sb_xattrat(int(on))


def getxattr_at(dirfd: int, path: bytes, flags: int, name: bytes, buf: bytearray | None) -> int:
    """The value's size; with buf, the value is copied into it."""
    if not buf:
        return lib.sb_getxattr_at(dirfd, path, flags, name, ffi.NULL, 0)
    return lib.sb_getxattr_at(dirfd, path, flags, name, ffi.from_buffer(buf), len(buf))


def setxattr_at(dirfd: int, path: bytes, flags: int, name: bytes, value: bytes, xflags: int) -> int:
    return lib.sb_setxattr_at(dirfd, path, flags, name, value, len(value), xflags)


def listxattr_at(dirfd: int, path: bytes, flags: int, buf: bytearray | None) -> int:
    if not buf:
        return lib.sb_listxattr_at(dirfd, path, flags, ffi.NULL, 0)
    return lib.sb_listxattr_at(dirfd, path, flags, ffi.from_buffer(buf), len(buf))


def removexattr_at(dirfd: int, path: bytes, flags: int, name: bytes) -> int:
    return lib.sb_removexattr_at(dirfd, path, flags, name)
