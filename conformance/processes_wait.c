/* Processes: wait4 and waitid. */
#include "harness.h"
#include <sys/resource.h>
#include <sys/syscall.h>

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
    if (pid == 0) {
        sb_touch_rss();
        _exit(200);
    }
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
