/* Processes: execve, execveat, getpid, getppid, gettid, kill (process
 * level; signal details are in signals.c), getpriority, setpriority,
 * sched_yield and the affinity calls, unshare and vfork.  Waiting is in
 * processes_wait.c, clone, futex and threads in threads.c, scheduling
 * policies in sched.c, sessions and process groups in sessions.c. */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

extern char **environ;

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
