/* Signal helpers shared by several conformance files (signals*.c, time.c,
 * timers.c, epoll.c, polling.c).  Include after harness.h; static inline
 * like helpers.h, so unused ones cost nothing. */
#ifndef PYSANDBOX_SIGNAL_HELPERS_H
#define PYSANDBOX_SIGNAL_HELPERS_H
#include "harness.h"
#include <sys/syscall.h>
#include <time.h>

/* count_handler counts deliveries in hits and records the last signal. */
static volatile sig_atomic_t hits;
static volatile int last_sig;
static inline void count_handler(int sig) { hits++; last_sig = sig; }

/* Set fn as the handler of sig with sa_flags flags and an empty mask. */
static inline void install(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    if (sigaction(sig, &sa, NULL)) SB_FAIL("sigaction(%d): %s", sig, sb_errname(errno));
}

/* Add sig to the blocked mask. */
static inline void block(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    if (sigprocmask(SIG_BLOCK, &s, NULL)) SB_FAIL("sigprocmask: %s", sb_errname(errno));
}

static inline int is_blocked(int sig)
{
    sigset_t s;
    if (sigprocmask(SIG_BLOCK, NULL, &s)) SB_FAIL("sigprocmask: %s", sb_errname(errno));
    return sigismember(&s, sig);
}

static inline int is_pending(int sig)
{
    sigset_t s;
    if (sigpending(&s)) SB_FAIL("sigpending: %s", sb_errname(errno));
    return sigismember(&s, sig);
}

/* A child that sends sig to us every 5 ms until stopped: no race between
 * arming and blocking in the call under test. */
static inline pid_t start_pinger(int sig)
{
    pid_t target = getpid();
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) {
        for (;;) {
            usleep(5000);
            if (kill(target, sig)) _exit(0);
        }
    }
    return pid;
}

static inline void stop_pinger(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* The raw rt_sigtimedwait with a timeout of ms milliseconds. */
static inline long rt_sigtimedwait_ms(const sigset_t *set, siginfo_t *si, long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    return syscall(SYS_rt_sigtimedwait, set, si, &ts, 8);
}

/* SIGUSR1 blocked and pending, with a handler: a call that unblocks it in
 * its own mask returns EINTR after running the handler. */
static volatile sig_atomic_t got_usr1;
static inline void on_usr1(int sig) { (void)sig; got_usr1++; }
static inline void pend_usr1(void)
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
#endif
