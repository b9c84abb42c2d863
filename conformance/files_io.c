/* Files: the read/write family (read, write, pread64, pwrite64, readv,
 * writev, preadv, pwritev, preadv2, pwritev2), lseek, the sync family,
 * fadvise64/readahead, copy_file_range and sendfile.
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
#include <sys/uio.h>

/* ---- read / write ------------------------------------------------------------- */

TEST(read, ebadf) {
    char c;
    EXPECT_ERRNO(read(-1, &c, 1), EBADF);
    EXPECT_ERRNO(read(4000, &c, 1), EBADF);
}

TEST(read, ebadf_on_wronly) {
    scratch();
    char c;
    int fd = fx("f", "", O_WRONLY);
    EXPECT_ERRNO(read(fd, &c, 1), EBADF);
}

TEST(read, efault_bad_buffer) {
    scratch();
    int fd = fx("f", "hello", O_RDONLY);
    EXPECT_ERRNO(read(fd, BAD, 5), EFAULT);
}

TEST(read, eisdir_on_dir) {
    scratch();
    int fd = fx("", NULL, O_RDONLY);
    EXPECT_ERRNO(read(fd, B, sizeof B), EISDIR);
}

TEST(read, data_then_eof) {
    scratch();
    int fd = fx("f", "hello", O_RDONLY);
    memset(B, 0, sizeof B);
    EXPECT_EQ(read(fd, B, 3), 3);
    EXPECT_EQ(read(fd, B + 3, 10), 2);
    EXPECT_EQ(read(fd, B + 5, 10), 0);
    EXPECT_STREQ(B, "hello");
}

TEST(write, ebadf_on_rdonly) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_ERRNO(write(fd, "y", 1), EBADF);
    EXPECT_ERRNO(write(-1, "y", 1), EBADF);
}

TEST(write, efault_bad_buffer) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    EXPECT_ERRNO(write(fd, BAD, 5), EFAULT);
    EXPECT_EQ(fsize(P("f")), 0);
}

TEST(write, zero_length) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    EXPECT_EQ(write(fd, "x", 0), 0);
    EXPECT_EQ(fsize(P("f")), 0);
}

/* ---- pread64 / pwrite64 -------------------------------------------------------- */

TEST(pread64, keeps_file_offset) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    char buf[8] = {0};
    EXPECT_EQ(syscall(SYS_pread64, fd, buf, 3, 4L), 3);
    EXPECT_STREQ(buf, "456");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
    EXPECT_EQ(syscall(SYS_pread64, fd, buf, 3, 100L), 0);
}

TEST(pread64, espipe_on_pipe) {
    int p[2];
    char c;
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_pread64, p[0], &c, 1, 0L), ESPIPE);
}

TEST(pread64, einval_negative_offset) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    char c;
    EXPECT_ERRNO(syscall(SYS_pread64, fd, &c, 1, -1L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pread64, -1, &c, 1, 0L), EBADF);
}

TEST(pwrite64, at_offset_leaves_zero_hole) {
    scratch();
    int fd = fx("f", "", O_RDWR);
    char buf[8];
    EXPECT_EQ(syscall(SYS_pwrite64, fd, "ab", 2, 4L), 2);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
    EXPECT_EQ(read(fd, buf, 8), 6);
    EXPECT_EQ(memcmp(buf, "\0\0\0\0ab", 6), 0);
}

TEST(pwrite64, espipe_and_einval) {
    scratch();
    int p[2], fd = fx("f", "", O_RDWR);
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_pwrite64, p[1], "x", 1, 0L), ESPIPE);
    EXPECT_ERRNO(syscall(SYS_pwrite64, fd, "x", 1, -5L), EINVAL);
}

TEST(pwrite64, o_append_ignores_offset) {
    scratch();
    int fd = fx("f", "abc", O_WRONLY | O_APPEND);
    EXPECT_EQ(syscall(SYS_pwrite64, fd, "Z", 1, 0L), 1);
    EXPECT_STREQ(slurp(P("f")), "abcZ");
}

/* ---- readv / writev / preadv / pwritev / preadv2 / pwritev2 -------------------- */

TEST(readv, scatters_in_order) {
    scratch();
    int fd = fx("f", "abcdefg", O_RDONLY);
    char a[3] = {0}, b[8] = {0};
    struct iovec iov[2] = { { a, 2 }, { b, 8 } };
    EXPECT_EQ(syscall(SYS_readv, fd, iov, 2), 7);
    EXPECT_STREQ(a, "ab");
    EXPECT_STREQ(b, "cdefg");
}

TEST(readv, einval_bad_iovcnt) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    char c;
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(syscall(SYS_readv, fd, &iov, -1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readv, fd, &iov, 1025), EINVAL);
}

TEST(readv, efault_and_ebadf) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    struct iovec iov = { BAD, 3 };
    EXPECT_ERRNO(syscall(SYS_readv, fd, BAD, 1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_readv, fd, &iov, 1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_readv, -1, &iov, 1), EBADF);
}

TEST(writev, gathers_in_order) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    struct iovec iov[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
    EXPECT_EQ(syscall(SYS_writev, fd, iov, 3), 5);
    EXPECT_STREQ(slurp(P("f")), "abcde");
}

TEST(writev, einval_efault_ebadf) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    struct iovec iov = { "x", 1 };
    EXPECT_ERRNO(syscall(SYS_writev, fd, &iov, 1025), EINVAL);
    EXPECT_ERRNO(syscall(SYS_writev, -1, &iov, 1), EBADF);
    EXPECT_ERRNO(syscall(SYS_writev, fd, BAD, 1), EFAULT);
}

TEST(preadv, at_offset_keeps_position) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    char a[3] = {0}, b[3] = {0};
    struct iovec iov[2] = { { a, 2 }, { b, 2 } };
    EXPECT_EQ(syscall(SYS_preadv, fd, iov, 2, 5L, 0L), 4);
    EXPECT_STREQ(a, "56");
    EXPECT_STREQ(b, "78");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
}

TEST(preadv, einval_negative_and_espipe) {
    scratch();
    int p[2], fd = fx("f", "abc", O_RDONLY);
    char c;
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(syscall(SYS_preadv, fd, &iov, 1, -2L, 0L), EINVAL);
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_preadv, p[0], &iov, 1, 0L, 0L), ESPIPE);
}

TEST(pwritev, at_offset) {
    scratch();
    int fd = fx("f", "aaaaaa", O_WRONLY);
    struct iovec iov[2] = { { "X", 1 }, { "YZ", 2 } };
    EXPECT_EQ(syscall(SYS_pwritev, fd, iov, 2, 2L, 0L), 3);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
    EXPECT_STREQ(slurp(P("f")), "aaXYZa");
    EXPECT_ERRNO(syscall(SYS_pwritev, fd, iov, 2, -1L, 0L), EINVAL);
}

TEST(preadv2, offset_minus1_uses_position) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    char a[4] = {0};
    struct iovec iov = { a, 3 };
    EXPECT_EQ(lseek(fd, 2, SEEK_SET), 2);
    EXPECT_EQ(syscall(SYS_preadv2, fd, &iov, 1, -1L, 0L, 0), 3);
    EXPECT_STREQ(a, "234");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5);
    EXPECT_EQ(syscall(SYS_preadv2, fd, &iov, 1, 0L, 0L, 0), 3);
    EXPECT_STREQ(a, "012");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5);
}

TEST(preadv2, eopnotsupp_unknown_flag) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    char c;
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(syscall(SYS_preadv2, fd, &iov, 1, 0L, 0L, 0x40000000), EOPNOTSUPP);
    EXPECT_ERRNO(syscall(SYS_preadv2, fd, &iov, 1, -2L, 0L, 0), EINVAL);
}

TEST(pwritev2, rwf_append) {
    scratch();
    int fd = fx("f", "abc", O_WRONLY);
    struct iovec iov = { "Z", 1 };
    EXPECT_EQ(syscall(SYS_pwritev2, fd, &iov, 1, 0L, 0L, RWF_APPEND), 1);
    EXPECT_STREQ(slurp(P("f")), "abcZ");
}

TEST(pwritev2, offset_minus1_advances) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    struct iovec iov = { "hey", 3 };
    EXPECT_EQ(syscall(SYS_pwritev2, fd, &iov, 1, -1L, 0L, 0), 3);
    EXPECT_EQ(syscall(SYS_pwritev2, fd, &iov, 1, -1L, 0L, 0), 3);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 6);
    EXPECT_STREQ(slurp(P("f")), "heyhey");
    EXPECT_ERRNO(syscall(SYS_pwritev2, fd, &iov, 1, 0L, 0L, 0x40000000), EOPNOTSUPP);
}

/* ---- lseek ---------------------------------------------------------------------- */

TEST(lseek, set_cur_end) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    EXPECT_EQ(lseek(fd, 3, SEEK_SET), 3);
    EXPECT_EQ(lseek(fd, 2, SEEK_CUR), 5);
    EXPECT_EQ(lseek(fd, -1, SEEK_END), 9);
    EXPECT_EQ(lseek(fd, 100, SEEK_SET), 100);
    EXPECT_EQ(read(fd, B, 1), 0);
}

TEST(lseek, einval_bad_whence_or_negative) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    EXPECT_ERRNO(lseek(fd, 0, 99), EINVAL);
    EXPECT_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
    EXPECT_ERRNO(lseek(fd, -10, SEEK_END), EINVAL);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
}

TEST(lseek, espipe_and_ebadf) {
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(lseek(p[0], 0, SEEK_SET), ESPIPE);
    EXPECT_ERRNO(lseek(-1, 0, SEEK_SET), EBADF);
}

TEST(lseek, seek_data_and_hole) {
    scratch();
    int fd = fx("f", "", O_RDWR);
    EXPECT_EQ(pwrite(fd, "data", 4, 1 << 20), 4);
    EXPECT_EQ(lseek(fd, 0, SEEK_DATA), 1 << 20);
    EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), 0);
    EXPECT_EQ(lseek(fd, 1 << 20, SEEK_HOLE), (1 << 20) + 4);
    EXPECT_ERRNO(lseek(fd, (1 << 20) + 4, SEEK_DATA), ENXIO);
    EXPECT_ERRNO(lseek(fd, (1 << 20) + 10, SEEK_HOLE), ENXIO);
}

/* ---- sync / fsync / fdatasync / syncfs / sync_file_range ----------------------------- */

TEST(sync, succeeds) {
    EXPECT_OK(syscall(SYS_sync));
}

TEST(fsync, file_pipe_and_ebadf) {
    scratch();
    int p[2], fd = fx("f", "x", O_WRONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_fsync, fd));
    EXPECT_OK(syscall(SYS_fsync, fx("", NULL, O_RDONLY)));
    EXPECT_ERRNO(syscall(SYS_fsync, p[0]), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fsync, -1), EBADF);
}

TEST(fdatasync, file_pipe_and_ebadf) {
    scratch();
    int p[2], fd = fx("f", "x", O_WRONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_fdatasync, fd));
    EXPECT_ERRNO(syscall(SYS_fdatasync, p[1]), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fdatasync, -1), EBADF);
}

TEST(syncfs, fd_and_ebadf) {
    scratch();
    EXPECT_OK(syscall(SYS_syncfs, fx("", NULL, O_RDONLY)));
    EXPECT_ERRNO(syscall(SYS_syncfs, -1), EBADF);
}

TEST(sync_file_range, flags_and_espipe) {
    scratch();
    int p[2], fd = fx("f", "abc", O_WRONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_sync_file_range, fd, 0L, 0L, SYNC_FILE_RANGE_WRITE));
    EXPECT_ERRNO(syscall(SYS_sync_file_range, fd, 0L, 0L, 0x10), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sync_file_range, fd, -1L, 0L, SYNC_FILE_RANGE_WRITE), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sync_file_range, p[1], 0L, 0L, SYNC_FILE_RANGE_WRITE), ESPIPE);
}

/* ---- fadvise64 / readahead -------------------------------------------------------- */

TEST(fadvise64, advice_and_errors) {
    scratch();
    int p[2], fd = fx("f", "abc", O_RDONLY);
    EXPECT_OK(pipe(p));
    EXPECT_EQ(syscall(SYS_fadvise64, fd, 0L, 0L, POSIX_FADV_SEQUENTIAL), 0);
    EXPECT_EQ(syscall(SYS_fadvise64, fd, 0L, 3L, POSIX_FADV_DONTNEED), 0);
    EXPECT_ERRNO(syscall(SYS_fadvise64, fd, 0L, 0L, 99), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fadvise64, p[0], 0L, 0L, POSIX_FADV_NORMAL), ESPIPE);
    EXPECT_ERRNO(syscall(SYS_fadvise64, -1, 0L, 0L, POSIX_FADV_NORMAL), EBADF);
}

TEST(readahead, file_and_errors) {
    scratch();
    int p[2], fd = fx("f", "abc", O_RDONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_readahead, fd, 0L, 4096L));
    EXPECT_ERRNO(syscall(SYS_readahead, p[0], 0L, 10L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readahead, fx("f", NULL, O_WRONLY), 0L, 10L), EBADF);
}

/* ---- copy_file_range / sendfile ---------------------------------------------------------- */

TEST(copy_file_range, copies_with_offsets) {
    scratch();
    int in = fx("a", "0123456789", O_RDONLY), out = fx("b", "", O_WRONLY);
    loff_t oin = 2, oout = 1;
    EXPECT_EQ(syscall(SYS_copy_file_range, in, &oin, out, &oout, 5L, 0), 5);
    EXPECT_EQ(oin, 7);
    EXPECT_EQ(oout, 6);
    EXPECT_EQ(lseek(in, 0, SEEK_CUR), 0);
    EXPECT_EQ(syscall(SYS_copy_file_range, in, NULL, out, NULL, 3L, 0), 3);
    EXPECT_EQ(lseek(out, 0, SEEK_CUR), 3);
    EXPECT_EQ(fsize(P("b")), 6);
    EXPECT_EQ(memcmp(slurp(P("b")), "012456", 6), 0);
}

TEST(copy_file_range, errors) {
    scratch();
    int in = fx("a", "0123456789", O_RDWR), out = fx("b", "", O_WRONLY);
    loff_t o1 = 0, o2 = 2;
    EXPECT_ERRNO(syscall(SYS_copy_file_range, in, NULL, out, NULL, 5L, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, in, &o1, in, &o2, 5L, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, -1, NULL, out, NULL, 5L, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, in, NULL, fx("b", NULL, O_WRONLY | O_APPEND), NULL, 5L, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, fx("", NULL, O_RDONLY), NULL, out, NULL, 5L, 0), EISDIR);
}

TEST(sendfile, file_to_pipe_with_offset) {
    scratch();
    int p[2], in = fx("a", "hello world", O_RDONLY);
    char buf[16] = {0};
    off_t off = 6;
    EXPECT_OK(pipe(p));
    EXPECT_EQ(syscall(SYS_sendfile, p[1], in, &off, 5L), 5);
    EXPECT_EQ(off, 11);
    EXPECT_EQ(lseek(in, 0, SEEK_CUR), 0);
    EXPECT_EQ(syscall(SYS_sendfile, p[1], in, NULL, 5L), 5);
    EXPECT_EQ(lseek(in, 0, SEEK_CUR), 5);
    EXPECT_EQ(read(p[0], buf, sizeof buf), 10);
    EXPECT_STREQ(buf, "worldhello");
}

TEST(sendfile, file_to_file) {
    scratch();
    int in = fx("a", "abcdef", O_RDONLY), out = fx("b", "", O_WRONLY);
    EXPECT_EQ(syscall(SYS_sendfile, out, in, NULL, 100L), 6);
    EXPECT_STREQ(slurp(P("b")), "abcdef");
    EXPECT_EQ(syscall(SYS_sendfile, out, in, NULL, 100L), 0);
}

TEST(sendfile, errors) {
    scratch();
    int in = fx("a", "abc", O_RDONLY), out = fx("b", "", O_WRONLY);
    EXPECT_ERRNO(syscall(SYS_sendfile, out, -1, NULL, 3L), EBADF);
    EXPECT_ERRNO(syscall(SYS_sendfile, out, fx("a", NULL, O_WRONLY), NULL, 3L), EBADF);
    EXPECT_ERRNO(syscall(SYS_sendfile, in, in, NULL, 3L), EBADF);
    EXPECT_ERRNO(syscall(SYS_sendfile, fx("b", NULL, O_WRONLY | O_APPEND), in, NULL, 3L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sendfile, out, in, BAD, 3L), EFAULT);
}
