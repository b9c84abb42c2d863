/* Pipes: pipe, pipe2, read and write on pipes, splice, tee and vmsplice.
 * Expected fd numbers are always computed relative to fds the case got
 * itself, never assumed (3, 4, ...): the environment may hold others. */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <sys/syscall.h>

/* ---- pipe / pipe2 ---- */

TEST(pipe, raw_roundtrip)
{
    int p[2];
    EXPECT_EQ(syscall(SYS_pipe, p), 0);
    EXPECT_TRUE(p[0] != p[1]);
    EXPECT_EQ(write(p[1], "hello", 5), 5);
    char b[8] = {0};
    EXPECT_EQ(read(p[0], b, sizeof b), 5);
    EXPECT_STREQ(b, "hello");
    EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
}

TEST(pipe, efault)
{
    EXPECT_ERRNO(syscall(SYS_pipe, (void *)1), EFAULT);
}

TEST(pipe2, roundtrip_lowest_fds)
{
    int p[2], q[2];
    EXPECT_EQ(syscall(SYS_pipe2, p, 0), 0);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));
    EXPECT_EQ(syscall(SYS_pipe2, q, 0), 0);
    EXPECT_EQ(q[0], p[0]);
    EXPECT_EQ(q[1], p[1]);
    EXPECT_EQ(write(q[1], "ab", 2), 2);
    char b[3] = {0};
    EXPECT_EQ(read(q[0], b, 2), 2);
    EXPECT_STREQ(b, "ab");
}

TEST(pipe2, o_cloexec)
{
    int p[2];
    EXPECT_EQ(syscall(SYS_pipe2, p, O_CLOEXEC), 0);
    EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC);
}

TEST(pipe2, o_nonblock_eagain_on_empty_read)
{
    int p[2];
    EXPECT_EQ(syscall(SYS_pipe2, p, O_NONBLOCK), 0);
    EXPECT_TRUE(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    char c;
    EXPECT_ERRNO(read(p[0], &c, 1), EAGAIN);
}

TEST(pipe2, o_nonblock_eagain_on_full_write)
{
    int p[2];
    static char buf[4096];
    EXPECT_EQ(syscall(SYS_pipe2, p, O_NONBLOCK), 0);
    long cap = fcntl(p[1], F_GETPIPE_SZ), total = 0;
    for (;;) {
        ssize_t n = write(p[1], buf, sizeof buf);
        if (n < 0) break;
        total += n;
    }
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(total, cap);
}

TEST(pipe2, o_direct_packets)
{
    int p[2];
    EXPECT_EQ(syscall(SYS_pipe2, p, O_DIRECT), 0);
    EXPECT_EQ(write(p[1], "abc", 3), 3);
    EXPECT_EQ(write(p[1], "de", 2), 2);
    char b[16];
    EXPECT_EQ(read(p[0], b, sizeof b), 3);
    EXPECT_EQ(read(p[0], b, sizeof b), 2);
}

TEST(pipe2, einval_bad_flags)
{
    int p[2];
    EXPECT_ERRNO(syscall(SYS_pipe2, p, O_APPEND), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pipe2, p, 0x1), EINVAL);
}

TEST(pipe2, efault)
{
    EXPECT_ERRNO(syscall(SYS_pipe2, (void *)1, 0), EFAULT);
}

/* ---- read / write on pipes ---- */

TEST(read, eof_after_writer_closed)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "z", 1), 1);
    EXPECT_OK(close(p[1]));
    char c;
    EXPECT_EQ(read(p[0], &c, 1), 1);
    EXPECT_EQ(read(p[0], &c, 1), 0);
}

TEST(read, ebadf_on_write_end)
{
    int p[2];
    EXPECT_OK(pipe(p));
    char c;
    EXPECT_ERRNO(read(p[1], &c, 1), EBADF);
    EXPECT_ERRNO(write(p[0], "x", 1), EBADF);
}

TEST(read, efault_bad_buffer_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "x", 1), 1);
    EXPECT_ERRNO(syscall(SYS_read, p[0], (void *)1, 1), EFAULT);
}

TEST(write, epipe_reader_closed_sigpipe_ignored)
{
    int p[2];
    EXPECT_TRUE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    EXPECT_ERRNO(write(p[1], "x", 1), EPIPE);
}

TEST(write, sigpipe_kills_by_default)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        write(p[1], "x", 1);
        _exit(0);
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGPIPE);
}

TEST(write, efault_bad_buffer_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_write, p[1], (void *)1, 1), EFAULT);
}

/* ---- splice / tee / vmsplice ---- */

TEST(splice, pipe_to_pipe)
{
    int a[2], b[2];
    EXPECT_OK(pipe(a));
    EXPECT_OK(pipe(b));
    EXPECT_EQ(write(a[1], "splice", 6), 6);
    EXPECT_EQ(splice(a[0], NULL, b[1], NULL, 4, 0), 4);
    char buf[8] = {0};
    EXPECT_EQ(read(b[0], buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "spli");
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(read(a[0], buf, sizeof buf), 2);
    EXPECT_STREQ(buf, "ce");
}

TEST(splice, file_to_pipe_with_offset)
{
    char dir[64], path[64];
    int fd = make_tmpfile(dir, path);
    EXPECT_EQ(write(fd, "0123456789", 10), 10);
    int p[2];
    EXPECT_OK(pipe(p));
    loff_t off = 3;
    EXPECT_EQ(splice(fd, &off, p[1], NULL, 4, 0), 4);
    EXPECT_EQ(off, 7);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 10); /* file position untouched */
    char buf[8] = {0};
    EXPECT_EQ(read(p[0], buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "3456");
    rm_tmpfile(dir, path);
}

TEST(splice, pipe_to_file)
{
    char dir[64], path[64];
    int fd = make_tmpfile(dir, path);
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "xyz", 3), 3);
    EXPECT_EQ(splice(p[0], NULL, fd, NULL, 3, 0), 3);
    char buf[4] = {0};
    EXPECT_EQ(pread(fd, buf, 3, 0), 3);
    EXPECT_STREQ(buf, "xyz");
    rm_tmpfile(dir, path);
}

TEST(splice, einval_no_pipe)
{
    char dir[64], path[64];
    int fd = make_tmpfile(dir, path);
    int fd2;
    EXPECT_OK(fd2 = open("/dev/null", O_WRONLY));
    EXPECT_ERRNO(splice(fd, NULL, fd2, NULL, 1, 0), EINVAL);
    rm_tmpfile(dir, path);
}

TEST(splice, espipe_offset_on_pipe)
{
    int a[2], b[2];
    EXPECT_OK(pipe(a));
    EXPECT_OK(pipe(b));
    EXPECT_EQ(write(a[1], "x", 1), 1);
    loff_t off = 0;
    EXPECT_ERRNO(splice(a[0], &off, b[1], NULL, 1, 0), ESPIPE);
}

TEST(splice, ebadf)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(splice(-1, NULL, p[1], NULL, 1, 0), EBADF);
    EXPECT_ERRNO(splice(p[0], NULL, -1, NULL, 1, 0), EBADF);
}

TEST(splice, nonblock_empty_eagain)
{
    int a[2], b[2];
    EXPECT_OK(pipe(a));
    EXPECT_OK(pipe(b));
    EXPECT_ERRNO(splice(a[0], NULL, b[1], NULL, 1, SPLICE_F_NONBLOCK), EAGAIN);
}

TEST(tee, duplicates_without_consuming)
{
    int a[2], b[2];
    EXPECT_OK(pipe(a));
    EXPECT_OK(pipe(b));
    EXPECT_EQ(write(a[1], "teedata", 7), 7);
    EXPECT_EQ(tee(a[0], b[1], 3, 0), 3);
    char buf[8] = {0};
    EXPECT_EQ(read(b[0], buf, sizeof buf), 3);
    EXPECT_STREQ(buf, "tee");
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(read(a[0], buf, sizeof buf), 7);
    EXPECT_STREQ(buf, "teedata");
}

TEST(tee, einval_not_a_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    int fd;
    EXPECT_OK(fd = open("/dev/null", O_WRONLY));
    EXPECT_ERRNO(tee(p[0], fd, 1, 0), EINVAL);
}

TEST(tee, einval_same_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "x", 1), 1);
    EXPECT_ERRNO(tee(p[0], p[1], 1, 0), EINVAL);
}

TEST(tee, nonblock_empty_eagain)
{
    int a[2], b[2];
    EXPECT_OK(pipe(a));
    EXPECT_OK(pipe(b));
    EXPECT_ERRNO(tee(a[0], b[1], 1, SPLICE_F_NONBLOCK), EAGAIN);
}

TEST(tee, zero_when_writer_closed_and_empty)
{
    int a[2], b[2];
    EXPECT_OK(pipe(a));
    EXPECT_OK(pipe(b));
    EXPECT_OK(close(a[1]));
    EXPECT_EQ(tee(a[0], b[1], 1, 0), 0);
}

TEST(vmsplice, user_pages_to_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    char s1[] = "vm", s2[] = "splice";
    struct iovec iov[2] = { { s1, 2 }, { s2, 6 } };
    EXPECT_EQ(vmsplice(p[1], iov, 2, 0), 8);
    char buf[16] = {0};
    EXPECT_EQ(read(p[0], buf, sizeof buf), 8);
    EXPECT_STREQ(buf, "vmsplice");
}

TEST(vmsplice, pipe_to_user_pages)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "back", 4), 4);
    char buf[8] = {0};
    struct iovec iov = { buf, sizeof buf };
    EXPECT_EQ(vmsplice(p[0], &iov, 1, 0), 4);
    EXPECT_STREQ(buf, "back");
}

TEST(vmsplice, ebadf)
{
    char c = 'x';
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(vmsplice(-1, &iov, 1, 0), EBADF);
    int fd;
    EXPECT_OK(fd = open("/dev/null", O_WRONLY));
    EXPECT_ERRNO(vmsplice(fd, &iov, 1, 0), EBADF);
}

TEST(vmsplice, einval_bad_flags)
{
    int p[2];
    EXPECT_OK(pipe(p));
    char c = 'x';
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(vmsplice(p[1], &iov, 1, 0x100), EINVAL);
}
