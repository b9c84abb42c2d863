/* System V IPC: shared memory (shmget, shmat, shmdt, shmctl), semaphores
 * (semget, semop, semtimedop, semctl) and message queues (msgget, msgsnd,
 * msgrcv, msgctl).  PostgreSQL, Oracle and older daemons use them.  They
 * live in the IPC namespace: natively the runner gives each area a fresh
 * one (unshare --ipc), the sandbox has its own, so keys cannot meet the
 * host's.  Every object is removed before its case ends. */
#include "harness.h"
#include "helpers.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

union semun { int val; struct semid_ds *buf; unsigned short *array; };

/* ---- shared memory ---- */

TEST(shmget, private_segment_attach_write_and_share_with_a_child)
{
    int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    EXPECT_OK(id);
    char *p = shmat(id, NULL, 0);
    EXPECT_TRUE(p != (void *)-1);
    EXPECT_OK(shmctl(id, IPC_RMID, NULL));     /* goes when the last attach does */
    EXPECT_EQ(p[0], 0);                        /* zero-filled */
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        strcpy(p + 4096, "from the child");
        _exit(0);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_STREQ(p + 4096, "from the child");
    EXPECT_OK(shmdt(p));
}

TEST(shmctl, ipc_stat_reports_size_owner_and_attaches)
{
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0640);
    EXPECT_OK(id);
    void *p = shmat(id, NULL, SHM_RDONLY);
    EXPECT_TRUE(p != (void *)-1);
    struct shmid_ds ds;
    EXPECT_OK(shmctl(id, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_segsz, 4096);
    EXPECT_EQ(ds.shm_nattch, 1);
    EXPECT_EQ(ds.shm_perm.uid, geteuid());
    EXPECT_EQ(ds.shm_perm.mode & 0777, 0640);
    EXPECT_EQ(ds.shm_cpid, getpid());
    EXPECT_OK(shmdt(p));
    EXPECT_OK(shmctl(id, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_nattch, 0);
    EXPECT_OK(shmctl(id, IPC_RMID, NULL));
    EXPECT_ERRNO(shmctl(id, IPC_STAT, &ds), EINVAL);
}

TEST(shmat, rdonly_segment_faults_on_write)
{
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    EXPECT_OK(id);
    volatile char *p = shmat(id, NULL, SHM_RDONLY);
    EXPECT_TRUE(p != (void *)-1);
    EXPECT_OK(shmctl(id, IPC_RMID, NULL));
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        p[0] = 1;
        _exit(0);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

TEST(shmget, key_create_exclusive_and_lookup)
{
    key_t key = 0x5b000000 | (getpid() & 0xffff);
    int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    EXPECT_OK(id);
    EXPECT_ERRNO(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    EXPECT_EQ(shmget(key, 0, 0), id);
    EXPECT_ERRNO(shmget(key, 8192, 0), EINVAL);             /* bigger than the segment */
    EXPECT_OK(shmctl(id, IPC_RMID, NULL));
    EXPECT_ERRNO(shmget(key, 0, 0), ENOENT);
}

TEST(shmdt, einval_for_an_address_not_attached)
{
    static char local;
    EXPECT_ERRNO(shmdt(&local), EINVAL);
}

TEST(shmget, einval_for_size_zero_on_create)
{
    EXPECT_ERRNO(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600), EINVAL);
}

/* ---- semaphores ---- */

TEST(semget, set_values_and_operate)
{
    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    EXPECT_OK(id);
    union semun arg = { .val = 3 };
    EXPECT_OK(semctl(id, 0, SETVAL, arg));
    EXPECT_EQ(semctl(id, 0, GETVAL), 3);
    EXPECT_EQ(semctl(id, 1, GETVAL), 0);
    struct sembuf ops[2] = { { 0, -2, 0 }, { 1, 1, 0 } };    /* both at once, or neither */
    EXPECT_OK(semop(id, ops, 2));
    EXPECT_EQ(semctl(id, 0, GETVAL), 1);
    EXPECT_EQ(semctl(id, 1, GETVAL), 1);
    EXPECT_EQ(semctl(id, 0, GETPID), getpid());
    EXPECT_OK(semctl(id, 0, IPC_RMID));
}

TEST(semop, ipc_nowait_is_eagain_and_changes_nothing)
{
    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    EXPECT_OK(id);
    struct sembuf ops[2] = { { 1, 1, 0 }, { 0, -1, IPC_NOWAIT } };
    EXPECT_ERRNO(semop(id, ops, 2), EAGAIN);
    EXPECT_EQ(semctl(id, 1, GETVAL), 0);                     /* the first op undone */
    EXPECT_OK(semctl(id, 0, IPC_RMID));
}

TEST(semop, a_waiter_wakes_when_a_child_posts)
{
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    EXPECT_OK(id);
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        usleep(50 * 1000);
        struct sembuf post = { 0, 1, 0 };
        _exit(semop(id, &post, 1) == 0 ? 0 : 1);
    }
    struct sembuf wait = { 0, -1, 0 };
    EXPECT_OK(semop(id, &wait, 1));
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_OK(semctl(id, 0, IPC_RMID));
}

TEST(semtimedop, times_out_with_eagain)
{
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    EXPECT_OK(id);
    struct sembuf wait = { 0, -1, 0 };
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_ERRNO(semtimedop(id, &wait, 1, &ts), EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    EXPECT_TRUE(ms >= 45);
    EXPECT_OK(semctl(id, 0, IPC_RMID));
}

TEST(semop, sem_undo_is_reverted_at_exit)
{
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    EXPECT_OK(id);
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        struct sembuf up = { 0, 5, SEM_UNDO };
        _exit(semop(id, &up, 1) == 0 ? 0 : 1);
    }
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_EQ(semctl(id, 0, GETVAL), 0);
    EXPECT_OK(semctl(id, 0, IPC_RMID));
}

TEST(semctl, setall_getall_and_erange)
{
    int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    EXPECT_OK(id);
    unsigned short in[3] = { 1, 2, 3 }, out[3] = { 0 };
    union semun arg = { .array = in };
    EXPECT_OK(semctl(id, 0, SETALL, arg));
    arg.array = out;
    EXPECT_OK(semctl(id, 0, GETALL, arg));
    EXPECT_TRUE(out[0] == 1 && out[1] == 2 && out[2] == 3);
    union semun big = { .val = 40000 };                      /* over SEMVMX (32767) */
    EXPECT_ERRNO(semctl(id, 0, SETVAL, big), ERANGE);
    EXPECT_OK(semctl(id, 0, IPC_RMID));
    EXPECT_ERRNO(semctl(id, 0, GETVAL), EINVAL);
}

/* ---- message queues ---- */

struct msg { long type; char text[64]; };

TEST(msgsnd, send_and_receive_by_type)
{
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    EXPECT_OK(id);
    struct msg a = { 1, "first" }, b = { 2, "second" }, r;
    EXPECT_OK(msgsnd(id, &a, strlen(a.text) + 1, 0));
    EXPECT_OK(msgsnd(id, &b, strlen(b.text) + 1, 0));
    EXPECT_EQ(msgrcv(id, &r, sizeof r.text, 2, 0), 7);      /* type 2 first */
    EXPECT_STREQ(r.text, "second");
    EXPECT_EQ(msgrcv(id, &r, sizeof r.text, 0, 0), 6);      /* then the oldest */
    EXPECT_STREQ(r.text, "first");
    EXPECT_EQ(r.type, 1);
    EXPECT_OK(msgctl(id, IPC_RMID, NULL));
}

TEST(msgrcv, ipc_nowait_on_empty_is_enomsg)
{
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    EXPECT_OK(id);
    struct msg r;
    EXPECT_ERRNO(msgrcv(id, &r, sizeof r.text, 0, IPC_NOWAIT), ENOMSG);
    EXPECT_OK(msgctl(id, IPC_RMID, NULL));
}

TEST(msgrcv, e2big_unless_msg_noerror_truncates)
{
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    EXPECT_OK(id);
    struct msg a = { 3, "a long enough message" }, r;
    EXPECT_OK(msgsnd(id, &a, strlen(a.text) + 1, 0));
    EXPECT_ERRNO(msgrcv(id, &r, 4, 0, IPC_NOWAIT), E2BIG);
    memset(r.text, 0, sizeof r.text);
    EXPECT_EQ(msgrcv(id, &r, 4, 0, IPC_NOWAIT | MSG_NOERROR), 4);
    EXPECT_TRUE(memcmp(r.text, "a lo", 4) == 0);
    EXPECT_OK(msgctl(id, IPC_RMID, NULL));
}

TEST(msgctl, ipc_stat_counts_messages_and_removal_wakes_a_reader)
{
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    EXPECT_OK(id);
    struct msg a = { 1, "x" };
    EXPECT_OK(msgsnd(id, &a, 2, 0));
    struct msqid_ds ds;
    EXPECT_OK(msgctl(id, IPC_STAT, &ds));
    EXPECT_EQ(ds.msg_qnum, 1);
    EXPECT_EQ(ds.msg_lspid, getpid());
    struct msg r;
    EXPECT_EQ(msgrcv(id, &r, sizeof r.text, 0, 0), 2);
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {                     /* blocks on the empty queue until it goes */
        struct msg m;
        _exit(msgrcv(id, &m, sizeof m.text, 0, 0) == -1 && errno == EIDRM ? 0 : 1);
    }
    usleep(50 * 1000);
    EXPECT_OK(msgctl(id, IPC_RMID, NULL));
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(msgget, key_exclusive_and_einval_after_removal)
{
    key_t key = 0x5c000000 | (getpid() & 0xffff);
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    EXPECT_OK(id);
    EXPECT_ERRNO(msgget(key, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    EXPECT_EQ(msgget(key, 0), id);
    EXPECT_OK(msgctl(id, IPC_RMID, NULL));
    struct msg a = { 1, "x" };
    EXPECT_ERRNO(msgsnd(id, &a, 2, IPC_NOWAIT), EINVAL);
    EXPECT_ERRNO(msgget(key, 0), ENOENT);
}

TEST(msgsnd, einval_for_a_type_below_one)
{
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    EXPECT_OK(id);
    struct msg a = { 0, "x" };
    EXPECT_ERRNO(msgsnd(id, &a, 2, IPC_NOWAIT), EINVAL);
    EXPECT_OK(msgctl(id, IPC_RMID, NULL));
}
