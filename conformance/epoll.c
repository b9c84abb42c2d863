/* fd readiness: epoll_create, epoll_create1, epoll_ctl, epoll_wait,
 * epoll_pwait and epoll_pwait2. */
#include "harness.h"
#include "helpers.h"
#include "signal_helpers.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

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
