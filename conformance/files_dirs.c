/* Files: mkdir, mkdirat, rmdir, getdents64, getdents, chdir, fchdir,
 * getcwd, mknod and mknodat.
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
#include <sys/sysmacros.h>

/* ---- mkdir / mkdirat / rmdir ---------------------------------------------------- */

TEST(mkdir, mode_and_eexist) {
    scratch();
    umask(022);
    EXPECT_OK(syscall(SYS_mkdir, P("d"), 0777));
    EXPECT_OK(stat(P("d"), &S));
    EXPECT_TRUE(S_ISDIR(S.st_mode));
    EXPECT_EQ(S.st_mode & 07777, 0755);
    EXPECT_EQ(S.st_nlink, 2);
    EXPECT_ERRNO(syscall(SYS_mkdir, P("d"), 0777), EEXIST);
}

TEST(mkdir, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("dangling", P("l")));
    EXPECT_ERRNO(syscall(SYS_mkdir, P("f"), 0755), EEXIST);
    EXPECT_ERRNO(syscall(SYS_mkdir, P("l"), 0755), EEXIST);
    EXPECT_ERRNO(syscall(SYS_mkdir, P("no/d"), 0755), ENOENT);
    EXPECT_ERRNO(syscall(SYS_mkdir, P("f/d"), 0755), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_mkdir, BAD, 0755), EFAULT);
}

TEST(mkdir, trailing_slash) {
    scratch();
    EXPECT_OK(syscall(SYS_mkdir, P("d/"), 0755));
    EXPECT_OK(syscall(SYS_rmdir, P("d/")));
}

TEST(mkdirat, relative_to_dirfd) {
    scratch();
    int dfd = opendir_("");
    EXPECT_OK(syscall(SYS_mkdirat, dfd, "sub", 0700));
    EXPECT_OK(stat(P("sub"), &S));
    EXPECT_TRUE(S_ISDIR(S.st_mode));
    EXPECT_ERRNO(syscall(SYS_mkdirat, dfd, "sub", 0700), EEXIST);
    EXPECT_ERRNO(syscall(SYS_mkdirat, -1, "sub", 0700), EBADF);
}

TEST(rmdir, errors) {
    scratch();
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(mkfile(P("d/f"), "x"));
    EXPECT_ERRNO(syscall(SYS_rmdir, P("d")), ENOTEMPTY);
    EXPECT_ERRNO(syscall(SYS_rmdir, P("d/f")), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_rmdir, P("d/.")), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rmdir, P("d/..")), ENOTEMPTY);
    EXPECT_ERRNO(syscall(SYS_rmdir, P("nope")), ENOENT);
}

TEST(rmdir, removes_empty) {
    scratch();
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(syscall(SYS_rmdir, P("d")));
    EXPECT_ERRNO(stat(P("d"), &S), ENOENT);
}

/* ---- getdents64 / getdents ------------------------------------------------------ */

TEST(getdents64, lists_exact_names) {
    scratch();
    EXPECT_OK(mkfile(P("a"), ""));
    EXPECT_OK(mkfile(P("bb"), ""));
    EXPECT_OK(mkdir(P("sub"), 0755));
    EXPECT_OK(symlink("a", P("ln")));
    EXPECT_STREQ(listing(opendir_(""), 0), ".(4),..(4),a(8),bb(8),ln(10),sub(4)");
}

TEST(getdents64, errors) {
    scratch();
    int fd = fx("f", "x", O_RDONLY), dfd = opendir_("");
    EXPECT_ERRNO(syscall(SYS_getdents64, fd, B, sizeof B), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_getdents64, dfd, B, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_getdents64, -1, B, sizeof B), EBADF);
    EXPECT_ERRNO(syscall(SYS_getdents64, dfd, BAD, sizeof B), EFAULT);
}

TEST(getdents, lists_exact_names) {
    scratch();
    EXPECT_OK(mkfile(P("x"), ""));
    EXPECT_OK(mkdir(P("y"), 0755));
    EXPECT_STREQ(listing(opendir_(""), 1), ".(4),..(4),x(8),y(4)");
}

/* ---- chdir / fchdir / getcwd ------------------------------------------------------- */

TEST(chdir, then_getcwd) {
    scratch();
    char buf[256];
    EXPECT_OK(syscall(SYS_chdir, D));
    EXPECT_EQ(syscall(SYS_getcwd, buf, sizeof buf), strlen(D) + 1);
    EXPECT_STREQ(buf, D);
    EXPECT_OK(mkfile("rel", "x"));
    EXPECT_EQ(fsize(P("rel")), 1);
}

TEST(chdir, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_chdir, P("f")), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_chdir, P("nope")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_chdir, BAD), EFAULT);
}

TEST(fchdir, dir_fd_and_errors) {
    scratch();
    char buf[256];
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(syscall(SYS_fchdir, opendir_("d")));
    EXPECT_OK(getcwd(buf, sizeof buf));
    EXPECT_STREQ(buf, P("d"));
    EXPECT_ERRNO(syscall(SYS_fchdir, fx("f", "x", O_RDONLY)), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_fchdir, -1), EBADF);
}

TEST(getcwd, erange_small_buffer) {
    scratch();
    char buf[4];
    EXPECT_OK(chdir(D));
    EXPECT_ERRNO(syscall(SYS_getcwd, buf, 1), ERANGE);
    EXPECT_ERRNO(syscall(SYS_getcwd, buf, sizeof buf), ERANGE);
    EXPECT_ERRNO(syscall(SYS_getcwd, BAD, 256), EFAULT);
}

TEST(getcwd, enoent_after_rmdir) {
    scratch();
    char buf[256];
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(chdir(P("d")));
    EXPECT_OK(rmdir(P("d")));
    EXPECT_ERRNO(syscall(SYS_getcwd, buf, sizeof buf), ENOENT);
}

/* ---- mknod / mknodat ---------------------------------------------------------------------- */

TEST(mknod, fifo_and_regular) {
    scratch();
    umask(0);
    EXPECT_OK(syscall(SYS_mknod, P("fifo"), S_IFIFO | 0640, 0));
    EXPECT_OK(stat(P("fifo"), &S));
    EXPECT_TRUE(S_ISFIFO(S.st_mode));
    EXPECT_EQ(S.st_mode & 07777, 0640);
    EXPECT_OK(open(P("fifo"), O_RDONLY | O_NONBLOCK));
    EXPECT_OK(syscall(SYS_mknod, P("reg"), S_IFREG | 0600, 0));
    EXPECT_OK(syscall(SYS_mknod, P("reg0"), 0600, 0));
    EXPECT_OK(stat(P("reg0"), &S));
    EXPECT_TRUE(S_ISREG(S.st_mode));
    EXPECT_EQ(S.st_size, 0);
}

TEST(mknod, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_mknod, P("f"), S_IFIFO | 0600, 0), EEXIST);
    EXPECT_ERRNO(syscall(SYS_mknod, P("d"), S_IFDIR | 0700, 0), EPERM);
    EXPECT_ERRNO(syscall(SYS_mknod, P("x"), 0170000 | 0600, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_mknod, P("no/x"), S_IFIFO | 0600, 0), ENOENT);
    EXPECT_ERRNO(syscall(SYS_mknod, BAD, S_IFIFO | 0600, 0), EFAULT);
}

/* Natively root (CAP_MKNOD) creates device nodes; the sandbox refuses any
 * device but the 0:0 whiteout with EPERM (docs/syscalls.md, fsmeta). */
TEST(mknod, char_device) {
    scratch();
    if (IN_SANDBOX) {
        EXPECT_ERRNO(syscall(SYS_mknod, P("null"), S_IFCHR | 0600, makedev(1, 3)), EPERM);
        EXPECT_ERRNO(syscall(SYS_mknod, P("blk"), S_IFBLK | 0600, makedev(7, 0)), EPERM);
    } else {
        EXPECT_OK(syscall(SYS_mknod, P("null"), S_IFCHR | 0600, makedev(1, 3)));
        EXPECT_OK(stat(P("null"), &S));
        EXPECT_TRUE(S_ISCHR(S.st_mode));
        EXPECT_EQ(S.st_rdev, makedev(1, 3));
    }
}

TEST(mknodat, fifo_and_socket_via_dirfd) {
    scratch();
    int dfd = opendir_("");
    EXPECT_OK(syscall(SYS_mknodat, dfd, "p", S_IFIFO | 0600, 0));
    EXPECT_OK(syscall(SYS_mknodat, dfd, "s", S_IFSOCK | 0600, 0));
    EXPECT_OK(stat(P("p"), &S));
    EXPECT_TRUE(S_ISFIFO(S.st_mode));
    EXPECT_OK(stat(P("s"), &S));
    EXPECT_TRUE(S_ISSOCK(S.st_mode));
    EXPECT_ERRNO(syscall(SYS_mknodat, -1, "q", S_IFIFO | 0600, 0), EBADF);
}
