/* POSIX message queues: mq_open, mq_timedsend, mq_timedreceive,
 * mq_getsetattr, mq_notify, mq_unlink (glibc's mq_send and mq_receive are
 * the timed calls without a timeout).  Queues live in the IPC namespace's
 * mqueue filesystem (the sandbox mounts its own at /dev/mqueue): natively
 * the runner gives each area a fresh namespace.  Every queue is unlinked
 * before its case ends. */
#include "harness.h"
#include "helpers.h"
#include <mqueue.h>

static char QN[64];

static const char *qname(void)
{
    snprintf(QN, sizeof QN, "/conf.%d", getpid());
    return QN;
}

static mqd_t open_queue(long maxmsg, long msgsize, int flags)
{
    struct mq_attr a = { .mq_maxmsg = maxmsg, .mq_msgsize = msgsize };
    mqd_t q = mq_open(qname(), O_RDWR | O_CREAT | O_EXCL | flags, 0600, &a);
    if (q == (mqd_t)-1) SB_FAIL("mq_open %s: %s", QN, sb_errname(errno));
    return q;
}

TEST(mq_timedsend, priority_order_and_fifo_within_a_priority)
{
    mqd_t q = open_queue(8, 32, 0);
    EXPECT_OK(mq_send(q, "low", 4, 1));
    EXPECT_OK(mq_send(q, "high", 5, 9));
    EXPECT_OK(mq_send(q, "low2", 5, 1));
    char buf[32];
    unsigned prio;
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 5);
    EXPECT_STREQ(buf, "high");
    EXPECT_EQ(prio, 9);
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 4);
    EXPECT_STREQ(buf, "low");
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 5);
    EXPECT_STREQ(buf, "low2");
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}

TEST(mq_getsetattr, attributes_and_nonblock)
{
    mqd_t q = open_queue(4, 16, 0);
    struct mq_attr a;
    EXPECT_OK(mq_getattr(q, &a));
    EXPECT_EQ(a.mq_maxmsg, 4);
    EXPECT_EQ(a.mq_msgsize, 16);
    EXPECT_EQ(a.mq_curmsgs, 0);
    EXPECT_EQ(a.mq_flags & O_NONBLOCK, 0);
    EXPECT_OK(mq_send(q, "x", 1, 0));
    struct mq_attr nb = { .mq_flags = O_NONBLOCK }, old;
    EXPECT_OK(mq_setattr(q, &nb, &old));
    EXPECT_EQ(old.mq_curmsgs, 1);
    EXPECT_OK(mq_getattr(q, &a));
    EXPECT_EQ(a.mq_flags & O_NONBLOCK, O_NONBLOCK);
    char buf[16];
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, NULL), 1);
    EXPECT_ERRNO(mq_receive(q, buf, sizeof buf, NULL), EAGAIN);
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}

TEST(mq_timedsend, full_queue_nonblock_is_eagain_and_timed_is_etimedout)
{
    mqd_t q = open_queue(1, 8, O_NONBLOCK);
    EXPECT_OK(mq_send(q, "a", 1, 0));
    EXPECT_ERRNO(mq_send(q, "b", 1, 0), EAGAIN);
    struct mq_attr blocking = { .mq_flags = 0 };
    EXPECT_OK(mq_setattr(q, &blocking, NULL));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    EXPECT_ERRNO(mq_timedsend(q, "b", 1, 0, &ts), ETIMEDOUT);
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}

TEST(mq_timedreceive, empty_queue_times_out)
{
    mqd_t q = open_queue(2, 8, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    char buf[8];
    EXPECT_ERRNO(mq_timedreceive(q, buf, sizeof buf, NULL, &ts), ETIMEDOUT);
    struct timespec bad = { 0, 2000000000L };
    EXPECT_ERRNO(mq_timedreceive(q, buf, sizeof buf, NULL, &bad), EINVAL);
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}

TEST(mq_timedreceive, emsgsize_for_a_buffer_below_msgsize)
{
    mqd_t q = open_queue(2, 16, O_NONBLOCK);
    EXPECT_OK(mq_send(q, "x", 1, 0));
    char buf[8];
    EXPECT_ERRNO(mq_receive(q, buf, sizeof buf, NULL), EMSGSIZE);
    char big[32];
    EXPECT_ERRNO(mq_send(q, big, sizeof big, 0), EMSGSIZE);
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}

TEST(mq_timedreceive, a_child_wakes_the_reader)
{
    mqd_t q = open_queue(2, 16, 0);
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        usleep(50 * 1000);
        _exit(mq_send(q, "wake", 5, 3) == 0 ? 0 : 1);
    }
    char buf[16];
    unsigned prio = 0;
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 5);
    EXPECT_STREQ(buf, "wake");
    EXPECT_EQ(prio, 3);
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}

static volatile sig_atomic_t notified;
static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
    (void)sig; (void)ctx;
    notified = si->si_code == SI_MESGQ ? 1 : -1;
}

TEST(mq_notify, signal_on_first_message_to_an_empty_queue)
{
    mqd_t q = open_queue(2, 8, 0);
    struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
    EXPECT_OK(sigaction(SIGUSR1, &sa, NULL));
    struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
    EXPECT_OK(mq_notify(q, &ev));
    EXPECT_ERRNO(mq_notify(q, &ev), EBUSY);              /* one registration per queue */
    EXPECT_OK(mq_send(q, "n", 1, 0));
    for (int i = 0; i < 100 && !notified; i++)
        usleep(1000);
    EXPECT_EQ(notified, 1);
    EXPECT_OK(mq_notify(q, &ev));                         /* the registration was used up */
    EXPECT_OK(mq_notify(q, NULL));
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}

TEST(mq_open, exclusive_missing_and_bad_names)
{
    mqd_t q = open_queue(2, 8, 0);
    EXPECT_ERRNO(mq_open(QN, O_RDWR | O_CREAT | O_EXCL, 0600, NULL), EEXIST);
    mqd_t again = mq_open(QN, O_RDONLY);
    EXPECT_OK(again);
    EXPECT_OK(mq_close(again));
    EXPECT_OK(mq_unlink(QN));
    EXPECT_ERRNO(mq_open(QN, O_RDONLY), ENOENT);
    EXPECT_ERRNO(mq_unlink(QN), ENOENT);
    EXPECT_ERRNO(syscall(SYS_mq_open, "a/b", O_RDONLY | O_CREAT, 0600, NULL), EACCES);
    struct mq_attr bad = { .mq_maxmsg = 0, .mq_msgsize = 8 };
    EXPECT_ERRNO(mq_open(QN, O_RDWR | O_CREAT, 0600, &bad), EINVAL);
    EXPECT_OK(mq_close(q));
}

TEST(mq_timedsend, ebadf_on_a_read_only_descriptor)
{
    mqd_t q = open_queue(2, 8, 0);
    mqd_t ro = mq_open(QN, O_RDONLY);
    EXPECT_OK(ro);
    EXPECT_ERRNO(mq_send(ro, "x", 1, 0), EBADF);
    EXPECT_OK(mq_close(ro));
    EXPECT_OK(mq_unlink(QN));
    EXPECT_OK(mq_close(q));
}
