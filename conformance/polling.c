/* fd readiness: poll, ppoll, select and pselect6.  The epoll family is in
 * epoll.c. */
#include "harness.h"
#include "signal_helpers.h"
#include <poll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>

/* ---- poll ---- */

TEST(poll, pipe_pollin)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "x", 1), 1);
    struct pollfd pfd = { p[0], POLLIN, 0 };
    EXPECT_EQ(syscall(SYS_poll, &pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLIN);
}

TEST(poll, pipe_pollout)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct pollfd pfd[2] = { { p[0], POLLIN | POLLOUT, 0 }, { p[1], POLLIN | POLLOUT, 0 } };
    EXPECT_EQ(syscall(SYS_poll, pfd, 2, 0), 1);
    EXPECT_EQ(pfd[0].revents, 0);
    EXPECT_EQ(pfd[1].revents, POLLOUT);
}

TEST(poll, pipe_pollhup)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[1]));
    struct pollfd pfd = { p[0], POLLIN, 0 };
    EXPECT_EQ(syscall(SYS_poll, &pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLHUP);
}

TEST(poll, pipe_pollerr_reader_gone)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    struct pollfd pfd = { p[1], POLLOUT, 0 };
    EXPECT_EQ(syscall(SYS_poll, &pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLOUT | POLLERR);
}

TEST(poll, timeout_zero_empty)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct pollfd pfd = { p[0], POLLIN, 0x7 };
    EXPECT_EQ(syscall(SYS_poll, &pfd, 1, 0), 0);
    EXPECT_EQ(pfd.revents, 0);
}

TEST(poll, timeout_expires)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct pollfd pfd = { p[0], POLLIN, 0 };
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    EXPECT_EQ(syscall(SYS_poll, &pfd, 1, 30), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    EXPECT_TRUE(ms >= 29);
}

TEST(poll, pollnval_closed_fd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    struct pollfd pfd = { p[0], POLLIN, 0 };
    EXPECT_EQ(syscall(SYS_poll, &pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLNVAL);
}

TEST(poll, negative_fd_ignored)
{
    struct pollfd pfd = { -1, POLLIN, 0x7 };
    EXPECT_EQ(syscall(SYS_poll, &pfd, 1, 0), 0);
    EXPECT_EQ(pfd.revents, 0);
}

TEST(poll, efault_bad_fds)
{
    EXPECT_ERRNO(syscall(SYS_poll, (void *)1, 1, 0), EFAULT);
}

TEST(poll, einval_nfds_over_rlimit)
{
    struct rlimit rl;
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    EXPECT_ERRNO(syscall(SYS_poll, NULL, rl.rlim_cur + 1, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_poll, NULL, 0x7fffffffu, 0), EINVAL);
}

TEST(poll, zero_fds_timeout)
{
    EXPECT_EQ(syscall(SYS_poll, NULL, 0, 1), 0);
}

/* ---- ppoll ---- */

TEST(ppoll, sigmask_unblocks_pending)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pend_usr1();
    sigset_t empty;
    sigemptyset(&empty);
    struct pollfd pfd = { p[0], POLLIN, 0 };
    struct timespec ts = { 5, 0 };
    EXPECT_ERRNO(syscall(SYS_ppoll, &pfd, 1, &ts, &empty, 8), EINTR);
    EXPECT_EQ(got_usr1, 1);
    /* The old mask is back: SIGUSR1 still blocked. */
    sigset_t cur;
    EXPECT_OK(sigprocmask(SIG_BLOCK, NULL, &cur));
    EXPECT_TRUE(sigismember(&cur, SIGUSR1));
}

TEST(ppoll, sigmask_keeps_blocked)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pend_usr1();
    sigset_t blk;
    sigemptyset(&blk);
    sigaddset(&blk, SIGUSR1);
    struct pollfd pfd = { p[0], POLLIN, 0 };
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    EXPECT_EQ(syscall(SYS_ppoll, &pfd, 1, &ts, &blk, 8), 0);
    EXPECT_EQ(got_usr1, 0);
}

TEST(ppoll, ready_and_timeout_updated)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "x", 1), 1);
    struct pollfd pfd = { p[0], POLLIN, 0 };
    struct timespec ts = { 0, 0 };
    EXPECT_EQ(syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8), 1);
    EXPECT_EQ(pfd.revents, POLLIN);
    EXPECT_EQ(ts.tv_sec, 0);
    EXPECT_EQ(ts.tv_nsec, 0);
}

TEST(ppoll, einval_negative_timeout)
{
    struct pollfd pfd = { -1, POLLIN, 0 };
    struct timespec ts = { -1, 0 };
    EXPECT_ERRNO(syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8), EINVAL);
}

TEST(ppoll, einval_bad_sigsetsize)
{
    struct pollfd pfd = { -1, POLLIN, 0 };
    struct timespec ts = { 0, 0 };
    sigset_t empty;
    sigemptyset(&empty);
    EXPECT_ERRNO(syscall(SYS_ppoll, &pfd, 1, &ts, &empty, 4), EINVAL);
}

TEST(ppoll, efault_bad_timeout)
{
    struct pollfd pfd = { -1, POLLIN, 0 };
    EXPECT_ERRNO(syscall(SYS_ppoll, &pfd, 1, (void *)1, NULL, 8), EFAULT);
}

/* ---- select (raw SYS_select) ---- */

TEST(select, pipe_readable)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "x", 1), 1);
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[0], &w);
    struct timeval tv = { 0, 0 };
    EXPECT_EQ(syscall(SYS_select, p[0] + 1, &r, &w, NULL, &tv), 1);
    EXPECT_TRUE(FD_ISSET(p[0], &r));
    EXPECT_TRUE(!FD_ISSET(p[0], &w));
}

TEST(select, timeout_updated_to_zero)
{
    int p[2];
    EXPECT_OK(pipe(p));
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = { 0, 20000 };
    EXPECT_EQ(syscall(SYS_select, p[0] + 1, &r, NULL, NULL, &tv), 0);
    EXPECT_TRUE(!FD_ISSET(p[0], &r));
    EXPECT_EQ(tv.tv_sec, 0);
    EXPECT_EQ(tv.tv_usec, 0);
}

TEST(select, ebadf_closed_fd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = { 0, 0 };
    EXPECT_ERRNO(syscall(SYS_select, p[0] + 1, &r, NULL, NULL, &tv), EBADF);
}

TEST(select, einval_negative_nfds)
{
    struct timeval tv = { 0, 0 };
    EXPECT_ERRNO(syscall(SYS_select, -1, NULL, NULL, NULL, &tv), EINVAL);
}

TEST(select, einval_negative_timeout)
{
    struct timeval tv = { -1, 0 };
    EXPECT_ERRNO(syscall(SYS_select, 0, NULL, NULL, NULL, &tv), EINVAL);
}

TEST(select, efault_bad_set)
{
    struct timeval tv = { 0, 0 };
    EXPECT_ERRNO(syscall(SYS_select, 1, (void *)1, NULL, NULL, &tv), EFAULT);
}

/* ---- pselect6 ---- */

struct sigset_arg { const sigset_t *ss; size_t len; };

TEST(pselect6, pipe_writable)
{
    int p[2];
    EXPECT_OK(pipe(p));
    fd_set w;
    FD_ZERO(&w);
    FD_SET(p[1], &w);
    struct timespec ts = { 1, 0 };
    EXPECT_EQ(syscall(SYS_pselect6, p[1] + 1, NULL, &w, NULL, &ts, NULL), 1);
    EXPECT_TRUE(FD_ISSET(p[1], &w));
}

TEST(pselect6, timeout_updated_to_zero)
{
    int p[2];
    EXPECT_OK(pipe(p));
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    EXPECT_EQ(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &ts, NULL), 0);
    EXPECT_EQ(ts.tv_sec, 0);
    EXPECT_EQ(ts.tv_nsec, 0);
}

TEST(pselect6, sigmask_unblocks_pending)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pend_usr1();
    sigset_t empty;
    sigemptyset(&empty);
    struct sigset_arg sa = { &empty, 8 };
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timespec ts = { 5, 0 };
    EXPECT_ERRNO(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &ts, &sa), EINTR);
    EXPECT_EQ(got_usr1, 1);
}

TEST(pselect6, ebadf_closed_fd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[1]));
    fd_set w;
    FD_ZERO(&w);
    FD_SET(p[1], &w);
    struct timespec ts = { 0, 0 };
    EXPECT_ERRNO(syscall(SYS_pselect6, p[1] + 1, NULL, &w, NULL, &ts, NULL), EBADF);
}

TEST(pselect6, einval_bad_sigsetsize)
{
    sigset_t empty;
    sigemptyset(&empty);
    struct sigset_arg sa = { &empty, 4 };
    struct timespec ts = { 0, 0 };
    EXPECT_ERRNO(syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, &sa), EINVAL);
}
