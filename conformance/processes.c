#include "harness.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

extern char **environ;

static int have_cap(int cap)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0) SB_FAIL("capget: %s", sb_errname(errno));
    return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* Wait for pid and return its status (failing the case on error). */
static int reap(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) SB_FAIL("waitpid(%d): %s", pid, sb_errname(errno));
    return st;
}

/* A pid that existed and has been reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) _exit(0);
    reap(pid);
    return pid;
}

static long futex(int *uaddr, int op, int val, const struct timespec *ts, int *uaddr2, int val3)
{
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static void mk_scratch(char *dir) 
{
    strcpy(dir, "/tmp/conf.XXXXXX");
    if (!mkdtemp(dir)) SB_FAIL("mkdtemp: %s", sb_errname(errno));
}

static void write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) SB_FAIL("open %s: %s", path, sb_errname(errno));
    if (write(fd, data, strlen(data)) != (ssize_t)strlen(data)) SB_FAIL("write %s", path);
    close(fd);
    chmod(path, mode);
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

/* ---- execve / execveat ---- */

TEST(execve, bin_true_in_child)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        char *argv[] = { "true", NULL };
        execve("/bin/true", argv, environ);
        _exit(99);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(execve, argv_reaches_program)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        char *argv[] = { "sh", "-c", "exit $0", "37", NULL };
        char *envp[] = { NULL };
        execve("/bin/sh", argv, envp);
        _exit(99);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 37);
}

TEST(execve, enoent)
{
    char *argv[] = { "x", NULL };
    EXPECT_ERRNO(execve("/nonexistent/conf-prog", argv, environ), ENOENT);
    EXPECT_ERRNO(execve("", argv, environ), ENOENT);
}

TEST(execve, eacces_directory)
{
    char *argv[] = { "x", NULL };
    EXPECT_ERRNO(execve("/tmp", argv, environ), EACCES);
}

/* root still needs at least one execute bit on a regular file */
TEST(execve, eacces_no_exec_bit)
{
    char dir[64], path[80];
    mk_scratch(dir);
    snprintf(path, sizeof path, "%s/noexec", dir);
    write_file(path, "#!/bin/sh\nexit 0\n", 0644);
    char *argv[] = { "x", NULL };
    errno = 0;
    int r = execve(path, argv, environ);
    int e = errno;
    unlink(path);
    rmdir(dir);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(e, EACCES);
}

TEST(execve, enoexec_garbage)
{
    char dir[64], path[80];
    mk_scratch(dir);
    snprintf(path, sizeof path, "%s/garbage", dir);
    write_file(path, "this is not an executable format\n", 0755);
    char *argv[] = { "x", NULL };
    errno = 0;
    int r = execve(path, argv, environ);
    int e = errno;
    unlink(path);
    rmdir(dir);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(e, ENOEXEC);
}

TEST(execve, enotdir)
{
    char *argv[] = { "x", NULL };
    EXPECT_ERRNO(execve("/bin/true/x", argv, environ), ENOTDIR);
}

TEST(execve, efault_path)
{
    char *argv[] = { "x", NULL };
    EXPECT_ERRNO(syscall(SYS_execve, (void *)1, argv, environ), EFAULT);
}

TEST(execveat, empty_path_on_fd)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        int fd = open("/bin/true", O_RDONLY);
        if (fd < 0) _exit(98);
        char *argv[] = { "true", NULL };
        syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
        _exit(99);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(execveat, relative_to_dirfd)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        int dfd = open("/bin", O_RDONLY | O_DIRECTORY);
        if (dfd < 0) _exit(98);
        char *argv[] = { "true", NULL };
        syscall(SYS_execveat, dfd, "true", argv, environ, 0);
        _exit(99);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(execveat, einval_bad_flags)
{
    char *argv[] = { "x", NULL };
    EXPECT_ERRNO(syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, environ, 0x1), EINVAL);
}

TEST(execveat, ebadf)
{
    char *argv[] = { "x", NULL };
    EXPECT_ERRNO(syscall(SYS_execveat, -1, "true", argv, environ, 0), EBADF);
}

TEST(execveat, enoent_empty_path_without_flag)
{
    int fd;
    EXPECT_OK(fd = open("/bin/true", O_RDONLY));
    char *argv[] = { "x", NULL };
    EXPECT_ERRNO(syscall(SYS_execveat, fd, "", argv, environ, 0), ENOENT);
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

/* ---- getpid / getppid / gettid ---- */

TEST(getpid, stable_and_seen_by_child)
{
    pid_t me = getpid();
    EXPECT_TRUE(me > 0);
    EXPECT_EQ(syscall(SYS_getpid), me);
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(syscall(SYS_getppid) == me ? 0 : 1);
    EXPECT_TRUE(pid != me);
    EXPECT_EQ(WEXITSTATUS(reap(pid)), 0);
}

TEST(getppid, is_harness)
{
    /* each case runs in a child of the harness process */
    pid_t pp = syscall(SYS_getppid);
    EXPECT_TRUE(pp > 0);
    EXPECT_EQ(kill(pp, 0), 0);
}

static void *tid_fn(void *arg)
{
    long *out = arg;
    out[0] = syscall(SYS_gettid);
    out[1] = syscall(SYS_getpid);
    return NULL;
}

TEST(gettid, main_equals_pid_thread_differs)
{
    EXPECT_EQ(syscall(SYS_gettid), getpid());
    long r[2];
    pthread_t t;
    EXPECT_EQ(pthread_create(&t, NULL, tid_fn, r), 0);
    EXPECT_EQ(pthread_join(t, NULL), 0);
    EXPECT_TRUE(r[0] > 0);
    EXPECT_TRUE(r[0] != getpid());
    EXPECT_EQ(r[1], getpid());
}

/* ---- kill (process-level; signal details are in signals.c) ---- */

TEST(kill, sig0_to_self)
{
    EXPECT_EQ(syscall(SYS_kill, getpid(), 0), 0);
    EXPECT_EQ(syscall(SYS_kill, 0, 0), 0); /* own process group */
}

/* ---- getpriority / setpriority ---- */

TEST(setpriority, lower_priority_then_get)
{
    EXPECT_EQ(setpriority(PRIO_PROCESS, 0, 5), 0);
    errno = 0;
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 5);
    EXPECT_EQ(errno, 0);
    /* raw syscall returns 20 - nice */
    EXPECT_EQ(syscall(SYS_getpriority, PRIO_PROCESS, 0), 15);
    EXPECT_EQ(setpriority(PRIO_PROCESS, getpid(), 19), 0);
    EXPECT_EQ(getpriority(PRIO_PROCESS, getpid()), 19);
}

TEST(setpriority, clamped_to_range)
{
    EXPECT_EQ(setpriority(PRIO_PROCESS, 0, 100), 0);
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 19);
}

/* Capability-dependent: a lower nice value than the current one needs
 * CAP_SYS_NICE (not in Docker's set; RLIMIT_NICE is 0 by default). */
TEST(setpriority, raise_priority_needs_cap_sys_nice)
{
    EXPECT_EQ(setpriority(PRIO_PROCESS, 0, 10), 0);
    if (IN_SANDBOX || !have_cap(CAP_SYS_NICE)) {
        EXPECT_ERRNO(setpriority(PRIO_PROCESS, 0, 5), EACCES);
    } else {
        EXPECT_EQ(setpriority(PRIO_PROCESS, 0, 5), 0);
        EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 5);
    }
}

TEST(setpriority, einval_bad_which)
{
    EXPECT_ERRNO(setpriority(77, 0, 0), EINVAL);
}

TEST(setpriority, esrch_dead_pid)
{
    pid_t pid = dead_pid();
    EXPECT_ERRNO(setpriority(PRIO_PROCESS, pid, 5), ESRCH);
}

TEST(getpriority, einval_bad_which)
{
    EXPECT_ERRNO(syscall(SYS_getpriority, 77, 0), EINVAL);
}

TEST(getpriority, esrch_dead_pid)
{
    pid_t pid = dead_pid();
    EXPECT_ERRNO(syscall(SYS_getpriority, PRIO_PROCESS, pid), ESRCH);
}

/* ---- sched_* ---- */

TEST(sched_yield, ok)
{
    EXPECT_EQ(syscall(SYS_sched_yield), 0);
}

TEST(sched_getaffinity, returns_mask_size)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    EXPECT_TRUE(n > 0);
    EXPECT_EQ(n % sizeof(long), 0);
    EXPECT_TRUE(CPU_COUNT(&set) >= 1);
    int cpu = sched_getcpu();
    EXPECT_TRUE(cpu >= 0);
    EXPECT_TRUE(CPU_ISSET(cpu, &set));
}

TEST(sched_getaffinity, einval_small_or_unaligned_size)
{
    cpu_set_t set;
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 4, &set), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 0, &set), EINVAL);
}

TEST(sched_getaffinity, esrch_dead_pid)
{
    pid_t pid = dead_pid();
    cpu_set_t set;
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, pid, sizeof set, &set), ESRCH);
}

TEST(sched_setaffinity, pin_to_one_cpu)
{
    cpu_set_t set, got;
    EXPECT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    int cpu = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) { cpu = i; break; }
    EXPECT_TRUE(cpu >= 0);
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    EXPECT_EQ(syscall(SYS_sched_setaffinity, 0, sizeof set, &set), 0);
    CPU_ZERO(&got);
    EXPECT_EQ(sched_getaffinity(0, sizeof got, &got), 0);
    EXPECT_EQ(CPU_COUNT(&got), 1);
    EXPECT_TRUE(CPU_ISSET(cpu, &got));
    sched_yield();
    EXPECT_EQ(sched_getcpu(), cpu);
}

TEST(sched_setaffinity, einval_empty_mask)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    EXPECT_ERRNO(syscall(SYS_sched_setaffinity, 0, sizeof set, &set), EINVAL);
}

TEST(sched_setaffinity, efault)
{
    EXPECT_ERRNO(syscall(SYS_sched_setaffinity, 0, sizeof(cpu_set_t), (void *)1), EFAULT);
}

/* ---- unshare ---- */

TEST(unshare, zero_and_non_namespace_flags)
{
    EXPECT_EQ(unshare(0), 0);
    EXPECT_EQ(unshare(CLONE_FILES | CLONE_FS), 0);
}

TEST(unshare, einval_bad_flag)
{
    EXPECT_ERRNO(unshare(0x1), EINVAL);
}

/* Natively root may create a user namespace (in this case's own child
 * process); the sandbox refuses namespace flags in BPF with EPERM. */
TEST(unshare, newuser)
{
    if (IN_SANDBOX) {
        EXPECT_ERRNO(unshare(CLONE_NEWUSER), EPERM);
    } else {
        EXPECT_EQ(unshare(CLONE_NEWUSER), 0);
    }
}

TEST(unshare, newns)
{
    if (IN_SANDBOX) {
        EXPECT_ERRNO(unshare(CLONE_NEWNS), EPERM);
    } else {
        EXPECT_EQ(unshare(CLONE_NEWNS), 0);
    }
}

/* ---- vfork ---- */

TEST(vfork, child_runs_first_sharing_memory)
{
    static volatile int shared;
    shared = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        shared = 77;
        _exit(4);
    }
    if (pid < 0) SB_FAIL("pid < 0: %s", sb_errname(errno));
    /* the parent resumes only after the child's _exit */
    EXPECT_EQ(shared, 77);
    int st = reap(pid);
    EXPECT_EQ(WEXITSTATUS(st), 4);
}

TEST(vfork, then_execve)
{
    pid_t pid = vfork();
    if (pid == 0) {
        char *argv[] = { "true", NULL };
        execve("/bin/true", argv, environ);
        _exit(99);
    }
    if (pid < 0) SB_FAIL("pid < 0: %s", sb_errname(errno));
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

/* ---- wait4 ---- */

TEST(wait4, echild_no_children)
{
    int st;
    EXPECT_ERRNO(wait4(-1, &st, 0, NULL), ECHILD);
    EXPECT_ERRNO(wait4(-1, &st, WNOHANG, NULL), ECHILD);
}

TEST(wait4, echild_not_our_child)
{
    int st;
    EXPECT_ERRNO(wait4(getppid(), &st, 0, NULL), ECHILD);
}

TEST(wait4, wnohang_running_child)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        char c;
        close(p[1]);
        read(p[0], &c, 1);
        _exit(0);
    }
    int st;
    EXPECT_EQ(wait4(pid, &st, WNOHANG, NULL), 0);
    close(p[1]);
    EXPECT_EQ(wait4(pid, &st, 0, NULL), pid);
    EXPECT_TRUE(WIFEXITED(st));
}

TEST(wait4, exit_status_and_rusage)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(200);
    int st;
    struct rusage ru;
    memset(&ru, 0xff, sizeof ru);
    EXPECT_EQ(wait4(pid, &st, 0, &ru), pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 200);
    EXPECT_TRUE(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec < 1000000);
    EXPECT_TRUE(ru.ru_maxrss > 0);
}

TEST(wait4, signal_status)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        raise(SIGKILL);
        _exit(0);
    }
    int st;
    EXPECT_EQ(wait4(pid, &st, 0, NULL), pid);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGKILL);
}

TEST(wait4, stopped_and_continued)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        char c;
        close(p[1]);
        raise(SIGSTOP);
        read(p[0], &c, 1); /* stay alive until the parent saw "continued" */
        _exit(6);
    }
    close(p[0]);
    int st;
    EXPECT_EQ(wait4(pid, &st, WUNTRACED, NULL), pid);
    EXPECT_TRUE(WIFSTOPPED(st));
    EXPECT_EQ(WSTOPSIG(st), SIGSTOP);
    EXPECT_EQ(kill(pid, SIGCONT), 0);
    EXPECT_EQ(wait4(pid, &st, WCONTINUED, NULL), pid);
    EXPECT_TRUE(WIFCONTINUED(st));
    close(p[1]);
    EXPECT_EQ(wait4(pid, &st, 0, NULL), pid);
    EXPECT_EQ(WEXITSTATUS(st), 6);
}

TEST(wait4, einval_bad_options)
{
    int st;
    EXPECT_ERRNO(wait4(-1, &st, 0x00100000, NULL), EINVAL);
}

/* ---- waitid ---- */

TEST(waitid, p_pid_wexited_siginfo)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(5);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_EQ(waitid(P_PID, pid, &si, WEXITED), 0);
    EXPECT_EQ(si.si_signo, SIGCHLD);
    EXPECT_EQ(si.si_code, CLD_EXITED);
    EXPECT_EQ(si.si_pid, pid);
    EXPECT_EQ(si.si_uid, getuid());
    EXPECT_EQ(si.si_status, 5);
    EXPECT_ERRNO(waitid(P_PID, pid, &si, WEXITED), ECHILD);
}

TEST(waitid, killed_siginfo)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) { pause(); _exit(0); }
    EXPECT_EQ(kill(pid, SIGTERM), 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_EQ(waitid(P_PID, pid, &si, WEXITED), 0);
    EXPECT_EQ(si.si_code, CLD_KILLED);
    EXPECT_EQ(si.si_status, SIGTERM);
}

TEST(waitid, wnohang_nothing_ready)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        char c;
        close(p[1]);
        read(p[0], &c, 1);
        _exit(0);
    }
    siginfo_t si;
    memset(&si, 0xff, sizeof si);
    EXPECT_EQ(waitid(P_PID, pid, &si, WEXITED | WNOHANG), 0);
    EXPECT_EQ(si.si_pid, 0);
    close(p[1]);
    EXPECT_EQ(waitid(P_PID, pid, &si, WEXITED), 0);
    EXPECT_EQ(si.si_pid, pid);
}

TEST(waitid, wnowait_leaves_child_waitable)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(8);
    siginfo_t si;
    EXPECT_EQ(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
    EXPECT_EQ(si.si_pid, pid);
    EXPECT_EQ(si.si_status, 8);
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(WEXITSTATUS(st), 8);
}

TEST(waitid, p_all)
{
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) _exit(1);
    siginfo_t si;
    EXPECT_EQ(waitid(P_ALL, 0, &si, WEXITED), 0);
    EXPECT_EQ(si.si_pid, pid);
}

TEST(waitid, einval_no_state_options)
{
    siginfo_t si;
    EXPECT_ERRNO(waitid(P_ALL, 0, &si, 0), EINVAL);
    EXPECT_ERRNO(waitid(P_ALL, 0, &si, WNOHANG), EINVAL);
}

TEST(waitid, einval_bad_idtype)
{
    siginfo_t si;
    EXPECT_ERRNO(syscall(SYS_waitid, 42, 0, &si, WEXITED, NULL), EINVAL);
}

TEST(waitid, echild_no_children)
{
    siginfo_t si;
    EXPECT_ERRNO(waitid(P_ALL, 0, &si, WEXITED), ECHILD);
}
