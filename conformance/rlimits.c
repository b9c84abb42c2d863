#include "harness.h"
#include "helpers.h"
/* Resource limits and usage: getrlimit, setrlimit, prlimit64, getrusage,
 * sysinfo, times.
 *
 * Raising a hard limit needs CAP_SYS_RESOURCE.  The sandbox never has it
 * (Docker's set); natively root may or may not (this machine's root lacks
 * it), so those cases ask capget which outcome Linux must give. */
#include <fcntl.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>

static void get_lim(int res, struct rlimit *rl)
{
    EXPECT_OK(syscall(SYS_getrlimit, res, rl));
}

static int set_lim(int res, rlim_t cur, rlim_t max)
{
    struct rlimit rl = { cur, max };
    return syscall(SYS_setrlimit, res, &rl);
}

/* ---- getrlimit ---- */

TEST(getrlimit, nofile_sane)
{
    struct rlimit rl;
    get_lim(RLIMIT_NOFILE, &rl);
    EXPECT_TRUE(rl.rlim_cur > 3);
    EXPECT_TRUE(rl.rlim_cur <= rl.rlim_max);
}

TEST(getrlimit, matches_prlimit64)
{
    int res[] = { RLIMIT_NOFILE, RLIMIT_STACK, RLIMIT_CORE, RLIMIT_FSIZE, RLIMIT_AS };
    for (int i = 0; i < 5; i++) {
        struct rlimit a, b;
        get_lim(res[i], &a);
        EXPECT_OK(syscall(SYS_prlimit64, 0, res[i], NULL, &b));
        EXPECT_TRUE(a.rlim_cur == b.rlim_cur && a.rlim_max == b.rlim_max);
    }
}

TEST(getrlimit, einval_bad_resource)
{
    struct rlimit rl;
    EXPECT_ERRNO(syscall(SYS_getrlimit, RLIM_NLIMITS, &rl), EINVAL);
    EXPECT_ERRNO(syscall(SYS_getrlimit, 1000, &rl), EINVAL);
}

TEST(getrlimit, efault)
{
    EXPECT_ERRNO(syscall(SYS_getrlimit, RLIMIT_NOFILE, (void *)1), EFAULT);
}

/* ---- setrlimit ---- */

TEST(setrlimit, nofile_emfile)
{
    EXPECT_OK(set_lim(RLIMIT_NOFILE, 8, 8));
    int last = -1, n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            EXPECT_EQ(errno, EMFILE);
            break;
        }
        last = fd;
        EXPECT_TRUE(++n < 16);
    }
    EXPECT_EQ(last, 7);
    EXPECT_ERRNO(dup(0), EMFILE);
    int p[2];
    EXPECT_ERRNO(pipe(p), EMFILE);
    EXPECT_OK(close(5));
    EXPECT_EQ(dup(0), 5);
}

TEST(setrlimit, nofile_dup2_ebadf)
{
    EXPECT_OK(set_lim(RLIMIT_NOFILE, 16, 16));
    EXPECT_ERRNO(dup2(0, 16), EBADF);
    EXPECT_ERRNO(fcntl(0, F_DUPFD, 16), EINVAL);
    EXPECT_EQ(dup2(0, 15), 15);
}

TEST(setrlimit, lower_soft_raise_to_hard)
{
    struct rlimit rl;
    get_lim(RLIMIT_NOFILE, &rl);
    EXPECT_OK(set_lim(RLIMIT_NOFILE, 32, rl.rlim_max));
    struct rlimit now;
    get_lim(RLIMIT_NOFILE, &now);
    EXPECT_EQ(now.rlim_cur, 32);
    EXPECT_OK(set_lim(RLIMIT_NOFILE, rl.rlim_max, rl.rlim_max));
    get_lim(RLIMIT_NOFILE, &now);
    EXPECT_TRUE(now.rlim_cur == rl.rlim_max);
}

TEST(setrlimit, raise_hard_needs_cap_sys_resource)
{
    struct rlimit rl;
    get_lim(RLIMIT_NOFILE, &rl);
    EXPECT_OK(set_lim(RLIMIT_NOFILE, 64, 128));
    /* Lowering the hard limit is always allowed; raising it back needs
     * CAP_SYS_RESOURCE (absent in the sandbox and on this machine). */
    if (!IN_SANDBOX && have_cap(CAP_SYS_RESOURCE)) {
        EXPECT_OK(set_lim(RLIMIT_NOFILE, 64, 256));
    } else {
        EXPECT_EQ(have_cap(CAP_SYS_RESOURCE), 0);
        EXPECT_ERRNO(set_lim(RLIMIT_NOFILE, 64, 256), EPERM);
    }
    struct rlimit now;
    get_lim(RLIMIT_NOFILE, &now);
    EXPECT_EQ(now.rlim_cur, 64);
}

TEST(setrlimit, eperm_above_nr_open)
{
    /* Above fs.nr_open even CAP_SYS_RESOURCE does not help: EPERM. */
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    EXPECT_TRUE(f != NULL);
    unsigned long nr_open = 0;
    EXPECT_EQ(fscanf(f, "%lu", &nr_open), 1);
    fclose(f);
    EXPECT_ERRNO(set_lim(RLIMIT_NOFILE, nr_open + 1, nr_open + 1), EPERM);
}

TEST(setrlimit, einval_soft_above_hard)
{
    EXPECT_ERRNO(set_lim(RLIMIT_CORE, 200, 100), EINVAL);
    EXPECT_ERRNO(set_lim(RLIMIT_NOFILE, 20, 10), EINVAL);
}

TEST(setrlimit, einval_bad_resource)
{
    EXPECT_ERRNO(set_lim(RLIM_NLIMITS, 1, 1), EINVAL);
}

TEST(setrlimit, efault)
{
    EXPECT_ERRNO(syscall(SYS_setrlimit, RLIMIT_CORE, (void *)1), EFAULT);
}

TEST(setrlimit, core_zero)
{
    EXPECT_OK(set_lim(RLIMIT_CORE, 0, 0));
    struct rlimit rl;
    get_lim(RLIMIT_CORE, &rl);
    EXPECT_EQ(rl.rlim_cur, 0);
    EXPECT_EQ(rl.rlim_max, 0);
}

TEST(setrlimit, fsize_efbig)
{
    signal(SIGXFSZ, SIG_IGN);
    int fd = scratch_open();
    EXPECT_OK(set_lim(RLIMIT_FSIZE, 10, 10));
    /* A write crossing the limit is cut at it; the next one fails. */
    EXPECT_EQ(write(fd, "0123456789abcdefghij", 20), 10);
    EXPECT_ERRNO(write(fd, "x", 1), EFBIG);
    EXPECT_ERRNO(ftruncate(fd, 11), EFBIG);
    EXPECT_OK(ftruncate(fd, 5));
    EXPECT_EQ(pwrite(fd, "ab", 2, 8), 2);
    EXPECT_ERRNO(pwrite(fd, "ab", 2, 10), EFBIG);
    rm_scratch();
}

TEST(setrlimit, fsize_sigxfsz_pending)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGXFSZ);
    EXPECT_OK(sigprocmask(SIG_BLOCK, &set, NULL));
    int fd = scratch_open();
    EXPECT_OK(set_lim(RLIMIT_FSIZE, 4, 4));
    EXPECT_EQ(write(fd, "abcd", 4), 4);
    EXPECT_OK(sigpending(&pend));
    EXPECT_TRUE(!sigismember(&pend, SIGXFSZ));
    EXPECT_ERRNO(write(fd, "e", 1), EFBIG);
    EXPECT_OK(sigpending(&pend));
    EXPECT_TRUE(sigismember(&pend, SIGXFSZ));
    rm_scratch();
}

/* ---- prlimit64 ---- */

TEST(prlimit64, set_returns_old)
{
    struct rlimit cur;
    get_lim(RLIMIT_NOFILE, &cur);
    struct rlimit nw = { 40, cur.rlim_max }, old;
    EXPECT_OK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &nw, &old));
    EXPECT_TRUE(old.rlim_cur == cur.rlim_cur && old.rlim_max == cur.rlim_max);
    struct rlimit now;
    EXPECT_OK(syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, NULL, &now));
    EXPECT_EQ(now.rlim_cur, 40);
}

TEST(prlimit64, other_process)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        char c;
        close(p[1]);
        read(p[0], &c, 1);        /* wait for the parent */
        _exit(0);
    }
    close(p[0]);
    struct rlimit nw = { 0, 0 }, got;
    EXPECT_OK(syscall(SYS_prlimit64, pid, RLIMIT_CORE, &nw, NULL));
    EXPECT_OK(syscall(SYS_prlimit64, pid, RLIMIT_CORE, NULL, &got));
    EXPECT_EQ(got.rlim_cur, 0);
    EXPECT_EQ(got.rlim_max, 0);
    close(p[1]);
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
}

TEST(prlimit64, esrch)
{
    struct rlimit rl;
    EXPECT_ERRNO(syscall(SYS_prlimit64, 0x7ffffff0, RLIMIT_NOFILE, NULL, &rl), ESRCH);
}

TEST(prlimit64, einval)
{
    struct rlimit rl;
    EXPECT_ERRNO(syscall(SYS_prlimit64, 0, 1000, NULL, &rl), EINVAL);
    struct rlimit bad = { 10, 5 };
    EXPECT_ERRNO(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &bad, NULL), EINVAL);
}

TEST(prlimit64, null_both)
{
    EXPECT_EQ(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, NULL), 0);
}

/* ---- getrusage ---- */

TEST(getrusage, self)
{
    /* Burn a little CPU so the numbers are not all zero. */
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 20000000; i++) x += i;
    sb_touch_rss();
    struct rusage ru;
    EXPECT_OK(syscall(SYS_getrusage, RUSAGE_SELF, &ru));
    EXPECT_TRUE(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
    EXPECT_TRUE(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec > 0 ||
                ru.ru_utime.tv_usec + ru.ru_stime.tv_usec > 0);
    EXPECT_TRUE(ru.ru_maxrss > 0);
}

TEST(getrusage, children)
{
    struct rusage ru;
    EXPECT_OK(syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
    EXPECT_EQ(ru.ru_maxrss, 0);                /* no child reaped yet */
    EXPECT_EQ(ru.ru_minflt, 0);
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        sb_touch_rss();
        _exit(0);
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_OK(syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
    EXPECT_TRUE(ru.ru_maxrss > 0);
    EXPECT_TRUE(ru.ru_minflt > 0);
}

TEST(getrusage, thread)
{
    sb_touch_rss();
    struct rusage ru;
    EXPECT_OK(syscall(SYS_getrusage, RUSAGE_THREAD, &ru));
    EXPECT_TRUE(ru.ru_maxrss > 0);
}

TEST(getrusage, einval)
{
    struct rusage ru;
    EXPECT_ERRNO(syscall(SYS_getrusage, 5, &ru), EINVAL);
    EXPECT_ERRNO(syscall(SYS_getrusage, -3, &ru), EINVAL);
}

TEST(getrusage, efault)
{
    EXPECT_ERRNO(syscall(SYS_getrusage, RUSAGE_SELF, (void *)1), EFAULT);
}

/* ---- sysinfo ---- */

TEST(sysinfo, sane)
{
    struct sysinfo si;
    memset(&si, 0xff, sizeof si);
    EXPECT_OK(syscall(SYS_sysinfo, &si));
    EXPECT_TRUE(si.uptime >= 0);
    EXPECT_TRUE(si.procs >= 1);
    EXPECT_TRUE(si.totalram > 0);
    EXPECT_TRUE(si.mem_unit >= 1);
    EXPECT_TRUE(si.freeram <= si.totalram);
    EXPECT_TRUE(si.freeswap <= si.totalswap);
}

TEST(sysinfo, procs_counts_children)
{
    struct sysinfo a, b;
    EXPECT_OK(syscall(SYS_sysinfo, &a));
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    EXPECT_OK(syscall(SYS_sysinfo, &b));
    EXPECT_TRUE(b.procs >= 2);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

TEST(sysinfo, uptime_monotonic)
{
    struct sysinfo si;
    EXPECT_OK(syscall(SYS_sysinfo, &si));
    struct timespec ts;
    EXPECT_OK(clock_gettime(CLOCK_BOOTTIME, &ts));
    if (IN_SANDBOX) {
        /* The sandbox reports its own uptime: never more than the host's. */
        EXPECT_TRUE(si.uptime <= ts.tv_sec + 1);
    } else {
        EXPECT_TRUE(si.uptime >= ts.tv_sec - 1 && si.uptime <= ts.tv_sec + 1);
    }
}

TEST(sysinfo, efault)
{
    EXPECT_ERRNO(syscall(SYS_sysinfo, (void *)1), EFAULT);
}

/* ---- times ---- */

TEST(times, returns_ticks)
{
    struct tms t;
    long r = syscall(SYS_times, &t);
    EXPECT_TRUE(r != -1);
    EXPECT_EQ(t.tms_cutime, 0);
    EXPECT_EQ(t.tms_cstime, 0);
    EXPECT_TRUE(syscall(SYS_times, NULL) != -1);     /* NULL buffer is allowed */
}
