/* The hot filesystem calls answered in C: openat/open, newfstatat/stat/
 * lstat, statx -- the common case of a plain file in the sandbox view.
 *
 * The same rules as sentry/handlers/fs.py, which handles everything this
 * file hands back to Python (SB_FALLBACK):
 * - The sentry stands in the sandbox's mount namespace with the workload's
 *   identity, so the kernel confines and permission-checks each lookup.
 * - Relative paths start at the tracee's cwd or dirfd, opened through the
 *   host's /proc/TID (s->procfd).
 * - The path is read once into our memory; ID_VALID is checked after the
 *   read and before acting; the result goes back as an fd (ADDFD|SEND) or
 *   as the kernel's own struct bytes.  Nothing is CONTINUEd.
 * Each call is made with the calling thread's current credentials
 * (creds.c: sb_act_as).
 * Python takes over for: O_CREAT/O_TMPFILE (the tracee's umask), O_TRUNC
 * (a truncation must not happen unless the fd reaches the tracee), a
 * tracee that chrooted (its own root starts an absolute path), a FIFO
 * opened blocking (found by a stat first; it must not block this loop), a
 * file on procfs or sysfs (maybe synthesized), and ENOENT on a path that
 * may cross /proc/self.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "sb.h"

#define GO_ON (-1)                /* act_as(): carry on (no SB_* result is negative) */
#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572

static int may_cross_self(const char *p)
{
    return !strncmp(p, "/proc", 5) || !strncmp(p, "/dev/", 5) || strstr(p, "self") || strstr(p, "mtab");
}

/* The directory a lookup starts from: AT_FDCWD for an absolute path (our
 * cwd and root are the sandbox root), else an O_PATH fd we must close. */
static int lookup_base(struct sb_sentry *s, int tid, int dirfd, const char *path)
{
    char name[48];
    if (path[0] == '/')
        return AT_FDCWD;
    if (dirfd == AT_FDCWD)
        snprintf(name, sizeof name, "%d/cwd", tid);
    else if (dirfd < 0)
        return -EBADF;
    else
        snprintf(name, sizeof name, "%d/fd/%d", tid, dirfd);
    int fd = sb_proc_open(s->procfd, name, O_PATH);
    if (fd < 0)
        return fd == -ENOENT ? (dirfd == AT_FDCWD ? -ENOENT : -EBADF) : fd;
    return fd;
}

/* Read the path argument into s->path (which Python reuses if we fall back:
 * the tracee's memory is read once); 0, or a negated errno to reply with. */
static int read_path(struct sb_sentry *s, struct seccomp_notif *req, uint64_t addr)
{
    if (addr == 0)
        return -EFAULT;
    long n = sb_mem_read_cstr((int)req->pid, addr, s->path, sizeof s->path);
    if (n < 0)
        return (int)n;            /* -EFAULT or -ENAMETOOLONG */
    s->path_addr = addr;
    s->path_len = n;
    return n == 0 ? -ENOENT : 0;
}

static int reply_err(struct seccomp_notif_resp *resp, int err)
{
    resp->error = err;
    return SB_REPLY;
}

/* Take the calling thread's current credentials (creds.c).  GO_ON
 * to go on; else what to return: dropped (the tracee is gone), Python (it
 * chrooted: its root, not ours, starts an absolute path), or an error. */
static int act_as(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    int r = sb_act_as(s, (int)req->pid);
    if (r == 0)
        return GO_ON;
    if (r == 1)
        return SB_FALLBACK;
    return r == -ESRCH ? SB_DROPPED : reply_err(resp, r);
}

static int do_open(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                   int dirfd, uint64_t path_addr, int flags)
{
    char *path = s->path;
    int err = read_path(s, req, path_addr);
    if (err)
        return reply_err(resp, err);
    if ((flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE || (flags & O_TRUNC))
        return SB_FALLBACK;           /* the tracee's umask; all or nothing: Python */
    if (!sb_id_valid(s->fd, req->id))
        return SB_DROPPED;
    int act = act_as(s, req, resp);
    if (act != GO_ON)
        return act;
    int base = lookup_base(s, (int)req->pid, dirfd, path);
    if (base < 0 && base != AT_FDCWD)
        return reply_err(resp, base);
    if (!(flags & (O_PATH | O_NONBLOCK))) {
        /* A FIFO opened blocking waits for its partner: Python defers it to
         * a worker.  Probe with stat: a trial open would wake the partner. */
        struct stat probe;
        if (fstatat(base, path, &probe, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0) == 0
            && S_ISFIFO(probe.st_mode)) {
            if (base >= 0)
                close(base);
            return SB_FALLBACK;
        }
    }
    int ours = flags | O_CLOEXEC | O_NOCTTY | ((flags & O_PATH) ? 0 : O_NONBLOCK);
    int fd = openat(base, path, ours, 0);
    err = errno;
    if (base >= 0)
        close(base);
    if (fd < 0)
        return (err == ENOENT && may_cross_self(path)) ? SB_FALLBACK : reply_err(resp, -err);
    if (!(flags & O_PATH)) {
        struct statfs sf;
        if (fstatfs(fd, &sf) < 0
            || ((flags & O_ACCMODE) == O_RDONLY
                && (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC))) {
            close(fd);
            return SB_FALLBACK;
        }
        if (!(flags & O_NONBLOCK))
            fcntl(fd, F_SETFL, flags & (O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME));
    }
    int rc = sb_install_fd(s, req, resp, fd, (flags & O_CLOEXEC) != 0);
    close(fd);
    return rc;
}

int sb_fast_openat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    const uint64_t *a = req->data.args;
    return do_open(s, req, resp, (int)a[0], a[1], (int)a[2]);
}

int sb_fast_open(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    const uint64_t *a = req->data.args;
    return do_open(s, req, resp, AT_FDCWD, a[0], (int)a[1]);
}

/* stat family: `kind` 0 = newfstatat, 1 = statx. */
static int do_stat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                   int dirfd, uint64_t path_addr, int flags, unsigned mask, uint64_t buf_addr, int kind)
{
    char *path = s->path;
    int err = read_path(s, req, path_addr);
    if (err)
        return err == -ENOENT && (flags & AT_EMPTY_PATH) ? SB_FALLBACK : reply_err(resp, err);
    if (!sb_id_valid(s->fd, req->id))
        return SB_DROPPED;
    int act = act_as(s, req, resp);
    if (act != GO_ON)
        return act;
    int base = lookup_base(s, (int)req->pid, dirfd, path);
    if (base < 0 && base != AT_FDCWD)
        return reply_err(resp, base);
    union { struct stat st; char sx[256]; } buf;
    long r = kind == 0 ? syscall(SYS_newfstatat, base, path, &buf, flags)
                       : syscall(SYS_statx, base, path, flags, mask, &buf);
    err = errno;
    if (base >= 0)
        close(base);
    if (r < 0)
        return (err == ENOENT && may_cross_self(path)) ? SB_FALLBACK : reply_err(resp, -err);
    size_t size = kind == 0 ? sizeof buf.st : 256;
    long n = sb_mem_write_checked(s->fd, req->id, (int)req->pid, buf_addr, &buf, size);
    if (n == -ESRCH)
        return SB_DROPPED;
    return n == (long)size ? SB_REPLY : reply_err(resp, -EFAULT);
}

int sb_fast_newfstatat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    const uint64_t *a = req->data.args;
    return do_stat(s, req, resp, (int)a[0], a[1], (int)a[3], 0, a[2], 0);
}

int sb_fast_stat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    return do_stat(s, req, resp, AT_FDCWD, req->data.args[0], 0, 0, req->data.args[1], 0);
}

int sb_fast_lstat(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    return do_stat(s, req, resp, AT_FDCWD, req->data.args[0], AT_SYMLINK_NOFOLLOW, 0, req->data.args[1], 0);
}

int sb_fast_statx(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    const uint64_t *a = req->data.args;
    return do_stat(s, req, resp, (int)a[0], a[1], (int)a[2], (unsigned)a[3], a[4], 1);
}
