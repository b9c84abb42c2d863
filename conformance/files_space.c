/* Files: fallocate, truncate and ftruncate.
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

/* ---- fallocate ------------------------------------------------------------------------ */

TEST(fallocate, extends_with_zeros) {
    scratch();
    int fd = fx("f", "ab", O_RDWR);
    char buf[8192];
    EXPECT_OK(syscall(SYS_fallocate, fd, 0, 0L, 8192L));
    EXPECT_EQ(fsize(P("f")), 8192);
    EXPECT_EQ(read(fd, buf, sizeof buf), 8192);
    EXPECT_EQ(memcmp(buf, "ab\0\0", 4), 0);
    EXPECT_EQ(buf[8191], 0);
}

TEST(fallocate, keep_size) {
    scratch();
    int fd = fx("f", "", O_RDWR);
    EXPECT_OK(syscall(SYS_fallocate, fd, FALLOC_FL_KEEP_SIZE, 0L, 8192L));
    EXPECT_OK(fstat(fd, &S));
    EXPECT_EQ(S.st_size, 0);
    EXPECT_TRUE(S.st_blocks >= 16);
}

TEST(fallocate, punch_hole) {
    scratch();
    int fd = fx("f", "", O_RDWR);
    char buf[8192];
    memset(buf, 'z', sizeof buf);
    EXPECT_EQ(write(fd, buf, sizeof buf), 8192);
    EXPECT_ERRNO(syscall(SYS_fallocate, fd, FALLOC_FL_PUNCH_HOLE, 0L, 4096L), EOPNOTSUPP);
    EXPECT_OK(syscall(SYS_fallocate, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0L, 4096L));
    EXPECT_EQ(fsize(P("f")), 8192);
    EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 8192);
    EXPECT_EQ(buf[0], 0);
    EXPECT_EQ(buf[4095], 0);
    EXPECT_EQ(buf[4096], 'z');
}

TEST(fallocate, errors) {
    scratch();
    int p[2], fd = fx("f", "", O_RDWR);
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_fallocate, fd, 0, 0L, 0L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fallocate, fd, 0, -1L, 10L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fallocate, fx("f", NULL, O_RDONLY), 0, 0L, 10L), EBADF);
    EXPECT_ERRNO(syscall(SYS_fallocate, p[1], 0, 0L, 10L), ESPIPE);
    EXPECT_ERRNO(syscall(SYS_fallocate, -1, 0, 0L, 10L), EBADF);
}

/* ---- truncate / ftruncate ------------------------------------------------------------ */

TEST(truncate, grow_zeros_and_shrink) {
    scratch();
    char buf[8];
    EXPECT_OK(mkfile(P("f"), "abc"));
    EXPECT_OK(syscall(SYS_truncate, P("f"), 6L));
    EXPECT_EQ(fsize(P("f")), 6);
    EXPECT_EQ(read(fx("f", NULL, O_RDONLY), buf, 8), 6);
    EXPECT_EQ(memcmp(buf, "abc\0\0\0", 6), 0);
    EXPECT_OK(syscall(SYS_truncate, P("f"), 1L));
    EXPECT_STREQ(slurp(P("f")), "a");
}

TEST(truncate, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "abc"));
    EXPECT_ERRNO(syscall(SYS_truncate, P("f"), -1L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_truncate, D, 0L), EISDIR);
    EXPECT_ERRNO(syscall(SYS_truncate, P("nope"), 0L), ENOENT);
    EXPECT_ERRNO(syscall(SYS_truncate, BAD, 0L), EFAULT);
}

TEST(ftruncate, grow_zeros) {
    scratch();
    int fd = fx("f", "xy", O_RDWR);
    char buf[8];
    EXPECT_OK(syscall(SYS_ftruncate, fd, 5L));
    EXPECT_EQ(read(fd, buf, 8), 5);
    EXPECT_EQ(memcmp(buf, "xy\0\0\0", 5), 0);
}

TEST(ftruncate, errors) {
    scratch();
    int p[2], fd = fx("f", "x", O_RDWR);
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_ftruncate, fd, -1L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ftruncate, fx("f", NULL, O_RDONLY), 0L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ftruncate, p[1], 0L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ftruncate, -1, 0L), EBADF);
}
