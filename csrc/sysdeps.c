/* Thin wrappers over kernel calls that Python 3.11's os module lacks.  Each
 * returns 0 (or a result) on success and -errno on failure, so Python turns
 * the error into an OSError in one place (sentry/native.py). */
#define _GNU_SOURCE
#include <errno.h>
#include "sb.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
struct sb_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#define SB_MOUNT_ATTR_RDONLY 0x00000001

/* Evaluate x once: a second unshare() or mount() would not be harmless. */
#define RET(x) do { long r_ = (x); return r_ < 0 ? -errno : (int)r_; } while (0)

int sb_unshare(int flags) { RET(unshare(flags)); }
int sb_setns(int fd, int nstype) { RET(setns(fd, nstype)); }
int sb_mount(const char *src, const char *target, const char *fstype,
             unsigned long flags, const char *data)
{
    RET(mount(src, target, fstype, flags, data));
}
int sb_umount(const char *target, int flags) { RET(umount2(target, flags)); }
int sb_pivot_root(const char *new_root, const char *put_old)
{
    RET((int)syscall(SYS_pivot_root, new_root, put_old));
}
int sb_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
    RET(prctl(option, a2, a3, a4, a5));
}

/* Make a whole mount tree read-only at once (mount_setattr, Linux 5.12),
 * instead of remounting each submount. */
int sb_mount_setattr_ro(const char *path)
{
    struct sb_mount_attr a = { .attr_set = SB_MOUNT_ATTR_RDONLY };
    RET((int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a, sizeof a));
}

/* mount_setattr(2) (Linux 5.12) on one mount (flags 0) or its whole tree
 * (AT_RECURSIVE): set and clear MOUNT_ATTR_* bits, leaving every other
 * per-mount flag as it is (a MS_REMOUNT|MS_BIND remount resets those it
 * is not given), and change the propagation type (MS_PRIVATE, MS_SLAVE,
 * MS_SHARED, MS_UNBINDABLE; 0 leaves it). */
int sb_mount_setattr(const char *path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                     uint64_t propagation)
{
    struct sb_mount_attr a = { .attr_set = attr_set, .attr_clr = attr_clr, .propagation = propagation };
    RET((int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a));
}

/* A process in new namespaces, for the caller to pin (bind-mount its
 * /proc/PID/ns files) and then release.
 *
 * clone(2) with `flags` and SIGCHLD.  With CLONE_NEWUSER among them the
 * kernel makes the user namespace first, so it owns the other namespaces
 * made by the same call: what a privileged pod's net, ipc and uts need
 * (cri_handler/netns.py).  A multithreaded caller cannot unshare
 * CLONE_NEWUSER itself (EINVAL), and this is safe from one: the child
 * runs no library code, only read(2) and _exit(2), on a stack of its own
 * in its copy of the address space.
 *
 * Returns the child's pid, with *release_fd the write end of a pipe the
 * child reads: write a byte to it (or close it), then waitpid() the child.
 * -errno if the clone or the pipe failed. */
struct ns_holder { int release_r, release_w; };

static int ns_holder_main(void *arg)
{
    const struct ns_holder *h = arg;
    char c;
    close(h->release_w);
    while (read(h->release_r, &c, 1) < 0 && errno == EINTR)
        ;
    _exit(0);
}

int sb_ns_holder(int flags, int *release_fd)
{
    enum { STACK = 64 * 1024 };
    struct ns_holder h;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    h.release_r = p[0];
    h.release_w = p[1];
    char *stack = malloc(STACK);
    if (!stack) {
        close(p[0]);
        close(p[1]);
        return -ENOMEM;
    }
    /* The child runs on its copy of `stack` and `h`: freeing ours is fine. */
    int pid = clone(ns_holder_main, stack + STACK, flags | SIGCHLD, &h);
    int err = errno;
    free(stack);
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        return -err;
    }
    *release_fd = p[1];
    return pid;
}

/* openat2(2) (Linux 5.6), which glibc 2.36 does not wrap. */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct sb_open_how { uint64_t flags, mode, resolve; };
int sb_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct sb_open_how how = { flags, mode, resolve };
    RET((int)syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

/* Our command line is where the kernel reads /proc/PID/cmdline from: our
 * own memory between arg_start and arg_end (fields 48 and 49 of
 * /proc/self/stat).  Its start, and its length (0 if unknown). */
size_t sb_cmdline_area(uintptr_t *start_out)
{
    char buf[4096];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');      /* the comm field may contain anything */
    if (!p)
        return 0;
    unsigned long long start = 0, end = 0;
    int field = 2;                     /* p is the end of field 2 */
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 48)
            start = strtoull(tok, NULL, 10);
        else if (field == 49) {
            end = strtoull(tok, NULL, 10);
            break;
        }
    }
    if (!start || end <= start)
        return 0;
    *start_out = (uintptr_t)start;
    return (size_t)(end - start);
}

/* Overwrite our command line in place.  PR_SET_MM would move the range
 * instead, but needs CAP_SYS_RESOURCE, which root may lack (it does on
 * the development VM). */
void sb_hide_cmdline(const char *name)
{
    uintptr_t start;
    size_t size = sb_cmdline_area(&start), len = strlen(name) + 1;
    if (size < len)
        return;
    memset((void *)start, 0, size);
    memcpy((void *)start, name, len);
}

/* Path syscalls the sentry makes on a tracee's behalf, raw: the result
 * struct is copied to the tracee byte for byte, never re-packed. */
int sb_fstatat_raw(int dirfd, const char *path, void *statbuf, int flags)
{
    RET((int)syscall(SYS_newfstatat, dirfd, path, statbuf, flags));
}

int sb_statx_raw(int dirfd, const char *path, int flags, unsigned mask, void *statxbuf)
{
    RET((int)syscall(SYS_statx, dirfd, path, flags, mask, statxbuf));
}

int sb_faccessat2(int dirfd, const char *path, int mode, int flags)
{
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
    RET((int)syscall(SYS_faccessat2, dirfd, path, mode, flags));
}

long sb_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -errno;
    return (long)st.f_type;
}


/* -- for sentry/handlers/fsmeta.py ------------------------------------------
 * Metadata calls the sentry makes on a tracee's behalf, from the directory
 * the tracee's lookup starts at (an O_PATH fd on its cwd or dirfd, or
 * AT_FDCWD for an absolute path: our cwd and root are the sandbox root). */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#define SYS_getxattrat 464
#define SYS_listxattrat 465
#define SYS_removexattrat 466
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
struct sb_xattr_args { uint64_t value; uint32_t size; uint32_t flags; };  /* uapi xattr_args, 6.13 */

int sb_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags)
{
    RET((int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags));
}

int sb_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
    RET((int)syscall(SYS_linkat, olddirfd, oldpath, newdirfd, newpath, flags));
}

/* fchmodat(2) has no flags argument; fchmodat2 (Linux 6.6) has. */
int sb_fchmodat2(int dirfd, const char *path, unsigned mode, int flags)
{
    RET((int)(flags ? syscall(SYS_fchmodat2, dirfd, path, mode, flags)
                    : syscall(SYS_fchmodat, dirfd, path, mode)));
}

int sb_fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)
{
    RET((int)syscall(SYS_fchownat, dirfd, path, uid, gid, flags));
}

/* times: NULL or the tracee's two struct timespec, byte for byte. */
int sb_utimensat(int dirfd, const char *path, const void *times, int flags)
{
    RET((int)syscall(SYS_utimensat, dirfd, path, times, flags));
}

/* statfs(2) follows the last symlink: so does an O_PATH open. */
int sb_statfs_at(int dirfd, const char *path, void *buf)
{
    int fd = openat(dirfd, path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fstatfs(fd, buf) < 0 ? -errno : 0;
    close(fd);
    return r;
}

int sb_pidfd_getfd(int pidfd, int fd)
{
    RET((int)syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

/* Calls with no *at() form -- truncate, inotify_add_watch, and the xattr
 * calls before Linux 6.13 -- made as if from dirfd: on a fresh thread that
 * gets its own cwd (unshare(CLONE_FS)) and fchdir()s there.  The sentry's
 * own threads keep "/" as their cwd; the new thread has the calling
 * thread's credentials and capabilities. */
struct sb_indir {
    int dirfd, fd, flags;
    const char *path, *name;
    void *buf;
    size_t size;
    int64_t arg;
    long (*call)(struct sb_indir *);
    long ret;
};

static void *indir_main(void *p)
{
    struct sb_indir *c = p;
    if (unshare(CLONE_FS) < 0 || fchdir(c->dirfd) < 0)
        c->ret = -errno;
    else
        c->ret = c->call(c);
    return NULL;
}

static long in_dir(struct sb_indir *c)
{
    if (c->dirfd == AT_FDCWD)
        return c->call(c);
    pthread_t th;
    int e = pthread_create(&th, NULL, indir_main, c);
    if (e)
        return -e;
    pthread_join(th, NULL);
    return c->ret;
}

#define NEG(x) do { long r_ = (x); return r_ < 0 ? -errno : r_; } while (0)
static long call_truncate(struct sb_indir *c) { NEG(truncate(c->path, c->arg)); }
static long call_inotify(struct sb_indir *c) { NEG(inotify_add_watch(c->fd, c->path, (uint32_t)c->arg)); }
static long call_getxattr(struct sb_indir *c)
{
    NEG(c->flags & AT_SYMLINK_NOFOLLOW ? lgetxattr(c->path, c->name, c->buf, c->size)
                                       : getxattr(c->path, c->name, c->buf, c->size));
}
static long call_setxattr(struct sb_indir *c)
{
    NEG(c->flags & AT_SYMLINK_NOFOLLOW ? lsetxattr(c->path, c->name, c->buf, c->size, (int)c->arg)
                                       : setxattr(c->path, c->name, c->buf, c->size, (int)c->arg));
}
static long call_listxattr(struct sb_indir *c)
{
    NEG(c->flags & AT_SYMLINK_NOFOLLOW ? llistxattr(c->path, c->buf, c->size)
                                       : listxattr(c->path, c->buf, c->size));
}
static long call_removexattr(struct sb_indir *c)
{
    NEG(c->flags & AT_SYMLINK_NOFOLLOW ? lremovexattr(c->path, c->name) : removexattr(c->path, c->name));
}

int sb_truncate_at(int dirfd, const char *path, int64_t length)
{
    struct sb_indir c = { .dirfd = dirfd, .path = path, .arg = length, .call = call_truncate };
    return (int)in_dir(&c);
}

int sb_inotify_add_watch_at(int ifd, int dirfd, const char *path, uint32_t mask)
{
    struct sb_indir c = { .dirfd = dirfd, .fd = ifd, .path = path, .arg = mask, .call = call_inotify };
    return (int)in_dir(&c);
}

/* The xattr calls use getxattrat & co. (Linux 6.13) when the kernel has
 * them, else the in_dir() thread.  sb_xattrat(0) forces the latter (tests). */
static int have_xattrat = 1;

void sb_xattrat(int on) { have_xattrat = on; }

static int xattrat_failed(long r)
{
    if (r >= 0 || errno != ENOSYS)
        return 0;
    have_xattrat = 0;
    return 1;
}

int sb_getxattr_at(int dirfd, const char *path, int at_flags, const char *name, void *value, size_t size)
{
    if (have_xattrat) {
        struct sb_xattr_args a = { .value = (uintptr_t)value, .size = (uint32_t)size };
        long r = syscall(SYS_getxattrat, dirfd, path, at_flags, name, &a, sizeof a);
        if (!xattrat_failed(r))
            return r < 0 ? -errno : (int)r;
    }
    struct sb_indir c = { .dirfd = dirfd, .flags = at_flags, .path = path, .name = name,
                          .buf = value, .size = size, .call = call_getxattr };
    return (int)in_dir(&c);
}

int sb_setxattr_at(int dirfd, const char *path, int at_flags, const char *name,
                   const void *value, size_t size, int flags)
{
    if (have_xattrat) {
        struct sb_xattr_args a = { .value = (uintptr_t)value, .size = (uint32_t)size, .flags = (uint32_t)flags };
        long r = syscall(SYS_setxattrat, dirfd, path, at_flags, name, &a, sizeof a);
        if (!xattrat_failed(r))
            return r < 0 ? -errno : (int)r;
    }
    struct sb_indir c = { .dirfd = dirfd, .flags = at_flags, .path = path, .name = name,
                          .buf = (void *)value, .size = size, .arg = flags, .call = call_setxattr };
    return (int)in_dir(&c);
}

int sb_listxattr_at(int dirfd, const char *path, int at_flags, char *list, size_t size)
{
    if (have_xattrat) {
        long r = syscall(SYS_listxattrat, dirfd, path, at_flags, list, size);
        if (!xattrat_failed(r))
            return r < 0 ? -errno : (int)r;
    }
    struct sb_indir c = { .dirfd = dirfd, .flags = at_flags, .path = path, .buf = list, .size = size,
                          .call = call_listxattr };
    return (int)in_dir(&c);
}

int sb_removexattr_at(int dirfd, const char *path, int at_flags, const char *name)
{
    if (have_xattrat) {
        long r = syscall(SYS_removexattrat, dirfd, path, at_flags, name);
        if (!xattrat_failed(r))
            return r < 0 ? -errno : (int)r;
    }
    struct sb_indir c = { .dirfd = dirfd, .flags = at_flags, .path = path, .name = name,
                          .call = call_removexattr };
    return (int)in_dir(&c);
}
