"""The x86_64 syscall table: one Row per syscall number that exists on Linux 6.18.

This table is the single source of truth for what the sandbox does with each
syscall.  The seccomp filter, the C dispatch array, `pysandbox syscalls` and
docs/syscalls.md are all generated from it; nothing else decides policy.
It is laid out like gVisor's pkg/sentry/syscalls/linux/linux64.go: one literal
line per syscall, sorted by number, so a person can read it top to bottom.

Actions (see model.py):

  P  PASSTHROUGH  allowed in BPF; the host kernel runs it, confined by the
                  sandbox's namespaces, dropped capabilities and rlimits.
  E  EMULATE      the filter notifies the sentry, whose handler answers.
  F  EMULATE under --strict-fs, PASSTHROUGH in the default fs mode: a path
                  call (see model.Row.fs_mode and docs/fs-modes.md).
  O  OBSERVE      the filter notifies the sentry, which traces the call and
                  replies CONTINUE; the kernel boundary (e.g. the mount
                  namespace) is what confines it.
  D  DENY         refused in BPF with a fixed errno; the host never sees it.

A row may also carry ArgRules: flag checks on register arguments, done in
BPF before the action (used to refuse namespace flags to clone/unshare).

Numbers missing from the table -- 337..423, which x86_64 never assigned, and
anything above 469 -- are not listed here: the filter's default action
answers them with ENOSYS, exactly what an older kernel would say.
"""
from __future__ import annotations

import errno

from sentry.abi.linux import AT_EMPTY_PATH, CLONE_NEWTIME, CLONE_NS_ALL, FIFREEZE, FITHAW, O_PATH, TIOCLINUX, TIOCSTI
from sentry.handlers import attrs, dirs, fileopen, identity, inotify, signals, stat, sysinfo, times, uts, xattr
from sentry.sandbox import synthesized
from sentry.syscalls.model import Action, ArgRule, D, E, F, O, P, Row, ValueRule

# Namespace flags (include/uapi/linux/sched.h).  Creating namespaces inside
# the sandbox is refused in BPF: the flag word is a register, so no TOCTOU.
NS_FLAGS = CLONE_NS_ALL
# For clone(2) the low byte of arg 0 is the exit signal, so CLONE_NEWTIME's
# bit is not a flag there (and is never set by a valid signal, which is <= 64).
CLONE_NS_FLAGS = NS_FLAGS & ~CLONE_NEWTIME

NO_NEW_NS = (ArgRule(0, NS_FLAGS, errno.EPERM),)
# fstat() is newfstatat(fd, "", AT_EMPTY_PATH): nothing to resolve, so BPF
# lets calls with that flag (a register) run natively.
FSTAT_NATIVE_3 = (ArgRule(3, AT_EMPTY_PATH, allow=True),)
FSTAT_NATIVE_2 = (ArgRule(2, AT_EMPTY_PATH, allow=True),)
# SECCOMP_IOCTL_NOTIF_ADDFD cannot hand over an O_PATH file (the kernel's
# fget() skips them), and an O_PATH fd gives no access to contents: such
# opens (a flag in a register) run natively in the sandbox mount ns.
O_PATH_NATIVE_1 = (ArgRule(1, O_PATH, allow=True),)
O_PATH_NATIVE_2 = (ArgRule(2, O_PATH, allow=True),)
FSE = "done by the sentry in the sandbox view"
# mknod: devices refused on the register values; the rest CONTINUEs (the caller's
# umask, chroot and Landlock domain apply).
MKNOD = "devices refused (not the 0:0 whiteout); the rest runs natively"
NO_NEW_NS_CLONE = (ArgRule(0, CLONE_NS_FLAGS, errno.EPERM),)

# A container in the host's pid namespace (OCI: no pid entry; CRI: pid
# NODE) can name every host process.  What takes ptrace access to another
# process is refused then too, as ptrace itself always is: pidfd_getfd
# would copy the fds of any dumpable host process with the caller's uid.
# Signals, scheduling and rlimits of other processes stay the kernel's to
# check (uid, the container's capabilities), as under runc, except that
# the sandbox's own keepers (the sentry, its watcher) are not targets: the
# kill family is notified and handlers/signals.py refuses those, and
# pidfd_send_signal, whose target is an fd that could be swapped after a
# check, is refused outright (ENOSYS, so callers fall back to kill(2)).
HOST_PID_DENIED = {"pidfd_getfd": errno.EPERM, "pidfd_send_signal": errno.ENOSYS}
HOST_PID_GUARDED = {"kill": signals.kill, "tkill": signals.first_id, "tgkill": signals.tgkill,
                    "rt_sigqueueinfo": signals.first_id, "rt_tgsigqueueinfo": signals.tgkill}

# Notes shared by many rows (each < 70 chars).
FD = "fd I/O"
FDT = "fd table"
POLL = "fd readiness"
PATH = "path resolved by the host kernel inside the sandbox mount ns"
FMETA = "metadata via an fd"
MEM = "memory mapping"
NET = "sockets: confined by the sandbox network namespace"
IPC = "SysV IPC: confined by the sandbox IPC namespace"
MQ = "POSIX mqueues: confined by the sandbox IPC namespace"
SIG = "signals"
KILL = "signals: the pid ns limits targets (host pid: sentry's refused)"
PROC = "processes"
PIDNS = "ids as seen in the sandbox pid namespace"
ID = "identity: confined by dropped capabilities"
SCHED = "scheduling"
CLOCK = "clocks (read)"
TIMER = "timers"
FUTEX = "futexes"
AIO = "Linux AIO on fds"
EPOLL = "epoll"
XATTR = "extended attributes via an fd"
RLIM = "resource limits"
NUMA = "NUMA placement: EPERM as in Docker's default profile"
NUMA_OK = "NUMA policy of the caller"
SETCLOCK = "the host clock is not the sandbox's to set"
MOUNT = "the mount table is fixed when the sandbox starts"
MODULE = "kernel modules"
KEXEC = "loads a new host kernel"
KEYS = "kernel keyrings are not namespaced"
URING = "io_uring: its operations bypass seccomp"
HANDLE = "file handles bypass the mount namespace"
XPROC = "cross-process memory access"
EXEC = "the mount ns confines the path; identity re-read, then CONTINUE"
# Calls that change the caller's identity or root: the kernel runs them, the
# sentry forgets what it cached of the caller (sentry/handlers/identity.py).
IDC = "identity: dropped caps confine it; the sentry re-reads it"
CREDS = "creds_change"
# A synthesized /proc file (a FUSE file of size 0) cannot be spliced: the
# page cache thinks it empty.  EINVAL sends the caller to read(2), as for
# any file without splice support (sentry/sandbox/synthesized.py).
SPLICE = "fd I/O; EINVAL from a synthesized /proc file (callers then read)"
NI = "never implemented; ENOSYS as on Linux"
GONE = "removed from Linux; ENOSYS as on Linux"
# Landlock under --strict-fs: EOPNOTSUPP, as a kernel with Landlock disabled says;
# the sentry makes the path calls there, and the caller's domain would not bind them.
LANDLOCK = "Landlock; --strict-fs: EOPNOTSUPP (disabled)"

ROWS: tuple[Row, ...] = (
    # -- 0..334: the original x86_64 table -------------------------------
    P(0, "read", FD),
    P(1, "write", FD),
    F(2, "open", fileopen.open, FSE + "; O_PATH runs natively", fast="open", arg_rules=O_PATH_NATIVE_1),
    P(3, "close", FDT),
    F(4, "stat", stat.stat, FSE, fast="stat"),
    P(5, "fstat", FMETA),
    F(6, "lstat", stat.lstat, FSE, fast="lstat"),
    P(7, "poll", POLL),
    P(8, "lseek", FD),
    P(9, "mmap", MEM),
    P(10, "mprotect", MEM),
    P(11, "munmap", MEM),
    P(12, "brk", "memory: heap"),
    P(13, "rt_sigaction", SIG),
    P(14, "rt_sigprocmask", SIG),
    P(15, "rt_sigreturn", SIG),
    P(16, "ioctl", "fd control; TIOCSTI, TIOCLINUX, FIFREEZE, FITHAW refused",
      arg_rules=(ValueRule(1, (TIOCSTI, TIOCLINUX, FIFREEZE, FITHAW), errno.EPERM),)),
    P(17, "pread64", FD),
    P(18, "pwrite64", FD),
    P(19, "readv", FD),
    P(20, "writev", FD),
    F(21, "access", stat.access, FSE),
    P(22, "pipe", "pipes"),
    P(23, "select", POLL),
    P(24, "sched_yield", SCHED),
    P(25, "mremap", MEM),
    P(26, "msync", MEM),
    P(27, "mincore", MEM),
    P(28, "madvise", MEM),
    P(29, "shmget", IPC),
    P(30, "shmat", IPC),
    P(31, "shmctl", IPC),
    P(32, "dup", FDT),
    P(33, "dup2", FDT),
    P(34, "pause", SIG),
    P(35, "nanosleep", TIMER),
    P(36, "getitimer", TIMER),
    P(37, "alarm", TIMER),
    P(38, "setitimer", TIMER),
    P(39, "getpid", PIDNS),
    O(40, "sendfile", SPLICE, synthesized.source_check, fast="synth_source", fs_mode="default"),
    P(41, "socket", NET),
    P(42, "connect", NET),
    P(43, "accept", NET),
    P(44, "sendto", NET),
    P(45, "recvfrom", NET),
    P(46, "sendmsg", NET),
    P(47, "recvmsg", NET),
    P(48, "shutdown", NET),
    P(49, "bind", NET),
    P(50, "listen", NET),
    P(51, "getsockname", NET),
    P(52, "getpeername", NET),
    P(53, "socketpair", NET),
    P(54, "setsockopt", NET),
    P(55, "getsockopt", NET),
    P(56, "clone", "flags are a register: new namespaces refused in BPF",
      arg_rules=NO_NEW_NS_CLONE),
    P(57, "fork", PROC),
    P(58, "vfork", PROC),
    O(59, "execve", EXEC, identity.exec_, fast="exec"),
    P(60, "exit", PROC),
    P(61, "wait4", PROC),
    P(62, "kill", KILL),
    E(63, "uname", uts.uname, "sandbox hostname and configurable release",
      fast="uname"),
    P(64, "semget", IPC),
    P(65, "semop", IPC),
    P(66, "semctl", IPC),
    P(67, "shmdt", IPC),
    P(68, "msgget", IPC),
    P(69, "msgsnd", IPC),
    P(70, "msgrcv", IPC),
    P(71, "msgctl", IPC),
    P(72, "fcntl", "fd control"),
    P(73, "flock", "fd locks"),
    P(74, "fsync", FD),
    P(75, "fdatasync", FD),
    F(76, "truncate", attrs.truncate, FSE),
    P(77, "ftruncate", FD),
    P(78, "getdents", "directory reads via an fd"),
    P(79, "getcwd", "path as seen in the sandbox mount namespace"),
    O(80, "chdir", "the mount namespace confines the path; traced, then CONTINUE", fs_mode="strict"),
    P(81, "fchdir", "cwd via an fd"),
    F(82, "rename", dirs.rename, FSE),
    F(83, "mkdir", dirs.mkdir, FSE),
    F(84, "rmdir", dirs.rmdir, FSE),
    F(85, "creat", fileopen.creat, FSE),
    F(86, "link", dirs.link, FSE),
    F(87, "unlink", dirs.unlink, FSE),
    F(88, "symlink", dirs.symlink, FSE),
    F(89, "readlink", stat.readlink, FSE),
    F(90, "chmod", attrs.chmod, FSE),
    P(91, "fchmod", FMETA),
    F(92, "chown", attrs.chown, FSE),
    P(93, "fchown", FMETA),
    F(94, "lchown", attrs.lchown, FSE),
    P(95, "umask", "process file-mode mask"),
    P(96, "gettimeofday", CLOCK),
    P(97, "getrlimit", RLIM),
    P(98, "getrusage", "resource usage"),
    E(99, "sysinfo", sysinfo.sysinfo, "uptime, procs and memory of the sandbox"),
    P(100, "times", "resource usage"),
    D(101, "ptrace", errno.EPERM, "one sandboxed process would control another"),
    P(102, "getuid", ID),
    D(103, "syslog", errno.EPERM, "the host kernel log"),
    P(104, "getgid", ID),
    O(105, "setuid", IDC, identity.changed, fast=CREDS),
    O(106, "setgid", IDC, identity.changed, fast=CREDS),
    P(107, "geteuid", ID),
    P(108, "getegid", ID),
    P(109, "setpgid", PIDNS),
    P(110, "getppid", PIDNS),
    P(111, "getpgrp", PIDNS),
    P(112, "setsid", PIDNS),
    O(113, "setreuid", IDC, identity.changed, fast=CREDS),
    O(114, "setregid", IDC, identity.changed, fast=CREDS),
    P(115, "getgroups", ID),
    O(116, "setgroups", IDC, identity.changed, fast=CREDS),
    O(117, "setresuid", IDC, identity.changed, fast=CREDS),
    P(118, "getresuid", ID),
    O(119, "setresgid", IDC, identity.changed, fast=CREDS),
    P(120, "getresgid", ID),
    P(121, "getpgid", PIDNS),
    O(122, "setfsuid", IDC, identity.changed, fast=CREDS),
    O(123, "setfsgid", IDC, identity.changed, fast=CREDS),
    P(124, "getsid", PIDNS),
    P(125, "capget", "capabilities: bounded when the sandbox starts"),
    O(126, "capset", "capabilities bounded at start; the sentry re-reads them", identity.changed, fast=CREDS),
    P(127, "rt_sigpending", SIG),
    P(128, "rt_sigtimedwait", SIG),
    P(129, "rt_sigqueueinfo", KILL),
    P(130, "rt_sigsuspend", SIG),
    P(131, "sigaltstack", SIG),
    F(132, "utime", times.utime, FSE),
    E(133, "mknod", dirs.mknod, MKNOD),
    D(134, "uselib", errno.EPERM, "obsolete a.out library loader"),
    P(135, "personality", "execution domain of the process"),
    P(136, "ustat", "filesystem statistics (obsolete)"),
    F(137, "statfs", stat.statfs, FSE),
    P(138, "fstatfs", FMETA),
    P(139, "sysfs", "filesystem type list (obsolete)"),
    P(140, "getpriority", SCHED),
    P(141, "setpriority", SCHED),
    P(142, "sched_setparam", SCHED),
    P(143, "sched_getparam", SCHED),
    P(144, "sched_setscheduler", SCHED),
    P(145, "sched_getscheduler", SCHED),
    P(146, "sched_get_priority_max", SCHED),
    P(147, "sched_get_priority_min", SCHED),
    P(148, "sched_rr_get_interval", SCHED),
    P(149, "mlock", MEM),
    P(150, "munlock", MEM),
    P(151, "mlockall", MEM),
    P(152, "munlockall", MEM),
    D(153, "vhangup", errno.EPERM, "hangs up the controlling terminal"),
    P(154, "modify_ldt", "per-process LDT"),
    D(155, "pivot_root", errno.EPERM, MOUNT),
    P(156, "_sysctl", "removed in Linux 5.5; the host returns ENOSYS"),
    P(157, "prctl", "process attributes"),
    P(158, "arch_prctl", "FS/GS base and CPU features"),
    D(159, "adjtimex", errno.EPERM, SETCLOCK),
    P(160, "setrlimit", RLIM),
    O(161, "chroot", "the mount ns confines it; the sentry re-reads the root", identity.changed, fast=CREDS),
    P(162, "sync", "flushes filesystems"),
    D(163, "acct", errno.EPERM, "host process accounting"),
    D(164, "settimeofday", errno.EPERM, SETCLOCK),
    D(165, "mount", errno.EPERM, MOUNT),
    D(166, "umount2", errno.EPERM, MOUNT),
    D(167, "swapon", errno.EPERM, "host swap"),
    D(168, "swapoff", errno.EPERM, "host swap"),
    D(169, "reboot", errno.EPERM, "host reboot"),
    E(170, "sethostname", uts.sethostname,
      "changes only the sandbox's view; needs CAP_SYS_ADMIN like Linux"),
    E(171, "setdomainname", uts.setdomainname,
      "changes only the sandbox's view; needs CAP_SYS_ADMIN like Linux"),
    D(172, "iopl", errno.EPERM, "raw I/O port access"),
    D(173, "ioperm", errno.EPERM, "raw I/O port access"),
    D(174, "create_module", errno.EPERM, "obsolete; " + MODULE),
    D(175, "init_module", errno.EPERM, MODULE),
    D(176, "delete_module", errno.EPERM, MODULE),
    D(177, "get_kernel_syms", errno.ENOSYS, GONE),
    D(178, "query_module", errno.ENOSYS, GONE),
    D(179, "quotactl", errno.EPERM, "quotas of host filesystems"),
    D(180, "nfsservctl", errno.EPERM, "removed kernel NFS server interface"),
    D(181, "getpmsg", errno.ENOSYS, NI),
    D(182, "putpmsg", errno.ENOSYS, NI),
    D(183, "afs_syscall", errno.ENOSYS, NI),
    D(184, "tuxcall", errno.ENOSYS, NI),
    D(185, "security", errno.ENOSYS, NI),
    P(186, "gettid", PIDNS),
    P(187, "readahead", FD),
    F(188, "setxattr", xattr.setxattr, FSE),
    F(189, "lsetxattr", xattr.lsetxattr, FSE),
    P(190, "fsetxattr", XATTR),
    F(191, "getxattr", xattr.getxattr, FSE),
    F(192, "lgetxattr", xattr.lgetxattr, FSE),
    P(193, "fgetxattr", XATTR),
    F(194, "listxattr", xattr.listxattr, FSE),
    F(195, "llistxattr", xattr.llistxattr, FSE),
    P(196, "flistxattr", XATTR),
    F(197, "removexattr", xattr.removexattr, FSE),
    F(198, "lremovexattr", xattr.lremovexattr, FSE),
    P(199, "fremovexattr", XATTR),
    P(200, "tkill", KILL),
    P(201, "time", CLOCK),
    P(202, "futex", FUTEX),
    P(203, "sched_setaffinity", SCHED),
    P(204, "sched_getaffinity", SCHED),
    P(205, "set_thread_area", "legacy GDT TLS entries"),
    P(206, "io_setup", AIO),
    P(207, "io_destroy", AIO),
    P(208, "io_getevents", AIO),
    P(209, "io_submit", AIO),
    P(210, "io_cancel", AIO),
    P(211, "get_thread_area", "legacy GDT TLS entries"),
    D(212, "lookup_dcookie", errno.EPERM, "oprofile interface (removed in Linux 6.6)"),
    P(213, "epoll_create", EPOLL),
    D(214, "epoll_ctl_old", errno.ENOSYS, NI),
    D(215, "epoll_wait_old", errno.ENOSYS, NI),
    P(216, "remap_file_pages", MEM),
    P(217, "getdents64", "directory reads via an fd"),
    P(218, "set_tid_address", "threads"),
    P(219, "restart_syscall", SIG),
    P(220, "semtimedop", IPC),
    P(221, "fadvise64", FD),
    P(222, "timer_create", TIMER),
    P(223, "timer_settime", TIMER),
    P(224, "timer_gettime", TIMER),
    P(225, "timer_getoverrun", TIMER),
    P(226, "timer_delete", TIMER),
    D(227, "clock_settime", errno.EPERM, SETCLOCK),
    P(228, "clock_gettime", CLOCK),
    P(229, "clock_getres", CLOCK),
    P(230, "clock_nanosleep", TIMER),
    P(231, "exit_group", PROC),
    P(232, "epoll_wait", EPOLL),
    P(233, "epoll_ctl", EPOLL),
    P(234, "tgkill", KILL),
    F(235, "utimes", times.utimes, FSE),
    D(236, "vserver", errno.ENOSYS, NI),
    D(237, "mbind", errno.EPERM, NUMA),
    P(238, "set_mempolicy", NUMA_OK),
    P(239, "get_mempolicy", NUMA_OK),
    P(240, "mq_open", MQ),
    P(241, "mq_unlink", MQ),
    P(242, "mq_timedsend", MQ),
    P(243, "mq_timedreceive", MQ),
    P(244, "mq_notify", MQ),
    P(245, "mq_getsetattr", MQ),
    D(246, "kexec_load", errno.EPERM, KEXEC),
    P(247, "waitid", PROC),
    D(248, "add_key", errno.EPERM, KEYS),
    D(249, "request_key", errno.EPERM, KEYS),
    D(250, "keyctl", errno.EPERM, KEYS),
    P(251, "ioprio_set", SCHED),
    P(252, "ioprio_get", SCHED),
    P(253, "inotify_init", "inotify"),
    F(254, "inotify_add_watch", inotify.inotify_add_watch, FSE),
    P(255, "inotify_rm_watch", "inotify"),
    D(256, "migrate_pages", errno.EPERM, NUMA),
    F(257, "openat", fileopen.openat, FSE + "; O_PATH runs natively", fast="openat", arg_rules=O_PATH_NATIVE_2),
    F(258, "mkdirat", dirs.mkdirat, FSE),
    E(259, "mknodat", dirs.mknodat, MKNOD),
    F(260, "fchownat", attrs.fchownat, FSE),
    F(261, "futimesat", times.futimesat, FSE),
    F(262, "newfstatat", stat.newfstatat, FSE + "; fstat runs natively",
      arg_rules=FSTAT_NATIVE_3, fast="newfstatat"),
    F(263, "unlinkat", dirs.unlinkat, FSE),
    F(264, "renameat", dirs.renameat, FSE),
    F(265, "linkat", dirs.linkat, FSE),
    F(266, "symlinkat", dirs.symlinkat, FSE),
    F(267, "readlinkat", stat.readlinkat, FSE),
    F(268, "fchmodat", attrs.fchmodat, FSE),
    F(269, "faccessat", stat.faccessat, FSE),
    P(270, "pselect6", POLL),
    P(271, "ppoll", POLL),
    P(272, "unshare", "creating namespaces inside the sandbox is refused in BPF",
      arg_rules=NO_NEW_NS),
    P(273, "set_robust_list", FUTEX),
    P(274, "get_robust_list", FUTEX),
    O(275, "splice", SPLICE, synthesized.source_check, fast="synth_source", fs_mode="default"),
    P(276, "tee", FD),
    P(277, "sync_file_range", FD),
    P(278, "vmsplice", FD),
    D(279, "move_pages", errno.EPERM, NUMA),
    F(280, "utimensat", times.utimensat, FSE),
    P(281, "epoll_pwait", EPOLL),
    P(282, "signalfd", SIG),
    P(283, "timerfd_create", TIMER),
    P(284, "eventfd", "event fds"),
    P(285, "fallocate", FD),
    P(286, "timerfd_settime", TIMER),
    P(287, "timerfd_gettime", TIMER),
    P(288, "accept4", NET),
    P(289, "signalfd4", SIG),
    P(290, "eventfd2", "event fds"),
    P(291, "epoll_create1", EPOLL),
    P(292, "dup3", FDT),
    P(293, "pipe2", "pipes"),
    P(294, "inotify_init1", "inotify"),
    P(295, "preadv", FD),
    P(296, "pwritev", FD),
    P(297, "rt_tgsigqueueinfo", KILL),
    D(298, "perf_event_open", errno.EPERM, "host performance counters"),
    P(299, "recvmmsg", NET),
    D(300, "fanotify_init", errno.EPERM, "filesystem-wide monitoring"),
    D(301, "fanotify_mark", errno.EPERM, "filesystem-wide monitoring"),
    P(302, "prlimit64", RLIM),
    D(303, "name_to_handle_at", errno.EPERM, HANDLE),
    D(304, "open_by_handle_at", errno.EPERM, HANDLE),
    D(305, "clock_adjtime", errno.EPERM, SETCLOCK),
    P(306, "syncfs", FD),
    P(307, "sendmmsg", NET),
    D(308, "setns", errno.EPERM, "entering other namespaces"),
    P(309, "getcpu", SCHED),
    D(310, "process_vm_readv", errno.EPERM, XPROC),
    D(311, "process_vm_writev", errno.EPERM, XPROC),
    D(312, "kcmp", errno.EPERM, "compares kernel objects of other processes"),
    D(313, "finit_module", errno.EPERM, MODULE),
    P(314, "sched_setattr", SCHED),
    P(315, "sched_getattr", SCHED),
    F(316, "renameat2", dirs.renameat2, FSE),
    P(317, "seccomp", "stacks more filters; they can only restrict further"),
    P(318, "getrandom", "randomness"),
    P(319, "memfd_create", "anonymous memory files"),
    D(320, "kexec_file_load", errno.EPERM, KEXEC),
    D(321, "bpf", errno.EPERM, "eBPF: a large kernel attack surface"),
    O(322, "execveat", EXEC, identity.exec_, fast="exec"),
    D(323, "userfaultfd", errno.EPERM, "stalls kernel page faults (exploit aid)"),
    P(324, "membarrier", "memory barriers"),
    P(325, "mlock2", MEM),
    O(326, "copy_file_range", SPLICE, synthesized.source_check, fast="synth_source", fs_mode="default"),
    P(327, "preadv2", FD),
    P(328, "pwritev2", FD),
    P(329, "pkey_mprotect", "memory protection keys"),
    P(330, "pkey_alloc", "memory protection keys"),
    P(331, "pkey_free", "memory protection keys"),
    F(332, "statx", stat.statx, FSE + "; fstat runs natively",
      arg_rules=FSTAT_NATIVE_2, fast="statx"),
    P(333, "io_pgetevents", AIO),
    P(334, "rseq", "restartable sequences"),

    # uretprobe/uprobe (6.11/6.16): the kernel runs them before seccomp, so
    # no filter sees them; they only work from a uprobe trampoline.
    P(335, "uretprobe", "exempt from seccomp by the kernel; uprobe trampolines only"),
    P(336, "uprobe", "exempt from seccomp by the kernel; uprobe trampolines only"),

    # -- 337..423: never assigned on x86_64 (ENOSYS by default action) ---

    # -- 424..: numbers shared by all architectures since Linux 5.1 ------
    P(424, "pidfd_send_signal", KILL),
    D(425, "io_uring_setup", errno.EPERM, URING),
    D(426, "io_uring_enter", errno.EPERM, URING),
    D(427, "io_uring_register", errno.EPERM, URING),
    D(428, "open_tree", errno.EPERM, MOUNT),
    D(429, "move_mount", errno.EPERM, MOUNT),
    D(430, "fsopen", errno.EPERM, MOUNT),
    D(431, "fsconfig", errno.EPERM, MOUNT),
    D(432, "fsmount", errno.EPERM, MOUNT),
    D(433, "fspick", errno.EPERM, MOUNT),
    P(434, "pidfd_open", KILL),
    # clone3's flags live in memory where BPF cannot check them; glibc falls
    # back to clone(2), whose flags BPF checks (as Docker's profile does).
    D(435, "clone3", errno.ENOSYS, "flags in memory, unseen by BPF; glibc falls back"),
    P(436, "close_range", FDT),
    P(437, "openat2", PATH),
    P(438, "pidfd_getfd", "copies an fd; kernel checks ptrace access; EPERM with host pid"),
    F(439, "faccessat2", stat.faccessat2, FSE),
    P(440, "process_madvise", "memory advice for a pidfd's process"),
    P(441, "epoll_pwait2", EPOLL),
    D(442, "mount_setattr", errno.EPERM, MOUNT),
    D(443, "quotactl_fd", errno.EPERM, "quotas of host filesystems"),
    D(444, "landlock_create_ruleset", errno.EOPNOTSUPP, LANDLOCK, fs_mode="strict"),
    D(445, "landlock_add_rule", errno.EOPNOTSUPP, LANDLOCK, fs_mode="strict"),
    D(446, "landlock_restrict_self", errno.EOPNOTSUPP, LANDLOCK, fs_mode="strict"),
    P(447, "memfd_secret", "secret memory areas"),
    P(448, "process_mrelease", "reaps a killed process's memory"),
    P(449, "futex_waitv", FUTEX),
    P(450, "set_mempolicy_home_node", NUMA_OK),
    P(451, "cachestat", "page cache statistics via an fd"),
    F(452, "fchmodat2", attrs.fchmodat2, FSE),
    P(453, "map_shadow_stack", "CET shadow stack"),
    P(454, "futex_wake", FUTEX),
    P(455, "futex_wait", FUTEX),
    P(456, "futex_requeue", FUTEX),
    D(457, "statmount", errno.EPERM, MOUNT),
    D(458, "listmount", errno.EPERM, MOUNT),
    P(459, "lsm_get_self_attr", "LSM attributes of the caller"),
    D(460, "lsm_set_self_attr", errno.EPERM, "LSM attributes"),
    P(461, "lsm_list_modules", "LSM list"),
    P(462, "mseal", "seals memory mappings"),
    P(463, "setxattrat", PATH),
    P(464, "getxattrat", PATH),
    P(465, "listxattrat", PATH),
    P(466, "removexattrat", PATH),
    D(467, "open_tree_attr", errno.EPERM, MOUNT),
    P(468, "file_getattr", PATH),
    P(469, "file_setattr", PATH),
)

LAST_NR = 469
# Every syscall number x86_64 has on Linux 6.18; the rest get ENOSYS.
KNOWN_NRS = frozenset(range(0, 337)) | frozenset(range(424, LAST_NR + 1))


def validate(rows) -> None:
    """Raise ValueError if `rows` is not a well-formed table."""
    problems = []
    seen_nr, seen_name = set(), set()
    prev = -1
    for row in rows:
        if row.nr in seen_nr:
            problems.append(f"duplicate number {row.nr}")
        if row.name in seen_name:
            problems.append(f"duplicate name {row.name}")
        if row.nr <= prev:
            problems.append(f"{row.nr} {row.name}: not sorted by number")
        seen_nr.add(row.nr)
        seen_name.add(row.name)
        prev = max(prev, row.nr)
        if row.action is Action.DENY and not row.errno:
            problems.append(f"{row.nr} {row.name}: DENY without errno")
        if row.action is not Action.DENY and row.errno:
            problems.append(f"{row.nr} {row.name}: errno on a non-DENY row")
        if row.action is Action.EMULATE and not callable(row.handler):
            problems.append(f"{row.nr} {row.name}: EMULATE without handler")
        for rule in row.arg_rules:
            if isinstance(rule, ValueRule):
                if not (0 <= rule.arg <= 5 and rule.values and rule.errno and len(row.arg_rules) == 1):
                    problems.append(f"{row.nr} {row.name}: bad ValueRule {rule!r} (one per row, alone)")
            elif not (isinstance(rule, ArgRule) and 0 <= rule.arg <= 5
                      and rule.mask and (rule.errno or rule.allow)):
                problems.append(f"{row.nr} {row.name}: bad ArgRule {rule!r}")
    missing = sorted(KNOWN_NRS - seen_nr)
    extra = sorted(seen_nr - KNOWN_NRS)
    if missing:
        problems.append(f"missing numbers {missing}")
    if extra:
        problems.append(f"numbers that do not exist on x86_64: {extra}")
    if problems:
        raise ValueError("malformed syscall table: " + "; ".join(problems))


validate(ROWS)

BY_NR: dict[int, Row] = {row.nr: row for row in ROWS}
BY_NAME: dict[str, Row] = {row.name: row for row in ROWS}


def rows_with(action: Action, strict_fs: bool | None = None) -> list[Row]:
    """All rows with the given action, in number order: as declared, or, with
    strict_fs given, in that fs mode (model.Row.action_in)."""
    if strict_fs is None:
        return [row for row in ROWS if row.action is action]
    return [row for row in ROWS if row.action_in(strict_fs) is action]
