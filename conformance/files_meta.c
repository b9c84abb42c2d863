/* Files: modes and owners (chmod family, umask, chown family) and times
 * (utime, utimes, utimensat, futimesat).
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
#include <time.h>
#include <utime.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* ---- chmod family / umask ------------------------------------------------------------ */

TEST(chmod, mode_bits_via_stat) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_chmod, P("f"), 0640));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0640);
    EXPECT_OK(syscall(SYS_chmod, P("f"), 07755));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 07755);
    EXPECT_ERRNO(syscall(SYS_chmod, P("nope"), 0644), ENOENT);
    EXPECT_ERRNO(syscall(SYS_chmod, BAD, 0644), EFAULT);
}

TEST(chmod, follows_symlink) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_chmod, P("l"), 0600));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0600);
}

TEST(fchmod, fd_and_ebadf) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_OK(syscall(SYS_fchmod, fd, 0421));
    EXPECT_OK(fstat(fd, &S));
    EXPECT_EQ(S.st_mode & 07777, 0421);
    EXPECT_ERRNO(syscall(SYS_fchmod, -1, 0644), EBADF);
}

TEST(fchmodat, relative_to_dirfd) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_fchmodat, opendir_(""), "f", 0604));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0604);
    EXPECT_ERRNO(syscall(SYS_fchmodat, -1, "f", 0644), EBADF);
}

TEST(fchmodat2, symlink_nofollow) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_ERRNO(syscall(SYS_fchmodat2, AT_FDCWD, P("l"), 0600, AT_SYMLINK_NOFOLLOW), EOPNOTSUPP);
    EXPECT_OK(syscall(SYS_fchmodat2, AT_FDCWD, P("f"), 0607, AT_SYMLINK_NOFOLLOW));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0607);
    EXPECT_ERRNO(syscall(SYS_fchmodat2, AT_FDCWD, P("f"), 0600, 0x1), EINVAL);
}

TEST(umask, returns_previous_and_masks) {
    EXPECT_OK(syscall(SYS_umask, 0123));
    EXPECT_EQ(syscall(SYS_umask, 07777), 0123);
    EXPECT_EQ(syscall(SYS_umask, 022), 0777);
}

TEST(umask, applied_on_creat_and_mkdir) {
    scratch();
    umask(077);
    EXPECT_OK(creat(P("f"), 0666));
    EXPECT_OK(mkdir(P("d"), 0777));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0600);
    EXPECT_OK(stat(P("d"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0700);
}

/* ---- chown family ----------------------------------------------------------------------- */

TEST(chown, sets_ids_and_minus_one_keeps) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_chown, P("f"), 1234, 5678));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_uid, 1234);
    EXPECT_EQ(S.st_gid, 5678);
    EXPECT_OK(syscall(SYS_chown, P("f"), -1, 42));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_uid, 1234);
    EXPECT_EQ(S.st_gid, 42);
    EXPECT_ERRNO(syscall(SYS_chown, P("nope"), 0, 0), ENOENT);
}

TEST(chown, clears_setuid) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(chmod(P("f"), 04755));
    EXPECT_OK(syscall(SYS_chown, P("f"), 1, 1));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0755);
}

TEST(fchown, fd_and_ebadf) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_OK(syscall(SYS_fchown, fd, 77, 88));
    EXPECT_OK(fstat(fd, &S));
    EXPECT_EQ(S.st_uid, 77);
    EXPECT_EQ(S.st_gid, 88);
    EXPECT_ERRNO(syscall(SYS_fchown, -1, 0, 0), EBADF);
}

TEST(lchown, changes_link_not_target) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_lchown, P("l"), 99, 99));
    EXPECT_OK(lstat(P("l"), &S));
    EXPECT_EQ(S.st_uid, 99);
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_uid, geteuid());
}

TEST(fchownat, nofollow_and_empty_path) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_fchownat, opendir_(""), "l", 5, 6, AT_SYMLINK_NOFOLLOW));
    EXPECT_OK(lstat(P("l"), &S));
    EXPECT_EQ(S.st_gid, 6);
    EXPECT_OK(syscall(SYS_fchownat, fd, "", 7, 8, AT_EMPTY_PATH));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_uid, 7);
    EXPECT_ERRNO(syscall(SYS_fchownat, AT_FDCWD, P("f"), 0, 0, 0x1), EINVAL);
}

/* ---- utime / utimes / utimensat / futimesat ----------------------------------------------- */

TEST(utime, exact_and_now) {
    scratch();
    struct utimbuf u = { .actime = 1000, .modtime = 2000 };
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_utime, P("f"), &u));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_atime, 1000);
    EXPECT_EQ(S.st_mtime, 2000);
    EXPECT_OK(syscall(SYS_utime, P("f"), NULL));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_TRUE(llabs((long long)S.st_mtime - time(NULL)) <= 2);
    EXPECT_ERRNO(syscall(SYS_utime, P("nope"), &u), ENOENT);
}

TEST(utimes, microseconds) {
    scratch();
    struct timeval tv[2] = { { 10, 250000 }, { 20, 500000 } };
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_utimes, P("f"), tv));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_atim.tv_sec, 10);
    EXPECT_EQ(S.st_atim.tv_nsec, 250000000);
    EXPECT_EQ(S.st_mtim.tv_nsec, 500000000);
    tv[1].tv_usec = 1000000;
    EXPECT_ERRNO(syscall(SYS_utimes, P("f"), tv), EINVAL);
}

TEST(utimensat, exact_ns_and_omit) {
    scratch();
    struct timespec ts[2] = { { 111, 1 }, { 222, 999999999 } };
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_utimensat, AT_FDCWD, P("f"), ts, 0));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_atim.tv_sec, 111);
    EXPECT_EQ(S.st_atim.tv_nsec, 1);
    EXPECT_EQ(S.st_mtim.tv_nsec, 999999999);
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1] = (struct timespec){ 333, 0 };
    EXPECT_OK(syscall(SYS_utimensat, AT_FDCWD, P("f"), ts, 0));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_atim.tv_sec, 111);
    EXPECT_EQ(S.st_mtim.tv_sec, 333);
}

TEST(utimensat, utime_now) {
    scratch();
    struct timespec ts[2] = { { 5, UTIME_NOW }, { 5, UTIME_OMIT } };
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(utime(P("f"), &(struct utimbuf){ 1, 1 }));
    EXPECT_OK(syscall(SYS_utimensat, AT_FDCWD, P("f"), ts, 0));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_TRUE(llabs((long long)S.st_atime - time(NULL)) <= 2);
    EXPECT_EQ(S.st_mtime, 1);
}

TEST(utimensat, nofollow_and_fd) {
    scratch();
    struct timespec ts[2] = { { 100, 0 }, { 200, 0 } };
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_utimensat, AT_FDCWD, P("l"), ts, AT_SYMLINK_NOFOLLOW));
    EXPECT_OK(lstat(P("l"), &S));
    EXPECT_EQ(S.st_mtime, 200);
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_TRUE(S.st_mtime != 200);
    ts[1].tv_sec = 300;
    EXPECT_OK(syscall(SYS_utimensat, fd, NULL, ts, 0));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mtime, 300);
}

TEST(utimensat, errors) {
    scratch();
    struct timespec ts[2] = { { 1, 0 }, { 2, 1000000000 } };
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_utimensat, AT_FDCWD, P("f"), ts, 0), EINVAL);
    ts[1].tv_nsec = 0;
    EXPECT_ERRNO(syscall(SYS_utimensat, AT_FDCWD, P("f"), ts, 0x1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_utimensat, AT_FDCWD, P("nope"), ts, 0), ENOENT);
    EXPECT_ERRNO(syscall(SYS_utimensat, -1, NULL, ts, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_utimensat, AT_FDCWD, P("f"), BAD, 0), EFAULT);
}

TEST(futimesat, relative_to_dirfd) {
    scratch();
    struct timeval tv[2] = { { 30, 0 }, { 40, 7 } };
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_futimesat, opendir_(""), "f", tv));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_atime, 30);
    EXPECT_EQ(S.st_mtim.tv_sec, 40);
    EXPECT_EQ(S.st_mtim.tv_nsec, 7000);
}
