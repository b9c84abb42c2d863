/* Time: adjtimex, clock_adjtime, clock_settime, settimeofday,
 * clock_getres, clock_gettime, clock_nanosleep, gettimeofday, time, times
 * and nanosleep.  Timers are in timers.c. */
#include "harness.h"
#include "helpers.h"
#include "signal_helpers.h"
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <time.h>

/* glibc answers clock_gettime, gettimeofday and time from the vDSO without
 * entering the kernel (so without seccomp): the cases call the raw syscalls.
 *
 * The harness arms alarm(10) as a watchdog; cases that use ITIMER_REAL
 * re-arm it when done. */

static struct timespec ns_ts(long long ns) { return (struct timespec){ ns / NS, ns % NS }; }

/* ---- adjtimex / clock_adjtime / clock_settime / settimeofday ----
 * The host clock must not change: natively these are called only with
 * arguments Linux rejects (after its capability check, so root gets EINVAL);
 * the sandbox denies them with EPERM before looking at any argument. */

TEST(adjtimex, read_only_query)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    if (IN_SANDBOX) {
        EXPECT_ERRNO(syscall(SYS_adjtimex, &tx), EPERM);
    } else {
        long r = syscall(SYS_adjtimex, &tx);
        EXPECT_TRUE(r >= TIME_OK && r <= TIME_ERROR);
        EXPECT_TRUE(tx.tick > 0);
    }
}

TEST(adjtimex, invalid_tick)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_TICK;
    tx.tick = 1;
    EXPECT_ERRNO(syscall(SYS_adjtimex, &tx), IN_SANDBOX ? EPERM : EINVAL);
}

TEST(clock_adjtime, invalid_tick_or_clock)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_TICK;
    tx.tick = 1;
    EXPECT_ERRNO(syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx), IN_SANDBOX ? EPERM : EINVAL);
    memset(&tx, 0, sizeof tx);
    EXPECT_ERRNO(syscall(SYS_clock_adjtime, 1000, &tx), IN_SANDBOX ? EPERM : EINVAL);
}

TEST(clock_settime, monotonic_not_settable)
{
    struct timespec ts = { 1000, 0 };
    EXPECT_ERRNO(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts), IN_SANDBOX ? EPERM : EINVAL);
}

TEST(clock_settime, invalid_nsec_or_clock)
{
    struct timespec ts = { 1000, NS };
    EXPECT_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts), IN_SANDBOX ? EPERM : EINVAL);
    ts.tv_nsec = 0;
    EXPECT_ERRNO(syscall(SYS_clock_settime, 1000, &ts), IN_SANDBOX ? EPERM : EINVAL);
}

TEST(settimeofday, invalid_usec)
{
    struct timeval tv = { 1000, 1000000 };
    EXPECT_ERRNO(syscall(SYS_settimeofday, &tv, NULL), IN_SANDBOX ? EPERM : EINVAL);
}

/* ---- clock_getres ---- */

TEST(clock_getres, common_clocks)
{
    clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
                           CLOCK_MONOTONIC_RAW, CLOCK_PROCESS_CPUTIME_ID,
                           CLOCK_THREAD_CPUTIME_ID, CLOCK_TAI };
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec r = { -1, -1 };
        EXPECT_EQ(syscall(SYS_clock_getres, clocks[i], &r), 0);
        EXPECT_EQ(r.tv_sec, 0);
        EXPECT_EQ(r.tv_nsec, 1);
    }
}

TEST(clock_getres, coarse_clocks)
{
    struct timespec r = { -1, -1 };
    EXPECT_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC_COARSE, &r), 0);
    EXPECT_EQ(r.tv_sec, 0);
    EXPECT_TRUE(r.tv_nsec >= 1000000 && r.tv_nsec <= 10000000);
    EXPECT_EQ(syscall(SYS_clock_getres, CLOCK_REALTIME_COARSE, &r), 0);
    EXPECT_TRUE(r.tv_nsec >= 1000000 && r.tv_nsec <= 10000000);
}

TEST(clock_getres, null_res_ok_einval_bad_clock)
{
    EXPECT_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL), 0);
    struct timespec r;
    EXPECT_ERRNO(syscall(SYS_clock_getres, 1000, &r), EINVAL);
    EXPECT_ERRNO(syscall(SYS_clock_getres, 1000, NULL), EINVAL);
}

TEST(clock_getres, efault)
{
    EXPECT_ERRNO(syscall(SYS_clock_getres, CLOCK_MONOTONIC, (void *)1), EFAULT);
}

/* ---- clock_gettime ---- */

TEST(clock_gettime, all_clocks)
{
    clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                           CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW,
                           CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
                           CLOCK_BOOTTIME, CLOCK_TAI };
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec t = { -1, -1 };
        EXPECT_EQ(syscall(SYS_clock_gettime, clocks[i], &t), 0);
        EXPECT_TRUE(t.tv_sec >= 0);
        EXPECT_TRUE(t.tv_nsec >= 0 && t.tv_nsec < NS);
    }
}

TEST(clock_gettime, monotonic_never_goes_back)
{
    long long prev = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < 1000; i++) {
        long long t = now_ns(CLOCK_MONOTONIC);
        EXPECT_TRUE(t >= prev);
        prev = t;
    }
}

TEST(clock_gettime, realtime_after_2020_and_tai_ahead)
{
    long long rt = now_ns(CLOCK_REALTIME);
    EXPECT_TRUE(rt / NS > 1577836800LL); /* 2020-01-01 */
    EXPECT_TRUE(now_ns(CLOCK_TAI) >= rt);
    EXPECT_TRUE(now_ns(CLOCK_BOOTTIME) >= now_ns(CLOCK_MONOTONIC) - NS);
}

TEST(clock_gettime, process_cputime_advances)
{
    long long a = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 5000000; i++) x += i;
    long long b = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    EXPECT_TRUE(b > a);
    EXPECT_TRUE(now_ns(CLOCK_THREAD_CPUTIME_ID) > 0);
}

TEST(clock_gettime, cpu_clock_of_child)
{
    pid_t pid = fork();
    if (pid == 0) { pause(); _exit(0); }
    EXPECT_OK(pid);
    clockid_t c;
    EXPECT_EQ(clock_getcpuclockid(pid, &c), 0);
    struct timespec t;
    long r = syscall(SYS_clock_gettime, c, &t);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    EXPECT_EQ(r, 0);
    EXPECT_TRUE(t.tv_sec >= 0);
}

TEST(clock_gettime, einval_bad_clock)
{
    struct timespec t;
    EXPECT_ERRNO(syscall(SYS_clock_gettime, 1000, &t), EINVAL);
    EXPECT_ERRNO(syscall(SYS_clock_gettime, 16, &t), EINVAL);
}

TEST(clock_gettime, efault)
{
    EXPECT_ERRNO(syscall(SYS_clock_gettime, CLOCK_REALTIME, (void *)1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, NULL), EFAULT);
}

/* ---- clock_nanosleep ---- */

TEST(clock_nanosleep, relative_sleeps_at_least)
{
    struct timespec req = { 0, 10 * 1000000L };
    long long a = now_ns(CLOCK_MONOTONIC);
    EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL), 0);
    EXPECT_TRUE(now_ns(CLOCK_MONOTONIC) - a >= 10 * 1000000LL);
}

TEST(clock_nanosleep, abstime_future)
{
    long long target = now_ns(CLOCK_MONOTONIC) + 15 * 1000000LL;
    struct timespec req = ns_ts(target);
    EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL), 0);
    EXPECT_TRUE(now_ns(CLOCK_MONOTONIC) >= target);
}

TEST(clock_nanosleep, abstime_past_returns_at_once)
{
    struct timespec req = { 1, 0 };
    long long a = now_ns(CLOCK_MONOTONIC);
    EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL), 0);
    EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &req, NULL), 0);
    EXPECT_TRUE(now_ns(CLOCK_MONOTONIC) - a < 100 * 1000000LL);
}

TEST(clock_nanosleep, eintr_fills_remaining)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_handler;
    EXPECT_EQ(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = { { 0, 0 }, { 0, 20000 } };
    EXPECT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    struct timespec req = { 5, 0 }, rem = { -1, -1 };
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
    EXPECT_EQ(hits, 1);
    EXPECT_TRUE(rem.tv_sec >= 4 && rem.tv_sec <= 5);
    syscall(SYS_alarm, 10);
}

TEST(clock_nanosleep, einval_bad_nsec)
{
    struct timespec req = { 0, NS };
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL), EINVAL);
    req.tv_nsec = -1;
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL), EINVAL);
}

TEST(clock_nanosleep, thread_cputime_unsupported_bad_clock_einval)
{
    struct timespec req = { 0, 1000 };
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL), EOPNOTSUPP);
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, 1000, 0, &req, NULL), EINVAL);
}

TEST(clock_nanosleep, efault)
{
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (void *)1, NULL), EFAULT);
}

/* ---- gettimeofday / time / times ---- */

TEST(gettimeofday, matches_clock_realtime)
{
    struct timeval tv;
    long long before = now_ns(CLOCK_REALTIME) / 1000;
    EXPECT_EQ(syscall(SYS_gettimeofday, &tv, NULL), 0);
    long long after = now_ns(CLOCK_REALTIME) / 1000;
    long long us = tv.tv_sec * 1000000LL + tv.tv_usec;
    EXPECT_TRUE(us >= before && us <= after);
    EXPECT_TRUE(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
}

TEST(gettimeofday, timezone_and_null)
{
    struct timezone tz = { -1, -1 };
    EXPECT_EQ(syscall(SYS_gettimeofday, NULL, &tz), 0);
    EXPECT_TRUE(tz.tz_minuteswest != -1 || tz.tz_dsttime != -1);
    EXPECT_EQ(syscall(SYS_gettimeofday, NULL, NULL), 0);
}

TEST(gettimeofday, efault)
{
    EXPECT_ERRNO(syscall(SYS_gettimeofday, (void *)1, NULL), EFAULT);
}

TEST(time, returns_and_stores_seconds)
{
    /* time(2) returns the timekeeper's coarse seconds, which lag
     * CLOCK_REALTIME by up to a tick across a second boundary; compare with
     * the clock that shares its source. */
    time_t t = 0;
    long before = now_ns(CLOCK_REALTIME_COARSE) / NS;
    long r = syscall(SYS_time, &t);
    long after = now_ns(CLOCK_REALTIME_COARSE) / NS;
    EXPECT_EQ(r, t);
    EXPECT_TRUE(r >= before && r <= after);
    EXPECT_TRUE(syscall(SYS_time, NULL) >= before);
}

TEST(time, efault)
{
    EXPECT_ERRNO(syscall(SYS_time, (void *)1), EFAULT);
}

TEST(times, counts_ticks_and_children)
{
    struct tms a, b;
    long t1 = syscall(SYS_times, &a);
    pid_t pid = fork();
    if (pid == 0) {
        volatile unsigned long x = 0;
        /* burn 50 ms of CPU time: 5 ticks at USER_HZ 100 */
        long long end = now_ns(CLOCK_PROCESS_CPUTIME_ID) + 50 * 1000000LL;
        while (now_ns(CLOCK_PROCESS_CPUTIME_ID) < end) x++;
        _exit(0);
    }
    EXPECT_OK(pid);
    EXPECT_EQ(waitpid(pid, NULL, 0), pid);
    long t2 = syscall(SYS_times, &b);
    EXPECT_TRUE(t2 >= t1);
    EXPECT_TRUE(b.tms_utime >= a.tms_utime);
    EXPECT_TRUE(b.tms_cutime + b.tms_cstime > a.tms_cutime + a.tms_cstime);
    EXPECT_TRUE(syscall(SYS_times, NULL) >= t2);
}

TEST(times, efault)
{
    EXPECT_ERRNO(syscall(SYS_times, (void *)1), EFAULT);
}

/* ---- nanosleep ---- */

TEST(nanosleep, sleeps_at_least)
{
    struct timespec req = { 0, 5 * 1000000L };
    long long a = now_ns(CLOCK_MONOTONIC);
    EXPECT_EQ(syscall(SYS_nanosleep, &req, NULL), 0);
    EXPECT_TRUE(now_ns(CLOCK_MONOTONIC) - a >= 5 * 1000000LL);
    req.tv_nsec = 0;
    EXPECT_EQ(syscall(SYS_nanosleep, &req, NULL), 0);
}

TEST(nanosleep, einval_bad_nsec_or_negative)
{
    struct timespec req = { 0, NS };
    EXPECT_ERRNO(syscall(SYS_nanosleep, &req, NULL), EINVAL);
    req.tv_nsec = -5;
    EXPECT_ERRNO(syscall(SYS_nanosleep, &req, NULL), EINVAL);
    req.tv_sec = -1;
    req.tv_nsec = 0;
    EXPECT_ERRNO(syscall(SYS_nanosleep, &req, NULL), EINVAL);
}

TEST(nanosleep, efault)
{
    EXPECT_ERRNO(syscall(SYS_nanosleep, (void *)1, NULL), EFAULT);
}
