/* The conformance harness: tiny matchers, one process per case.
 *
 * A test file defines cases with TEST(syscall, name) { ... } and includes
 * this header once.  Every case runs in its own forked child (so a crash, a
 * signal or a leaked fd stays in that case) with a 10 s alarm, and prints one
 * line:  "PASS syscall.name"  or  "FAIL syscall.name: file:line: what".
 * The first word of the name is the syscall the case is about; the runner
 * (sentry/conformance) uses it for the compatibility table.
 *
 * Linux is the reference: a case must pass natively first.  Where the
 * sandbox is meant to differ (uname's nodename, the denied set), the case
 * says so with IN_SANDBOX, which is true when PYSANDBOX_PLATFORM is set.
 *
 *   ./area [PATTERN]   run the cases whose name contains PATTERN
 */
#ifndef PYSANDBOX_HARNESS_H
#define PYSANDBOX_HARNESS_H
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct sb_case { const char *name; void (*fn)(void); };
static struct sb_case sb_cases[256];
static int sb_ncases;
static int sb_failed;

#define SB_CAT2(a, b) a##b
#define SB_CAT(a, b) SB_CAT2(a, b)
#define TEST(sys, name)                                                          \
    static void sys##__##name(void);                                              \
    __attribute__((constructor)) static void SB_CAT(sb_reg_, __LINE__)(void)     \
    { sb_cases[sb_ncases++] = (struct sb_case){ #sys "." #name, sys##__##name }; } \
    static void sys##__##name(void)

/* Make the calling process's resident set big enough that ru_maxrss is
 * sure to count it.  The kernel keeps RSS in per-CPU counters, and
 * getrusage/wait4 read their total without summing the per-CPU parts (up
 * to 32 pages each on this 2-CPU machine), so a process of ~34 pages split
 * across CPUs can report ru_maxrss 0.  That happened natively in 70 of 100
 * runs one hour and in none the next.  512 touched pages flush for sure. */
static inline void sb_touch_rss(void)
{
    static volatile char pages[2 << 20];
    for (size_t i = 0; i < sizeof pages; i += 4096) pages[i] = 1;
}

static inline const char *sb_platform(void) { return getenv("PYSANDBOX_PLATFORM"); }
#define IN_SANDBOX (sb_platform() != NULL)

#define SB_FAIL(...) do {                                                        \
        printf("FAIL %s: %s:%d: ", sb_current, __FILE__, __LINE__);             \
        printf(__VA_ARGS__); printf("\n"); fflush(stdout); _exit(1);            \
    } while (0)

static const char *sb_current = "";

static inline const char *sb_errname(int e)
{
    static char buf[16];
    switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF)
    E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV)
    E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG)
    E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE) E(EDEADLK)
    E(ENAMETOOLONG) E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENOMSG) E(ENODATA)
    E(ETIME) E(EOVERFLOW) E(ENOTSOCK) E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE)
    E(ENOPROTOOPT) E(EPROTONOSUPPORT) E(EOPNOTSUPP) E(EAFNOSUPPORT) E(EADDRINUSE)
    E(EADDRNOTAVAIL) E(ENETUNREACH) E(ECONNRESET) E(EISCONN) E(ENOTCONN)
    E(ETIMEDOUT) E(ECONNREFUSED) E(EALREADY) E(EINPROGRESS) E(ECANCELED)
#undef E
    }
    snprintf(buf, sizeof buf, "errno %d", e);
    return buf;
}

/* expr must not fail (return -1 / a negative value). */
#define EXPECT_OK(expr) do {                                                     \
        errno = 0; long sb_r_ = (long)(expr);                                    \
        if (sb_r_ < 0) SB_FAIL("%s: expected success, got %s", #expr, sb_errname(errno)); \
    } while (0)
/* expr must fail with -1 and errno == err. */
#define EXPECT_ERRNO(expr, err) do {                                             \
        errno = 0; long sb_r_ = (long)(expr); int sb_e_ = errno;                  \
        if (sb_r_ != -1) SB_FAIL("%s: expected %s, got %ld", #expr, sb_errname(err), sb_r_); \
        if (sb_e_ != (err)) SB_FAIL("%s: expected %s, got %s", #expr, sb_errname(err), sb_errname(sb_e_)); \
    } while (0)
#define EXPECT_EQ(a, b) do {                                                     \
        long long sb_a_ = (long long)(a), sb_b_ = (long long)(b);                \
        if (sb_a_ != sb_b_) SB_FAIL("%s == %s: %lld != %lld", #a, #b, sb_a_, sb_b_); \
    } while (0)
#define EXPECT_TRUE(x) do { if (!(x)) SB_FAIL("expected %s", #x); } while (0)
#define EXPECT_STREQ(a, b) do {                                                  \
        const char *sb_a_ = (a), *sb_b_ = (b);                                   \
        if (strcmp(sb_a_, sb_b_)) SB_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, sb_a_, sb_b_); \
    } while (0)

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < sb_ncases; i++) {
        if (argc > 1 && !strstr(sb_cases[i].name, argv[1]))
            continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            sb_current = sb_cases[i].name;
            alarm(10);
            sb_cases[i].fn();
            printf("PASS %s\n", sb_cases[i].name);
            fflush(stdout);
            _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st)) {
            printf("FAIL %s: killed by signal %d\n", sb_cases[i].name, WTERMSIG(st));
            sb_failed++;
        } else if (WEXITSTATUS(st) != 0) {
            sb_failed++;
        }
    }
    return sb_failed ? 1 : 0;
}
#endif
