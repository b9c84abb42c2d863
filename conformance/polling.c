#include "harness.h"
/* fd readiness: poll, ppoll, select, pselect6 and the epoll family. */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1++; }

/* SIGUSR1 blocked and pending, with a handler: a call that unblocks it in
 * its own mask returns EINTR after running the handler. */
static void pend_usr1(void)
{
    struct sigaction sa = { 0 };
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    EXPECT_OK(sigaction(SIGUSR1, &sa, NULL));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    EXPECT_OK(sigprocmask(SIG_BLOCK, &set, NULL));
    EXPECT_OK(raise(SIGUSR1));
    EXPECT_EQ(got_usr1, 0);
}

/* A regular file in a fresh scratch directory; the directory is removed
 * again by rm_scratch. */
static char scratch_dir[64];
static char scratch_file[96];
static int scratch_open(void)
{
    strcpy(scratch_dir, "/tmp/conf.XXXXXX");
    EXPECT_TRUE(mkdtemp(scratch_dir) != NULL);
    snprintf(scratch_file, sizeof scratch_file, "%s/f", scratch_dir);
    int fd = open(scratch_file, O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_OK(fd);
    return fd;
}
static void rm_scratch(void)
{
    EXPECT_OK(unlink(scratch_file));
    EXPECT_OK(rmdir(scratch_dir));
}

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

/* ---- epoll_create / epoll_create1 ---- */

TEST(epoll_create, size_must_be_positive)
{
    EXPECT_ERRNO(syscall(SYS_epoll_create, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_epoll_create, -1), EINVAL);
    long fd = syscall(SYS_epoll_create, 1);
    EXPECT_OK(fd);
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
}

TEST(epoll_create1, cloexec)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    EXPECT_OK(fd);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
}

TEST(epoll_create1, einval_bad_flags)
{
    EXPECT_ERRNO(epoll_create1(1), EINVAL);
    EXPECT_ERRNO(epoll_create1(O_NONBLOCK), EINVAL);
}

/* ---- epoll_ctl ---- */

TEST(epoll_ctl, add_mod_del)
{
    int ep = epoll_create1(0), p[2];
    EXPECT_OK(ep);
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "x", 1), 1);
    struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = 7 }, out[2];
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    EXPECT_EQ(epoll_wait(ep, out, 2, 0), 0);            /* a read end is never writable */
    ev.events = EPOLLIN;
    ev.data.u64 = 0x1122334455667788ull;
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    EXPECT_EQ(epoll_wait(ep, out, 2, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLIN);
    EXPECT_TRUE(out[0].data.u64 == 0x1122334455667788ull);
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    EXPECT_EQ(epoll_wait(ep, out, 2, 0), 0);
}

TEST(epoll_ctl, eexist_double_add)
{
    int ep = epoll_create1(0), p[2];
    EXPECT_OK(pipe(p));
    struct epoll_event ev = { .events = EPOLLIN };
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    EXPECT_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
}

TEST(epoll_ctl, enoent_not_added)
{
    int ep = epoll_create1(0), p[2];
    EXPECT_OK(pipe(p));
    struct epoll_event ev = { .events = EPOLLIN };
    EXPECT_ERRNO(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), ENOENT);
    EXPECT_ERRNO(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], &ev), ENOENT);
}

TEST(epoll_ctl, ebadf)
{
    int ep = epoll_create1(0), p[2];
    EXPECT_OK(pipe(p));
    struct epoll_event ev = { .events = EPOLLIN };
    EXPECT_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF);
    EXPECT_ERRNO(epoll_ctl(999, EPOLL_CTL_ADD, p[0], &ev), EBADF);
}

TEST(epoll_ctl, einval_same_fd)
{
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN };
    EXPECT_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
}

TEST(epoll_ctl, einval_not_epoll)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct epoll_event ev = { .events = EPOLLIN };
    EXPECT_ERRNO(epoll_ctl(p[1], EPOLL_CTL_ADD, p[0], &ev), EINVAL);
}

TEST(epoll_ctl, einval_bad_op)
{
    int ep = epoll_create1(0), p[2];
    EXPECT_OK(pipe(p));
    struct epoll_event ev = { .events = EPOLLIN };
    EXPECT_ERRNO(epoll_ctl(ep, 99, p[0], &ev), EINVAL);
}

TEST(epoll_ctl, eperm_regular_file)
{
    int ep = epoll_create1(0);
    int fd = scratch_open();
    struct epoll_event ev = { .events = EPOLLIN };
    EXPECT_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), EPERM);
    rm_scratch();
}

TEST(epoll_ctl, efault_bad_event)
{
    int ep = epoll_create1(0), p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], (void *)1), EFAULT);
}

/* ---- epoll_wait / epoll_pwait / epoll_pwait2 ---- */

static int ep_with_pipe(int p[2], uint32_t events)
{
    int ep = epoll_create1(0);
    EXPECT_OK(ep);
    EXPECT_OK(pipe(p));
    struct epoll_event ev = { .events = events, .data.fd = p[0] };
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    return ep;
}

TEST(epoll_wait, level_triggered_repeats)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    struct epoll_event out[4];
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);
    EXPECT_EQ(write(p[1], "ab", 2), 2);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].data.fd, p[0]);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    char c[2];
    EXPECT_EQ(read(p[0], c, 2), 2);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);
}

TEST(epoll_wait, edge_triggered_once)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN | EPOLLET);
    struct epoll_event out[4];
    EXPECT_EQ(write(p[1], "a", 1), 1);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLIN);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);        /* no new edge */
    EXPECT_EQ(write(p[1], "b", 1), 1);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);        /* new data: new edge */
}

TEST(epoll_wait, oneshot_disarms)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN | EPOLLONESHOT);
    struct epoll_event out[4];
    EXPECT_EQ(write(p[1], "a", 1), 1);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.fd = p[0] };
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
}

TEST(epoll_wait, hup_when_writer_closes)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    struct epoll_event out[4];
    EXPECT_OK(close(p[1]));
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLHUP);
}

TEST(epoll_wait, maxevents_limits)
{
    int ep = epoll_create1(0), p[2], q[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(q));
    struct epoll_event ev = { .events = EPOLLOUT }, out[4];
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, q[1], &ev));
    EXPECT_EQ(epoll_wait(ep, out, 1, 0), 1);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 2);
}

TEST(epoll_wait, timeout_expires)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    struct epoll_event out[1];
    EXPECT_EQ(epoll_wait(ep, out, 1, 20), 0);
}

TEST(epoll_wait, einval_maxevents_zero)
{
    int ep = epoll_create1(0);
    struct epoll_event out[1];
    EXPECT_ERRNO(epoll_wait(ep, out, 0, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_epoll_wait, ep, out, -1, 0), EINVAL);
}

TEST(epoll_wait, einval_not_epoll)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct epoll_event out[1];
    EXPECT_ERRNO(epoll_wait(p[0], out, 1, 0), EINVAL);
}

TEST(epoll_wait, ebadf)
{
    struct epoll_event out[1];
    EXPECT_ERRNO(epoll_wait(999, out, 1, 0), EBADF);
}

TEST(epoll_wait, efault_bad_events)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    EXPECT_EQ(syscall(SYS_epoll_wait, ep, (void *)1, 1, 0), 0);   /* nothing to copy yet */
    EXPECT_EQ(write(p[1], "a", 1), 1);
    EXPECT_ERRNO(syscall(SYS_epoll_wait, ep, (void *)1, 1, 0), EFAULT);
}

TEST(epoll_pwait, sigmask_unblocks_pending)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    pend_usr1();
    sigset_t empty;
    sigemptyset(&empty);
    struct epoll_event out[1];
    EXPECT_ERRNO(syscall(SYS_epoll_pwait, ep, out, 1, 5000, &empty, 8), EINTR);
    EXPECT_EQ(got_usr1, 1);
}

TEST(epoll_pwait, ready_with_mask)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    EXPECT_EQ(write(p[1], "a", 1), 1);
    sigset_t empty;
    sigemptyset(&empty);
    struct epoll_event out[1];
    EXPECT_EQ(syscall(SYS_epoll_pwait, ep, out, 1, 0, &empty, 8), 1);
    EXPECT_EQ(out[0].data.fd, p[0]);
}

TEST(epoll_pwait, einval_bad_sigsetsize)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    sigset_t empty;
    sigemptyset(&empty);
    struct epoll_event out[1];
    EXPECT_ERRNO(syscall(SYS_epoll_pwait, ep, out, 1, 0, &empty, 4), EINVAL);
}

TEST(epoll_pwait2, timespec_timeout)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN | EPOLLET);
    struct epoll_event out[1];
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 1, &ts, NULL, 8), 0);
    EXPECT_EQ(write(p[1], "a", 1), 1);
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 1, &ts, NULL, 8), 1);
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 1, &ts, NULL, 8), 0);   /* edge consumed */
}

TEST(epoll_pwait2, null_timeout_ready)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    EXPECT_EQ(write(p[1], "a", 1), 1);
    struct epoll_event out[1];
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 1, NULL, NULL, 8), 1);
}

TEST(epoll_pwait2, einval_negative_timeout)
{
    int p[2], ep = ep_with_pipe(p, EPOLLIN);
    struct epoll_event out[1];
    struct timespec ts = { -1, 0 };
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, ep, out, 1, &ts, NULL, 8), EINVAL);
}
