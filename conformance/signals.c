/* Signals: kill, pause, rt_sigaction, sigaltstack, tgkill and tkill.
 * Masks, pending and queued signals are in signals_mask.c; waiting for
 * signals (rt_sigsuspend, rt_sigtimedwait, signalfd) in signals_wait.c. */
#include "harness.h"
#include "helpers.h"
#include "signal_helpers.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

/* Helpers. */

static siginfo_t last_info;

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_sig = sig;
    last_info = *si;
}

static void install_info(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO | flags;
    if (sigaction(sig, &sa, NULL)) SB_FAIL("sigaction(%d): %s", sig, sb_errname(errno));
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
