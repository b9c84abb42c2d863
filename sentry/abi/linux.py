"""Linux kernel constants for x86_64, defined once (as gVisor's pkg/abi/linux).

Every value is the kernel's own, from the uapi header named above its group
(include/uapi/...), checked against Linux 6.18.  Python's os module has some
of them, but not all, and not on every version; the sentry uses these.

One encoding each: flag words are the unsigned bit values the kernel tests;
AT_FDCWD is the int the syscall takes (-100).  A raw register holds the
low 32 bits of an int argument, so compare `reg & 0xFFFFFFFF` with
`AT_FDCWD & 0xFFFFFFFF` (vfs.resolve.int32 converts the other way).
"""
from __future__ import annotations

# -- linux/sched.h: namespace flags of clone(2), unshare(2), setns(2) ----------
CLONE_NEWTIME = 0x00000080      # unshare/clone3 only; in clone(2) the low byte is the exit signal
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NS_ALL = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC
                | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)
# The /proc/PID/ns/NAME file of each namespace kind, and its setns flag.
NS_FLAG = {"mnt": CLONE_NEWNS, "cgroup": CLONE_NEWCGROUP, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC,
           "user": CLONE_NEWUSER, "pid": CLONE_NEWPID, "net": CLONE_NEWNET, "time": CLONE_NEWTIME}

# -- linux/fcntl.h, asm-generic/fcntl.h: open(2) flags and *at() flags --------
O_ACCMODE = 0o3
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
O_SYNC = 0o4010000
O_PATH = 0o10000000
O_TMPFILE = 0o20200000          # includes O_DIRECTORY

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EACCESS = 0x200              # faccessat2 only: the same bit as AT_REMOVEDIR
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

# -- linux/openat2.h ------------------------------------------------------------
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# -- linux/fs.h: renameat2(2), mount(2), umount2(2) -----------------------------
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000

MNT_FORCE = 1
MNT_DETACH = 2

# linux/mount.h: mount_setattr(2)
MOUNT_ATTR_RDONLY = 0x1

# -- linux/stat.h: utimensat(2) --------------------------------------------------
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2

# -- linux/xattr.h, linux/limits.h ---------------------------------------------
XATTR_CREATE = 1
XATTR_REPLACE = 2
XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536
XATTR_LIST_MAX = 65536
PATH_MAX = 4096

# -- linux/inotify.h --------------------------------------------------------------
IN_ALL_BITS = 0xF700EFFF        # every bit inotify_add_watch knows (ALL_INOTIFY_BITS)
IN_DONT_FOLLOW = 0x02000000
IN_MASK_CREATE = 0x10000000
IN_MASK_ADD = 0x20000000

# -- linux/pidfd.h ------------------------------------------------------------------
PIDFD_THREAD = O_EXCL           # Linux 6.9: the thread, not its thread group

# -- linux/magic.h: statfs f_type -------------------------------------------------
PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572

# -- linux/prctl.h ------------------------------------------------------------------
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# -- linux/sockios.h, linux/if.h ----------------------------------------------
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

# -- linux/capability.h: capability numbers, in order (CAP_CHOWN is 0) ----------
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
    "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
    "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
    "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
CAP = {name: number for number, name in enumerate(CAPABILITIES)}
CAP_SYS_ADMIN = CAP["SYS_ADMIN"]

# -- asm-generic/resource.h: getrlimit(2) resources ---------------------------
RLIMITS = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
           "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
           "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
           "RLIMIT_RTPRIO", "RLIMIT_RTTIME")
RLIMIT = {name: number for number, name in enumerate(RLIMITS)}

# -- linux/wait.h ---------------------------------------------------------------------
WALL = 0x40000000               # __WALL: wait for every child, clones included

# -- linux/audit.h ---------------------------------------------------------------------
AUDIT_ARCH_X86_64 = 0xC000003E

# -- Flags --strace names (sentry/syscalls/strace_format.py); nothing decides on them --

# linux/sched.h: the other clone(2) flags
CLONE_VM = 0x100
CLONE_FS = 0x200
CLONE_FILES = 0x400
CLONE_SIGHAND = 0x800
CLONE_PIDFD = 0x1000
CLONE_PTRACE = 0x2000
CLONE_VFORK = 0x4000
CLONE_PARENT = 0x8000
CLONE_THREAD = 0x10000
CLONE_SYSVSEM = 0x40000
CLONE_SETTLS = 0x80000
CLONE_PARENT_SETTID = 0x100000
CLONE_CHILD_CLEARTID = 0x200000
CLONE_DETACHED = 0x400000
CLONE_UNTRACED = 0x800000
CLONE_CHILD_SETTID = 0x1000000
CLONE_IO = 0x80000000
CLONE_CLEAR_SIGHAND = 0x100000000
CLONE_INTO_CGROUP = 0x200000000

# linux/close_range.h, asm-generic/fcntl.h, linux/random.h, linux/net.h
CLOSE_RANGE_UNSHARE = 2
CLOSE_RANGE_CLOEXEC = 4
FASYNC = 0o20000
FD_CLOEXEC = 1
GRND_NONBLOCK = 1
GRND_RANDOM = 2
GRND_INSECURE = 4
SOCK_NONBLOCK = O_NONBLOCK
SOCK_CLOEXEC = O_CLOEXEC

# unistd.h: access(2) modes
F_OK, X_OK, W_OK, R_OK = 0, 1, 2, 4

# linux/inotify.h: event bits
IN_ACCESS = 0x1
IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_CLOSE_NOWRITE = 0x10
IN_OPEN = 0x20
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_ONLYDIR = 0x01000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_ONESHOT = 0x80000000

# asm-generic/mman-common.h, x86 mman.h
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4
PROT_SEM = 0x8
PROT_GROWSDOWN = 0x01000000
PROT_GROWSUP = 0x02000000
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_32BIT = 0x40
MAP_ABOVE4G = 0x80
MAP_GROWSDOWN = 0x100
MAP_DENYWRITE = 0x800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_SYNC = 0x80000
MAP_FIXED_NOREPLACE = 0x100000
MAP_UNINITIALIZED = 0x4000000

# linux/stat.h: statx(2) masks
STATX_TYPE = 0x1
STATX_MODE = 0x2
STATX_NLINK = 0x4
STATX_UID = 0x8
STATX_GID = 0x10
STATX_ATIME = 0x20
STATX_MTIME = 0x40
STATX_CTIME = 0x80
STATX_INO = 0x100
STATX_SIZE = 0x200
STATX_BLOCKS = 0x400
STATX_BASIC_STATS = 0x7FF
STATX_BTIME = 0x800
STATX_ALL = 0xFFF
STATX_MNT_ID = 0x1000
STATX_DIOALIGN = 0x2000
STATX_MNT_ID_UNIQUE = 0x4000
STATX_SUBVOL = 0x8000
STATX_WRITE_ATOMIC = 0x10000
STATX_DIO_READ_ALIGN = 0x20000

# linux/wait.h
WNOHANG = 1
WUNTRACED = 2
WCONTINUED = 8
WNOTHREAD = 0x20000000          # __WNOTHREAD
WCLONE = 0x80000000             # __WCLONE

# include/uapi/asm-generic/ioctls.h: terminal ioctls that put bytes into a
# terminal's input; TIOCSTI types one, TIOCLINUX (a VT's selection paste)
# a whole selection.
TIOCSTI = 0x5412
TIOCLINUX = 0x541C

# include/uapi/linux/fs.h: freeze and thaw the filesystem of an fd
# (_IOWR('X', 119, int) and 120); with CAP_SYS_ADMIN, any file of a visible
# host filesystem would do.
FIFREEZE = 0xC0045877
FITHAW = 0xC0045878
