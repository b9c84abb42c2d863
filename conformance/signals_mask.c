/* Signals: blocked, pending and queued signals: rt_sigpending,
 * rt_sigprocmask, rt_sigqueueinfo and rt_tgsigqueueinfo. */
#include "harness.h"
#include "helpers.h"
#include "signal_helpers.h"
#include <sys/syscall.h>

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
