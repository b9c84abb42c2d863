/* The interception limit on this machine, measured in the same run as the
 * sandbox: a minimal C supervisor answering uname(2) notifications.
 *   limit MODE ITERATIONS    MODE: bare  (RECV + SEND)
 *                                  write (RECV + ID_VALID + process_vm_writev
 *                                         of struct utsname + SEND: what any
 *                                         emulated uname must do)
 *                                  openat (the tracee calls openat+close;
 *                                         RECV + read the path + ID_VALID +
 *                                         openat + ADDFD|SEND: what any
 *                                         emulated openat must do)
 *                                  stat  (the tracee calls stat(): RECV + read
 *                                         the path + ID_VALID + fstatat +
 *                                         write struct stat + SEND)
 *                                  ptrace (uname is SECCOMP_RET_TRACE; the
 *                                         tracer waits, reads the registers,
 *                                         skips the call with a fake return
 *                                         and continues: the ptrace floor)
 * Prints nanoseconds per call as seen by the tracee. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SET_FLAGS SECCOMP_IOW(4, __u64)
#define SYNC_WAKE_UP 1UL

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void xfer_fd(int sock, int *fd, int sending)
{
    char b = 0, cb[CMSG_SPACE(sizeof(int))];
    struct iovec io = { &b, 1 };
    struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb };
    if (sending) {
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), fd, sizeof(int));
        sendmsg(sock, &m, 0);
    } else {
        recvmsg(sock, &m, 0);
        memcpy(fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
    }
}

static int ptrace_limit(long n)
{
    int go[2];
    if (pipe(go) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        char b;
        if (read(go[0], &b, 1) != 1)
            _exit(1);
        scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
        seccomp_rule_add(c, SCMP_ACT_TRACE(0), SCMP_SYS(uname), 0);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (seccomp_load(c) < 0)
            _exit(1);
        struct utsname u;
        double t0 = now();
        for (long i = 0; i < n; i++)
            uname(&u);
        printf("%.1f\n", (now() - t0) / n);
        fflush(stdout);
        _exit(0);
    }
    ptrace(PTRACE_SEIZE, child, 0, (void *)(long)(PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL));
    if (write(go[1], "x", 1) != 1)
        return 1;
    for (;;) {
        int st;
        if (waitpid(child, &st, __WALL) < 0 || WIFEXITED(st) || WIFSIGNALED(st))
            break;
        if ((st >> 16) == PTRACE_EVENT_SECCOMP) {
            struct user_regs_struct r;
            ptrace(PTRACE_GETREGS, child, 0, &r);
            r.orig_rax = (unsigned long long)-1;
            r.rax = 0;
            ptrace(PTRACE_SETREGS, child, 0, &r);
            ptrace(PTRACE_CONT, child, 0, 0);
        } else {
            int sig = WSTOPSIG(st);
            ptrace(PTRACE_CONT, child, 0, (void *)(long)((st >> 16) || sig == SIGTRAP ? 0 : sig));
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    if (!strcmp(argv[1], "ptrace"))
        return ptrace_limit(atol(argv[2]));
    int write_mode = !strcmp(argv[1], "write");
    int open_mode = !strcmp(argv[1], "openat");
    int stat_mode = !strcmp(argv[1], "stat");
    long n = atol(argv[2]);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t child = fork();
    if (child == 0) {
        scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
        seccomp_rule_add(c, SCMP_ACT_NOTIFY, open_mode ? SCMP_SYS(openat)
                         : stat_mode ? SCMP_SYS(newfstatat) : SCMP_SYS(uname), 0);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (seccomp_load(c) < 0)
            _exit(1);
        int fd = seccomp_notify_fd(c);
        xfer_fd(sv[1], &fd, 1);
        struct utsname u;
        double t0 = now();
        for (long i = 0; i < n; i++) {
            if (open_mode)
                close(openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC));
            else if (stat_mode) {
                struct stat sb;
                stat("/etc/hostname", &sb);
            } else
                uname(&u);
        }
        printf("%.1f\n", (now() - t0) / n);
        fflush(stdout);
        _exit(0);
    }
    int fd;
    xfer_fd(sv[0], &fd, 0);
    ioctl(fd, SET_FLAGS, SYNC_WAKE_UP);
    struct utsname u;
    uname(&u);
    for (long served = 0; served < n; served++) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            break;
        }
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        if (open_mode) {
            char path[4096];
            struct iovec l = { path, sizeof path }, r = { (void *)req.data.args[1], sizeof path };
            l.iov_len = r.iov_len = 4096 - (req.data.args[1] & 4095);
            process_vm_readv((pid_t)req.pid, &l, 1, &r, 1, 0);
            __u64 id = req.id;
            ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
            int f = openat(AT_FDCWD, path, (int)req.data.args[2] | O_CLOEXEC);
            struct seccomp_notif_addfd a = { .id = req.id, .flags = SECCOMP_ADDFD_FLAG_SEND,
                                             .srcfd = (__u32)f, .newfd_flags = O_CLOEXEC };
            ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
            close(f);
            continue;
        }
        if (stat_mode) {
            char path[4096];
            struct iovec l = { path, 4096 - (req.data.args[1] & 4095) }, r = { (void *)req.data.args[1], l.iov_len };
            process_vm_readv((pid_t)req.pid, &l, 1, &r, 1, 0);
            __u64 id = req.id;
            ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
            struct stat sb;
            fstatat(AT_FDCWD, path, &sb, (int)req.data.args[3]);
            struct iovec wl = { &sb, sizeof sb }, wr = { (void *)req.data.args[2], sizeof sb };
            process_vm_writev((pid_t)req.pid, &wl, 1, &wr, 1, 0);
        }
        if (write_mode) {
            __u64 id = req.id;
            ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
            struct iovec l = { &u, sizeof u }, r = { (void *)req.data.args[0], sizeof u };
            process_vm_writev((pid_t)req.pid, &l, 1, &r, 1, 0);
        }
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    /* After the timed loop the child may still make a notified call (its
     * printf's fstat is a newfstatat): answer until it is gone. */
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, -1) < 0 || (p.revents & POLLHUP))
            break;
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
            continue;
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    int st;
    waitpid(child, &st, 0);
    return 0;
}
