/* A program's own seccomp filters: seccomp(2) and prctl(PR_SET_SECCOMP).
 * Browsers, systemd services, container runtimes and language sandboxes
 * install them.  In the sandbox they stack on the sentry's filter, and the
 * kernel takes the most severe action of all, so a program's ERRNO, TRAP or
 * KILL wins over the sentry's USER_NOTIF or TRACE even for a call the
 * sentry emulates (uname).  Two things the kernel itself refuses under a
 * filter are listed in expected-failures.txt: strict mode, and on the
 * seccomp platform a second user-notification listener. */
#include "harness.h"
#include "helpers.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1          /* si_code of a SECCOMP_RET_TRAP SIGSYS */
#endif

static long sys_seccomp(unsigned op, unsigned flags, void *args)
{
    return syscall(SYS_seccomp, op, flags, args);
}

/* A filter: syscall nr gets action; everything else is allowed. */
static long install(int nr, unsigned action, unsigned flags)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof *f, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) SB_FAIL("no_new_privs: %s", sb_errname(errno));
    return sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog);
}

TEST(seccomp, errno_filter_on_a_passthrough_call)
{
    EXPECT_OK(install(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0));
    EXPECT_ERRNO(syscall(SYS_getppid), EPERM);
    EXPECT_OK(getpid());
}

TEST(seccomp, errno_filter_wins_over_the_sentrys_emulation)
{
    struct utsname u;
    EXPECT_OK(uname(&u));
    EXPECT_OK(install(SYS_uname, SECCOMP_RET_ERRNO | EACCES, 0));
    EXPECT_ERRNO(uname(&u), EACCES);
}

TEST(seccomp, filters_stack_and_are_inherited_across_fork_and_exec)
{
    EXPECT_OK(install(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0));
    EXPECT_OK(install(SYS_getpgrp, SECCOMP_RET_ERRNO | EACCES, 0));
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        if (syscall(SYS_getppid) != -1 || errno != EPERM) _exit(1);
        if (syscall(SYS_getpgrp) != -1 || errno != EACCES) _exit(2);
        /* busybox sh: its `$PPID` comes from getppid(), which fails now */
        char *argv[] = { "sh", "-c", "exit 7", NULL };
        execv("/bin/sh", argv);
        _exit(3);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 7);
}

static volatile sig_atomic_t trapped_nr = -1;
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
    (void)sig; (void)ctx;
    trapped_nr = si->si_code == SYS_SECCOMP ? si->si_syscall : -2;
}

TEST(seccomp, trap_delivers_sigsys_naming_the_call)
{
    struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
    EXPECT_OK(sigaction(SIGSYS, &sa, NULL));
    EXPECT_OK(install(SYS_getppid, SECCOMP_RET_TRAP, 0));
    syscall(SYS_getppid);
    EXPECT_EQ(trapped_nr, SYS_getppid);
}

TEST(seccomp, kill_process_ends_the_caller_with_sigsys)
{
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        if (install(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0)) _exit(1);
        syscall(SYS_getppid);
        _exit(2);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

TEST(seccomp, get_action_avail)
{
    unsigned a = SECCOMP_RET_KILL_PROCESS;
    EXPECT_OK(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &a));
    a = SECCOMP_RET_USER_NOTIF;
    EXPECT_OK(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &a));
    a = 0x7fff0001;                                  /* not an action */
    EXPECT_ERRNO(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &a), EOPNOTSUPP);
}

TEST(seccomp, efault_and_einval)
{
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, BAD), EFAULT);
    struct sock_fprog empty = { .len = 0, .filter = NULL };
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, &empty), EINVAL);
    EXPECT_ERRNO(sys_seccomp(99, 0, NULL), EINVAL);
}

TEST(prctl, set_seccomp_strict_allows_only_read_write_exit)
{
    int p[2];
    EXPECT_OK(pipe(p));
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        close(p[0]);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0)) {
            char e = (char)errno;
            (void)!write(p[1], &e, 1);
            _exit(1);
        }
        (void)!write(p[1], "", 1);                   /* errno 0: strict mode is on */
        syscall(SYS_getpid);                         /* not allowed: SIGKILL */
        syscall(SYS_exit, 3);
    }
    close(p[1]);
    char e = 99;
    EXPECT_EQ(read(p[0], &e, 1), 1);
    EXPECT_EQ(e, 0);                                 /* prctl's errno, 0 if it worked */
    int st = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

TEST(seccomp, new_listener_returns_a_notification_fd)
{
    long fd;
    EXPECT_OK(fd = install(SYS_getppid, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER));
    EXPECT_TRUE(fd > 2);
}
