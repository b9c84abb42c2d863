/* Signals: waiting for signals: rt_sigsuspend, rt_sigtimedwait, signalfd
 * and signalfd4. */
#include "harness.h"
#include "signal_helpers.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>

/* ---- rt_sigsuspend ---- */

TEST(rt_sigsuspend, eintr_after_handler_mask_restored)
{
    install(SIGUSR1, count_handler, 0);
    block(SIGUSR1);
    EXPECT_EQ(raise(SIGUSR1), 0);
    sigset_t empty;
    sigemptyset(&empty);
    EXPECT_ERRNO(syscall(SYS_rt_sigsuspend, &empty, 8), EINTR);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(is_blocked(SIGUSR1), 1);
}

TEST(rt_sigsuspend, waits_for_signal)
{
    install(SIGUSR1, count_handler, 0);
    block(SIGUSR1);
    pid_t pinger = start_pinger(SIGUSR1);
    sigset_t empty;
    sigemptyset(&empty);
    errno = 0;
    long r = syscall(SYS_rt_sigsuspend, &empty, 8);
    int e = errno;
    stop_pinger(pinger);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(e, EINTR);
    EXPECT_TRUE(hits >= 1);
}

TEST(rt_sigsuspend, einval_bad_size)
{
    sigset_t empty;
    sigemptyset(&empty);
    EXPECT_ERRNO(syscall(SYS_rt_sigsuspend, &empty, 4), EINVAL);
}

/* ---- rt_sigtimedwait ---- */

TEST(rt_sigtimedwait, eagain_on_timeout)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    block(SIGUSR1);
    siginfo_t si;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    EXPECT_ERRNO(rt_sigtimedwait_ms(&s, &si, 20), EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
    EXPECT_TRUE(ns >= 20 * 1000000L);
    EXPECT_ERRNO(rt_sigtimedwait_ms(&s, &si, 0), EAGAIN);
}

TEST(rt_sigtimedwait, returns_pending_signal)
{
    block(SIGUSR1);
    EXPECT_EQ(raise(SIGUSR1), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_EQ(rt_sigtimedwait_ms(&s, &si, 1000), SIGUSR1);
    EXPECT_EQ(si.si_signo, SIGUSR1);
    EXPECT_EQ(si.si_code, SI_TKILL);
    EXPECT_EQ(si.si_pid, getpid());
    EXPECT_EQ(is_pending(SIGUSR1), 0);
}

TEST(rt_sigtimedwait, sigchld_on_child_exit)
{
    block(SIGCHLD);
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(3);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    siginfo_t si;
    EXPECT_EQ(rt_sigtimedwait_ms(&s, &si, 5000), SIGCHLD);
    EXPECT_EQ(si.si_code, CLD_EXITED);
    EXPECT_EQ(si.si_pid, pid);
    EXPECT_EQ(si.si_status, 3);
    EXPECT_EQ(waitpid(pid, NULL, 0), pid);
}

TEST(rt_sigtimedwait, einval_bad_timeout_or_size)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    block(SIGUSR1);
    siginfo_t si;
    struct timespec ts = { 0, 1000000000L };
    EXPECT_ERRNO(syscall(SYS_rt_sigtimedwait, &s, &si, &ts, 8), EINVAL);
    ts.tv_nsec = 0;
    EXPECT_ERRNO(syscall(SYS_rt_sigtimedwait, &s, &si, &ts, 4), EINVAL);
}

/* ---- signalfd / signalfd4 ---- */

TEST(signalfd4, read_siginfo)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    block(SIGUSR1);
    int fd;
    EXPECT_OK(fd = syscall(SYS_signalfd4, -1, &s, 8, SFD_CLOEXEC));
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(raise(SIGUSR1), 0);
    struct signalfd_siginfo ssi;
    memset(&ssi, 0, sizeof ssi);
    EXPECT_EQ(read(fd, &ssi, sizeof ssi), sizeof ssi);
    EXPECT_EQ(ssi.ssi_signo, SIGUSR1);
    EXPECT_EQ(ssi.ssi_code, SI_TKILL);
    EXPECT_EQ(ssi.ssi_pid, getpid());
    EXPECT_EQ(ssi.ssi_uid, getuid());
    EXPECT_EQ(is_pending(SIGUSR1), 0);
}

TEST(signalfd4, nonblock_eagain_and_short_read_einval)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    block(SIGUSR1);
    int fd;
    EXPECT_OK(fd = syscall(SYS_signalfd4, -1, &s, 8, SFD_NONBLOCK));
    struct signalfd_siginfo ssi;
    EXPECT_ERRNO(read(fd, &ssi, sizeof ssi), EAGAIN);
    char small[8];
    EXPECT_ERRNO(read(fd, small, sizeof small), EINVAL);
}

TEST(signalfd4, update_mask_of_existing_fd)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    block(SIGUSR1);
    block(SIGUSR2);
    int fd;
    EXPECT_OK(fd = syscall(SYS_signalfd4, -1, &s, 8, SFD_NONBLOCK));
    EXPECT_EQ(raise(SIGUSR2), 0);
    struct signalfd_siginfo ssi;
    EXPECT_ERRNO(read(fd, &ssi, sizeof ssi), EAGAIN);
    sigaddset(&s, SIGUSR2);
    EXPECT_EQ(syscall(SYS_signalfd4, fd, &s, 8, 0), fd);
    EXPECT_EQ(read(fd, &ssi, sizeof ssi), sizeof ssi);
    EXPECT_EQ(ssi.ssi_signo, SIGUSR2);
}

TEST(signalfd4, einval_bad_flags_size_or_fd)
{
    sigset_t s;
    sigemptyset(&s);
    EXPECT_ERRNO(syscall(SYS_signalfd4, -1, &s, 8, 0x1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_signalfd4, -1, &s, 4, 0), EINVAL);
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_signalfd4, p[0], &s, 8, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_signalfd4, 12345, &s, 8, 0), EBADF);
}

TEST(signalfd, raw_read_siginfo)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    block(SIGUSR2);
    int fd;
    EXPECT_OK(fd = syscall(SYS_signalfd, -1, &s, 8));
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
    EXPECT_EQ(syscall(SYS_kill, getpid(), SIGUSR2), 0);
    struct signalfd_siginfo ssi;
    EXPECT_EQ(read(fd, &ssi, sizeof ssi), sizeof ssi);
    EXPECT_EQ(ssi.ssi_signo, SIGUSR2);
    EXPECT_EQ(ssi.ssi_code, SI_USER);
}

TEST(signalfd, einval_bad_size)
{
    sigset_t s;
    sigemptyset(&s);
    EXPECT_ERRNO(syscall(SYS_signalfd, -1, &s, 4), EINVAL);
}
