/* Files: flock, fcntl record and OFD locks, fcntl F_GETFL/F_SETFL.
 *
 * Every case that touches files calls scratch() first: it makes a fresh
 * directory D, and the rest of the case runs in a child while the parent
 * waits, removes D whatever happened, and passes the child's status on.
 */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* ---- flock / fcntl locks --------------------------------------------------------------- */

TEST(flock, exclusive_conflicts_across_open_files) {
    scratch();
    int a = fx("f", "", O_RDWR), b = fx("f", NULL, O_RDWR);
    EXPECT_OK(syscall(SYS_flock, a, LOCK_EX));
    EXPECT_ERRNO(syscall(SYS_flock, b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    EXPECT_ERRNO(syscall(SYS_flock, b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
    EXPECT_OK(syscall(SYS_flock, a, LOCK_UN));
    EXPECT_OK(syscall(SYS_flock, b, LOCK_EX | LOCK_NB));
}

TEST(flock, shared_compatible_and_errors) {
    scratch();
    int a = fx("f", "", O_RDONLY), b = fx("f", NULL, O_RDONLY);
    EXPECT_OK(syscall(SYS_flock, a, LOCK_SH));
    EXPECT_OK(syscall(SYS_flock, b, LOCK_SH | LOCK_NB));
    EXPECT_ERRNO(syscall(SYS_flock, a, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_flock, -1, LOCK_SH), EBADF);
}

/* A write lock held by this process, seen from a forked child: F_GETLK
 * reports it with our pid, F_SETLK fails with EAGAIN. */
TEST(fcntl, setlk_getlk_across_processes) {
    scratch();
    int p[2], fd = fx("f", "0123456789", O_RDWR), st;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 4 };
    EXPECT_OK(pipe(p));
    EXPECT_OK(fcntl(fd, F_SETLK, &fl));
    pid_t self = getpid(), pid = fork();
    if (pid == 0) {
        struct flock q = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        int res[4] = { fcntl(fd, F_GETLK, &q), q.l_type, q.l_pid, (int)q.l_start };
        q.l_type = F_WRLCK;
        errno = 0;
        res[0] = res[0] < 0 ? -1 : fcntl(fd, F_SETLK, &q) < 0 ? errno : 0;
        _exit(write(p[1], res, sizeof res) == sizeof res ? 0 : 1);
    }
    int res[4];
    EXPECT_EQ(read(p[0], res, sizeof res), sizeof res);
    EXPECT_OK(waitpid(pid, &st, 0));
    EXPECT_EQ(res[0], EAGAIN);
    EXPECT_EQ(res[1], F_WRLCK);
    EXPECT_EQ(res[2], self);
    EXPECT_EQ(res[3], 2);
}

TEST(fcntl, own_lock_does_not_conflict) {
    scratch();
    int fd = fx("f", "x", O_RDWR);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    EXPECT_OK(fcntl(fd, F_SETLK, &fl));
    EXPECT_OK(fcntl(fd, F_GETLK, &fl));
    EXPECT_EQ(fl.l_type, F_UNLCK);
}

TEST(fcntl, lock_errors) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &fl), EBADF);
    fl.l_type = 99;
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &fl), EINVAL);
    fl.l_type = F_RDLCK;
    fl.l_whence = 7;
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &fl), EINVAL);
    EXPECT_ERRNO(fcntl(fd, F_GETLK, BAD), EFAULT);
}

TEST(fcntl, ofd_locks_conflict_within_process) {
    scratch();
    int a = fx("f", "x", O_RDWR), b = fx("f", NULL, O_RDWR);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    EXPECT_OK(fcntl(a, F_OFD_SETLK, &fl));
    EXPECT_ERRNO(fcntl(b, F_OFD_SETLK, &fl), EAGAIN);
    EXPECT_OK(fcntl(b, F_OFD_GETLK, &fl));
    EXPECT_EQ(fl.l_type, F_WRLCK);
    EXPECT_EQ(fl.l_pid, -1);
    fl.l_pid = 1;
    EXPECT_ERRNO(fcntl(b, F_OFD_SETLK, &fl), EINVAL);
}

TEST(fcntl, getfl_setfl_append) {
    scratch();
    int fd = fx("f", "abc", O_RDWR);
    EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_RDWR);
    EXPECT_OK(fcntl(fd, F_SETFL, O_APPEND));
    EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_RDWR | O_APPEND);
    EXPECT_EQ(write(fd, "d", 1), 1);
    EXPECT_STREQ(slurp(P("f")), "abcd");
}
