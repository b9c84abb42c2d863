/* Threads and process creation flags: clone, clone3, exit, exit_group,
 * futex, set_robust_list, get_robust_list and set_tid_address. */
#include "harness.h"
#include "helpers.h"
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

static long futex(int *uaddr, int op, int val, const struct timespec *ts, int *uaddr2, int val3)
{
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* ---- clone ---- */

TEST(clone, glibc_fork_child_and_parent)
{
    pid_t parent = getpid();
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(getppid() == parent && getpid() != parent ? 7 : 1);
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 7);
}

TEST(clone, raw_sigchld_fork_like)
{
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) syscall(SYS_exit_group, 11);
    if (pid < 0) SB_FAIL("pid < 0: %s", sb_errname(errno));
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 11);
}

TEST(clone, parent_settid)
{
    static pid_t ptid;
    long pid = syscall(SYS_clone, SIGCHLD | CLONE_PARENT_SETTID, 0, &ptid, 0, 0);
    if (pid == 0) syscall(SYS_exit_group, 0);
    if (pid < 0) SB_FAIL("pid < 0: %s", sb_errname(errno));
    EXPECT_EQ(ptid, pid);
    reap(pid);
}

static volatile int clone_vm_flag;
static int clone_vm_fn(void *arg)
{
    clone_vm_flag = (int)(intptr_t)arg;
    return 5;
}

TEST(clone, vm_shares_memory)
{
    size_t sz = 64 * 1024;
    char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(stack != MAP_FAILED);
    pid_t pid;
    EXPECT_OK(pid = clone(clone_vm_fn, stack + sz, CLONE_VM | SIGCHLD, (void *)(intptr_t)1234));
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 5);
    EXPECT_EQ(clone_vm_flag, 1234);
}

TEST(clone, einval_thread_without_sighand)
{
    EXPECT_ERRNO(syscall(SYS_clone, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0), EINVAL);
}

/* Namespace flags: root may create them natively; the sandbox refuses them
 * in BPF with EPERM (docs/syscalls.md). */
TEST(clone, newuser_flag)
{
    long pid = syscall(SYS_clone, SIGCHLD | CLONE_NEWUSER, 0, 0, 0, 0);
    if (pid == 0) syscall(SYS_exit_group, 0);
    if (IN_SANDBOX) {
        EXPECT_EQ(pid, -1);
        EXPECT_EQ(errno, EPERM);
    } else {
        if (pid < 0) SB_FAIL("pid < 0: %s", sb_errname(errno));
        int st = reap(pid);
        EXPECT_TRUE(WIFEXITED(st));
        EXPECT_EQ(WEXITSTATUS(st), 0);
    }
}

/* ---- clone3 ---- */

/* clone3 works natively; the sandbox answers ENOSYS by design (its flags are
 * in memory, unseen by BPF) so that glibc falls back to clone. */
TEST(clone3, fork_like)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) syscall(SYS_exit_group, 3);
    if (IN_SANDBOX) {
        EXPECT_EQ(pid, -1);
        EXPECT_EQ(errno, ENOSYS);
    } else {
        if (pid < 0) SB_FAIL("pid < 0: %s", sb_errname(errno));
        int st = reap(pid);
        EXPECT_TRUE(WIFEXITED(st));
        EXPECT_EQ(WEXITSTATUS(st), 3);
    }
}

TEST(clone3, einval_small_size)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    EXPECT_ERRNO(syscall(SYS_clone3, &args, 8), IN_SANDBOX ? ENOSYS : EINVAL);
}

static volatile int thread_hits[8];
static void *thread_fn(void *arg)
{
    int i = (int)(intptr_t)arg;
    thread_hits[i] = (int)syscall(SYS_gettid);
    return (void *)(intptr_t)(i * 10);
}

/* glibc's pthread_create uses clone3 natively and falls back to clone when
 * the sandbox answers ENOSYS: both must work. */
TEST(clone3, glibc_pthread_create_8_threads)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, thread_fn, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 8; i++) {
        void *ret;
        EXPECT_EQ(pthread_join(t[i], &ret), 0);
        EXPECT_EQ((intptr_t)ret, i * 10);
        EXPECT_TRUE(thread_hits[i] > 0);
        EXPECT_TRUE(thread_hits[i] != getpid());
    }
}

/* ---- exit / exit_group ---- */

TEST(exit_group, status_reported)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) syscall(SYS_exit_group, 42);
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 42);
}

TEST(exit_group, status_truncated_to_8_bits)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) syscall(SYS_exit_group, 0x1234);
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0x34);
}

TEST(exit_group, ends_all_threads)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        pthread_t t;
        /* a thread blocked forever; exit_group must still end the process */
        if (pthread_create(&t, NULL, (void *(*)(void *))pause, NULL)) _exit(98);
        syscall(SYS_exit_group, 9);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 9);
}

static void *exit_thread_fn(void *arg)
{
    (void)arg;
    syscall(SYS_exit, 0);
    return NULL;
}

TEST(exit, thread_exit_keeps_process)
{
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, exit_thread_fn, NULL), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    EXPECT_TRUE(getpid() > 0);
}

/* ---- futex ---- */

TEST(futex, wait_eagain_value_mismatch)
{
    static int word = 1;
    EXPECT_ERRNO(futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), EAGAIN);
    EXPECT_ERRNO(futex(&word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0), EAGAIN);
}

TEST(futex, wait_relative_timeout_etimedout)
{
    static int word = 0;
    struct timespec ts = { 0, 20 * 1000 * 1000 }, a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    EXPECT_ERRNO(futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
    EXPECT_TRUE(ns >= 20 * 1000 * 1000);
}

TEST(futex, wait_bitset_absolute_timeout)
{
    static int word = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    EXPECT_ERRNO(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
}

TEST(futex, einval_bad_timeout)
{
    static int word = 0;
    struct timespec ts = { 0, 1000000000L };
    EXPECT_ERRNO(futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), EINVAL);
}

TEST(futex, wake_without_waiters_returns_zero)
{
    static int word = 0;
    EXPECT_EQ(futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 0);
    EXPECT_EQ(futex(&word, FUTEX_WAKE_PRIVATE, 100, NULL, NULL, 0), 0);
}

static int futex_word;
static void *futex_waiter(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&futex_word, __ATOMIC_SEQ_CST) == 0)
        futex(&futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

TEST(futex, wake_wakes_waiter)
{
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, futex_waiter, NULL), 0);
    long woken = 0;
    for (int i = 0; i < 2000 && woken == 0; i++) {
        woken = futex(&futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        if (woken == 0) usleep(1000);
        else __atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
    }
    /* the waiter goes back to sleep if the word is still 0; it is 1 now */
    EXPECT_EQ(woken, 1);
    futex(&futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
}

TEST(futex, einval_unaligned)
{
    static int words[2];
    EXPECT_ERRNO(futex((int *)((char *)words + 1), FUTEX_WAIT, 0, NULL, NULL, 0), EINVAL);
}

TEST(futex, efault_unmapped)
{
    EXPECT_ERRNO(futex((int *)0x1000, FUTEX_WAIT, 0, NULL, NULL, 0), EFAULT);
}

TEST(futex, enosys_bad_op)
{
    static int word = 0;
    EXPECT_ERRNO(futex(&word, 99, 0, NULL, NULL, 0), ENOSYS);
}

/* ---- get_robust_list / set_robust_list / set_tid_address ---- */

TEST(set_robust_list, set_then_get)
{
    static struct robust_list_head head = { { &head.list }, 0, NULL };
    EXPECT_EQ(syscall(SYS_set_robust_list, &head, sizeof head), 0);
    struct robust_list_head *got = NULL;
    size_t len = 0;
    EXPECT_EQ(syscall(SYS_get_robust_list, 0, &got, &len), 0);
    EXPECT_EQ((uintptr_t)got, (uintptr_t)&head);
    EXPECT_EQ(len, sizeof head);
}

TEST(set_robust_list, einval_bad_len)
{
    static struct robust_list_head head;
    EXPECT_ERRNO(syscall(SYS_set_robust_list, &head, sizeof head + 1), EINVAL);
}

TEST(get_robust_list, esrch_dead_pid)
{
    pid_t pid = dead_pid();
    void *got;
    size_t len;
    EXPECT_ERRNO(syscall(SYS_get_robust_list, pid, &got, &len), ESRCH);
}

TEST(get_robust_list, efault)
{
    size_t len;
    EXPECT_ERRNO(syscall(SYS_get_robust_list, 0, (void *)1, &len), EFAULT);
}

TEST(set_tid_address, returns_tid)
{
    static int ctid;
    EXPECT_EQ(syscall(SYS_set_tid_address, &ctid), syscall(SYS_gettid));
}
