/* The seccomp user-notify dispatch loop and the tracee primitives.
 *
 * One thread runs sb_serve(): RECV, look the number up in a dense array,
 * answer in C or call the one Python callback, SEND.  Kernel facts: see sb.h.
 *
 * Tracee memory is accessed with process_vm_readv/writev, not /proc/PID/mem:
 * they honour page protections exactly like the kernel's own copy_to_user
 * (a write to a read-only page fails with EFAULT), where /proc/PID/mem
 * writes with FOLL_FORCE.  The notification's pid is a thread id, which both
 * calls accept.  Callers check SECCOMP_IOCTL_NOTIF_ID_VALID after reading and
 * before writing or replying, so a pid recycled after the tracee died is
 * never acted upon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sb.h"

/* A tracee that changed its ids is no longer dumpable, and may have ids
 * other than our real uid: then only CAP_SYS_PTRACE lets us at its memory
 * (creds.c explains; it is raised for the access only). */
long sb_mem_read(int pid, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0 && errno == EPERM && sb_ptrace_cap(1) == 0) {
        n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        int err = errno;
        sb_ptrace_cap(0);
        errno = err;
    }
    return n < 0 ? -errno : n;
}

long sb_mem_write(int pid, uint64_t addr, const void *buf, size_t len)
{
    struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
    ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n < 0 && errno == EPERM && sb_ptrace_cap(1) == 0) {
        n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
        int err = errno;
        sb_ptrace_cap(0);
        errno = err;
    }
    return n < 0 ? -errno : n;
}

/* Read a NUL-terminated string of at most max-1 bytes.  Reads page by page so
 * a string that ends just before an unmapped page is still read, as the
 * kernel's strncpy_from_user would.  Returns its length, -ENAMETOOLONG if no
 * NUL was found within max bytes, or -EFAULT. */
long sb_mem_read_cstr(int pid, uint64_t addr, char *buf, size_t max)
{
    size_t got = 0;
    while (got < max) {
        size_t page_left = 4096 - ((addr + got) & 4095);
        size_t want = max - got < page_left ? max - got : page_left;
        long n = sb_mem_read(pid, addr + got, buf + got, want);
        if (n <= 0)
            return -EFAULT;
        char *nul = memchr(buf + got, 0, (size_t)n);
        if (nul)
            return nul - buf;
        got += (size_t)n;
    }
    return -ENAMETOOLONG;
}

/* ID_VALID, then write: what every handler does to return data. */
long sb_mem_write_checked(int fd, uint64_t id, int pid, uint64_t addr, const void *buf, size_t len)
{
    if (!sb_id_valid(fd, id))
        return -ESRCH;
    return sb_mem_write(pid, addr, buf, len);
}

/* Under ptrace (no listener, fd < 0) the tracee is held in a ptrace-stop
 * and cannot leave it but by dying, after which its memory is gone too. */
int sb_id_valid(int fd, uint64_t id)
{
    return fd < 0 || ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* Complete the syscall with a new fd: ADDFD|SEND under seccomp_notify
 * (the reply is then already sent: SB_DEFERRED), injection under ptrace
 * (resp holds the fd number: SB_REPLY). */
int sb_install_fd(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                  int fd, int cloexec)
{
    if (s->fd < 0) {
        long r = sb_ptrace_inject_fd(s, (int)req->pid, fd, cloexec);
        if (r == -ESRCH)
            return SB_DROPPED;
        if (r < 0)
            resp->error = (int32_t)r;
        else
            resp->val = r;
        return SB_REPLY;
    }
    int r = sb_addfd_send(s->fd, req->id, fd, cloexec ? O_CLOEXEC : 0);
    if (r >= 0 || r == -ENOENT)
        return SB_DEFERRED;
    resp->error = r;              /* e.g. -EMFILE: the tracee's fd table is full */
    return SB_REPLY;
}

/* Install srcfd in the tracee and complete its syscall with the new fd
 * number, atomically (ADDFD|SEND).  Returns that number or -errno. */
int sb_addfd_send(int fd, uint64_t id, int srcfd, uint32_t newfd_flags)
{
    struct seccomp_notif_addfd a = {
        .id = id, .flags = SECCOMP_ADDFD_FLAG_SEND,
        .srcfd = (uint32_t)srcfd, .newfd = 0, .newfd_flags = newfd_flags,
    };
    int r = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    return r < 0 ? -errno : r;
}

/* Install srcfd in the tracee without answering its syscall (the caller
 * then SENDs the number, after finishing what must happen in between).
 * Returns the tracee's fd number or -errno. */
int sb_addfd(int fd, uint64_t id, int srcfd, uint32_t newfd_flags)
{
    struct seccomp_notif_addfd a = {
        .id = id, .flags = 0, .srcfd = (uint32_t)srcfd, .newfd = 0, .newfd_flags = newfd_flags,
    };
    int r = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    return r < 0 ? -errno : r;
}

int sb_set_sync_wakeup(int fd)
{
    uint64_t flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) < 0 ? -errno : 0;
}

/* Turn an encoded result into a reply.  Returns SB_REPLY, SB_DEFERRED,
 * SB_DROPPED or SB_STOP. */
int sb_encode_result(int64_t r, struct seccomp_notif_resp *resp)
{
    if (r >= 0) {
        resp->val = r;
        return SB_REPLY;
    }
    if (r >= -4095) {
        resp->error = (int32_t)r;
        return SB_REPLY;
    }
    switch (r) {
    case SB_PY_CONTINUE:
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        return SB_REPLY;
    case SB_PY_DEFERRED:
        return SB_DEFERRED;
    case SB_PY_DROPPED:
        return SB_DROPPED;
    default:
        resp->error = -ENOSYS;
        return SB_STOP;
    }
}

/* For replies sent later, from a worker thread. */
int sb_respond_result(int fd, uint64_t id, int64_t result)
{
    struct seccomp_notif_resp resp = { .id = id };
    int rc = sb_encode_result(result, &resp);
    if (rc != SB_REPLY && rc != SB_STOP)
        return 0;
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 ? -errno : 0;
}

static int py_dispatch(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    const uint64_t *a = req->data.args;
    return sb_encode_result(sb_py_dispatch(req->id, req->pid, req->data.nr,
                                        a[0], a[1], a[2], a[3], a[4], a[5],
                                        s->path_addr, s->path, s->path_len), resp);
}

static int fast_continue(struct sb_sentry *s, struct seccomp_notif *req,
                         struct seccomp_notif_resp *resp)
{
    (void)s; (void)req;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    return SB_REPLY;
}

/* Observed calls that change the caller's credentials (setuid & co.,
 * capset, chroot): the kernel runs them; the cached creds of the thread
 * are forgotten first (creds.c). */
static int fast_creds_change(struct sb_sentry *s, struct seccomp_notif *req,
                             struct seccomp_notif_resp *resp)
{
    sb_tctx_forget((int)req->pid);
    return fast_continue(s, req, resp);
}

/* sendfile, splice, copy_file_range in the default fs mode: a synthesized
 * /proc file (a FUSE file of size 0, sentry/sandbox/synthesized.py) cannot
 * be spliced (the page cache thinks it empty), so such a source gets
 * EINVAL, which sends the caller to read(2); every other source runs
 * natively.  The fd is a register: if another thread swaps it meanwhile,
 * the kernel just runs the call on the new one, as it would anyway. */
static int fast_synth_source(struct sb_sentry *s, struct seccomp_notif *req,
                             struct seccomp_notif_resp *resp)
{
    int fd = (int)(req->data.nr == SYS_sendfile ? req->data.args[1] : req->data.args[0]);
    char name[48];
    snprintf(name, sizeof name, "%d/fd/%d", (int)req->pid, fd);
    int f = s->synth_dev && fd >= 0 ? sb_proc_open(s->procfd, name, O_PATH) : -1;
    if (f >= 0) {
        struct stat st;
        int ours = fstat(f, &st) == 0 && (uint64_t)st.st_dev == s->synth_dev;
        close(f);
        if (ours) {
            resp->error = -EINVAL;
            return SB_REPLY;
        }
    }
    return fast_continue(s, req, resp);
}

/* execve/execveat: an exec may change credentials (set-id files, file
 * capabilities) and, from a non-leader thread, tids: forget every entry. */
static int fast_exec(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    sb_tctx_forget_all();
    return fast_continue(s, req, resp);
}

/* Every C fast path, by the name a syscall table row gives in `fast`
 * (sentry/syscalls/table.py).  Adding one: write the function (fastpath.c,
 * fsfast.c), declare it in sb.h, add its line here, and name it in the
 * table's row.  "continue" is what an observed row without a handler gets. */
static const struct { const char *name; sb_fast_fn fn; } fast_paths[] = {
    { "continue", fast_continue },
    { "creds_change", fast_creds_change },
    { "exec", fast_exec },
    { "synth_source", fast_synth_source },
    { "uname", sb_fast_uname },
    { "openat", sb_fast_openat },
    { "open", sb_fast_open },
    { "newfstatat", sb_fast_newfstatat },
    { "stat", sb_fast_stat },
    { "lstat", sb_fast_lstat },
    { "statx", sb_fast_statx },
};
#define N_FAST_PATHS (sizeof fast_paths / sizeof fast_paths[0])

/* The kind (for sb_sentry.kind[]) of the fast path called name, or -1. */
int sb_fast_kind(const char *name)
{
    for (size_t i = 0; i < N_FAST_PATHS; i++)
        if (strcmp(fast_paths[i].name, name) == 0)
            return (int)i + 1;
    return -1;
}

/* Count, then answer in C or in Python: one notification, either platform.
 * Fills *resp from scratch. */
int sb_dispatch_one(struct sb_sentry *s, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
    unsigned nr = (unsigned)req->data.nr;
    int kind = SB_K_PYTHON;
    if (nr < SB_MAX_NR) {
        kind = s->kind[nr];
        s->count[nr]++;
    }
    memset(resp, 0, sizeof *resp);
    resp->id = req->id;
    s->path_len = -1;
    int rc = SB_FALLBACK;
    if (kind != SB_K_PYTHON && (size_t)kind <= N_FAST_PATHS) {
        rc = fast_paths[kind - 1].fn(s, req, resp);
        if (rc != SB_FALLBACK)
            s->fast++;
    }
    if (rc == SB_FALLBACK) {
        s->slow++;
        memset(resp, 0, sizeof *resp);
        resp->id = req->id;
        rc = py_dispatch(s, req, resp);
    }
    return rc;
}

/* True once no task uses the filter any more. */
static int filter_orphaned(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* Serve notifications until a signal arrives, the sandbox is gone, or a
 * handler asks to stop.  Returns one of SB_STOP_* or -errno. */
int sb_serve(struct sb_sentry *s)
{
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;

    for (;;) {
        memset(&req, 0, sizeof req);
        if (ioctl(s->fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR)
                return SB_STOP_EINTR;
            if (errno == ENOENT) {
                if (filter_orphaned(s->fd))
                    return SB_STOP_GONE;
                continue;   /* the tracee was killed while we woke up */
            }
            return -errno;
        }
        int rc = sb_dispatch_one(s, &req, &resp);
        if (rc == SB_REPLY || rc == SB_STOP) {
            /* ENOENT here means the tracee died meanwhile: nothing to do. */
            ioctl(s->fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        }
        if (rc == SB_STOP)
            return SB_STOP_REQUEST;
    }
}
