"""A read-only FUSE server in pure Python: one flat directory of synthesized
files, spoken to the kernel on /dev/fuse with `struct` (no libfuse).

The sandbox's /proc/meminfo, /proc/cpuinfo... become files of this
filesystem bind-mounted over their paths in the sandbox's mount namespace,
as LXCFS does, so no path syscall has to be intercepted to show them.
A file is a callable(reader_pid) -> bytes, rendered once per open(2);
reads are served from that snapshot (see _read for re-reads at offset 0).

Kernel facts relied upon (fs/fuse/{dev,inode,file,dir,control}.c):
- Every read(2) of /dev/fuse returns exactly one whole request: a
  fuse_in_header, then the opcode's arguments.  The buffer must hold at
  least FUSE_MIN_READ_BUFFER (8 KiB) and header + fuse_write_in + max_write,
  or read(2) fails EINVAL; a request larger than the buffer is not split but
  failed for its caller (EIO, E2BIG for SETXATTR).  The largest requests a
  read-only mount can see are SETXATTR (name <= 255 + value <= 64 KiB) and
  SYMLINK (name + PATH_MAX): READ_BUFFER holds both.
- A reply is one write(2): fuse_out_header (len = the whole message,
  error = -errno or 0, the request's unique) and the result.  A result
  longer than the kernel's buffer for it fails EINVAL; most may be shorter.
- fuse_in_header.pid is pid_nr_ns(task_pid(current), fc->pid_ns): the id of
  the calling *thread*, in the pid namespace of whoever created the
  superblock (the mount(2) caller), 0 if the caller is not visible there.
  Mount from the host pid namespace to get host tids.
- mount(2) returns before INIT is answered: INIT is queued in the
  background and every other request waits (killably) for its reply, so
  the mounting thread may serve afterwards, but any access to the mount
  before serving starts blocks.  A failed INIT (error, wrong major) leaves
  the connection refusing everything with ECONNREFUSED.
- Writing a reply for a unique the kernel no longer waits for (the
  connection was aborted, the request ended) fails ENOENT: dropped here.
- INTERRUPT (unique | 1) is queued when a caller waiting for a request the
  server has read gets a signal; the caller goes on waiting (killably) for
  the reply, and the reply withdraws the INTERRUPT if it is still queued.
  We answer each request before reading the next, so we never read one in
  practice (the tests check this); were one read, its target has been
  answered.  INTERRUPT gets no reply: ENOSYS would turn interrupts off for
  good, EAGAIN asks for a resend.  FORGET, BATCH_FORGET get no reply.
- FOPEN_DIRECT_IO: reads bypass the page cache and go to the server
  whatever i_size says (through the cache a size of 0 reads as empty, as it
  would for any non-procfs file).  One read(2) is split into READ requests
  of at most max_read (mount option) and max_pages (32 pages by default).
- FOPEN_NOFLUSH (7.35): close(2) sends no FLUSH.  RELEASE is sent in the
  background: close(2) does not wait for it.  ENOSYS to FLUSH, STATX,
  LSEEK, POLL... is remembered per connection and the kernel falls back.
- default_permissions: the kernel checks mode bits and never sends ACCESS.
  A superblock mounted MS_RDONLY refuses writes, truncation, creation and
  xattr changes with EROFS before they reach the server; bind mounts of its
  files share the superblock.  Root passes the 0444 mode bits on a
  read-write mount, so the server refuses writes itself too.
- Unmount (MNT_DETACH: once no open file or bind mount is left) ends
  the connection: device reads fail ENODEV.  Writing to
  /sys/fs/fuse/connections/N/abort (N = minor of st_dev) aborts it, and
  device reads fail ECONNABORTED since FUSE_ABORT_ERROR is negotiated.
- FUSE_REQUEST_TIMEOUT (7.43, Linux 6.14): with init_out.request_timeout
  = N the kernel ends the connection (device reads: ENODEV) once a request
  has waited N s.  It looks every 15 s: on 6.18 a reader stuck on a
  server with N = 2 failed after 15.3 s.
- Regular files get FUSE_IOCTL requests (isatty()'s TCGETS from every
  Python open()); ENOSYS reaches the caller as ENOTTY.

How it fails closed, and what readers see if the server dies:
- Content comes only from the callbacks.  A callback that raises or returns
  something other than bytes gives the opener EIO, never the host's file.
- When the last reference to the /dev/fuse file goes (the sentry exits or
  dies: the fd is O_CLOEXEC and must never be inherited, since any copy
  keeps the connection alive), the kernel aborts the connection: requests in
  flight end with ECONNABORTED and every later request on the mount or a
  bind of it (open, read of an already open fd, readdir, lookup of a name
  not cached) with ENOTCONN; stat of a cached entry still answers from the
  cache (TTL).  The procfs file underneath is never exposed.  serve()
  closes the fd when it returns for any reason, an exception included,
  with the same effect.
- A server that is alive but stops answering leaves readers blocked
  (killable only) until the connection is aborted: request_timeout makes
  the kernel do that.  The serving thread must never touch the mount
  itself: it would wait for itself.
"""
from __future__ import annotations

import errno
import os
import re
import struct
import time
from collections import Counter, namedtuple
from collections.abc import Callable, Mapping

from sentry import native
from sentry.record import field, record

TYPE_CHECKING = False      # typing is not loaded at run time: ~3 ms of a start (sentry/record.py)
if TYPE_CHECKING:
    from typing import Any

FileFn = Callable[[int], bytes]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8

# Protocol 7.x: the layouts below are those of 7.43.  Every one has been
# the same size since 7.23 (fuse_init_out grew to 64 bytes there), so we
# talk to any kernel from 7.23 on, announcing the smaller minor.
KERNEL_VERSION, KERNEL_MINOR_VERSION, MIN_MINOR = 7, 43, 23
ROOT_ID = 1
MAX_WRITE = 4096            # the kernel's minimum; writes are refused anyway
READ_BUFFER = 128 * 1024 + 4096
TTL = 24 * 3600             # names and attributes never change: cache them
BLKSIZE = 1024              # what procfs reports as st_blksize

S_IFDIR, S_IFREG = 0o040000, 0o100000
DT_DIR, DT_REG = 4, 8


def _record_type(name: str, fields: tuple[str, ...]) -> Any:
    """A namedtuple class named after the C struct (Any: mypy cannot type
    one made from strings)."""
    return namedtuple(name, fields)


class CStruct:
    """A struct of include/uapi/linux/fuse.h as a little-endian struct.Struct.
    `fields` is "name:code ..." in C order; a code ending in "x" is padding
    or reserved space.  The header pads every struct explicitly to 64 bits,
    so there is no implicit padding to model; `size` is sizeof() in C."""

    def __init__(self, name: str, fields: str, size: int):
        pairs = [f.split(":") for f in fields.split()]
        self.name = name
        self.st = struct.Struct("<" + "".join(code for _, code in pairs))
        if self.st.size != size:
            raise AssertionError(f"{name}: {self.st.size} bytes, C says {size}")
        self.names = tuple(n for n, code in pairs if not code.endswith("x"))
        self.offsets = {}
        at = 0
        for n, code in pairs:
            self.offsets[n] = at
            at += struct.calcsize("<" + code)
        self.size = size
        self._tuple: Any = None

    @property
    def tuple(self) -> Any:
        """A namedtuple class named after the C struct, made on first use:
        all 18 at import cost ~1 ms of every `pysandbox run`."""
        if self._tuple is None:
            self._tuple = _record_type(self.name, self.names)
        return self._tuple

    def unpack(self, buf, offset: int = 0):
        """Fields from buf[offset:]; a short buffer (an older kernel's
        smaller struct) reads as zeros past its end."""
        chunk = bytes(buf[offset:offset + self.size])
        if len(chunk) < self.size:
            chunk += bytes(self.size - len(chunk))
        return self.tuple._make(self.st.unpack(chunk))

    def pack(self, **values) -> bytes:
        unknown = set(values) - set(self.names)
        if unknown:
            raise TypeError(f"{self.name} has no field {sorted(unknown)}")
        return self.st.pack(*(values.get(n, 0) for n in self.names))


# struct fuse_in_header { uint32_t len; uint32_t opcode; uint64_t unique;
#     uint64_t nodeid; uint32_t uid; uint32_t gid; uint32_t pid;
#     uint16_t total_extlen; uint16_t padding; };
IN_HEADER = CStruct("fuse_in_header", "len:I opcode:I unique:Q nodeid:Q uid:I gid:I pid:I "
                    "total_extlen:H padding:2x", 40)
# struct fuse_out_header { uint32_t len; int32_t error; uint64_t unique; };
OUT_HEADER = CStruct("fuse_out_header", "len:I error:i unique:Q", 16)
# struct fuse_init_in { uint32_t major; uint32_t minor; uint32_t max_readahead;
#     uint32_t flags; uint32_t flags2; uint32_t unused[11]; };
INIT_IN = CStruct("fuse_init_in", "major:I minor:I max_readahead:I flags:I flags2:I unused:44x", 64)
# struct fuse_init_out { uint32_t major; uint32_t minor; uint32_t max_readahead;
#     uint32_t flags; uint16_t max_background; uint16_t congestion_threshold;
#     uint32_t max_write; uint32_t time_gran; uint16_t max_pages;
#     uint16_t map_alignment; uint32_t flags2; uint32_t max_stack_depth;
#     uint16_t request_timeout; uint16_t unused[11]; };
INIT_OUT = CStruct("fuse_init_out", "major:I minor:I max_readahead:I flags:I max_background:H "
                   "congestion_threshold:H max_write:I time_gran:I max_pages:H map_alignment:H "
                   "flags2:I max_stack_depth:I request_timeout:H unused:22x", 64)
# struct fuse_attr { uint64_t ino; uint64_t size; uint64_t blocks; uint64_t atime;
#     uint64_t mtime; uint64_t ctime; uint32_t atimensec; uint32_t mtimensec;
#     uint32_t ctimensec; uint32_t mode; uint32_t nlink; uint32_t uid;
#     uint32_t gid; uint32_t rdev; uint32_t blksize; uint32_t flags; };
ATTR = CStruct("fuse_attr", "ino:Q size:Q blocks:Q atime:Q mtime:Q ctime:Q atimensec:I "
               "mtimensec:I ctimensec:I mode:I nlink:I uid:I gid:I rdev:I blksize:I flags:I", 88)
# struct fuse_entry_out { uint64_t nodeid; uint64_t generation; uint64_t entry_valid;
#     uint64_t attr_valid; uint32_t entry_valid_nsec; uint32_t attr_valid_nsec;
#     struct fuse_attr attr; };   (the attr is packed after it by _entry)
ENTRY_OUT = CStruct("fuse_entry_out", "nodeid:Q generation:Q entry_valid:Q attr_valid:Q "
                    "entry_valid_nsec:I attr_valid_nsec:I", 40)
# struct fuse_attr_out { uint64_t attr_valid; uint32_t attr_valid_nsec;
#     uint32_t dummy; struct fuse_attr attr; };
ATTR_OUT = CStruct("fuse_attr_out", "attr_valid:Q attr_valid_nsec:I dummy:4x", 16)
# struct fuse_open_in { uint32_t flags; uint32_t open_flags; };
OPEN_IN = CStruct("fuse_open_in", "flags:I open_flags:I", 8)
# struct fuse_open_out { uint64_t fh; uint32_t open_flags; int32_t backing_id; };
OPEN_OUT = CStruct("fuse_open_out", "fh:Q open_flags:I backing_id:i", 16)
# struct fuse_read_in { uint64_t fh; uint64_t offset; uint32_t size;
#     uint32_t read_flags; uint64_t lock_owner; uint32_t flags; uint32_t padding; };
READ_IN = CStruct("fuse_read_in", "fh:Q offset:Q size:I read_flags:I lock_owner:Q flags:I padding:4x", 40)
# struct fuse_release_in { uint64_t fh; uint32_t flags; uint32_t release_flags;
#     uint64_t lock_owner; };
RELEASE_IN = CStruct("fuse_release_in", "fh:Q flags:I release_flags:I lock_owner:Q", 24)
# struct fuse_write_in { uint64_t fh; uint64_t offset; uint32_t size;
#     uint32_t write_flags; uint64_t lock_owner; uint32_t flags; uint32_t padding; };
WRITE_IN = CStruct("fuse_write_in", "fh:Q offset:Q size:I write_flags:I lock_owner:Q flags:I padding:4x", 40)
# struct fuse_access_in { uint32_t mask; uint32_t padding; };
ACCESS_IN = CStruct("fuse_access_in", "mask:I padding:4x", 8)
# struct fuse_getxattr_in { uint32_t size; uint32_t padding; };
GETXATTR_IN = CStruct("fuse_getxattr_in", "size:I padding:4x", 8)
# struct fuse_getxattr_out { uint32_t size; uint32_t padding; };
GETXATTR_OUT = CStruct("fuse_getxattr_out", "size:I padding:4x", 8)
# struct fuse_kstatfs { uint64_t blocks; uint64_t bfree; uint64_t bavail;
#     uint64_t files; uint64_t ffree; uint32_t bsize; uint32_t namelen;
#     uint32_t frsize; uint32_t padding; uint32_t spare[6]; };
KSTATFS = CStruct("fuse_kstatfs", "blocks:Q bfree:Q bavail:Q files:Q ffree:Q bsize:I namelen:I "
                  "frsize:I padding:4x spare:24x", 80)
# struct fuse_dirent { uint64_t ino; uint64_t off; uint32_t namelen;
#     uint32_t type; char name[]; };   (name padded to 8 bytes: FUSE_DIRENT_ALIGN)
DIRENT = CStruct("fuse_dirent", "ino:Q off:Q namelen:I type:I", 24)
# struct fuse_interrupt_in { uint64_t unique; };
INTERRUPT_IN = CStruct("fuse_interrupt_in", "unique:Q", 8)

STRUCTS = (IN_HEADER, OUT_HEADER, INIT_IN, INIT_OUT, ATTR, ENTRY_OUT, ATTR_OUT, OPEN_IN,
           OPEN_OUT, READ_IN, RELEASE_IN, WRITE_IN, ACCESS_IN, GETXATTR_IN, GETXATTR_OUT,
           KSTATFS, DIRENT, INTERRUPT_IN)

# enum fuse_opcode (the ones this server names)
LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK = 1, 2, 3, 4, 5, 6
MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, OPEN, READ, WRITE = 8, 9, 10, 11, 12, 13, 14, 15, 16
STATFS, RELEASE, FSYNC, SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR = 17, 18, 20, 21, 22, 23, 24
FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR, ACCESS, CREATE = 25, 26, 27, 28, 29, 30, 34, 35
INTERRUPT, DESTROY, BATCH_FORGET, FALLOCATE, RENAME2, TMPFILE = 36, 38, 42, 43, 45, 51

# Init flags (bits 32..63 travel in flags2, only with FUSE_INIT_EXT).
FUSE_ABORT_ERROR = 1 << 21          # device reads after an abort fail ECONNABORTED
FUSE_INIT_EXT = 1 << 30             # fuse_init_in/out carry flags2
FUSE_NO_EXPORT_SUPPORT = 1 << 38    # no file handles (name_to_handle_at), as procfs
FUSE_REQUEST_TIMEOUT = 1 << 42      # init_out.request_timeout is honoured
# Open flags
FOPEN_DIRECT_IO, FOPEN_NOFLUSH = 1 << 0, 1 << 5

# Opcodes that change the filesystem: it is read-only.
_WRITES = frozenset({SETATTR, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, WRITE,
                     SETXATTR, REMOVEXATTR, CREATE, FALLOCATE, RENAME2, TMPFILE})


@record
class _Handle:
    """One open file: the snapshot its reads are served from."""
    name: str
    data: bytes
    read_from: bool = False      # has a READ been served from this snapshot


@record
class FuseServer:
    """Serves `files` (name -> callable(reader_pid) -> bytes) on the
    /dev/fuse fd `dev_fd`, which it owns: serve() closes it on return.
    One thread calls serve() (or handle_one()); the callbacks run there."""
    dev_fd: int
    files: Mapping[str, FileFn]
    request_timeout: int = 0          # seconds, 0 = none (the sysctl default)
    mount_time: float = field(default_factory=time.time)
    counts: Counter = field(default_factory=Counter)     # opcode -> requests seen
    errors: int = 0                   # callbacks that failed (the reader got EIO)
    last_error: BaseException | None = None
    proto: tuple[int, int] | None = None     # negotiated (7, minor) after INIT
    kernel_proto: tuple[int, int] | None = None
    flags: int = 0                    # init flags granted
    ended: str | None = None          # "disconnected" | "aborted" | "error" once the connection ended

    def __post_init__(self):
        for name in self.files:
            check_name(name)
        # Inode numbers from the sorted names: the same on every mount.
        self._names = sorted(self.files)
        self._node = {name: ROOT_ID + 1 + i for i, name in enumerate(self._names)}
        self._by_node = {ino: name for name, ino in self._node.items()}
        self._handles: dict[int, _Handle] = {}
        self._next_fh = 1
        self._ops = {
            INIT: self._init, LOOKUP: self._lookup, GETATTR: self._getattr, OPEN: self._open,
            READ: self._read, RELEASE: self._release, FLUSH: self._ok, OPENDIR: self._opendir,
            READDIR: self._readdir, RELEASEDIR: self._ok, STATFS: self._statfs,
            ACCESS: self._access, GETXATTR: self._getxattr, LISTXATTR: self._listxattr,
            DESTROY: self._destroy, FSYNCDIR: self._ok,
        }
        sec, frac = divmod(self.mount_time, 1)
        self._time = dict(atime=int(sec), mtime=int(sec), ctime=int(sec), atimensec=int(frac * 1e9),
                          mtimensec=int(frac * 1e9), ctimensec=int(frac * 1e9))

    # --- the loop -------------------------------------------------------

    def serve(self) -> str:
        """Answer requests until the connection ends; close the fd; return
        why it ended: "disconnected" (ENODEV: unmounted, or ended by the
        kernel's request timeout) or "aborted" (ECONNABORTED).  Any
        other failure closes the fd too (aborting the connection: readers
        get ENOTCONN, never a hang) and is raised."""
        try:
            while self.handle_one():
                pass
        except BaseException:
            self.ended = "error"
            raise
        finally:
            self.close()
        return self.ended or "disconnected"

    def handle_one(self) -> bool:
        """Read one request and answer it (unless it takes no reply).
        False once the connection is gone (self.ended says how)."""
        try:
            buf = os.read(self.dev_fd, READ_BUFFER)
        except OSError as e:
            if e.errno == errno.ENODEV:
                self.ended = "disconnected"
                return False
            if e.errno == errno.ECONNABORTED:
                self.ended = "aborted"
                return False
            if e.errno in (errno.EINTR, errno.EAGAIN, errno.ENOENT):
                return True       # nothing read: ENOENT is an old kernel's "interrupted, retry"
            raise
        h = IN_HEADER.unpack(buf)
        self.counts[h.opcode] += 1
        if h.opcode in (FORGET, BATCH_FORGET, INTERRUPT):
            return True           # no reply, see the header
        body = memoryview(buf)[IN_HEADER.size:h.len]
        op = self._ops.get(h.opcode)
        if self.proto is None and h.opcode != INIT:
            err, out = errno.EIO, b""     # the kernel sends nothing before INIT
        elif h.opcode in _WRITES:
            err, out = errno.EROFS, b""
        elif op is None:
            err, out = errno.ENOSYS, b""
        else:
            err, out = op(h, body)
        self._reply(h.unique, err, out)
        return self.ended is None

    def close(self) -> None:
        if self.dev_fd >= 0:
            os.close(self.dev_fd)
            self.dev_fd = -1

    def open_handles(self) -> int:
        """Files open now (RELEASE arrives after close(2) returns)."""
        return len(self._handles)

    def _reply(self, unique: int, err: int, out: bytes) -> None:
        header = OUT_HEADER.pack(len=OUT_HEADER.size + len(out), error=-err if err else 0, unique=unique)
        try:
            os.writev(self.dev_fd, [header, out] if out else [header])
        except OSError as e:
            # ENOENT: the kernel stopped waiting (aborted connection, ended
            # request); ENODEV: the connection is gone, the next read says so.
            if e.errno not in (errno.ENOENT, errno.ENODEV, errno.ECONNABORTED):
                raise

    # --- opcodes: each returns (errno or 0, reply bytes) ---------------------

    def _init(self, h, body):
        arg = INIT_IN.unpack(body)
        self.kernel_proto = (arg.major, arg.minor)
        if arg.major > KERNEL_VERSION:
            # Ours is older: say which major we speak; the kernel sends a new INIT.
            return 0, INIT_OUT.pack(major=KERNEL_VERSION, minor=KERNEL_MINOR_VERSION)
        if arg.major < KERNEL_VERSION or arg.minor < MIN_MINOR:
            return errno.EPROTO, b""
        offered = arg.flags | (arg.flags2 << 32 if arg.flags & FUSE_INIT_EXT else 0)
        want = FUSE_ABORT_ERROR | FUSE_INIT_EXT | FUSE_NO_EXPORT_SUPPORT
        if self.request_timeout:
            want |= FUSE_REQUEST_TIMEOUT
        self.flags = granted = want & offered
        self.proto = (KERNEL_VERSION, min(arg.minor, KERNEL_MINOR_VERSION))
        return 0, INIT_OUT.pack(
            major=KERNEL_VERSION, minor=self.proto[1],
            max_readahead=0,      # no page cache in use (FOPEN_DIRECT_IO)
            flags=granted & 0xFFFFFFFF, flags2=granted >> 32,
            max_background=0, congestion_threshold=0,   # 0: the kernel's defaults
            max_write=MAX_WRITE, time_gran=1,
            request_timeout=min(self.request_timeout, 0xFFFF) if granted & FUSE_REQUEST_TIMEOUT else 0)

    def _attr(self, ino: int) -> bytes:
        if ino == ROOT_ID:
            mode, nlink = S_IFDIR | 0o555, 2
        else:
            mode, nlink = S_IFREG | 0o444, 1
        # size 0 as procfs: readers read until EOF (and FOPEN_DIRECT_IO
        # makes the kernel ask us whatever the size)
        return ATTR.pack(ino=ino, mode=mode, nlink=nlink, blksize=BLKSIZE, **self._time)

    def _lookup(self, h, body):
        if h.nodeid != ROOT_ID:
            return errno.ENOTDIR, b""
        name = os.fsdecode(bytes(body).split(b"\0", 1)[0])
        ino = self._node.get(name)
        if ino is None:
            return errno.ENOENT, b""
        return 0, ENTRY_OUT.pack(nodeid=ino, entry_valid=TTL, attr_valid=TTL) + self._attr(ino)

    def _getattr(self, h, body):
        if h.nodeid != ROOT_ID and h.nodeid not in self._by_node:
            return errno.ENOENT, b""
        return 0, ATTR_OUT.pack(attr_valid=TTL) + self._attr(h.nodeid)

    def _render(self, name: str, pid: int) -> bytes | None:
        """The callback's bytes, or None (the reader gets EIO) if it fails:
        never anything but what the callback produced."""
        try:
            data = self.files[name](pid)
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"{name}: callback returned {type(data).__name__}, not bytes")
            return bytes(data)
        except Exception as e:     # the reader sees EIO; the caller may inspect it
            self.errors += 1
            self.last_error = e
            return None

    def _open(self, h, body):
        name = self._by_node.get(h.nodeid)
        if name is None:
            return (errno.EISDIR if h.nodeid == ROOT_ID else errno.ENOENT), b""
        if OPEN_IN.unpack(body).flags & os.O_ACCMODE != os.O_RDONLY:
            return errno.EROFS, b""
        data = self._render(name, h.pid)
        if data is None:
            return errno.EIO, b""
        fh, self._next_fh = self._next_fh, self._next_fh + 1
        self._handles[fh] = _Handle(name, data)
        flags = FOPEN_DIRECT_IO | (FOPEN_NOFLUSH if self.proto[1] >= 35 else 0)
        return 0, OPEN_OUT.pack(fh=fh, open_flags=flags)

    def _read(self, h, body):
        arg = READ_IN.unpack(body)
        handle = self._handles.get(arg.fh)
        if handle is None:
            return errno.EBADF, b""
        if arg.offset == 0 and handle.read_from:
            # Read again from the start (lseek(0) + read, pread at 0): render
            # anew, as a procfs seq_file does.  procps (free -s, top, vmstat)
            # keeps /proc/meminfo open and re-reads it like this.  One read(2)
            # split into several requests asks for offset 0 only first, so it
            # is still served from one snapshot.
            data = self._render(handle.name, h.pid)
            if data is None:
                return errno.EIO, b""
            handle.data = data
        handle.read_from = True
        return 0, handle.data[arg.offset:arg.offset + arg.size]

    def _release(self, h, body):
        self._handles.pop(RELEASE_IN.unpack(body).fh, None)
        return 0, b""

    def _ok(self, h, body):
        return 0, b""

    def _opendir(self, h, body):
        if h.nodeid != ROOT_ID:
            return errno.ENOTDIR, b""
        return 0, OPEN_OUT.pack(fh=0)

    def _readdir(self, h, body):
        arg = READ_IN.unpack(body)
        entries = [(".", ROOT_ID, DT_DIR), ("..", ROOT_ID, DT_DIR)]
        entries += [(n, self._node[n], DT_REG) for n in self._names]
        out = bytearray()
        # The offset is an index into entries: each dirent's `off` is where
        # the next read resumes.
        for i in range(arg.offset, len(entries)):
            name, ino, kind = entries[i]
            raw = os.fsencode(name)
            rec = DIRENT.pack(ino=ino, off=i + 1, namelen=len(raw), type=kind) + raw
            rec += bytes(-len(rec) % 8)
            if len(out) + len(rec) > arg.size:
                break
            out += rec
        return 0, bytes(out)

    def _statfs(self, h, body):
        return 0, KSTATFS.pack(files=len(self._names) + 1, bsize=4096, frsize=4096, namelen=255)

    def _access(self, h, body):
        # Sent only without default_permissions; mode bits decide the rest.
        return (errno.EROFS if ACCESS_IN.unpack(body).mask & os.W_OK else 0), b""

    def _getxattr(self, h, body):
        return errno.ENODATA, b""          # no attributes, as on procfs

    def _listxattr(self, h, body):
        if GETXATTR_IN.unpack(body).size == 0:
            return 0, GETXATTR_OUT.pack(size=0)    # the size of an empty list
        return 0, b""

    def _destroy(self, h, body):
        self.ended = "disconnected"   # sent for fuseblk only; the next read fails anyway
        return 0, b""


def check_name(name: str) -> None:
    """A file name the flat directory can hold, or ValueError naming why."""
    raw = os.fsencode(name) if isinstance(name, str) else b""
    if not isinstance(name, str) or not raw or name in (".", "..") or b"/" in raw \
            or b"\0" in raw or len(raw) > 255:
        raise ValueError(f"not a file name for the FUSE directory: {name!r}")


def open_device() -> int:
    """A new FUSE connection's fd: close-on-exec, since any copy left in
    another process would keep the connection alive after the sentry dies."""
    return os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)


def mount_data(dev_fd: int, *, subtype: str = "pysandbox", max_read: int = 0) -> str:
    """The data string of mount(2) for a FUSE filesystem on dev_fd: the
    root a directory (rootmode is octal), owned by root, usable by every uid
    (allow_other) with the kernel checking the mode bits."""
    if not subtype.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"bad FUSE subtype {subtype!r}: letters, digits, - and _ only")
    opts = [f"fd={dev_fd}", "rootmode=40000", "user_id=0", "group_id=0",
            "allow_other", "default_permissions"]
    if max_read:
        opts.append(f"max_read={int(max_read)}")
    opts.append(f"subtype={subtype}")
    return ",".join(opts)


def mount(target: str, dev_fd: int, *, source: str = "pysandbox", subtype: str = "pysandbox",
          max_read: int = 0, readonly: bool = True) -> None:
    """Mount the connection on target (fstype shows as fuse.SUBTYPE).
    Returns before INIT is answered: serve next.  The pid namespace of the
    caller is the one request pids are given in."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (MS_RDONLY if readonly else 0)
    native.mount(source, target, "fuse", flags, mount_data(dev_fd, subtype=subtype, max_read=max_read))


def connection_id(mountpoint: str) -> int:
    """N of /sys/fs/fuse/connections/N for the FUSE mount on mountpoint:
    the minor of its anonymous device, read from mountinfo so that nothing
    is asked of a server that may not answer."""
    want = os.path.abspath(mountpoint)     # no lookup: it could block
    found = None
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split()
            # "id parent major:minor root mountpoint ..." (octal escapes in paths)
            mp = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), fields[4])
            if os.fsdecode(mp) == want:
                found = int(fields[2].split(b":")[1])     # the last mount there is on top
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "no mount", mountpoint)
    return found
