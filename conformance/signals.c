#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>

/* Helpers. */

static volatile sig_atomic_t hits;
static volatile int last_sig;
static siginfo_t last_info;

static void count_handler(int sig) { hits++; last_sig = sig; }
static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_sig = sig;
    last_info = *si;
}

static void install(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    if (sigaction(sig, &sa, NULL)) SB_FAIL("sigaction(%d): %s", sig, sb_errname(errno));
}

static void install_info(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO | flags;
    if (sigaction(sig, &sa, NULL)) SB_FAIL("sigaction(%d): %s", sig, sb_errname(errno));
}

static void block(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    if (sigprocmask(SIG_BLOCK, &s, NULL)) SB_FAIL("sigprocmask: %s", sb_errname(errno));
}

static int is_blocked(int sig)
{
    sigset_t s;
    if (sigprocmask(SIG_BLOCK, NULL, &s)) SB_FAIL("sigprocmask: %s", sb_errname(errno));
    return sigismember(&s, sig);
}

static int is_pending(int sig)
{
    sigset_t s;
    if (sigpending(&s)) SB_FAIL("sigpending: %s", sb_errname(errno));
    return sigismember(&s, sig);
}

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) _exit(0);
    if (waitpid(pid, NULL, 0) != pid) SB_FAIL("waitpid: %s", sb_errname(errno));
    return pid;
}

/* A child that sends sig to us every 5 ms until stopped: no race between
 * arming and blocking in the call under test. */
static pid_t start_pinger(int sig)
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

static void stop_pinger(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static long rt_sigtimedwait_ms(const sigset_t *set, siginfo_t *si, long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    return syscall(SYS_rt_sigtimedwait, set, si, &ts, 8);
}

/* ---- kill ---- */

TEST(kill, sig0_probe_and_esrch_reaped)
{
    EXPECT_EQ(kill(getpid(), 0), 0);
    pid_t pid = dead_pid();
    EXPECT_ERRNO(kill(pid, 0), ESRCH);
    EXPECT_ERRNO(kill(pid, SIGTERM), ESRCH);
}

TEST(kill, einval_bad_signal)
{
    EXPECT_ERRNO(kill(getpid(), 65), EINVAL);
    EXPECT_ERRNO(kill(getpid(), -1), EINVAL);
}

TEST(kill, default_action_terminates_child)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) { for (;;) pause(); }
    EXPECT_EQ(kill(pid, SIGTERM), 0);
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGTERM);
}

TEST(kill, handler_gets_si_user)
{
    install_info(SIGUSR1, 0);
    EXPECT_EQ(syscall(SYS_kill, getpid(), SIGUSR1), 0);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(last_info.si_signo, SIGUSR1);
    EXPECT_EQ(last_info.si_code, SI_USER);
    EXPECT_EQ(last_info.si_pid, getpid());
    EXPECT_EQ(last_info.si_uid, getuid());
}

/* ---- pause ---- */

TEST(pause, interrupted_by_handled_signal)
{
    install(SIGUSR1, count_handler, 0);
    pid_t pinger = start_pinger(SIGUSR1);
    errno = 0;
    long r = syscall(SYS_pause);
    int e = errno;
    stop_pinger(pinger);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(e, EINTR);
    EXPECT_TRUE(hits >= 1);
}

/* ---- rt_sigaction ---- */

TEST(rt_sigaction, install_and_query)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    EXPECT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    EXPECT_TRUE(old.sa_handler == SIG_DFL);
    memset(&old, 0, sizeof old);
    EXPECT_EQ(sigaction(SIGUSR1, NULL, &old), 0);
    EXPECT_TRUE(old.sa_handler == count_handler);
    EXPECT_TRUE(old.sa_flags & SA_RESTART);
    EXPECT_TRUE(sigismember(&old.sa_mask, SIGUSR2));
    EXPECT_TRUE(!sigismember(&old.sa_mask, SIGTERM));
}

TEST(rt_sigaction, handler_runs_on_raise)
{
    install(SIGUSR2, count_handler, 0);
    EXPECT_EQ(raise(SIGUSR2), 0);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(last_sig, SIGUSR2);
}

TEST(rt_sigaction, einval_sigkill_sigstop)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    EXPECT_ERRNO(sigaction(SIGKILL, &sa, NULL), EINVAL);
    EXPECT_ERRNO(sigaction(SIGSTOP, &sa, NULL), EINVAL);
    struct sigaction old;
    EXPECT_EQ(sigaction(SIGKILL, NULL, &old), 0);
    EXPECT_TRUE(old.sa_handler == SIG_DFL);
}

TEST(rt_sigaction, einval_bad_signal_number)
{
    struct sigaction old;
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, 0, NULL, &old, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, 65, NULL, &old, 8), EINVAL);
}

TEST(rt_sigaction, einval_bad_sigsetsize)
{
    char old[64];
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, NULL, old, 4), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, NULL, old, 16), EINVAL);
}

TEST(rt_sigaction, efault)
{
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, (void *)1, NULL, 8), EFAULT);
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, NULL, (void *)1, 8), EFAULT);
}

TEST(rt_sigaction, sa_resethand)
{
    install(SIGUSR1, count_handler, SA_RESETHAND);
    EXPECT_EQ(raise(SIGUSR1), 0);
    EXPECT_EQ(hits, 1);
    struct sigaction old;
    EXPECT_EQ(sigaction(SIGUSR1, NULL, &old), 0);
    EXPECT_TRUE(old.sa_handler == SIG_DFL);
}

static volatile int mask_in_handler_self, mask_in_handler_usr2;
static void mask_handler(int sig)
{
    mask_in_handler_self = is_blocked(sig);
    mask_in_handler_usr2 = is_blocked(SIGUSR2);
    hits++;
}

TEST(rt_sigaction, sa_mask_and_self_blocked_in_handler)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mask_handler;
    sigaddset(&sa.sa_mask, SIGUSR2);
    EXPECT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EXPECT_EQ(raise(SIGUSR1), 0);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(mask_in_handler_self, 1);
    EXPECT_EQ(mask_in_handler_usr2, 1);
    EXPECT_EQ(is_blocked(SIGUSR1), 0);
    EXPECT_EQ(is_blocked(SIGUSR2), 0);
}

TEST(rt_sigaction, sa_nodefer)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mask_handler;
    sa.sa_flags = SA_NODEFER;
    EXPECT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    EXPECT_EQ(raise(SIGUSR1), 0);
    EXPECT_EQ(mask_in_handler_self, 0);
}

TEST(rt_sigaction, sig_ign_discards)
{
    install(SIGUSR1, SIG_IGN, 0);
    EXPECT_EQ(raise(SIGUSR1), 0);
    EXPECT_EQ(is_pending(SIGUSR1), 0);
}

TEST(rt_sigaction, sa_nocldwait_autoreaps)
{
    install(SIGCHLD, SIG_DFL, SA_NOCLDWAIT);
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(0);
    /* wait blocks until the child is gone, then finds no child */
    EXPECT_ERRNO(waitpid(-1, NULL, 0), ECHILD);
}

TEST(rt_sigaction, sigchld_handler_on_child_exit)
{
    install_info(SIGCHLD, 0);
    block(SIGCHLD);
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(3);
    sigset_t empty;
    sigemptyset(&empty);
    while (!hits) sigsuspend(&empty);
    EXPECT_EQ(last_info.si_signo, SIGCHLD);
    EXPECT_EQ(last_info.si_code, CLD_EXITED);
    EXPECT_EQ(last_info.si_pid, pid);
    EXPECT_EQ(last_info.si_status, 3);
    EXPECT_EQ(waitpid(pid, NULL, 0), pid);
}

/* SA_RESTART: a read interrupted by a handler restarts (the handler itself
 * makes data available); without it the read fails with EINTR. */
static int restart_pipe_w = -1;
static void restart_handler(int sig)
{
    (void)sig;
    hits++;
    if (restart_pipe_w >= 0) { write(restart_pipe_w, "r", 1); restart_pipe_w = -1; }
}

TEST(rt_sigaction, sa_restart_restarts_read)
{
    int p[2];
    EXPECT_OK(pipe(p));
    restart_pipe_w = p[1];
    install(SIGUSR1, restart_handler, SA_RESTART);
    pid_t pinger = start_pinger(SIGUSR1);
    char c = 0;
    errno = 0;
    long r = read(p[0], &c, 1);
    int e = errno;
    stop_pinger(pinger);
    EXPECT_EQ(e, 0);
    EXPECT_EQ(r, 1);
    EXPECT_EQ(c, 'r');
}

TEST(rt_sigaction, no_sa_restart_eintr)
{
    int p[2];
    EXPECT_OK(pipe(p));
    install(SIGUSR1, count_handler, 0);
    pid_t pinger = start_pinger(SIGUSR1);
    char c;
    errno = 0;
    long r = read(p[0], &c, 1);
    int e = errno;
    stop_pinger(pinger);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(e, EINTR);
}

/* ---- rt_sigpending ---- */

TEST(rt_sigpending, empty_then_pending)
{
    sigset_t s;
    EXPECT_EQ(syscall(SYS_rt_sigpending, &s, 8), 0);
    EXPECT_EQ(sigismember(&s, SIGUSR1), 0);
    block(SIGUSR1);
    EXPECT_EQ(raise(SIGUSR1), 0);
    sigemptyset(&s);
    EXPECT_EQ(syscall(SYS_rt_sigpending, &s, 8), 0);
    EXPECT_EQ(sigismember(&s, SIGUSR1), 1);
    EXPECT_EQ(sigismember(&s, SIGUSR2), 0);
}

TEST(rt_sigpending, einval_and_efault)
{
    sigset_t s;
    EXPECT_ERRNO(syscall(SYS_rt_sigpending, &s, 16), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigpending, (void *)1, 8), EFAULT);
}

/* ---- rt_sigprocmask ---- */

TEST(rt_sigprocmask, block_pending_unblock_delivers)
{
    install(SIGUSR1, count_handler, 0);
    block(SIGUSR1);
    EXPECT_EQ(raise(SIGUSR1), 0);
    EXPECT_EQ(hits, 0);
    EXPECT_EQ(is_pending(SIGUSR1), 1);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EXPECT_EQ(syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &s, NULL, 8), 0);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(is_pending(SIGUSR1), 0);
}

TEST(rt_sigprocmask, setmask_returns_old)
{
    sigset_t a, old;
    sigemptyset(&a);
    sigaddset(&a, SIGUSR2);
    EXPECT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &a, NULL, 8), 0);
    sigemptyset(&a);
    sigaddset(&a, SIGTERM);
    EXPECT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &a, &old, 8), 0);
    EXPECT_EQ(sigismember(&old, SIGUSR2), 1);
    EXPECT_EQ(sigismember(&old, SIGTERM), 0);
    EXPECT_EQ(is_blocked(SIGTERM), 1);
    EXPECT_EQ(is_blocked(SIGUSR2), 0);
}

TEST(rt_sigprocmask, sigkill_sigstop_not_blockable)
{
    sigset_t s;
    sigfillset(&s);
    EXPECT_EQ(sigprocmask(SIG_SETMASK, &s, NULL), 0);
    EXPECT_EQ(is_blocked(SIGKILL), 0);
    EXPECT_EQ(is_blocked(SIGSTOP), 0);
    EXPECT_EQ(is_blocked(SIGUSR1), 1);
}

TEST(rt_sigprocmask, einval_bad_how_or_size)
{
    sigset_t s;
    sigemptyset(&s);
    EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, 99, &s, NULL, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &s, NULL, 4), EINVAL);
}

TEST(rt_sigprocmask, efault)
{
    EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)1, NULL, 8), EFAULT);
}

/* ---- rt_sigqueueinfo / rt_tgsigqueueinfo ---- */

TEST(rt_sigqueueinfo, sigqueue_to_self_carries_value)
{
    block(SIGUSR1);
    union sigval v = { .sival_int = 4242 };
    EXPECT_EQ(sigqueue(getpid(), SIGUSR1, v), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    siginfo_t si;
    EXPECT_EQ(rt_sigtimedwait_ms(&s, &si, 1000), SIGUSR1);
    EXPECT_EQ(si.si_code, SI_QUEUE);
    EXPECT_EQ(si.si_value.sival_int, 4242);
    EXPECT_EQ(si.si_pid, getpid());
}

TEST(rt_sigqueueinfo, rt_signals_queue_standard_coalesce)
{
    block(SIGRTMIN);
    block(SIGUSR1);
    union sigval v = { .sival_int = 0 };
    for (int i = 0; i < 3; i++) {
        v.sival_int = i;
        EXPECT_EQ(sigqueue(getpid(), SIGRTMIN, v), 0);
        EXPECT_EQ(sigqueue(getpid(), SIGUSR1, v), 0);
    }
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN);
    siginfo_t si;
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(rt_sigtimedwait_ms(&s, &si, 0), SIGRTMIN);
        EXPECT_EQ(si.si_value.sival_int, i);
    }
    EXPECT_ERRNO(rt_sigtimedwait_ms(&s, &si, 0), EAGAIN);
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    EXPECT_EQ(rt_sigtimedwait_ms(&s, &si, 0), SIGUSR1);
    EXPECT_EQ(si.si_value.sival_int, 0);
    EXPECT_ERRNO(rt_sigtimedwait_ms(&s, &si, 0), EAGAIN);
}

TEST(rt_sigqueueinfo, eperm_si_user_to_other_process)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) { for (;;) pause(); }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = SI_USER;
    errno = 0;
    long r = syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &si);
    int e = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(e, EPERM);
}

TEST(rt_sigqueueinfo, esrch_and_einval)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_code = SI_QUEUE;
    EXPECT_ERRNO(syscall(SYS_rt_sigqueueinfo, dead_pid(), SIGUSR1, &si), ESRCH);
    EXPECT_ERRNO(syscall(SYS_rt_sigqueueinfo, getpid(), 65, &si), EINVAL);
}

TEST(rt_tgsigqueueinfo, to_own_thread)
{
    block(SIGUSR2);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR2;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 99;
    EXPECT_EQ(syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGUSR2, &si), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    siginfo_t got;
    EXPECT_EQ(rt_sigtimedwait_ms(&s, &got, 1000), SIGUSR2);
    EXPECT_EQ(got.si_code, SI_QUEUE);
    EXPECT_EQ(got.si_value.sival_int, 99);
}

TEST(rt_tgsigqueueinfo, esrch_wrong_tgid_einval_bad_ids)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_code = SI_QUEUE;
    long tid = syscall(SYS_gettid);
    EXPECT_ERRNO(syscall(SYS_rt_tgsigqueueinfo, dead_pid(), tid, SIGUSR2, &si), ESRCH);
    EXPECT_ERRNO(syscall(SYS_rt_tgsigqueueinfo, 0, tid, SIGUSR2, &si), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_tgsigqueueinfo, getpid(), 0, SIGUSR2, &si), EINVAL);
}

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

/* ---- sigaltstack ---- */

TEST(sigaltstack, default_disabled)
{
    stack_t old;
    memset(&old, 0xff, sizeof old);
    EXPECT_EQ(sigaltstack(NULL, &old), 0);
    EXPECT_EQ(old.ss_flags, SS_DISABLE);
}

TEST(sigaltstack, set_and_query)
{
    static char stk[65536];
    stack_t ss = { .ss_sp = stk, .ss_flags = 0, .ss_size = sizeof stk }, old;
    EXPECT_EQ(sigaltstack(&ss, NULL), 0);
    EXPECT_EQ(sigaltstack(NULL, &old), 0);
    EXPECT_EQ((uintptr_t)old.ss_sp, (uintptr_t)stk);
    EXPECT_EQ(old.ss_size, sizeof stk);
    EXPECT_EQ(old.ss_flags, 0);
    ss.ss_flags = SS_DISABLE;
    EXPECT_EQ(sigaltstack(&ss, NULL), 0);
    EXPECT_EQ(sigaltstack(NULL, &old), 0);
    EXPECT_EQ(old.ss_flags, SS_DISABLE);
}

TEST(sigaltstack, einval_bad_flags)
{
    static char stk[65536];
    stack_t ss = { .ss_sp = stk, .ss_flags = 0x1234, .ss_size = sizeof stk };
    EXPECT_ERRNO(sigaltstack(&ss, NULL), EINVAL);
}

TEST(sigaltstack, enomem_too_small)
{
    static char stk[1024];
    stack_t ss = { .ss_sp = stk, .ss_flags = 0, .ss_size = sizeof stk };
    EXPECT_ERRNO(sigaltstack(&ss, NULL), ENOMEM);
}

TEST(sigaltstack, efault)
{
    EXPECT_ERRNO(syscall(SYS_sigaltstack, (void *)1, NULL), EFAULT);
}

static char alt_stack[65536];
static volatile uintptr_t alt_local;
static volatile int alt_flags, alt_eperm;
static void alt_handler(int sig)
{
    (void)sig;
    char here;
    alt_local = (uintptr_t)&here;
    stack_t cur;
    sigaltstack(NULL, &cur);
    alt_flags = cur.ss_flags;
    stack_t other = { .ss_sp = alt_stack, .ss_flags = 0, .ss_size = sizeof alt_stack };
    errno = 0;
    if (sigaltstack(&other, NULL) == -1) alt_eperm = errno;
    hits++;
}

TEST(sigaltstack, handler_runs_on_it_eperm_while_on_it)
{
    stack_t ss = { .ss_sp = alt_stack, .ss_flags = 0, .ss_size = sizeof alt_stack };
    EXPECT_EQ(sigaltstack(&ss, NULL), 0);
    install(SIGUSR1, alt_handler, SA_ONSTACK);
    EXPECT_EQ(raise(SIGUSR1), 0);
    EXPECT_EQ(hits, 1);
    EXPECT_TRUE(alt_local >= (uintptr_t)alt_stack && alt_local < (uintptr_t)alt_stack + sizeof alt_stack);
    EXPECT_EQ(alt_flags, SS_ONSTACK);
    EXPECT_EQ(alt_eperm, EPERM);
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

/* ---- tgkill / tkill ---- */

TEST(tgkill, self)
{
    install_info(SIGUSR1, 0);
    EXPECT_EQ(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1), 0);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(last_info.si_code, SI_TKILL);
    EXPECT_EQ(last_info.si_pid, getpid());
}

static volatile long thread_got_sig;
static volatile long thread_tid;
static void thread_sig_handler(int sig) { (void)sig; thread_got_sig = syscall(SYS_gettid); }
static void *sig_thread(void *arg)
{
    (void)arg;
    thread_tid = syscall(SYS_gettid);
    while (!thread_got_sig) usleep(1000);
    return NULL;
}

TEST(tgkill, other_thread_runs_handler)
{
    install(SIGUSR1, thread_sig_handler, 0);
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, sig_thread, NULL), 0);
    while (!thread_tid) usleep(1000);
    EXPECT_EQ(syscall(SYS_tgkill, getpid(), thread_tid, SIGUSR1), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    EXPECT_EQ(thread_got_sig, thread_tid);
}

TEST(tgkill, einval_bad_ids_or_signal)
{
    long tid = syscall(SYS_gettid);
    EXPECT_ERRNO(syscall(SYS_tgkill, 0, tid, SIGUSR1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_tgkill, getpid(), 0, SIGUSR1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_tgkill, getpid(), tid, 65), EINVAL);
}

TEST(tgkill, esrch_wrong_tgid)
{
    EXPECT_ERRNO(syscall(SYS_tgkill, dead_pid(), syscall(SYS_gettid), 0), ESRCH);
}

TEST(tkill, self)
{
    install(SIGUSR2, count_handler, 0);
    EXPECT_EQ(syscall(SYS_tkill, syscall(SYS_gettid), SIGUSR2), 0);
    EXPECT_EQ(hits, 1);
}

TEST(tkill, einval_and_esrch)
{
    EXPECT_ERRNO(syscall(SYS_tkill, 0, SIGUSR1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_tkill, -1, SIGUSR1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_tkill, dead_pid(), 0), ESRCH);
}
