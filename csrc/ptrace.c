/* The ptrace platform: the tracer's wait loop and fd injection.
 *
 * Kernel facts relied upon (Linux >= 4.8):
 * - SECCOMP_RET_TRACE stops the tracee at syscall entry and reports
 *   PTRACE_EVENT_SECCOMP to a tracer that set PTRACE_O_TRACESECCOMP.  With no
 *   tracer the syscall fails with ENOSYS, so the workload is seized before it
 *   loads the filter.  Passthrough syscalls never stop.
 * - At that stop, orig_rax = -1 skips the syscall and rax becomes its
 *   return value; changing orig_rax and the argument registers runs another
 *   syscall instead, and the kernel re-runs the filter on it.
 * - PTRACE_SEIZE (not ATTACH): group-stops report as PTRACE_EVENT_STOP and are
 *   held with PTRACE_LISTEN, so SIGSTOP/SIGCONT inside the sandbox behave.
 *   PTRACE_O_EXITKILL kills every tracee if the tracer (the sentry) dies.
 *   TRACEFORK/VFORK/CLONE attach new processes and threads automatically.
 * - A tracee's exit is reported to the tracer (waitpid __WALL) before its
 *   real parent, the sandbox's init, reaps it.
 *
 * fd injection.  ptrace has no SECCOMP_ADDFD: to give the tracee a file the
 * sentry opened, the tracee is made to receive it, with syscalls injected at
 * its current stop (each runs to its syscall-exit stop, PTRACE_SYSCALL):
 *   1. socketpair(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC) -> a, b  (int[2] on its stack)
 *   2. the sentry takes a copy of `a` with pidfd_getfd
 *   3. close(a)           so the fd number the kernel would have returned
 *                         for the original call is free again
 *   4. the sentry sendmsg()s the file over its copy of `a` (SCM_RIGHTS)
 *   5. recvmsg(b, MSG_CMSG_CLOEXEC if asked) -> the lowest free fd, as open
 *                         would give
 *   6. close(b)
 * Scratch memory is the tracee's own stack below the red zone, saved and
 * restored around the injection; no other thread uses it (ABI).  Registers
 * are restored and the original syscall returns the new fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sb.h"

#define OPTIONS (PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK \
                 | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD)
#define SCRATCH 512
#define RED_ZONE 128

int sb_ptrace_seize(int pid)
{
    return ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)OPTIONS) < 0 ? -errno : 0;
}

/* Run one syscall in a tracee stopped at a syscall stop.  `at_entry`: the
 * tracee sits at a seccomp (entry) stop and the syscall instruction will
 * run; otherwise it sits at an exit stop and rip is moved back onto the
 * `syscall` instruction (2 bytes) so it runs again.  Returns the result or
 * -errno; *pending collects a signal that arrived meanwhile. */
static long inject(int pid, struct user_regs_struct *base, int *at_entry, long nr,
                   long a0, long a1, long a2, long a3, int *pending)
{
    struct user_regs_struct r = *base;
    r.orig_rax = nr;
    r.rax = nr;
    r.rdi = a0; r.rsi = a1; r.rdx = a2; r.r10 = a3;
    if (!*at_entry)
        r.rip -= 2;
    if (ptrace(PTRACE_SETREGS, pid, 0, &r) < 0)
        return -ESRCH;
    int need_entry = !*at_entry;
    *at_entry = 0;
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
            return -ESRCH;
        int st;
        if (waitpid(pid, &st, __WALL) < 0 || !WIFSTOPPED(st))
            return -ESRCH;
        int sig = WSTOPSIG(st);
        if (sig == (SIGTRAP | 0x80)) {
            if (need_entry) {           /* the entry stop of the re-executed instruction */
                need_entry = 0;
                continue;
            }
            struct user_regs_struct out;
            if (ptrace(PTRACE_GETREGS, pid, 0, &out) < 0)
                return -ESRCH;
            return (long)out.rax;
        }
        if ((st >> 16) == 0 && sig != SIGTRAP)
            *pending = sig;             /* deliver it when we are done */
    }
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* A copy of the tracee's fd: pidfd_getfd on a pidfd of its thread (any
 * thread, not only the main one: PIDFD_THREAD, 6.9; before, the fd table is
 * the thread group's, reached through its tgid).  pidfd_getfd needs ptrace
 * access, which a tracee that changed its ids grants only to
 * CAP_SYS_PTRACE (raised for the call: creds.c).  Returns an fd or -errno. */
static int their_fd(struct sb_sentry *s, int tid, int fd)
{
    int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
    if (pidfd < 0 && errno == EINVAL) {
        char name[32], buf[4096];
        snprintf(name, sizeof name, "%d/status", tid);
        int f = openat(s->procfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n = f < 0 ? -1 : read(f, buf, sizeof buf - 1);
        if (f >= 0)
            close(f);
        char *tg = n > 0 ? (buf[n] = 0, strstr(buf, "\nTgid:")) : NULL;
        pidfd = tg ? (int)syscall(SYS_pidfd_open, atoi(tg + 6), 0) : -1;
    }
    if (pidfd < 0)
        return errno == ESRCH ? -ESRCH : -errno;
    int ours = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    if (ours < 0 && errno == EPERM && sb_ptrace_cap(1) == 0) {
        ours = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        int err = errno;
        sb_ptrace_cap(0);
        errno = err;
    }
    int err = errno;
    close(pidfd);
    return ours < 0 ? -err : ours;
}

/* Give the tracee `fd`; returns the fd number it got, or -errno. */
long sb_ptrace_inject_fd(struct sb_sentry *s, int pid, int fd, int cloexec)
{
    int *pending = &s->cur_pending;
    s->cur_injected = 1;
    struct user_regs_struct saved;
    if (ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0)
        return -ESRCH;
    uint64_t scratch = (saved.rsp - RED_ZONE - SCRATCH) & ~15ULL;
    char backup[SCRATCH];
    if (sb_mem_read(pid, scratch, backup, SCRATCH) != SCRATCH)
        return -EFAULT;
    int at_entry = 1;
    long result;
    long pair = inject(pid, &saved, &at_entry, SYS_socketpair, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
                       (long)scratch, pending);
    int sv[2];
    if (pair < 0) {
        result = pair;
        goto restore;
    }
    sb_mem_read(pid, scratch, sv, sizeof sv);
    int ours = their_fd(s, pid, sv[0]);
    inject(pid, &saved, &at_entry, SYS_close, sv[0], 0, 0, 0, pending);
    if (ours < 0) {
        result = ours;
        inject(pid, &saved, &at_entry, SYS_close, sv[1], 0, 0, 0, pending);
        goto restore;
    }
    char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = { &byte, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    long sent = sendmsg(ours, &m, 0);
    close(ours);
    if (sent < 0) {
        result = -errno;
        inject(pid, &saved, &at_entry, SYS_close, sv[1], 0, 0, 0, pending);
        goto restore;
    }
    /* The tracee's msghdr, iovec and buffers, laid out in its scratch area. */
    struct { struct msghdr m; struct iovec iov; char byte; char pad[7]; char cbuf[CMSG_SPACE(sizeof(int))]; } t;
    memset(&t, 0, sizeof t);
    uint64_t base = scratch + 16;
    t.iov.iov_base = (void *)(uintptr_t)(base + offsetof(__typeof__(t), byte));
    t.iov.iov_len = 1;
    t.m.msg_iov = (void *)(uintptr_t)(base + offsetof(__typeof__(t), iov));
    t.m.msg_iovlen = 1;
    t.m.msg_control = (void *)(uintptr_t)(base + offsetof(__typeof__(t), cbuf));
    t.m.msg_controllen = sizeof t.cbuf;
    if (sb_mem_write(pid, base, &t, sizeof t) != (long)sizeof t) {
        result = -EFAULT;
        inject(pid, &saved, &at_entry, SYS_close, sv[1], 0, 0, 0, pending);
        goto restore;
    }
    long got = inject(pid, &saved, &at_entry, SYS_recvmsg, sv[1], (long)base,
                      cloexec ? MSG_CMSG_CLOEXEC : 0, 0, pending);
    result = got;
    if (got >= 0) {
        sb_mem_read(pid, base, &t, sizeof t);
        struct cmsghdr *tc = (struct cmsghdr *)t.cbuf;
        int newfd = -1;
        memcpy(&newfd, CMSG_DATA(tc), sizeof(int));
        result = tc->cmsg_type == SCM_RIGHTS ? newfd : -EIO;
    }
    inject(pid, &saved, &at_entry, SYS_close, sv[1], 0, 0, 0, pending);
restore:
    sb_mem_write(pid, scratch, backup, SCRATCH);
    if (!at_entry) {
        /* We are at an exit stop: make it the original call's return. */
        saved.rax = (uint64_t)result;
        ptrace(PTRACE_SETREGS, pid, 0, &saved);
    }
    return result;
}

/* Apply a reply to a tracee at its seccomp stop and resume it. */
static void finish(int pid, struct user_regs_struct *regs, struct seccomp_notif_resp *resp, int sig)
{
    if (!(resp->flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE)) {
        regs->orig_rax = (uint64_t)-1;          /* skip the syscall */
        regs->rax = resp->error ? (uint64_t)(int64_t)resp->error : (uint64_t)resp->val;
        ptrace(PTRACE_SETREGS, pid, 0, regs);
    }
    ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
}

/* Serve until no tracee is left and init has exited.  Returns one of
 * SB_STOP_*; *init_status gets init's wait status once it exits. */
/* Finish a stop whose handler ran on a worker (the tracee waited in its
 * seccomp stop meanwhile). */
void sb_ptrace_complete(struct sb_sentry *s, int pid, int64_t result)
{
    struct user_regs_struct regs;
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    int rc = sb_encode_result(result, &resp);
    if (rc == SB_DROPPED || rc == SB_DEFERRED || ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
        return;
    finish(pid, &regs, &resp, s->cur_pending);
    s->cur_pending = 0;
}

int sb_ptrace_serve(struct sb_sentry *s, int init_pid, int *init_status)
{
    int naps = 0;
    for (;;) {
        int st;
        if (s->completed)
            return SB_STOP_EINTR;          /* Python has deferred work to finish */
        int pid = waitpid(-1, &st, __WALL | (s->outstanding ? WNOHANG : 0));
        if (pid == 0) {                    /* nothing yet: nap, then look again */
            struct timespec nap = { 0, 1000000 };
            nanosleep(&nap, NULL);
            if (++naps % 20 == 0)
                return SB_STOP_EINTR;      /* let Python look for signals to the waiting tracees */
            continue;
        }
        if (pid < 0) {
            if (errno == EINTR)
                return SB_STOP_EINTR;
            if (errno == ECHILD)
                return SB_STOP_GONE;
            return -errno;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (pid == init_pid)
                *init_status = st;
            continue;
        }
        if (!WIFSTOPPED(st))
            continue;
        int sig = WSTOPSIG(st), event = st >> 16;
        if (event == PTRACE_EVENT_SECCOMP) {
            struct user_regs_struct regs;
            if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
                continue;                          /* killed meanwhile */
            struct seccomp_notif req;
            struct seccomp_notif_resp resp;
            memset(&req, 0, sizeof req);
            req.pid = (uint32_t)pid;
            req.data.nr = (int)regs.orig_rax;
            req.data.arch = 0xc000003e;            /* AUDIT_ARCH_X86_64: the filter killed the rest */
            uint64_t a[6] = { regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 };
            memcpy(req.data.args, a, sizeof a);
            s->cur_pending = 0;
            s->cur_injected = 0;
            int rc = sb_dispatch_one(s, &req, &resp);
            if (rc == SB_DROPPED || rc == SB_DEFERRED)
                continue;
            if (s->cur_injected)       /* syscalls were injected: the registers moved on */
                ptrace(PTRACE_GETREGS, pid, 0, &regs);
            finish(pid, &regs, &resp, s->cur_pending);
            if (rc == SB_STOP)
                return SB_STOP_REQUEST;
        } else if (event == PTRACE_EVENT_STOP) {
            if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
                ptrace(PTRACE_LISTEN, pid, 0, 0);  /* a group-stop: stay stopped until SIGCONT */
            else
                ptrace(PTRACE_CONT, pid, 0, 0);    /* a new tracee's first stop */
        } else if (event != 0 || sig == (SIGTRAP | 0x80)) {
            ptrace(PTRACE_CONT, pid, 0, 0);        /* fork/clone/exec events */
        } else {
            ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);   /* deliver the signal */
        }
    }
}
