/* Starting the workload: the sandbox's init, the process that applies the
 * filter and execs, and the holder above a container's own pid 1.  Runs
 * after fork(), so only async-signal-safe libc.
 *
 * Two shapes (sentry/sandbox/init.py chooses; lifecycle.py says why):
 *   sb_init_run   the caller is the sandbox's reaping pid 1: it forks the
 *                 workload, forwards signals to it, reaps orphans, and
 *                 writes the workload's wait status when it exits.
 *   sb_pid1_exec  the caller (an OCI container's pid 1, which built the
 *                 view itself) becomes the workload: no fork.
 *   sb_holder_run its parent, pid 1 of the pid namespace just above the
 *                 container's, outside the container's view: forwards
 *                 signals to it, waits for it and writes its wait status.
 *
 * Kernel facts this code relies on:
 * - For a uid-0 process, execve() sets the permitted set to
 *   (inheritable | bounding), so dropping the bounding set is what limits
 *   root's capabilities after exec.
 * - PR_SET_NO_NEW_PRIVS makes setuid binaries unable to regain privileges.
 *   It survives execve.  Loading a seccomp filter needs it, or
 *   CAP_SYS_ADMIN in the caller's user namespace: without no_new_privs the
 *   filters are loaded while we are still root (or hold every capability
 *   of our new user namespace), before privileges are dropped, so the
 *   setgroups/setresuid/capset that follow already go through the filter
 *   (observed rows: the sentry serves from the LISTENER message on).
 * - The listener fd from a NEW_LISTENER filter is created O_CLOEXEC; only one
 *   NEW_LISTENER filter may exist per task tree (EBUSY otherwise).
 * - A process that unshares CLONE_NEWUSER has every capability in the new
 *   user namespace but no mapped ids until someone privileged in the parent
 *   namespace writes /proc/PID/uid_map and gid_map (the sentry does, as
 *   host root, when we send USERNS).  Capabilities there cover only what that namespace owns: the
 *   sandbox's mount, uts, ipc and net namespaces were made before it, by the
 *   host's root, so they stay out of reach, as does everything global.
 * - Signals to a pid namespace's init are dropped unless init handles them,
 *   whether they come from inside or from an ancestor namespace (SIGKILL and
 *   SIGSTOP from an ancestor always work).  When init exits the kernel kills
 *   every other process in the namespace, and in the namespaces below it.
 * - PR_SET_PDEATHSIG is cleared when the process's euid, egid, fsuid or
 *   fsgid change and by a setuid exec: it ties only a process that never
 *   changes its ids (the inits and the holder here) to its parent.
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

static int g_serving;   /* the sentry has the listener: it reads the socket no more */

/* Why the sandbox did not start: an ERROR message while the sentry still
 * follows the start-up protocol, our stderr (the container's) after. */
static void report(int sock, const char *what, int err)
{
    if (g_serving) {
        dprintf(2, "pysandbox: %s: %s\n", what, strerror(err));
        return;
    }
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

/* Our user namespace: made by the ids it maps to, then mapped by the
 * sentry (USERNS, MAPPED over the start-up socket). */
static void enter_userns(const struct sb_spawn *sp)
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
    if (send(sp->sock, &tag, 1, MSG_NOSIGNAL) != 1 || recv(sp->sock, &ok, 1, 0) != 1 || ok != SB_MSG_MAPPED) {
        report(sp->sock, "writing the uid/gid maps", EPROTO);
        _exit(125);
    }
}

/* Be seized (ptrace), load our filter, hand the sentry its listener, then
 * stack the user's profile.  Returns only once all of that is done. */
static void load_filters(const struct sb_spawn *sp)
{
    if (sp->ptrace) {
        /* RET_TRACE with no tracer fails the syscall: be seized first.  We
         * inherited init's non-dumpable flag, which would refuse the seize;
         * execve resets it anyway. */
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        char ack = 0, seize = SB_MSG_SEIZE;
        if (send(sp->sock, &seize, 1, MSG_NOSIGNAL) != 1 || recv(sp->sock, &ack, 1, 0) != 1 || ack != SB_MSG_SEIZED)
            _exit(125);
    }
    int err = -seccomp_load(sp->filter);
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
    g_serving = 1;
    /* The user's profile goes after the LISTENER message: it may refuse
     * even sendmsg. */
    if (sp->user_filter) {
        err = -seccomp_load(sp->user_filter);
        if (err) {
            report(sp->sock, "loading the OCI seccomp profile", err);
            _exit(125);
        }
    }
}

/* Become the workload: never returns. */
static void workload(const struct sb_spawn *sp)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);

    if (sp->tty >= 0) {
        /* A container's pid 1 (sb_pid1_exec) leads its session already. */
        if ((getsid(0) != getpid() && setsid() < 0) || ioctl(sp->tty, TIOCSCTTY, 0) < 0) {
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
    } else if (sp->new_userns) {
        enter_userns(sp);
    }
    /* Everything but stdio (and the socket, until exec) closes at exec. */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    /* Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: now,
     * while we have it.  Everything below then runs under the filter. */
    if (!sp->no_new_privs)
        load_filters(sp);
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
    /* Dies with its parent.  That is implied for a sandbox's pid 1, but an
     * OCI exec's init is not pid 1 of the namespace it runs in.  Set after
     * the uid change, which clears it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    err = -set_caps(sp->uid == 0 ? sp->caps : 0);
    if (err) {
        report(sp->sock, "setting capabilities", err);
        _exit(125);
    }
    if (sp->no_new_privs) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
            report(sp->sock, "setting no_new_privs", errno);
            _exit(125);
        }
        load_filters(sp);
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

/* The parent's side, in sb_init_run and sb_holder_run: forward signals to
 * `pid`, reap every child until it exits, write its wait status and exit. */
static void supervise(pid_t pid, int status_fd)
{
    static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
    g_child = pid;
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
    (void)!write(status_fd, &status, sizeof status);
    _exit(0);
}

/* Run as the sandbox's pid 1: fork the workload, forward signals to it, reap
 * orphans, and when the workload exits write its wait status and exit (the
 * kernel then kills whatever is left in the namespace).  Returns -errno only
 * if the workload could not be forked. */
int sb_init_run(const struct sb_spawn *sp)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        workload(sp);
    if (sp->userns_fd >= 0)
        close(sp->userns_fd);
    close(sp->sock);
    if (sp->tty >= 0)
        close(sp->tty);
    supervise(pid, sp->status_fd);
    return 0;
}

/* An OCI container's pid 1, its view built: become the workload (never
 * returns). */
int sb_pid1_exec(const struct sb_spawn *sp)
{
    workload(sp);
    return 0;
}

/* The holder of a container's pid 1 (`pid`, our child): see supervise.
 * Never returns. */
int sb_holder_run(int pid, int status_fd)
{
    supervise(pid, status_fd);
    return 0;
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
