/* Timers: alarm, getitimer, setitimer, the POSIX timer_* calls and the
 * timerfd_* calls. */
#include "harness.h"
#include "helpers.h"
#include "signal_helpers.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

/* glibc answers clock_gettime, gettimeofday and time from the vDSO without
 * entering the kernel (so without seccomp): the cases call the raw syscalls.
 *
 * The harness arms alarm(10) as a watchdog; cases that use ITIMER_REAL
 * re-arm it when done. */

/* Wait up to ms for sig (blocked); returns the signal or -1. */
static int wait_sig(int sig, siginfo_t *si, long ms)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    return sigtimedwait(&s, si, &ts);
}

/* ---- alarm ---- */

TEST(alarm, returns_previous_remaining)
{
    /* the harness armed alarm(10) */
    long prev = syscall(SYS_alarm, 5);
    EXPECT_TRUE(prev >= 9 && prev <= 10);
    EXPECT_EQ(syscall(SYS_alarm, 0), 5);
    EXPECT_EQ(syscall(SYS_alarm, 0), 0);
    struct itimerval it;
    EXPECT_EQ(getitimer(ITIMER_REAL, &it), 0);
    EXPECT_EQ(it.it_value.tv_sec, 0);
    EXPECT_EQ(it.it_value.tv_usec, 0);
    syscall(SYS_alarm, 10);
}

TEST(alarm, shares_itimer_real)
{
    EXPECT_OK(syscall(SYS_alarm, 7));
    struct itimerval it;
    EXPECT_EQ(getitimer(ITIMER_REAL, &it), 0);
    EXPECT_TRUE(it.it_value.tv_sec >= 6 && it.it_value.tv_sec <= 7);
    EXPECT_EQ(it.it_interval.tv_sec, 0);
    syscall(SYS_alarm, 10);
}

/* ---- getitimer / setitimer ---- */

TEST(setitimer, itimer_real_delivers_sigalrm)
{
    block(SIGALRM);
    struct itimerval it = { { 0, 0 }, { 0, 10000 } }, old;
    EXPECT_EQ(syscall(SYS_setitimer, ITIMER_REAL, &it, &old), 0);
    EXPECT_TRUE(old.it_value.tv_sec >= 9 && old.it_value.tv_sec <= 10); /* the harness alarm */
    siginfo_t si;
    EXPECT_EQ(wait_sig(SIGALRM, &si, 2000), SIGALRM);
    EXPECT_EQ(si.si_code, SI_KERNEL);
    syscall(SYS_alarm, 10);
}

TEST(setitimer, periodic_reloads)
{
    block(SIGALRM);
    struct itimerval it = { { 0, 5000 }, { 0, 5000 } }, cur;
    EXPECT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    siginfo_t si;
    EXPECT_EQ(wait_sig(SIGALRM, &si, 2000), SIGALRM);
    EXPECT_EQ(wait_sig(SIGALRM, &si, 2000), SIGALRM);
    EXPECT_EQ(syscall(SYS_getitimer, ITIMER_REAL, &cur), 0);
    EXPECT_EQ(cur.it_interval.tv_sec, 0);
    EXPECT_EQ(cur.it_interval.tv_usec, 5000);
    syscall(SYS_alarm, 10);
}

TEST(getitimer, reports_remaining_and_disarm)
{
    struct itimerval it = { { 0, 0 }, { 3, 0 } }, cur;
    EXPECT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    EXPECT_EQ(syscall(SYS_getitimer, ITIMER_REAL, &cur), 0);
    EXPECT_TRUE(cur.it_value.tv_sec >= 2 && cur.it_value.tv_sec <= 3);
    memset(&it, 0, sizeof it);
    EXPECT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    EXPECT_EQ(syscall(SYS_getitimer, ITIMER_REAL, &cur), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_usec, 0);
    syscall(SYS_alarm, 10);
}

TEST(setitimer, itimer_prof_and_virtual)
{
    struct itimerval it = { { 0, 0 }, { 100, 0 } }, cur;
    EXPECT_EQ(setitimer(ITIMER_PROF, &it, NULL), 0);
    EXPECT_EQ(getitimer(ITIMER_PROF, &cur), 0);
    EXPECT_TRUE(cur.it_value.tv_sec >= 99 && cur.it_value.tv_sec <= 100);
    EXPECT_EQ(setitimer(ITIMER_VIRTUAL, &it, NULL), 0);
    EXPECT_EQ(getitimer(ITIMER_VIRTUAL, &cur), 0);
    EXPECT_TRUE(cur.it_value.tv_sec >= 99 && cur.it_value.tv_sec <= 100);
}

TEST(setitimer, einval_bad_which_or_usec)
{
    struct itimerval it = { { 0, 0 }, { 0, 1000000 } };
    EXPECT_ERRNO(syscall(SYS_setitimer, ITIMER_REAL, &it, NULL), EINVAL);
    it.it_value.tv_usec = 0;
    EXPECT_ERRNO(syscall(SYS_setitimer, 7, &it, NULL), EINVAL);
}

TEST(getitimer, einval_bad_which_efault)
{
    struct itimerval cur;
    EXPECT_ERRNO(syscall(SYS_getitimer, 7, &cur), EINVAL);
    EXPECT_ERRNO(syscall(SYS_getitimer, ITIMER_REAL, (void *)1), EFAULT);
}

/* ---- timer_* (POSIX timers) ---- */

static long mk_timer(clockid_t c, int sig, int val, timer_t *id)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = val;
    int kid = -1;
    long r = syscall(SYS_timer_create, c, &sev, &kid);
    *id = (timer_t)(intptr_t)kid;
    return r;
}

TEST(timer_create, signal_with_value)
{
    block(SIGUSR1);
    timer_t id;
    EXPECT_EQ(mk_timer(CLOCK_MONOTONIC, SIGUSR1, 777, &id), 0);
    struct itimerspec its = { { 0, 0 }, { 0, 5 * 1000000L } };
    EXPECT_EQ(syscall(SYS_timer_settime, id, 0, &its, NULL), 0);
    siginfo_t si;
    EXPECT_EQ(wait_sig(SIGUSR1, &si, 2000), SIGUSR1);
    EXPECT_EQ(si.si_code, SI_TIMER);
    EXPECT_EQ(si.si_value.sival_int, 777);
    EXPECT_EQ(syscall(SYS_timer_delete, id), 0);
}

TEST(timer_create, ids_distinct)
{
    timer_t a, b;
    EXPECT_EQ(mk_timer(CLOCK_REALTIME, SIGUSR1, 0, &a), 0);
    EXPECT_EQ(mk_timer(CLOCK_REALTIME, SIGUSR1, 0, &b), 0);
    EXPECT_TRUE(a != b);
    EXPECT_EQ(syscall(SYS_timer_delete, a), 0);
    EXPECT_EQ(syscall(SYS_timer_delete, b), 0);
}

TEST(timer_create, null_sigevent_defaults_sigalrm)
{
    block(SIGALRM);
    int kid = -1;
    EXPECT_EQ(syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &kid), 0);
    struct itimerspec its = { { 0, 0 }, { 0, 5 * 1000000L } };
    EXPECT_EQ(syscall(SYS_timer_settime, kid, 0, &its, NULL), 0);
    siginfo_t si;
    EXPECT_EQ(wait_sig(SIGALRM, &si, 2000), SIGALRM);
    EXPECT_EQ(si.si_code, SI_TIMER);
}

TEST(timer_create, einval_bad_clock_or_signal)
{
    timer_t id;
    EXPECT_ERRNO(mk_timer(1000, SIGUSR1, 0, &id), EINVAL);
    EXPECT_ERRNO(mk_timer(CLOCK_MONOTONIC, 99, 0, &id), EINVAL);
}

TEST(timer_create, efault)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    EXPECT_ERRNO(syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, (void *)1), EFAULT);
}

TEST(timer_gettime, remaining_and_interval)
{
    timer_t id;
    EXPECT_EQ(mk_timer(CLOCK_MONOTONIC, SIGUSR1, 0, &id), 0);
    struct itimerspec its = { { 2, 0 }, { 5, 0 } }, cur, old;
    EXPECT_EQ(syscall(SYS_timer_gettime, id, &cur), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_nsec, 0);
    EXPECT_EQ(syscall(SYS_timer_settime, id, 0, &its, NULL), 0);
    EXPECT_EQ(syscall(SYS_timer_gettime, id, &cur), 0);
    EXPECT_TRUE(cur.it_value.tv_sec >= 4 && cur.it_value.tv_sec <= 5);
    EXPECT_EQ(cur.it_interval.tv_sec, 2);
    memset(&its, 0, sizeof its);
    EXPECT_EQ(syscall(SYS_timer_settime, id, 0, &its, &old), 0);
    EXPECT_TRUE(old.it_value.tv_sec >= 4);
    EXPECT_EQ(syscall(SYS_timer_gettime, id, &cur), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_nsec, 0);
}

TEST(timer_settime, abstime_in_past_fires)
{
    block(SIGUSR2);
    timer_t id;
    EXPECT_EQ(mk_timer(CLOCK_MONOTONIC, SIGUSR2, 5, &id), 0);
    struct itimerspec its = { { 0, 0 }, { 0, 1 } };
    EXPECT_EQ(syscall(SYS_timer_settime, id, TIMER_ABSTIME, &its, NULL), 0);
    siginfo_t si;
    EXPECT_EQ(wait_sig(SIGUSR2, &si, 2000), SIGUSR2);
    EXPECT_EQ(si.si_value.sival_int, 5);
}

TEST(timer_settime, einval_bad_nsec)
{
    timer_t id;
    EXPECT_EQ(mk_timer(CLOCK_MONOTONIC, SIGUSR1, 0, &id), 0);
    struct itimerspec its = { { 0, 0 }, { 0, NS } };
    EXPECT_ERRNO(syscall(SYS_timer_settime, id, 0, &its, NULL), EINVAL);
}

TEST(timer_getoverrun, counts_missed_expirations)
{
    block(SIGUSR1);
    timer_t id;
    EXPECT_EQ(mk_timer(CLOCK_MONOTONIC, SIGUSR1, 0, &id), 0);
    EXPECT_EQ(syscall(SYS_timer_getoverrun, id), 0);
    struct itimerspec its = { { 0, 1000000L }, { 0, 1000000L } };
    EXPECT_EQ(syscall(SYS_timer_settime, id, 0, &its, NULL), 0);
    struct timespec nap = { 0, 30 * 1000000L };
    syscall(SYS_nanosleep, &nap, NULL);
    siginfo_t si;
    EXPECT_EQ(wait_sig(SIGUSR1, &si, 2000), SIGUSR1);
    EXPECT_TRUE(si.si_overrun >= 5);
    EXPECT_EQ(syscall(SYS_timer_getoverrun, id), si.si_overrun);
}

TEST(timer_delete, then_einval)
{
    timer_t id;
    EXPECT_EQ(mk_timer(CLOCK_MONOTONIC, SIGUSR1, 0, &id), 0);
    EXPECT_EQ(syscall(SYS_timer_delete, id), 0);
    struct itimerspec cur;
    EXPECT_ERRNO(syscall(SYS_timer_gettime, id, &cur), EINVAL);
    EXPECT_ERRNO(syscall(SYS_timer_getoverrun, id), EINVAL);
    EXPECT_ERRNO(syscall(SYS_timer_delete, id), EINVAL);
    EXPECT_ERRNO(syscall(SYS_timer_delete, 123456), EINVAL);
}

/* ---- timerfd_* ---- */

TEST(timerfd_create, flags)
{
    int fd;
    EXPECT_OK(fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
    uint64_t n;
    EXPECT_ERRNO(read(fd, &n, sizeof n), EAGAIN);
    EXPECT_OK(fd = timerfd_create(CLOCK_REALTIME, 0));
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
    EXPECT_OK(timerfd_create(CLOCK_BOOTTIME, 0));
}

TEST(timerfd_create, einval_bad_clock_or_flags)
{
    EXPECT_ERRNO(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
    EXPECT_ERRNO(timerfd_create(1000, 0), EINVAL);
    EXPECT_ERRNO(timerfd_create(CLOCK_MONOTONIC, 0x1), EINVAL);
}

TEST(timerfd_create, read_small_buffer_einval)
{
    int fd;
    EXPECT_OK(fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
    char b[4];
    EXPECT_ERRNO(read(fd, b, sizeof b), EINVAL);
}

TEST(timerfd_settime, one_shot_read_expirations)
{
    int fd;
    EXPECT_OK(fd = timerfd_create(CLOCK_MONOTONIC, 0));
    struct itimerspec its = { { 0, 0 }, { 0, 10 * 1000000L } };
    long long a = now_ns(CLOCK_MONOTONIC);
    EXPECT_EQ(timerfd_settime(fd, 0, &its, NULL), 0);
    uint64_t n = 0;
    EXPECT_EQ(read(fd, &n, sizeof n), sizeof n);
    EXPECT_EQ(n, 1);
    EXPECT_TRUE(now_ns(CLOCK_MONOTONIC) - a >= 10 * 1000000LL);
}

TEST(timerfd_settime, periodic_accumulates)
{
    int fd;
    EXPECT_OK(fd = timerfd_create(CLOCK_MONOTONIC, 0));
    struct itimerspec its = { { 0, 1000000L }, { 0, 1000000L } };
    EXPECT_EQ(timerfd_settime(fd, 0, &its, NULL), 0);
    struct timespec nap = { 0, 20 * 1000000L };
    syscall(SYS_nanosleep, &nap, NULL);
    uint64_t n = 0;
    EXPECT_EQ(read(fd, &n, sizeof n), sizeof n);
    EXPECT_TRUE(n >= 5);
}

TEST(timerfd_settime, abstime_in_past_fires_at_once)
{
    int fd;
    EXPECT_OK(fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK));
    struct itimerspec its = { { 0, 0 }, { 1, 0 } };
    EXPECT_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
    uint64_t n = 0;
    EXPECT_EQ(read(fd, &n, sizeof n), sizeof n);
    EXPECT_EQ(n, 1);
}

TEST(timerfd_settime, einval_bad_nsec_or_flags)
{
    int fd;
    EXPECT_OK(fd = timerfd_create(CLOCK_MONOTONIC, 0));
    struct itimerspec its = { { 0, 0 }, { 0, NS } };
    EXPECT_ERRNO(timerfd_settime(fd, 0, &its, NULL), EINVAL);
    its.it_value.tv_nsec = 0;
    EXPECT_ERRNO(timerfd_settime(fd, 0x100, &its, NULL), EINVAL);
}

TEST(timerfd_settime, einval_not_a_timerfd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct itimerspec its = { { 0, 0 }, { 1, 0 } };
    EXPECT_ERRNO(timerfd_settime(p[0], 0, &its, NULL), EINVAL);
    EXPECT_ERRNO(timerfd_settime(-1, 0, &its, NULL), EBADF);
}

TEST(timerfd_gettime, remaining_old_and_disarmed)
{
    int fd;
    EXPECT_OK(fd = timerfd_create(CLOCK_MONOTONIC, 0));
    struct itimerspec cur, old, its = { { 1, 0 }, { 3, 0 } };
    EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_nsec, 0);
    EXPECT_EQ(timerfd_settime(fd, 0, &its, NULL), 0);
    EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
    EXPECT_TRUE(cur.it_value.tv_sec >= 2 && cur.it_value.tv_sec <= 3);
    EXPECT_EQ(cur.it_interval.tv_sec, 1);
    memset(&its, 0, sizeof its);
    EXPECT_EQ(timerfd_settime(fd, 0, &its, &old), 0);
    EXPECT_TRUE(old.it_value.tv_sec >= 2);
    EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
    EXPECT_EQ(cur.it_value.tv_sec, 0);
    EXPECT_EQ(cur.it_value.tv_nsec, 0);
}

TEST(timerfd_gettime, einval_not_a_timerfd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct itimerspec cur;
    EXPECT_ERRNO(timerfd_gettime(p[0], &cur), EINVAL);
    EXPECT_ERRNO(timerfd_gettime(-1, &cur), EBADF);
}
