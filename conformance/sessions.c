/* Sessions and process groups: setsid, getsid, setpgid, getpgid, getpgrp.
 * Job control (a shell's pipelines, `setsid cmd`, daemons) rests on these;
 * the pid namespace the sandbox gives its processes must not change them.
 * Every case runs in a forked child (the harness's), which is never a
 * process group leader, so setsid() works there and the group rules can be
 * tried between it and its own children. */
#include "harness.h"
#include "helpers.h"

/* A child that waits on a pipe until told to exit; returns its pid. */
static pid_t idle_child(int *release)
{
    int p[2];
    if (pipe(p)) SB_FAIL("pipe: %s", sb_errname(errno));
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) {
        char c;
        close(p[1]);
        (void)!read(p[0], &c, 1);
        _exit(0);
    }
    close(p[0]);
    *release = p[1];
    return pid;
}

static void release_and_reap(int release, pid_t pid)
{
    close(release);
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(setsid, makes_a_session_and_group_of_the_caller)
{
    pid_t sid;
    EXPECT_OK(sid = setsid());
    EXPECT_EQ(sid, getpid());
    EXPECT_EQ(getsid(0), getpid());
    EXPECT_EQ(getpgid(0), getpid());
    EXPECT_EQ(getpgrp(), getpid());
}

TEST(setsid, eperm_for_a_group_leader)
{
    EXPECT_OK(setpgid(0, 0));           /* now a process group leader */
    EXPECT_ERRNO(setsid(), EPERM);
}

TEST(setsid, eperm_when_already_leading_a_session)
{
    EXPECT_OK(setsid());
    EXPECT_ERRNO(setsid(), EPERM);
}

TEST(setsid, children_inherit_session_and_group)
{
    EXPECT_OK(setsid());
    int release;
    pid_t child = idle_child(&release);
    EXPECT_EQ(getsid(child), getpid());
    EXPECT_EQ(getpgid(child), getpid());
    release_and_reap(release, child);
}

TEST(getsid, of_self_parent_and_dead)
{
    EXPECT_EQ(getsid(0), getsid(getpid()));
    EXPECT_OK(getsid(getppid()));
    EXPECT_ERRNO(getsid(dead_pid()), ESRCH);
}

TEST(getpgid, of_self_and_dead)
{
    EXPECT_EQ(getpgid(0), getpgrp());
    EXPECT_EQ(getpgid(getpid()), getpgrp());
    EXPECT_ERRNO(getpgid(dead_pid()), ESRCH);
    EXPECT_ERRNO(getpgid(-1), ESRCH);
}

TEST(setpgid, zero_zero_makes_a_group_of_the_caller)
{
    EXPECT_TRUE(getpgrp() != getpid());   /* the harness's child is not a leader */
    EXPECT_OK(setpgid(0, 0));
    EXPECT_EQ(getpgrp(), getpid());
    EXPECT_OK(setpgid(0, 0));             /* again: a no-op */
}

TEST(setpgid, moves_a_child_into_a_new_group_and_back)
{
    int release;
    pid_t child = idle_child(&release);
    pid_t mine = getpgrp();
    EXPECT_OK(setpgid(child, child));
    EXPECT_EQ(getpgid(child), child);
    EXPECT_OK(setpgid(child, mine));      /* a group in the same session */
    EXPECT_EQ(getpgid(child), mine);
    release_and_reap(release, child);
}

TEST(setpgid, einval_for_a_negative_group)
{
    EXPECT_ERRNO(setpgid(0, -1), EINVAL);
}

TEST(setpgid, esrch_for_a_process_not_our_child)
{
    EXPECT_ERRNO(setpgid(getppid(), 0), ESRCH);
    EXPECT_ERRNO(setpgid(dead_pid(), 0), ESRCH);
}

TEST(setpgid, eperm_for_a_group_of_another_session)
{
    /* The caller's group is in the harness's session; once the caller has a
     * session of its own, that group is out of reach. */
    pid_t old_group = getpgrp();
    EXPECT_OK(setsid());
    EXPECT_ERRNO(setpgid(0, old_group), EPERM);
}

TEST(setpgid, eperm_for_a_session_leader)
{
    EXPECT_OK(setsid());
    EXPECT_ERRNO(setpgid(0, 0), EPERM);
}

TEST(setpgid, eperm_for_a_child_in_another_session)
{
    int p[2], q[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(q));
    pid_t child = fork();
    EXPECT_OK(child);
    if (child == 0) {
        char c;
        close(p[1]);
        close(q[0]);
        if (setsid() < 0) _exit(1);
        (void)!write(q[1], "s", 1);
        (void)!read(p[0], &c, 1);
        _exit(0);
    }
    char c;
    close(p[0]);
    close(q[1]);
    EXPECT_EQ(read(q[0], &c, 1), 1);
    EXPECT_EQ(getsid(child), child);
    EXPECT_ERRNO(setpgid(child, getpgrp()), EPERM);
    release_and_reap(p[1], child);
}

TEST(setpgid, eacces_for_a_child_that_has_exec_d)
{
    int p[2];
    EXPECT_OK(pipe2(p, O_CLOEXEC));
    pid_t child = fork();
    EXPECT_OK(child);
    if (child == 0) {
        /* the pipe closes on exec: the parent sees EOF once the exec is done */
        char *argv[] = { "sleep", "5", NULL };
        execv("/bin/sleep", argv);
        _exit(99);
    }
    close(p[1]);
    char c;
    EXPECT_EQ(read(p[0], &c, 1), 0);
    EXPECT_ERRNO(setpgid(child, child), EACCES);
    kill(child, SIGKILL);
    reap(child);
}

TEST(kill, negative_pid_signals_the_whole_group)
{
    EXPECT_OK(setpgid(0, 0));
    int r1, r2;
    pid_t a = idle_child(&r1), b = idle_child(&r2);
    EXPECT_TRUE(signal(SIGUSR1, SIG_IGN) != SIG_ERR);     /* we are in the group too */
    /* The children reset nothing: SIGUSR1's default action ends them. */
    EXPECT_OK(kill(-getpid(), SIGUSR1));
    int st = reap(a);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
    st = reap(b);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
    close(r1);
    close(r2);
}
