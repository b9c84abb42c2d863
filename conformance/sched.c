/* Scheduling policies and parameters: sched_getscheduler, sched_setscheduler,
 * sched_getparam, sched_setparam, sched_get_priority_max/min,
 * sched_rr_get_interval, sched_getattr, sched_setattr; and getcpu.  Only the
 * policies any process may choose (OTHER, BATCH, IDLE): the real-time ones
 * need CAP_SYS_NICE, which the sandbox does not give.  Affinity and
 * sched_yield are in processes.c. */
#include "harness.h"
#include "helpers.h"
#include <sched.h>
#include <sys/resource.h>

struct attr {                      /* struct sched_attr, as of Linux 4.13 (size 56) */
    __u32 size, policy;
    __u64 flags;
    __s32 nice;
    __u32 priority;
    __u64 runtime, deadline, period;
    __u32 util_min, util_max;
};

TEST(sched_getscheduler, other_by_default_and_esrch)
{
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    EXPECT_ERRNO(sched_getscheduler(dead_pid()), ESRCH);
    EXPECT_ERRNO(sched_getscheduler(-1), EINVAL);
}

TEST(sched_setscheduler, batch_and_back_then_idle_inherited)
{
    struct sched_param p = { 0 };
    EXPECT_OK(sched_setscheduler(0, SCHED_BATCH, &p));
    EXPECT_EQ(sched_getscheduler(0), SCHED_BATCH);
    EXPECT_OK(sched_setscheduler(0, SCHED_OTHER, &p));
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    /* Leaving SCHED_IDLE takes CAP_SYS_NICE (or RLIMIT_NICE): a one-way step. */
    EXPECT_OK(sched_setscheduler(0, SCHED_IDLE, &p));
    EXPECT_EQ(sched_getscheduler(0), SCHED_IDLE);
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0)
        _exit(sched_getscheduler(0) == SCHED_IDLE ? 0 : 1);
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(sched_setscheduler, einval_for_a_priority_outside_the_policy)
{
    struct sched_param p = { .sched_priority = 5 };
    EXPECT_ERRNO(sched_setscheduler(0, SCHED_OTHER, &p), EINVAL);
    EXPECT_ERRNO(sched_setscheduler(0, 1234, &p), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL);
}

TEST(sched_getparam, priority_zero_and_setparam)
{
    struct sched_param p = { .sched_priority = 99 };
    EXPECT_OK(sched_getparam(0, &p));
    EXPECT_EQ(p.sched_priority, 0);
    p.sched_priority = 0;
    EXPECT_OK(sched_setparam(0, &p));
    EXPECT_ERRNO(syscall(SYS_sched_getparam, 0, BAD), EFAULT);
    EXPECT_ERRNO(sched_getparam(dead_pid(), &p), ESRCH);
}

TEST(sched_get_priority_max, ranges_per_policy)
{
    EXPECT_EQ(sched_get_priority_max(SCHED_FIFO), 99);
    EXPECT_EQ(sched_get_priority_min(SCHED_FIFO), 1);
    EXPECT_EQ(sched_get_priority_max(SCHED_RR), 99);
    EXPECT_EQ(sched_get_priority_max(SCHED_OTHER), 0);
    EXPECT_EQ(sched_get_priority_min(SCHED_BATCH), 0);
    EXPECT_ERRNO(sched_get_priority_max(1234), EINVAL);
    EXPECT_ERRNO(sched_get_priority_min(-1), EINVAL);
}

TEST(sched_rr_get_interval, other_gives_a_time_slice_or_zero)
{
    struct timespec ts = { 99, 99 };
    EXPECT_OK(sched_rr_get_interval(0, &ts));
    EXPECT_TRUE(ts.tv_sec >= 0 && ts.tv_sec < 10 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
    EXPECT_ERRNO(sched_rr_get_interval(dead_pid(), &ts), ESRCH);
}

TEST(sched_getattr, reports_policy_and_nice)
{
    EXPECT_OK(setpriority(PRIO_PROCESS, 0, 7));
    struct attr a;
    memset(&a, 0xff, sizeof a);
    EXPECT_OK(syscall(SYS_sched_getattr, 0, &a, sizeof a, 0));
    EXPECT_EQ(a.size, sizeof a);
    EXPECT_EQ(a.policy, SCHED_OTHER);
    EXPECT_EQ(a.nice, 7);
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 0, &a, 8, 0), EINVAL);     /* below the first version */
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 0, &a, sizeof a, 1), EINVAL);
}

TEST(sched_setattr, batch_with_a_nice_value)
{
    struct attr a = { .size = sizeof a, .policy = SCHED_BATCH, .nice = 5 };
    EXPECT_OK(syscall(SYS_sched_setattr, 0, &a, 0));
    EXPECT_EQ(sched_getscheduler(0), SCHED_BATCH);
    errno = 0;
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 5);
    a.size = 4;                                                          /* too small */
    EXPECT_ERRNO(syscall(SYS_sched_setattr, 0, &a, 0), E2BIG);
}

TEST(getcpu, a_cpu_this_process_may_run_on)
{
    unsigned cpu = 9999, node = 9999;
    EXPECT_OK(syscall(SYS_getcpu, &cpu, &node, NULL));
    cpu_set_t set;
    EXPECT_OK(sched_getaffinity(0, sizeof set, &set));
    EXPECT_TRUE(cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set));
    EXPECT_TRUE(node < 1024);
}
