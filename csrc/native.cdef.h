/* What Python sees of csrc/ (cffi cdef).  Only sentry/native.py imports the
 * compiled module. */

struct seccomp_data {
    int nr;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t args[6];
};
struct seccomp_notif {
    uint64_t id;
    uint32_t pid;
    uint32_t flags;
    struct seccomp_data data;
};
struct seccomp_notif_resp {
    uint64_t id;
    int64_t val;
    int32_t error;
    uint32_t flags;
};
/* Kernel structs a handler reads or fills by field; "...;" lets cffi take
 * the layout from the real headers, so nothing here restates an offset. */
typedef int... time_t;
typedef int... suseconds_t;
struct stat { uint32_t st_uid; uint32_t st_gid; int64_t st_size; ...; };
struct statx { uint32_t stx_uid; uint32_t stx_gid; uint64_t stx_size; ...; };
struct statfs { long f_type; ...; };
struct timespec { time_t tv_sec; long tv_nsec; };
struct timeval { time_t tv_sec; suseconds_t tv_usec; };
struct utimbuf { time_t actime; time_t modtime; };

struct sysinfo { long uptime; unsigned long totalram; unsigned long freeram; unsigned long sharedram;
                 unsigned long bufferram; unsigned long totalswap; unsigned long freeswap;
                 unsigned int mem_unit; ...; };
int sysinfo(struct sysinfo *info);

struct utsname {
    char sysname[65];
    char nodename[65];
    char release[65];
    char version[65];
    char machine[65];
    char domainname[65];
};

#define SB_MAX_NR 512
/* protocol.h: the start-up protocol's tags */
#define SB_MSG_READY ...
#define SB_MSG_GO ...
#define SB_MSG_TTY ...
#define SB_MSG_SEIZE ...
#define SB_MSG_SEIZED ...
#define SB_MSG_LISTENER ...
#define SB_MSG_ERROR ...
#define SB_MSG_USERNS ...
#define SB_MSG_MAPPED ...
#define SB_STOP_EINTR 1
#define SB_STOP_GONE 2
#define SB_STOP_REQUEST 3
#define SB_K_PYTHON 0
int sb_fast_kind(const char *name);

struct sb_sentry {
    int fd;
    int procfd;
    int cur_pending;
    int cur_injected;
    int outstanding;
    int completed;
    uint8_t kind[512];
    uint64_t count[512];
    uint64_t fast;
    uint64_t slow;
    struct utsname uts;
    uint64_t path_addr;
    long path_len;
    char path[4096];
    uint64_t cap_limit;
    uint64_t synth_dev;
};

/* notify.c */
int sb_serve(struct sb_sentry *s);
long sb_mem_read(int pid, uint64_t addr, void *buf, size_t len);
long sb_mem_write(int pid, uint64_t addr, const void *buf, size_t len);
long sb_mem_read_cstr(int pid, uint64_t addr, char *buf, size_t max);
int sb_id_valid(int fd, uint64_t id);
int sb_addfd_send(int fd, uint64_t id, int srcfd, uint32_t newfd_flags);
int sb_addfd(int fd, uint64_t id, int srcfd, uint32_t newfd_flags);
int sb_set_sync_wakeup(int fd);
int sb_ptrace_seize(int pid);
long sb_ptrace_inject_fd(struct sb_sentry *s, int pid, int fd, int cloexec);
int sb_ptrace_serve(struct sb_sentry *s, int init_pid, int *init_status);
void sb_ptrace_complete(struct sb_sentry *s, int pid, int64_t result);
long sb_mem_write_checked(int fd, uint64_t id, int pid, uint64_t addr, const void *buf, size_t len);
int sb_respond_result(int fd, uint64_t id, int64_t result);
#define SB_PY_CONTINUE ...
#define SB_PY_DEFERRED ...
#define SB_PY_DROPPED ...
#define SB_PY_STOP ...
extern "Python+C" int64_t sb_py_dispatch(uint64_t id, uint32_t pid, int nr, uint64_t a0, uint64_t a1,
                                         uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                                         uint64_t path_addr, const char *path, long path_len);

/* filter.c */
#define SB_A_ALLOW 0
#define SB_A_NOTIFY 1
#define SB_A_ERRNO 2
#define SB_A_KILL 3
#define SB_A_TRACE 4
#define SB_A_TRAP 5
#define SB_A_LOG 6
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

/* creds.c */
int sb_act_as(struct sb_sentry *s, int tid);
void sb_act_reset(void);
void sb_tctx_forget(int tid);
void sb_tctx_forget_all(void);
int sb_ptrace_cap(int on);
int sb_proc_open(int procfd, const char *rel, int flags);
long sb_proc_readlink(int procfd, const char *rel, char *buf, size_t size);
int sb_enter_root(int rootfd);

/* spawn.c */
struct sb_spawn {
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int sock;
    int status_fd;
    int tty;
    void *filter;
    uint64_t caps;
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
int sb_init_run(const struct sb_spawn *sp);
int sb_pid1_exec(const struct sb_spawn *sp);
int sb_holder_run(int pid, int status_fd);
int sb_become(uint32_t uid, uint32_t gid, uint64_t effective);
int sb_unbecome(void);

/* sysdeps.c: kernel calls Python 3.11's os module lacks */
int sb_unshare(int flags);
int sb_mount(const char *src, const char *target, const char *fstype,
             unsigned long flags, const char *data);
int sb_umount(const char *target, int flags);
int sb_pivot_root(const char *new_root, const char *put_old);
int sb_mount_setattr_ro(const char *path);
int sb_mount_setattr(const char *path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                     uint64_t propagation);
int sb_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
int sb_setns(int fd, int nstype);
int sb_ns_holder(int flags, int *release_fd);
int sb_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
size_t sb_cmdline_area(uintptr_t *start);
void sb_hide_cmdline(const char *name);
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
