/* Starting the workload: the sandbox's init, and the child that applies the
 * filter and execs.  Runs after fork(), so only async-signal-safe libc.
 *
 * Kernel facts this code relies on:
 * - For a uid-0 process, execve() sets the permitted set to
 *   (inheritable | bounding), so dropping the bounding set is what limits
 *   root's capabilities after exec.
 * - PR_SET_NO_NEW_PRIVS lets an unprivileged filter load and makes setuid
 *   binaries unable to regain privileges.  It survives execve.
 * - The listener fd from a NEW_LISTENER filter is created O_CLOEXEC; only one
 *   NEW_LISTENER filter may exist per task tree (EBUSY otherwise).
 * - A process that unshares CLONE_NEWUSER has every capability in the new
 *   user namespace but no mapped ids until someone privileged in the parent
 *   namespace writes /proc/PID/uid_map and gid_map (init does, as host
 *   root).  Capabilities there cover only what that namespace owns: the
 *   sandbox's mount, uts, ipc and net namespaces were made before it, by the
 *   host's root, so they stay out of reach, as does everything global.
 * - Signals to a pid namespace's init from inside that namespace are dropped
 *   unless init handles them; SIGKILL from the parent namespace always works.
 *   When init exits the kernel kills every other process in the namespace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sb.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static void report(int sock, const char *what, int err)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%c%s: %s", SB_MSG_ERROR, what, strerror(err));
    if (n > 0)
        send(sock, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, MSG_NOSIGNAL);
}

/* sendmsg, never send(): under --strace=all sendmsg is the one call that
 * runs before anyone serves (see sentry/syscalls/filter.py).  fd < 0: no fd. */
static int send_fd(int sock, char tag, int fd)
{
    char buf[CMSG_SPACE(sizeof(int))];
    memset(buf, 0, sizeof buf);
    struct iovec iov = { &tag, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = buf, .msg_controllen = sizeof buf };
    if (fd < 0) {
        m.msg_control = NULL;
        m.msg_controllen = 0;
        return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Limit the bounding set while we still have CAP_SETPCAP; the uid change
 * that follows clears a non-root user's capabilities anyway. */
static int drop_bounding(uint64_t keep)
{
    for (int cap = 0; cap < 64; cap++)
        if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;
    return 0;
}

/* Set permitted and effective to `keep` (0 for a non-root user, matching
 * what execve would give it).  Inheritable stays empty, as in Docker since
 * CVE-2022-24769. */
static int set_caps(uint64_t keep)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    d[0].effective = d[0].permitted = (uint32_t)keep;
    d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
    return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* execvp() with PATH taken from the workload's environment, not ours. */
static int exec_path(char *const *argv, char *const *envp)
{
    const char *file = argv[0];
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return errno;
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    int err = ENOENT;
    char buf[4096];
    while (*path) {
        const char *end = strchrnul(path, ':');
        size_t dl = (size_t)(end - path);
        if (dl + strlen(file) + 2 < sizeof buf) {
            memcpy(buf, path, dl);
            buf[dl] = '/';
            strcpy(buf + dl + 1, file);
            execve(dl ? buf : file, argv, envp);
            if (errno == EACCES)
                err = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR)
                return errno;
        }
        path = *end ? end + 1 : end;
    }
    return err;
}

/* The workload's side of the user-namespace handshake (see sb_init_run). */
static void enter_userns(const struct sb_spawn *sp, int to_init, int from_init)
{
    char ok = 0;
    /* Created as the host ids the container's user maps to, so that they
     * own it: the sentry, serving as those ids, may then read and write
     * this process's memory (the kernel lets a namespace's owner act in it
     * as if privileged), and nothing more. */
    if (setgroups(0, NULL) < 0 || setresgid(sp->host_gid, sp->host_gid, sp->host_gid) < 0
        || setresuid(sp->host_uid, sp->host_uid, sp->host_uid) < 0) {
        report(sp->sock, "taking the user namespace's owner ids", errno);
        _exit(125);
    }
    if (unshare(CLONE_NEWUSER) < 0) {
        report(sp->sock, "creating the user namespace", errno);
        _exit(125);
    }
    char tag = SB_MSG_USERNS;
    if (write(to_init, &tag, 1) != 1 || read(from_init, &ok, 1) != 1 || ok != SB_MSG_MAPPED) {
        report(sp->sock, "writing the uid/gid maps", EPROTO);
        _exit(125);
    }
    close(to_init);
    close(from_init);
}

static void write_map(pid_t pid, const char *file, const char *map)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)!write(fd, map, strlen(map));
    close(fd);
}

static int g_userns_pipes[4] = { -1, -1, -1, -1 };

static void workload(const struct sb_spawn *sp)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);

    if (sp->tty >= 0) {
        if (setsid() < 0 || ioctl(sp->tty, TIOCSCTTY, 0) < 0) {
            report(sp->sock, "making the pty the controlling terminal", errno);
            _exit(125);
        }
        dup2(sp->tty, 0);
        dup2(sp->tty, 1);
        dup2(sp->tty, 2);
    }
    if (sp->cwd && chdir(sp->cwd) < 0) {
        report(sp->sock, sp->cwd, errno);
        _exit(125);
    }
    if (sp->userns_fd >= 0) {
        /* The container's own user namespace (we are host root, so we may). */
        if (setns(sp->userns_fd, CLONE_NEWUSER) < 0) {
            report(sp->sock, "joining the container's user namespace", errno);
            _exit(125);
        }
        close(sp->userns_fd);
    } else if (sp->uid_map) {
        close(g_userns_pipes[0]);
        close(g_userns_pipes[3]);
        enter_userns(sp, g_userns_pipes[1], g_userns_pipes[2]);
    }
    /* Everything but stdio (and the socket, until exec) closes at exec. */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    int err = -drop_bounding(sp->caps);
    if (err) {
        report(sp->sock, "dropping capabilities", err);
        _exit(125);
    }
    if (setgroups((size_t)sp->ngroups, (const gid_t *)sp->groups) < 0 || setresgid(sp->gid, sp->gid, sp->gid) < 0
        || setresuid(sp->uid, sp->uid, sp->uid) < 0) {
        report(sp->sock, "setting uid/gid", errno);
        _exit(125);
    }
    /* Dies with its init.  That is implied for a sandbox's pid 1, but an
     * OCI exec's init is not pid 1 of the namespace it runs in.  Set after
     * the uid change, which clears it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    err = -set_caps(sp->uid == 0 ? sp->caps : 0);
    if (err) {
        report(sp->sock, "setting capabilities", err);
        _exit(125);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        report(sp->sock, "setting no_new_privs", errno);
        _exit(125);
    }
    if (sp->ptrace) {
        /* RET_TRACE with no tracer fails the syscall: be seized first.  We
         * inherited init's non-dumpable flag, which would refuse the seize;
         * execve resets it anyway. */
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        char ack = 0, seize = SB_MSG_SEIZE;
        if (send(sp->sock, &seize, 1, MSG_NOSIGNAL) != 1 || recv(sp->sock, &ack, 1, 0) != 1 || ack != SB_MSG_SEIZED)
            _exit(125);
    }
    err = -seccomp_load(sp->filter);
    if (err) {
        report(sp->sock, "loading the seccomp filter", err);
        _exit(125);
    }
    /* From here on every syscall goes through the filter. */
    if (sp->ptrace) {
        if (send_fd(sp->sock, SB_MSG_LISTENER, -1) < 0)
            _exit(125);
    } else {
        int lfd = seccomp_notify_fd(sp->filter);
        if (lfd < 0 || send_fd(sp->sock, SB_MSG_LISTENER, lfd) < 0)
            _exit(125);
        close(lfd);
    }
    /* The user's profile goes last: it may refuse even sendmsg. */
    if (sp->user_filter) {
        err = -seccomp_load(sp->user_filter);
        if (err) {
            dprintf(2, "pysandbox: loading the OCI seccomp profile: %s\n", strerror(err));
            _exit(125);
        }
    }
    err = exec_path(sp->argv, sp->envp);
    dprintf(2, "pysandbox: %s: %s\n", sp->argv[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

static volatile pid_t g_child;

static void forward(int sig)
{
    if (g_child > 0)
        kill(g_child, sig);
}

/* Run as the sandbox's pid 1: fork the workload, forward signals to it, reap
 * orphans, and when the workload exits write its wait status and exit (the
 * kernel then kills whatever is left in the namespace).  Returns -errno only
 * if the workload could not be forked. */
int sb_init_run(const struct sb_spawn *sp)
{
    if (sp->uid_map && sp->userns_fd < 0 && (pipe2(g_userns_pipes, O_CLOEXEC) < 0 || pipe2(g_userns_pipes + 2, O_CLOEXEC) < 0))
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        workload(sp);
    g_child = pid;
    if (sp->userns_fd >= 0)
        close(sp->userns_fd);
    else if (sp->uid_map) {
        /* The workload has unshared its user namespace: map its ids. */
        char u = 0;
        close(g_userns_pipes[1]);
        close(g_userns_pipes[2]);
        if (read(g_userns_pipes[0], &u, 1) == 1 && u == SB_MSG_USERNS) {
            write_map(pid, "uid_map", sp->uid_map);
            write_map(pid, "gid_map", sp->gid_map);
            char mapped = SB_MSG_MAPPED;
            (void)!write(g_userns_pipes[3], &mapped, 1);
        }
        close(g_userns_pipes[0]);
        close(g_userns_pipes[3]);
    }
    close(sp->sock);
    if (sp->tty >= 0)
        close(sp->tty);

    static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
        sigaction(fwd[i], &sa, NULL);

    int status = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w == pid) {
            status = st;
            break;
        }
        if (w < 0 && errno == ECHILD)
            break;
    }
    (void)!write(sp->status_fd, &status, sizeof status);
    _exit(0);
}

/* The sentry takes the workload's identity while it serves, so the files it
 * opens, stats or checks on a tracee's behalf are checked by the kernel
 * against the same uid, gids and capabilities the tracee has.  The saved
 * uid and gid stay 0 and the permitted set stays full, so sb_unbecome()
 * can take root back for clean-up.  Process-wide: glibc applies the
 * setres*id calls to every thread; capset is per thread, so call this
 * before starting threads. */
int sb_become(uint32_t uid, uint32_t gid, uint64_t effective)
{
    if (setgroups(0, NULL) < 0 || setresgid(gid, gid, 0) < 0 || setresuid(uid, uid, 0) < 0)
        return -errno;
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    d[0].effective = (uint32_t)effective & d[0].permitted;
    d[1].effective = (uint32_t)(effective >> 32) & d[1].permitted;
    d[0].inheritable = d[1].inheritable = 0;
    return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int sb_unbecome(void)
{
    if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0)
        return -errno;
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    d[0].effective = d[0].permitted;
    d[1].effective = d[1].permitted;
    return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}
