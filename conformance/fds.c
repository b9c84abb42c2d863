/* File descriptors: close, close_range, dup, dup2, dup3 and fcntl (fd
 * flags, status flags, pipe sizes).  Pipes are in pipes.c. */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* Helpers.  Expected fd numbers are always computed relative to fds the case
 * got itself, never assumed (3, 4, ...): the environment may hold others. */

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/* ---- close ---- */

TEST(close, ok_then_ebadf)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    EXPECT_ERRNO(close(p[0]), EBADF);
    EXPECT_OK(close(p[1]));
}

TEST(close, ebadf_negative_and_huge)
{
    EXPECT_ERRNO(close(-1), EBADF);
    EXPECT_ERRNO(close(INT_MAX), EBADF);
}

TEST(close, frees_lowest_number)
{
    int p[2], q[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(q));
    EXPECT_OK(close(p[1]));
    int fd = open("/dev/null", O_RDONLY);
    EXPECT_EQ(fd, p[1]);
}

/* ---- close_range ---- */

TEST(close_range, closes_inclusive_range)
{
    int p[2], q[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(q));
    int lo = p[0] < q[0] ? p[0] : q[0];
    int hi = p[1] > q[1] ? p[1] : q[1];
    EXPECT_EQ(hi - lo, 3);
    EXPECT_EQ(syscall(SYS_close_range, lo + 1, hi - 1, 0), 0);
    EXPECT_TRUE(fd_is_open(lo));
    EXPECT_TRUE(!fd_is_open(lo + 1));
    EXPECT_TRUE(!fd_is_open(lo + 2));
    EXPECT_TRUE(fd_is_open(hi));
}

TEST(close_range, cloexec_flag_marks_only)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(syscall(SYS_close_range, p[0], p[1], CLOSE_RANGE_CLOEXEC), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC);
}

TEST(close_range, unshare_flag)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(syscall(SYS_close_range, p[0], ~0U, CLOSE_RANGE_UNSHARE), 0);
    EXPECT_TRUE(!fd_is_open(p[0]));
    EXPECT_TRUE(!fd_is_open(p[1]));
}

TEST(close_range, empty_range_above_table_ok)
{
    EXPECT_EQ(syscall(SYS_close_range, 100000, ~0U, 0), 0);
}

TEST(close_range, einval_first_greater_than_last)
{
    EXPECT_ERRNO(syscall(SYS_close_range, 10, 5, 0), EINVAL);
}

TEST(close_range, einval_unknown_flag)
{
    EXPECT_ERRNO(syscall(SYS_close_range, 100, 200, 0x1), EINVAL);
}

/* ---- dup ---- */

TEST(dup, returns_lowest_free)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    EXPECT_EQ(dup(p[1]), p[0]);
}

TEST(dup, ebadf)
{
    EXPECT_ERRNO(dup(-1), EBADF);
    EXPECT_ERRNO(dup(INT_MAX), EBADF);
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    EXPECT_ERRNO(dup(p[0]), EBADF);
}

TEST(dup, shares_offset_not_cloexec)
{
    char dir[64], path[64];
    int fd = make_tmpfile(dir, path);
    EXPECT_EQ(write(fd, "abcdef", 6), 6);
    EXPECT_OK(fcntl(fd, F_SETFD, FD_CLOEXEC));
    int d;
    EXPECT_OK(d = dup(fd));
    EXPECT_EQ(fcntl(d, F_GETFD), 0);
    EXPECT_EQ(lseek(d, 2, SEEK_SET), 2);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 2);
    char b[4] = {0};
    EXPECT_EQ(read(fd, b, 3), 3);
    EXPECT_STREQ(b, "cde");
    EXPECT_EQ(lseek(d, 0, SEEK_CUR), 5);
    rm_tmpfile(dir, path);
}

TEST(dup, emfile_at_rlimit)
{
    int p[2];
    EXPECT_OK(pipe(p));
    int hi = p[0] > p[1] ? p[0] : p[1];
    struct rlimit rl = { hi + 1, hi + 1 };
    EXPECT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    /* every fd below hi+1 may be open already; fill what is free */
    for (int i = 0; i <= hi; i++)
        if (!fd_is_open(i)) EXPECT_OK(dup(p[0]));
    EXPECT_ERRNO(dup(p[0]), EMFILE);
}

/* ---- dup2 ---- */

TEST(dup2, same_fd_returns_fd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(dup2(p[0], p[0]), p[0]);
    EXPECT_EQ(syscall(SYS_dup2, p[1], p[1]), p[1]);
}

TEST(dup2, same_fd_closed_ebadf)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    EXPECT_ERRNO(syscall(SYS_dup2, p[0], p[0]), EBADF);
}

TEST(dup2, replaces_open_target)
{
    int p[2], q[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(q));
    /* q[1] now refers to p's write end; q's pipe loses its only writer */
    EXPECT_EQ(syscall(SYS_dup2, p[1], q[1]), q[1]);
    EXPECT_EQ(write(q[1], "x", 1), 1);
    char c = 0;
    EXPECT_EQ(read(p[0], &c, 1), 1);
    EXPECT_EQ(c, 'x');
    EXPECT_EQ(read(q[0], &c, 1), 0);
}

TEST(dup2, clears_cloexec)
{
    int p[2];
    EXPECT_OK(pipe2(p, O_CLOEXEC));
    int target = p[1] + 10;
    EXPECT_EQ(syscall(SYS_dup2, p[0], target), target);
    EXPECT_EQ(fcntl(target, F_GETFD), 0);
}

TEST(dup2, ebadf_bad_newfd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_dup2, p[0], -1), EBADF);
    EXPECT_ERRNO(syscall(SYS_dup2, p[0], INT_MAX), EBADF);
    EXPECT_ERRNO(syscall(SYS_dup2, -1, p[0]), EBADF);
}

/* ---- dup3 ---- */

TEST(dup3, einval_same_fd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_dup3, p[0], p[0], 0), EINVAL);
}

TEST(dup3, o_cloexec)
{
    int p[2];
    EXPECT_OK(pipe(p));
    int target = p[1] + 5;
    EXPECT_EQ(syscall(SYS_dup3, p[0], target, O_CLOEXEC), target);
    EXPECT_EQ(fcntl(target, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(syscall(SYS_dup3, p[0], target, 0), target);
    EXPECT_EQ(fcntl(target, F_GETFD), 0);
}

TEST(dup3, einval_bad_flags)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_dup3, p[0], p[1] + 5, O_NONBLOCK), EINVAL);
}

TEST(dup3, ebadf)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_dup3, -1, p[1] + 5, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_dup3, p[0], -1, 0), EBADF);
}

/* ---- fcntl ---- */

TEST(fcntl, dupfd_at_least_arg)
{
    int p[2];
    EXPECT_OK(pipe(p));
    int min = p[1] + 20;
    EXPECT_EQ(fcntl(p[0], F_DUPFD, min), min);
    EXPECT_EQ(fcntl(p[0], F_DUPFD, min), min + 1);
    EXPECT_EQ(fcntl(min, F_GETFD), 0);
}

TEST(fcntl, dupfd_cloexec)
{
    int p[2];
    EXPECT_OK(pipe(p));
    int fd;
    EXPECT_OK(fd = fcntl(p[0], F_DUPFD_CLOEXEC, 0));
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
}

TEST(fcntl, dupfd_einval_bad_arg)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct rlimit rl;
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    EXPECT_ERRNO(fcntl(p[0], F_DUPFD, -1), EINVAL);
    EXPECT_ERRNO(fcntl(p[0], F_DUPFD, (int)rl.rlim_cur), EINVAL);
}

TEST(fcntl, getfd_setfd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
    EXPECT_EQ(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p[1], F_GETFD), 0);
    EXPECT_EQ(fcntl(p[0], F_SETFD, 0), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
}

TEST(fcntl, getfl_access_modes)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(fcntl(p[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND), O_RDONLY);
    EXPECT_EQ(fcntl(p[1], F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND), O_WRONLY);
    int fd;
    EXPECT_OK(fd = open("/dev/null", O_RDWR | O_APPEND));
    EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_RDWR | O_APPEND);
}

TEST(fcntl, setfl_append)
{
    char dir[64], path[64];
    int fd = make_tmpfile(dir, path);
    EXPECT_EQ(write(fd, "abc", 3), 3);
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    EXPECT_OK(fcntl(fd, F_SETFL, O_APPEND));
    EXPECT_TRUE(fcntl(fd, F_GETFL) & O_APPEND);
    EXPECT_EQ(write(fd, "de", 2), 2);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5);
    char b[8] = {0};
    EXPECT_EQ(pread(fd, b, sizeof b, 0), 5);
    EXPECT_STREQ(b, "abcde");
    rm_tmpfile(dir, path);
}

TEST(fcntl, setfl_nonblock_pipe_eagain)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(fcntl(p[0], F_SETFL, O_NONBLOCK));
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    char c;
    EXPECT_ERRNO(read(p[0], &c, 1), EAGAIN);
    EXPECT_OK(fcntl(p[0], F_SETFL, 0));
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
}

TEST(fcntl, setfl_ignores_access_mode)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(fcntl(p[0], F_SETFL, O_RDWR));
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
}

TEST(fcntl, getpipe_sz_default)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 16 * sysconf(_SC_PAGESIZE));
    EXPECT_EQ(fcntl(p[1], F_GETPIPE_SZ), 16 * sysconf(_SC_PAGESIZE));
}

TEST(fcntl, setpipe_sz_rounds_up)
{
    int p[2];
    long pg = sysconf(_SC_PAGESIZE);
    EXPECT_OK(pipe(p));
    EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, (int)pg + 1), 2 * pg);
    EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 2 * pg);
    EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, 3 * (int)pg), 4 * pg);
    EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, 1), pg);
}

TEST(fcntl, setpipe_sz_ebusy_when_data_does_not_fit)
{
    int p[2];
    long pg = sysconf(_SC_PAGESIZE);
    EXPECT_OK(pipe(p));
    static char buf[16384];
    EXPECT_EQ(write(p[1], buf, 3 * pg), 3 * pg);
    EXPECT_ERRNO(fcntl(p[1], F_SETPIPE_SZ, (int)pg), EBUSY);
}

/* Capability-dependent: above /proc/sys/fs/pipe-max-size needs
 * CAP_SYS_RESOURCE, which Docker's set lacks (and the native runner's root
 * may lack too, so the native outcome follows the effective set). */
TEST(fcntl, setpipe_sz_above_max_needs_cap_sys_resource)
{
    int p[2];
    char b[32] = {0};
    int fd;
    EXPECT_OK(fd = open("/proc/sys/fs/pipe-max-size", O_RDONLY));
    EXPECT_TRUE(read(fd, b, sizeof b - 1) > 0);
    long max = atol(b);
    EXPECT_OK(pipe(p));
    if (IN_SANDBOX || !have_cap(CAP_SYS_RESOURCE)) {
        EXPECT_ERRNO(fcntl(p[1], F_SETPIPE_SZ, (int)(2 * max)), EPERM);
    } else {
        EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, (int)(2 * max)), 2 * max);
    }
    EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, (int)max), max);
}

TEST(fcntl, getpipe_sz_ebadf_not_a_pipe)
{
    int fd;
    EXPECT_OK(fd = open("/dev/null", O_RDONLY));
    EXPECT_ERRNO(fcntl(fd, F_GETPIPE_SZ), EBADF);
}

TEST(fcntl, ebadf)
{
    EXPECT_ERRNO(fcntl(-1, F_GETFD), EBADF);
    EXPECT_ERRNO(fcntl(INT_MAX, F_GETFL), EBADF);
    EXPECT_ERRNO(fcntl(-1, F_DUPFD, 0), EBADF);
}

TEST(fcntl, einval_bad_cmd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_fcntl, p[0], 9999, 0), EINVAL);
}
