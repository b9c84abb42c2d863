/* Files: stat, lstat, fstat, newfstatat, statx, access, faccessat,
 * faccessat2, statfs and fstatfs.
 *
 * Every case that touches files calls scratch() first: it makes a fresh
 * directory D, and the rest of the case runs in a child while the parent
 * waits, removes D whatever happened, and passes the child's status on.
 */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

static struct statx X;

/* ---- stat / lstat / fstat (raw) -------------------------------------------------- */

TEST(stat, regular_file) {
    scratch();
    umask(022);
    EXPECT_OK(mkfile(P("f"), "hello"));
    EXPECT_OK(syscall(SYS_stat, P("f"), &S));
    EXPECT_TRUE(S_ISREG(S.st_mode));
    EXPECT_EQ(S.st_mode & 07777, 0644);
    EXPECT_EQ(S.st_size, 5);
    EXPECT_EQ(S.st_nlink, 1);
    EXPECT_EQ(S.st_uid, geteuid());
}

TEST(stat, follows_symlink) {
    scratch();
    struct stat a;
    EXPECT_OK(mkfile(P("f"), "hello"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_stat, P("f"), &a));
    EXPECT_OK(syscall(SYS_stat, P("l"), &S));
    EXPECT_EQ(a.st_ino, S.st_ino);
    EXPECT_TRUE(S_ISREG(S.st_mode));
}

TEST(stat, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("loop", P("loop")));
    EXPECT_ERRNO(syscall(SYS_stat, P("missing"), &S), ENOENT);
    EXPECT_ERRNO(syscall(SYS_stat, P("f/x"), &S), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_stat, P("loop"), &S), ELOOP);
    EXPECT_ERRNO(syscall(SYS_stat, "", &S), ENOENT);
}

TEST(stat, efault) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_stat, BAD, &S), EFAULT);
    EXPECT_ERRNO(syscall(SYS_stat, D, BAD), EFAULT);
}

TEST(lstat, does_not_follow) {
    scratch();
    EXPECT_OK(symlink("some/target", P("l")));
    EXPECT_OK(syscall(SYS_lstat, P("l"), &S));
    EXPECT_TRUE(S_ISLNK(S.st_mode));
    EXPECT_EQ(S.st_size, 11);
    EXPECT_ERRNO(syscall(SYS_stat, P("l"), &S), ENOENT);
    EXPECT_ERRNO(syscall(SYS_lstat, BAD, &S), EFAULT);
}

TEST(fstat, fd_and_errors) {
    scratch();
    int fd = fx("f", "abcd", O_RDONLY);
    EXPECT_OK(syscall(SYS_fstat, fd, &S));
    EXPECT_EQ(S.st_size, 4);
    EXPECT_ERRNO(syscall(SYS_fstat, -1, &S), EBADF);
    EXPECT_ERRNO(syscall(SYS_fstat, fd, BAD), EFAULT);
}

/* ---- newfstatat / statx ------------------------------------------------------------ */

TEST(newfstatat, symlink_nofollow) {
    scratch();
    int dfd = fx("", NULL, O_RDONLY | O_DIRECTORY);
    EXPECT_OK(mkfile(P("f"), "abc"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_newfstatat, dfd, "l", &S, AT_SYMLINK_NOFOLLOW));
    EXPECT_TRUE(S_ISLNK(S.st_mode));
    EXPECT_OK(syscall(SYS_newfstatat, dfd, "l", &S, 0));
    EXPECT_TRUE(S_ISREG(S.st_mode));
    EXPECT_EQ(S.st_size, 3);
}

TEST(newfstatat, empty_path) {
    scratch();
    int fd = fx("f", "abcde", O_RDONLY);
    EXPECT_OK(syscall(SYS_newfstatat, fd, "", &S, AT_EMPTY_PATH));
    EXPECT_EQ(S.st_size, 5);
    EXPECT_ERRNO(syscall(SYS_newfstatat, fd, "", &S, 0), ENOENT);
    EXPECT_ERRNO(syscall(SYS_newfstatat, -1, "", &S, AT_EMPTY_PATH), EBADF);
}

TEST(newfstatat, errors) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, D, &S, 0x1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_newfstatat, -1, "rel", &S, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_newfstatat, fd, "rel", &S, 0), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, P("nope"), &S, 0), ENOENT);
    EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, D, BAD, 0), EFAULT);
}

TEST(statx, basic_stats) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "hello!"));
    EXPECT_OK(syscall(SYS_statx, AT_FDCWD, P("f"), 0, STATX_BASIC_STATS, &X));
    EXPECT_EQ(X.stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(X.stx_ino, S.st_ino);
    EXPECT_EQ(X.stx_size, 6);
    EXPECT_EQ(X.stx_nlink, 1);
    EXPECT_EQ(X.stx_mode, S.st_mode);
    EXPECT_EQ(X.stx_mtime.tv_sec, S.st_mtim.tv_sec);
    EXPECT_EQ(X.stx_mtime.tv_nsec, S.st_mtim.tv_nsec);
}

TEST(statx, nofollow_and_empty_path) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_statx, AT_FDCWD, P("l"), AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_SIZE, &X));
    EXPECT_TRUE(S_ISLNK(X.stx_mode));
    EXPECT_EQ(X.stx_size, 1);
    EXPECT_OK(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_SIZE, &X));
    EXPECT_EQ(X.stx_mask & STATX_SIZE, STATX_SIZE);
    EXPECT_EQ(X.stx_size, 3);
}

TEST(statx, einval_flags_and_mask) {
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, "/", 0, STATX__RESERVED, &X), EINVAL);
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, "/", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &X), EINVAL);
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, "/", 0x1, STATX_BASIC_STATS, &X), EINVAL);
}

TEST(statx, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, P("nope"), 0, STATX_BASIC_STATS, &X), ENOENT);
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, P("f/x"), 0, STATX_BASIC_STATS, &X), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, D, 0, STATX_BASIC_STATS, BAD), EFAULT);
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, BAD, 0, STATX_BASIC_STATS, &X), EFAULT);
    EXPECT_ERRNO(syscall(SYS_statx, -1, "rel", 0, STATX_BASIC_STATS, &X), EBADF);
}

/* ---- access / faccessat / faccessat2 ------------------------------------------------- */

TEST(access, f_ok_and_r_ok) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_access, P("f"), F_OK));
    EXPECT_OK(syscall(SYS_access, P("f"), R_OK | W_OK));
    EXPECT_ERRNO(syscall(SYS_access, P("nope"), F_OK), ENOENT);
    EXPECT_ERRNO(syscall(SYS_access, P("f/x"), F_OK), ENOTDIR);
}

TEST(access, einval_bad_mode) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_access, D, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_access, BAD, F_OK), EFAULT);
}

/* Root (with CAP_DAC_OVERRIDE, natively and in the sandbox) may read and
 * write anything but may execute only files with some x bit. */
TEST(access, root_x_ok_needs_an_x_bit) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(chmod(P("f"), 0));
    EXPECT_OK(syscall(SYS_access, P("f"), R_OK | W_OK));
    EXPECT_ERRNO(syscall(SYS_access, P("f"), X_OK), EACCES);
    EXPECT_OK(chmod(P("f"), 0010));
    EXPECT_OK(syscall(SYS_access, P("f"), X_OK));
}

TEST(faccessat, relative_to_dirfd) {
    scratch();
    int dfd = fx("", NULL, O_RDONLY | O_DIRECTORY);
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_faccessat, dfd, "f", R_OK));
    EXPECT_ERRNO(syscall(SYS_faccessat, dfd, "g", F_OK), ENOENT);
    EXPECT_ERRNO(syscall(SYS_faccessat, -1, "f", F_OK), EBADF);
    EXPECT_ERRNO(syscall(SYS_faccessat, dfd, "f", 0x10), EINVAL);
}

TEST(faccessat2, at_eaccess_and_nofollow) {
    scratch();
    EXPECT_OK(symlink("nowhere", P("l")));
    EXPECT_OK(syscall(SYS_faccessat2, AT_FDCWD, D, R_OK, AT_EACCESS));
    EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, P("l"), F_OK, 0), ENOENT);
    EXPECT_OK(syscall(SYS_faccessat2, AT_FDCWD, P("l"), F_OK, AT_SYMLINK_NOFOLLOW));
}

TEST(faccessat2, einval_flags_and_empty_path) {
    scratch();
    int fd = fx("", NULL, O_RDONLY);
    EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, D, F_OK, 0x1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, D, 8, 0), EINVAL);
    EXPECT_OK(syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
    EXPECT_ERRNO(syscall(SYS_faccessat2, fd, "", R_OK, 0), ENOENT);
}

/* ---- statfs / fstatfs ------------------------------------------------------------------------ */

/* /tmp is ext4 (or whatever the host has) natively, tmpfs in the sandbox. */
TEST(statfs, sane_fields) {
    scratch();
    struct statfs f;
    EXPECT_OK(syscall(SYS_statfs, D, &f));
    EXPECT_TRUE(f.f_bsize > 0);
    EXPECT_EQ(f.f_namelen, 255);
    EXPECT_TRUE(f.f_bfree <= f.f_blocks && f.f_bavail <= f.f_bfree);
    if (IN_SANDBOX) EXPECT_EQ(f.f_type, TMPFS_MAGIC);
    EXPECT_OK(syscall(SYS_statfs, "/proc", &f));
    EXPECT_EQ(f.f_type, PROC_SUPER_MAGIC);
}

TEST(statfs, errors) {
    scratch();
    struct statfs f;
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_statfs, P("nope"), &f), ENOENT);
    EXPECT_ERRNO(syscall(SYS_statfs, P("f/x"), &f), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_statfs, BAD, &f), EFAULT);
    EXPECT_ERRNO(syscall(SYS_statfs, D, BAD), EFAULT);
}

TEST(fstatfs, matches_statfs) {
    scratch();
    struct statfs a, b;
    EXPECT_OK(syscall(SYS_statfs, D, &a));
    EXPECT_OK(syscall(SYS_fstatfs, fx("f", "x", O_RDONLY), &b));
    EXPECT_EQ(a.f_type, b.f_type);
    EXPECT_EQ(a.f_bsize, b.f_bsize);
    EXPECT_EQ(a.f_fsid.__val[0], b.f_fsid.__val[0]);
    EXPECT_ERRNO(syscall(SYS_fstatfs, -1, &b), EBADF);
    EXPECT_ERRNO(syscall(SYS_fstatfs, fx("f", NULL, O_RDONLY), BAD), EFAULT);
}
