/* Process file descriptors: pidfd_open, pidfd_send_signal and pidfd_getfd
 * (Linux 5.3-5.6), and a pidfd's poll readiness at exit.  Service managers,
 * Python's os.pidfd_open and Go's os/exec use them to wait and signal
 * without pid-reuse races.  clone's CLONE_PIDFD is in threads.c. */
#include "harness.h"
#include "helpers.h"
#include <poll.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_open(pid_t pid, unsigned flags)
{
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags)
{
    return (int)syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static int pidfd_getfd(int pidfd, int fd, unsigned flags)
{
    return (int)syscall(SYS_pidfd_getfd, pidfd, fd, flags);
}

static pid_t sleeper(void)
{
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) {
        pause();
        _exit(0);
    }
    return pid;
}

TEST(pidfd_open, is_cloexec_and_polls_readable_at_exit)
{
    pid_t pid = sleeper();
    int fd = pidfd_open(pid, 0);
    EXPECT_OK(fd);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    EXPECT_EQ(poll(&p, 1, 0), 0);                  /* alive: not readable */
    EXPECT_OK(kill(pid, SIGKILL));
    EXPECT_EQ(poll(&p, 1, 5000), 1);
    EXPECT_TRUE(p.revents & POLLIN);
    int st = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

TEST(pidfd_open, esrch_einval_and_ebadf)
{
    EXPECT_ERRNO(pidfd_open(dead_pid(), 0), ESRCH);
    EXPECT_ERRNO(pidfd_open(getpid(), 0x1), EINVAL);
    EXPECT_ERRNO(pidfd_open(0, 0), EINVAL);
    EXPECT_ERRNO(pidfd_send_signal(-1, 0, NULL, 0), EBADF);
}

TEST(pidfd_send_signal, kills_its_process_and_esrch_after_it_is_gone)
{
    pid_t pid = sleeper();
    int fd = pidfd_open(pid, 0);
    EXPECT_OK(fd);
    EXPECT_OK(pidfd_send_signal(fd, 0, NULL, 0));       /* probe */
    EXPECT_OK(pidfd_send_signal(fd, SIGTERM, NULL, 0));
    int st = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    EXPECT_ERRNO(pidfd_send_signal(fd, SIGTERM, NULL, 0), ESRCH);
}

TEST(pidfd_send_signal, einval_for_flags_and_a_non_pidfd)
{
    int fd = pidfd_open(getpid(), 0);
    EXPECT_OK(fd);
    EXPECT_ERRNO(pidfd_send_signal(fd, 0, NULL, 0x100), EINVAL);
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(pidfd_send_signal(p[0], 0, NULL, 0), EBADF);
}

TEST(pidfd_open, nonblock_waitid_is_eagain_while_running)
{
    pid_t pid = sleeper();
    int fd = pidfd_open(pid, PIDFD_NONBLOCK);
    EXPECT_OK(fd);
    siginfo_t si;
    EXPECT_ERRNO(waitid(P_PIDFD, fd, &si, WEXITED), EAGAIN);
    EXPECT_OK(kill(pid, SIGKILL));
    /* Blocking now (the flag is the file's): on the ptrace platform the
     * sentry, as tracer, sees the exit first, so a WNOHANG-style wait right
     * after POLLIN may still find nothing for a moment. */
    EXPECT_OK(fcntl(fd, F_SETFL, 0));
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_PIDFD, fd, &si, WEXITED));
    EXPECT_EQ(si.si_pid, pid);
    EXPECT_EQ(si.si_code, CLD_KILLED);
}

TEST(pidfd_getfd, copies_a_childs_descriptor)
{
    int p[2], ready[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(ready));
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {                        /* holds p[1] as fd 100, closes the rest */
        if (dup2(p[1], 100) < 0) _exit(1);
        close(p[0]);
        close(p[1]);
        (void)!write(ready[1], "r", 1);
        pause();
        _exit(0);
    }
    close(p[1]);
    char c;
    EXPECT_EQ(read(ready[0], &c, 1), 1);
    int pfd = pidfd_open(pid, 0);
    EXPECT_OK(pfd);
    int w = pidfd_getfd(pfd, 100, 0);
    EXPECT_OK(w);
    EXPECT_EQ(fcntl(w, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(write(w, "got", 3), 3);
    EXPECT_EQ(read(p[0], B, 3), 3);
    EXPECT_TRUE(memcmp(B, "got", 3) == 0);
    EXPECT_ERRNO(pidfd_getfd(pfd, 101, 0), EBADF);
    EXPECT_ERRNO(pidfd_getfd(pfd, 100, 1), EINVAL);
    EXPECT_OK(kill(pid, SIGKILL));
    reap(pid);
}
