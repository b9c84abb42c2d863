/* Shared declarations of the pysandbox C hot path.
 *
 * Kernel facts this code relies on (Linux >= 5.14, checked on 6.18):
 * - SECCOMP_IOCTL_NOTIF_RECV needs a zeroed struct seccomp_notif, or it
 *   fails with EINVAL.
 * - RECV also fails with ENOENT when the notification it was woken for was
 *   cancelled (the caller got SIGKILL); that is not the end of the sandbox.
 *   The end is when the filter has no users left: poll() then reports POLLHUP.
 * - SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6) wakes the supervisor on the
 *   tracee's CPU; without it every notification can cost a cross-CPU wakeup
 *   (40-130 us on this VM).  Debian 12's 6.1 headers lack it: defined here.
 * - SECCOMP_ADDFD_FLAG_SEND (5.14) installs an fd in the tracee and completes
 *   the syscall with that fd number in one ioctl.
 */
#ifndef PYSANDBOX_SB_H
#define PYSANDBOX_SB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <utime.h>
#include <linux/seccomp.h>

#include "protocol.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define SB_MAX_NR 512

/* What sb_serve() returns to Python. */
#define SB_STOP_EINTR   1   /* a signal arrived: let Python run its handlers */
#define SB_STOP_GONE    2   /* no task uses the filter any more */
#define SB_STOP_REQUEST 3   /* a handler asked the loop to stop */

/* What a handler (C or Python) returns to the loop. */
#define SB_REPLY    0   /* resp is filled in: send it */
#define SB_DEFERRED 1   /* someone else will answer this id later */
#define SB_DROPPED  2   /* the tracee is gone: nothing to send */
#define SB_STOP     3   /* send resp, then return SB_STOP_REQUEST */
#define SB_FALLBACK 4   /* a C fast path declines: call Python instead */

/* What the Python dispatch returns: a syscall result (>= 0), a negated
 * errno (-4095..-1), or one of these, all below any errno. */
#define SB_PY_CONTINUE (-0x100000000LL)   /* let the kernel run the syscall */
#define SB_PY_DEFERRED (-0x100000001LL)   /* answered elsewhere (worker, ADDFD|SEND) */
#define SB_PY_DROPPED  (-0x100000002LL)   /* the tracee is gone */
#define SB_PY_STOP     (-0x100000003LL)   /* fail the call with ENOSYS and stop the loop */

/* sb_sentry.kind[nr]: 0 calls Python; k > 0 calls the C fast path
 * sb_fast_paths[k - 1] (notify.c), chosen by name from the syscall table
 * (Row.fast) through sb_fast_kind(). */
#define SB_K_PYTHON   0

struct sb_sentry {
    int fd;                       /* the seccomp listener */
    int procfd;                   /* the host's /proc (we stand in the sandbox's mount ns) */
    int cur_pending;              /* ptrace: a signal that arrived during an injection */
    int cur_injected;             /* ptrace: syscalls were injected for this stop */
    int outstanding;              /* ptrace: stops whose handler runs on a worker */
    int completed;                /* ptrace: of those, finished and queued for us */
    uint8_t kind[SB_MAX_NR];      /* per syscall number */
    uint64_t count[SB_MAX_NR];    /* notifications per syscall number */
    uint64_t fast;                /* answered in C */
    uint64_t slow;                /* answered by Python */
    struct utsname uts;           /* what uname(2) returns in the sandbox */
    /* A path a fast path read before falling back to Python, which then
     * uses this copy instead of reading tracee memory again: path_len >= 0
     * when path[] holds the string read at path_addr. */
    uint64_t path_addr;
    long path_len;
    char path[4096];
    /* creds.c: what of a tracee's effective capabilities the sentry may
     * take when acting as it (all, or less under a user namespace). */
    uint64_t cap_limit;
    uint64_t synth_dev;           /* st_dev of the synthesized /proc files (0: none) */
};

struct sb_spawn {
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int sock;          /* SOCK_SEQPACKET to the sentry: listener fd, or "E" text */
    int status_fd;     /* init writes the workload's wait status here */
    int tty;           /* pty slave to make the controlling terminal, or -1 */
    void *filter;      /* scmp_filter_ctx built by the sentry */
    uint64_t caps;     /* capabilities kept (bounding, permitted, effective) */
    uint32_t uid, gid;
    int ptrace;        /* be seized by the sentry before loading the filter */
    void *user_filter; /* the OCI profile's filter, stacked after ours, or NULL */
    const uint32_t *groups;  /* supplementary gids (OCI additionalGids) */
    int ngroups;
    int new_userns;          /* make a user namespace (the sentry writes its maps) */
    uint32_t host_uid, host_gid;  /* with new_userns: the host ids it is created by (its owner) */
    int userns_fd;           /* >= 0: join this user namespace instead (an OCI exec) */
    int no_new_privs;        /* set PR_SET_NO_NEW_PRIVS (else: filters loaded before the drop) */
};

/* notify.c */
int sb_serve(struct sb_sentry *s);
long sb_mem_read(int pid, uint64_t addr, void *buf, size_t len);
long sb_mem_write(int pid, uint64_t addr, const void *buf, size_t len);
long sb_mem_read_cstr(int pid, uint64_t addr, char *buf, size_t max);
long sb_mem_write_checked(int fd, uint64_t id, int pid, uint64_t addr, const void *buf, size_t len);
int sb_respond_result(int fd, uint64_t id, int64_t result);
int sb_id_valid(int fd, uint64_t id);
int sb_addfd_send(int fd, uint64_t id, int srcfd, uint32_t newfd_flags);
int sb_addfd(int fd, uint64_t id, int srcfd, uint32_t newfd_flags);
int sb_set_sync_wakeup(int fd);
int sb_dispatch_one(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);
int sb_install_fd(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                  int fd, int cloexec);

/* ptrace.c */
int sb_ptrace_seize(int pid);
long sb_ptrace_inject_fd(struct sb_sentry *s, int pid, int fd, int cloexec);
int sb_ptrace_serve(struct sb_sentry *s, int init_pid, int *init_status);
void sb_ptrace_complete(struct sb_sentry *s, int pid, int64_t result);
int sb_encode_result(int64_t r, struct seccomp_notif_resp *resp);
/* Defined by cffi (extern "Python+C"): the Python side of the dispatch.
 * Scalars, not the struct: converting ints is cheaper for Python than
 * walking cdata fields.  Returns a result as encoded above. */
int64_t sb_py_dispatch(uint64_t id, uint32_t pid, int nr, uint64_t a0, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                       uint64_t path_addr, const char *path, long path_len);

/* fastpath.c, fsfast.c: the C fast paths, registered by name in notify.c */
typedef int (*sb_fast_fn)(struct sb_sentry *, struct seccomp_notif *, struct seccomp_notif_resp *);
int sb_fast_kind(const char *name);
int sb_fast_uname(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);
int sb_fast_openat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);
int sb_fast_open(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);
int sb_fast_newfstatat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);
int sb_fast_stat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);
int sb_fast_lstat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);
int sb_fast_statx(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp);

/* filter.c */
#define SB_A_ALLOW  0
#define SB_A_NOTIFY 1
#define SB_A_ERRNO  2
#define SB_A_KILL   3
#define SB_A_TRACE  4
#define SB_A_TRAP   5
#define SB_A_LOG    6
#define SB_A_KILL_THREAD 7
void *sb_filter_new(int default_errno);
void sb_filter_free(void *ctx);
int sb_filter_add(void *ctx, int nr, int action, int err);
int sb_filter_add_flags(void *ctx, int nr, int action, int err, unsigned arg,
                        uint64_t mask, int bit_action, int bit_err);
void *sb_filter_new_profile(int default_action, int default_errno);
int sb_filter_rule(void *ctx, int nr, int action, int err, unsigned n,
                   const unsigned *arg, const int *op, const uint64_t *a, const uint64_t *b);
int sb_syscall_number(const char *name);

/* creds.c: acting as the calling thread */
int sb_act_as(struct sb_sentry *s, int tid);
void sb_act_reset(void);
void sb_tctx_forget(int tid);
void sb_tctx_forget_all(void);
int sb_ptrace_cap(int on);
int sb_proc_open(int procfd, const char *rel, int flags);
long sb_proc_readlink(int procfd, const char *rel, char *buf, size_t size);
int sb_enter_root(int rootfd);

/* spawn.c */
int sb_init_run(const struct sb_spawn *sp);
int sb_pid1_exec(const struct sb_spawn *sp);
int sb_holder_run(int pid, int status_fd);
int sb_become(uint32_t uid, uint32_t gid, uint64_t effective);
int sb_unbecome(void);

/* sysdeps.c */
int sb_unshare(int flags);
int sb_setns(int fd, int nstype);
int sb_ns_holder(int flags, int *release_fd);
int sb_mount(const char *src, const char *target, const char *fstype,
             unsigned long flags, const char *data);
int sb_umount(const char *target, int flags);
int sb_pivot_root(const char *new_root, const char *put_old);
int sb_mount_setattr_ro(const char *path);
int sb_mount_setattr(const char *path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                     uint64_t propagation);
int sb_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
size_t sb_cmdline_area(uintptr_t *start);
void sb_hide_cmdline(const char *name);
int sb_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
int sb_fstatat_raw(int dirfd, const char *path, void *statbuf, int flags);
int sb_statx_raw(int dirfd, const char *path, int flags, unsigned mask, void *statxbuf);
int sb_faccessat2(int dirfd, const char *path, int mode, int flags);
long sb_fstatfs_type(int fd);
/* sysdeps.c, for the path handlers (sentry/handlers/) */
int sb_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags);
int sb_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
int sb_fchmodat2(int dirfd, const char *path, unsigned mode, int flags);
int sb_fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags);
int sb_utimensat(int dirfd, const char *path, const void *times, int flags);
int sb_statfs_at(int dirfd, const char *path, void *buf);
int sb_pidfd_getfd(int pidfd, int fd);
int sb_truncate_at(int dirfd, const char *path, int64_t length);
int sb_inotify_add_watch_at(int ifd, int dirfd, const char *path, uint32_t mask);
void sb_xattrat(int on);
int sb_getxattr_at(int dirfd, const char *path, int at_flags, const char *name, void *value, size_t size);
int sb_setxattr_at(int dirfd, const char *path, int at_flags, const char *name,
                   const void *value, size_t size, int flags);
int sb_listxattr_at(int dirfd, const char *path, int at_flags, char *list, size_t size);
int sb_removexattr_at(int dirfd, const char *path, int at_flags, const char *name);

#endif
