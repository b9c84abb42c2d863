/* Acting as the tracee: each emulated call is made with the calling
 * thread's *current* credentials, not the ones the workload started with.
 *
 * Kernel facts relied upon (Linux >= 6.9 for the cache; checked on 6.18):
 * - Credentials are per thread.  The raw setfsuid/setfsgid/setgroups/capset
 *   syscalls change only the calling thread (glibc's setgroups wrapper would
 *   change every thread of the sentry: it is not used here).
 * - The kernel checks file access against fsuid, fsgid, the supplementary
 *   groups and the effective capabilities; so those four are what the
 *   sentry's serving thread takes from the tracee.  Changing fsuid from 0
 *   drops the file capabilities from the effective set (and back to 0
 *   raises them from the permitted set), so capset comes last.
 * - setgroups needs CAP_SETGID and setfsuid CAP_SETUID in the *effective*
 *   set: the permitted set (full: the sentry keeps saved uid 0) is raised
 *   first.
 * - /proc/TID/status (world-readable) has "Uid: r e s fs", "Gid:",
 *   "Groups:" and "CapEff:"; ids as the reader's user namespace (the
 *   host's) sees them.  Reading it costs ~10 us, so it is cached per tid.
 * - A tid can be recycled once its thread is gone.  The cache keeps a pidfd
 *   of the thread (PIDFD_THREAD, 6.9); poll() on it reports POLLIN once that
 *   thread exited (~0.2 us), so a cached tid whose pidfd is readable is a
 *   different thread now and is read again.  Without PIDFD_THREAD nothing is
 *   cached.
 * - A thread's credentials change only through its own syscalls (setuid &
 *   co., capset: observed rows that forget its entry, sb_tctx_forget) or an
 *   exec (observed: every entry is forgotten, as exec by a non-leader
 *   thread even moves tids).  A child inherits its parent's creds, and is
 *   a new tid: read on first use.
 * - A process that is not dumpable (after it changed its ids) or has other
 *   uids than the sentry's real uid can only have its memory read
 *   (process_vm_readv: PTRACE_MODE_ATTACH_REALCREDS) and its /proc/TID/cwd,
 *   root and fd/N opened (PTRACE_MODE_READ_FSCREDS) with CAP_SYS_PTRACE.
 *   The sentry raises it around those accesses only (sb_ptrace_cap) and
 *   never while making a call for the tracee, where it would let the
 *   tracee open /proc/1/mem and the like.
 * - Under a user namespace the tracee's capabilities are its namespace's;
 *   the sentry's would be the host's.  sb_sentry.cap_limit (set by the
 *   sentry from the sandbox's id maps) masks what is taken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sb.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#define CAP_SYS_PTRACE_BIT 19
#define N_SLOTS 1024

struct creds {
    uint32_t fsuid, fsgid;
    uint64_t cap_eff;
    int ngroups;
    uint32_t *groups;
};

struct slot {
    int tid;          /* 0: free */
    int pidfd;        /* the thread, to notice a recycled tid */
    struct creds c;
    int chrooted;     /* its root is not the sandbox's */
};

static struct slot slots[N_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int can_cache = -1;            /* PIDFD_THREAD works */

static __thread struct creds cur;     /* what this thread acts as now */
static __thread int have_cur;

static void creds_free(struct creds *c)
{
    free(c->groups);
    c->groups = NULL;
    c->ngroups = 0;
}

static int creds_copy(struct creds *dst, const struct creds *src)
{
    *dst = *src;
    dst->groups = NULL;
    if (src->ngroups) {
        dst->groups = malloc(sizeof(uint32_t) * (size_t)src->ngroups);
        if (!dst->groups)
            return -ENOMEM;
        memcpy(dst->groups, src->groups, sizeof(uint32_t) * (size_t)src->ngroups);
    }
    return 0;
}

static int creds_equal(const struct creds *a, const struct creds *b)
{
    return a->fsuid == b->fsuid && a->fsgid == b->fsgid && a->cap_eff == b->cap_eff
        && a->ngroups == b->ngroups
        && (!a->ngroups || !memcmp(a->groups, b->groups, sizeof(uint32_t) * (size_t)a->ngroups));
}

static void slot_clear(struct slot *sl)
{
    if (sl->pidfd >= 0)
        close(sl->pidfd);
    creds_free(&sl->c);
    memset(sl, 0, sizeof *sl);
    sl->pidfd = -1;
}

/* Parse /proc/TID/status. */
static int read_status(struct sb_sentry *s, int tid, struct creds *c)
{
    char name[32], buf[8192];
    snprintf(name, sizeof name, "%d/status", tid);
    int fd = openat(s->procfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -err : -ESRCH;
    buf[n] = 0;
    memset(c, 0, sizeof *c);
    int have = 0;
    for (char *line = buf; line && *line; ) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        unsigned a, b, d, fs;
        if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &d, &fs) == 4) {
            c->fsuid = fs;
            have |= 1;
        } else if (sscanf(line, "Gid: %u %u %u %u", &a, &b, &d, &fs) == 4) {
            c->fsgid = fs;
            have |= 2;
        } else if (!strncmp(line, "CapEff:", 7)) {
            c->cap_eff = strtoull(line + 7, NULL, 16);
            have |= 4;
        } else if (!strncmp(line, "Groups:", 7)) {
            int count = 0;
            for (char *p = line + 7; *p; p++)
                if (*p >= '0' && *p <= '9' && (p[-1] == ' ' || p[-1] == '\t' || p == line + 7))
                    count++;
            c->groups = count ? malloc(sizeof(uint32_t) * (size_t)count) : NULL;
            if (count && !c->groups)
                return -ENOMEM;
            char *p = line + 7;
            for (int i = 0; i < count; i++)
                c->groups[i] = (uint32_t)strtoul(p, &p, 10);
            c->ngroups = count;
            have |= 8;
        }
        line = next;
    }
    if (have != 15) {
        creds_free(c);
        return -EIO;
    }
    c->cap_eff &= s->cap_limit;
    return 0;
}

/* Raise (on) or lower CAP_SYS_PTRACE in this thread's effective set; see
 * the header.  Returns 0 or -errno. */
int sb_ptrace_cap(int on)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    if (on)
        d[0].effective |= 1u << CAP_SYS_PTRACE_BIT;
    else {
        d[0].effective &= ~(1u << CAP_SYS_PTRACE_BIT);
        if (have_cur && (cur.cap_eff >> CAP_SYS_PTRACE_BIT & 1))
            d[0].effective |= 1u << CAP_SYS_PTRACE_BIT;      /* the tracee's own */
    }
    return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* Does the tracee's root differ from ours (it chrooted)? */
static int is_chrooted(struct sb_sentry *s, int tid)
{
    char name[32];
    struct stat mine, theirs;
    snprintf(name, sizeof name, "%d/root", tid);
    if (stat("/", &mine) < 0)
        return 0;
    int r = fstatat(s->procfd, name, &theirs, 0);
    if (r < 0 && errno == EACCES && sb_ptrace_cap(1) == 0) {
        r = fstatat(s->procfd, name, &theirs, 0);
        sb_ptrace_cap(0);
    }
    if (r < 0)
        return 0;                 /* gone: the call will find out */
    return mine.st_dev != theirs.st_dev || mine.st_ino != theirs.st_ino;
}

static struct slot *find(int tid)
{
    unsigned h = (unsigned)tid % N_SLOTS;
    for (unsigned i = 0; i < N_SLOTS; i++) {
        struct slot *sl = &slots[(h + i) % N_SLOTS];
        if (sl->tid == tid || sl->tid == 0)
            return sl;
    }
    return NULL;
}

static void forget_all_locked(void)
{
    for (int i = 0; i < N_SLOTS; i++)
        if (slots[i].tid)
            slot_clear(&slots[i]);
}

/* The tracee's creds (a copy the caller frees) and whether it chrooted. */
static int tctx_get(struct sb_sentry *s, int tid, struct creds *out, int *chrooted)
{
    pthread_mutex_lock(&lock);
    if (can_cache < 0) {
        int fd = (int)syscall(SYS_pidfd_open, getpid(), PIDFD_THREAD);
        can_cache = fd >= 0;
        if (fd >= 0)
            close(fd);
    }
    struct slot *sl = can_cache ? find(tid) : NULL;
    if (sl && sl->tid == tid) {
        struct pollfd p = { .fd = sl->pidfd, .events = POLLIN };
        if (poll(&p, 1, 0) == 0) {            /* still that thread */
            int r = creds_copy(out, &sl->c);
            *chrooted = sl->chrooted;
            pthread_mutex_unlock(&lock);
            return r;
        }
        slot_clear(sl);                       /* a recycled tid: read again */
    }
    pthread_mutex_unlock(&lock);

    struct creds c;
    int r = read_status(s, tid, &c);
    if (r < 0)
        return r;
    int chroot_flag = is_chrooted(s, tid);
    if (can_cache) {
        int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
        pthread_mutex_lock(&lock);
        sl = find(tid);
        if (!sl) {                            /* full: start afresh */
            forget_all_locked();
            sl = find(tid);
        }
        if (pidfd >= 0 && sl && sl->tid == 0 && creds_copy(&sl->c, &c) == 0) {
            sl->tid = tid;
            sl->pidfd = pidfd;
            sl->chrooted = chroot_flag;
            pidfd = -1;
        }
        pthread_mutex_unlock(&lock);
        if (pidfd >= 0)
            close(pidfd);
    }
    *out = c;
    *chrooted = chroot_flag;
    return 0;
}

void sb_tctx_forget(int tid)
{
    pthread_mutex_lock(&lock);
    struct slot *sl = find(tid);
    if (sl && sl->tid == tid)
        slot_clear(sl);
    pthread_mutex_unlock(&lock);
}

void sb_tctx_forget_all(void)
{
    pthread_mutex_lock(&lock);
    forget_all_locked();
    pthread_mutex_unlock(&lock);
}

static int set_effective(uint64_t eff, int full)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    if (full) {
        d[0].effective = d[0].permitted;
        d[1].effective = d[1].permitted;
    } else {
        d[0].effective = (uint32_t)eff & d[0].permitted;
        d[1].effective = (uint32_t)(eff >> 32) & d[1].permitted;
    }
    return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* setgroups, setfsgid, setfsuid, then the effective set: see the header. */
static int switch_to(const struct creds *c)
{
    int r = set_effective(0, 1);
    if (r < 0)
        return r;
    if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) < 0)
        return -errno;
    syscall(SYS_setfsgid, c->fsgid);          /* returns the old value, never an error */
    if ((uint32_t)syscall(SYS_setfsgid, -1) != c->fsgid)
        return -EPERM;
    syscall(SYS_setfsuid, c->fsuid);
    if ((uint32_t)syscall(SYS_setfsuid, -1) != c->fsuid)
        return -EPERM;
    return set_effective(c->cap_eff, 0);
}

/* Make this thread act as tracee `tid` for file access.  Returns 0, 1 if
 * the tracee chrooted (the caller must then resolve from its root), or
 * -errno (-ESRCH: the tracee is gone). */
int sb_act_as(struct sb_sentry *s, int tid)
{
    struct creds c;
    int chrooted = 0;
    int r = tctx_get(s, tid, &c, &chrooted);
    if (r < 0)
        return r;
    if (have_cur && creds_equal(&cur, &c)) {
        creds_free(&c);
        return chrooted;
    }
    have_cur = 0;
    r = switch_to(&c);
    if (r < 0) {
        creds_free(&c);
        return r;
    }
    creds_free(&cur);
    cur = c;
    have_cur = 1;
    return chrooted;
}

/* After serving (sb_unbecome): this thread's acting state is void. */
void sb_act_reset(void)
{
    creds_free(&cur);
    have_cur = 0;
}

/* /proc/TID/... of a tracee, from the host's /proc (procfd): cwd, root and
 * fd/N need ptrace access to a thread that changed its ids; see the header. */
int sb_proc_open(int procfd, const char *rel, int flags)
{
    int fd = openat(procfd, rel, flags | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && sb_ptrace_cap(1) == 0) {
        fd = openat(procfd, rel, flags | O_CLOEXEC);
        int err = errno;
        sb_ptrace_cap(0);
        errno = err;
    }
    return fd < 0 ? -errno : fd;
}

long sb_proc_readlink(int procfd, const char *rel, char *buf, size_t size)
{
    ssize_t n = readlinkat(procfd, rel, buf, size);
    if (n < 0 && errno == EACCES && sb_ptrace_cap(1) == 0) {
        n = readlinkat(procfd, rel, buf, size);
        int err = errno;
        sb_ptrace_cap(0);
        errno = err;
    }
    return n < 0 ? -errno : n;
}

/* Make this thread's root and cwd the tracee's root (it chrooted): the
 * thread must have its own fs struct (unshare(CLONE_FS) first).  chroot
 * needs CAP_SYS_CHROOT, raised for the call only. */
int sb_enter_root(int rootfd)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    uint32_t saved = d[0].effective;
    d[0].effective |= 1u << 18;                  /* CAP_SYS_CHROOT */
    if (syscall(SYS_capset, &h, d) < 0)
        return -errno;
    int r = (fchdir(rootfd) < 0 || chroot(".") < 0) ? -errno : 0;
    d[0].effective = saved;
    syscall(SYS_capset, &h, d);
    return r;
}
