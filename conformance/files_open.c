/* Files: open (raw SYS_open), openat, creat and openat2.
 *
 * Every case that touches files calls scratch() first: it makes a fresh
 * directory D, and the rest of the case runs in a child while the parent
 * waits, removes D whatever happened, and passes the child's status on.
 */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* ---- open (raw SYS_open) ------------------------------------------------ */

TEST(open, creat_excl_then_eexist) {
    scratch();
    EXPECT_OK(syscall(SYS_open, P("f"), O_CREAT | O_EXCL | O_RDWR, 0644));
    EXPECT_ERRNO(syscall(SYS_open, P("f"), O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
}

TEST(open, enoent_missing) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_open, P("missing"), O_RDONLY), ENOENT);
    EXPECT_ERRNO(syscall(SYS_open, P("nodir/f"), O_CREAT | O_RDWR, 0644), ENOENT);
}

TEST(open, efault_bad_path) {
    EXPECT_ERRNO(syscall(SYS_open, BAD, O_RDONLY), EFAULT);
}

TEST(open, enametoolong) {
    char big[300], *huge = malloc(5000);
    memset(big, 'a', sizeof big - 1); big[sizeof big - 1] = 0;
    memset(huge, '/', 4999); huge[4999] = 0;
    EXPECT_ERRNO(syscall(SYS_open, big, O_RDONLY), ENAMETOOLONG);
    EXPECT_ERRNO(syscall(SYS_open, huge, O_RDONLY), ENAMETOOLONG);
}

TEST(open, eisdir_wronly_on_dir) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_open, D, O_WRONLY), EISDIR);
    EXPECT_ERRNO(syscall(SYS_open, D, O_RDWR), EISDIR);
}

TEST(open, enotdir_o_directory_on_file) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_open, P("f"), O_RDONLY | O_DIRECTORY), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_open, P("f/x"), O_RDONLY), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_open, P("f/"), O_RDONLY), ENOTDIR);
}

TEST(open, eloop_nofollow_on_symlink) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink(P("f"), P("l")));
    EXPECT_ERRNO(syscall(SYS_open, P("l"), O_RDONLY | O_NOFOLLOW), ELOOP);
    EXPECT_OK(syscall(SYS_open, P("l"), O_RDONLY));
}

TEST(open, eloop_symlink_cycle) {
    scratch();
    EXPECT_OK(symlink(P("b"), P("a")));
    EXPECT_OK(symlink(P("a"), P("b")));
    EXPECT_ERRNO(syscall(SYS_open, P("a"), O_RDONLY), ELOOP);
}

TEST(open, trunc_empties_file) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "hello"));
    EXPECT_OK(syscall(SYS_open, P("f"), O_WRONLY | O_TRUNC));
    EXPECT_EQ(fsize(P("f")), 0);
}

TEST(open, append_writes_at_end) {
    scratch();
    int fd;
    EXPECT_OK(mkfile(P("f"), "abc"));
    EXPECT_OK(fd = syscall(SYS_open, P("f"), O_RDWR | O_APPEND));
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    EXPECT_EQ(write(fd, "de", 2), 2);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5);
    EXPECT_STREQ(slurp(P("f")), "abcde");
}

TEST(open, cloexec_visible_in_getfd) {
    scratch();
    int a, b;
    EXPECT_OK(a = syscall(SYS_open, D, O_RDONLY | O_CLOEXEC));
    EXPECT_OK(b = syscall(SYS_open, D, O_RDONLY));
    EXPECT_EQ(fcntl(a, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(b, F_GETFD), 0);
}

TEST(open, creat_through_dangling_symlink) {
    scratch();
    EXPECT_OK(symlink(P("target"), P("l")));
    EXPECT_OK(syscall(SYS_open, P("l"), O_CREAT | O_WRONLY, 0644));
    EXPECT_OK(stat(P("target"), &S));
    EXPECT_TRUE(S_ISREG(S.st_mode));
    EXPECT_ERRNO(syscall(SYS_open, P("l"), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
}

TEST(open, creat_mode_masked_by_umask) {
    scratch();
    int fd;
    umask(027);
    EXPECT_OK(fd = syscall(SYS_open, P("f"), O_CREAT | O_RDWR, 0777));
    EXPECT_OK(fstat(fd, &S));
    EXPECT_EQ(S.st_mode & 07777, 0750);
}

TEST(open, eisdir_creat_on_dir) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_open, D, O_CREAT | O_RDONLY, 0644), EISDIR);
    EXPECT_ERRNO(syscall(SYS_open, D, O_CREAT | O_EXCL | O_RDONLY, 0644), EEXIST);
}

/* ---- openat ----------------------------------------------------------------- */

TEST(openat, relative_to_dirfd) {
    scratch();
    int dfd = fx("", NULL, O_RDONLY | O_DIRECTORY), fd;
    EXPECT_OK(fd = syscall(SYS_openat, dfd, "f", O_CREAT | O_WRONLY, 0600));
    EXPECT_EQ(write(fd, "xyz", 3), 3);
    EXPECT_EQ(fsize(P("f")), 3);
}

TEST(openat, ebadf_relative_bad_dirfd) {
    EXPECT_ERRNO(syscall(SYS_openat, -5, "rel", O_RDONLY), EBADF);
    EXPECT_ERRNO(syscall(SYS_openat, 999, "rel", O_RDONLY), EBADF);
}

TEST(openat, absolute_path_ignores_dirfd) {
    scratch();
    EXPECT_OK(syscall(SYS_openat, -5, D, O_RDONLY));
}

TEST(openat, enotdir_dirfd_is_file) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_ERRNO(syscall(SYS_openat, fd, "x", O_RDONLY), ENOTDIR);
}

TEST(openat, enoent_empty_path) {
    EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, "", O_RDONLY), ENOENT);
}

TEST(openat, einval_creat_with_directory) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, P("d"), O_CREAT | O_DIRECTORY | O_RDONLY, 0755), EINVAL);
}

TEST(openat, o_path_no_io_but_fstat) {
    scratch();
    int fd;
    char c;
    EXPECT_OK(mkfile(P("f"), "abc"));
    EXPECT_OK(fd = syscall(SYS_openat, AT_FDCWD, P("f"), O_PATH));
    EXPECT_ERRNO(read(fd, &c, 1), EBADF);
    EXPECT_ERRNO(write(fd, "x", 1), EBADF);
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_PATH, O_PATH);
    EXPECT_OK(syscall(SYS_fstat, fd, &S));
    EXPECT_EQ(S.st_size, 3);
}

TEST(openat, o_path_nofollow_opens_link) {
    scratch();
    int fd;
    EXPECT_OK(symlink("nowhere", P("l")));
    EXPECT_OK(fd = syscall(SYS_openat, AT_FDCWD, P("l"), O_PATH | O_NOFOLLOW));
    EXPECT_OK(syscall(SYS_fstat, fd, &S));
    EXPECT_TRUE(S_ISLNK(S.st_mode));
    EXPECT_EQ(S.st_size, 7);
}

TEST(openat, o_tmpfile_anonymous) {
    scratch();
    int fd;
    EXPECT_OK(fd = syscall(SYS_openat, AT_FDCWD, D, O_TMPFILE | O_RDWR, 0600));
    EXPECT_EQ(write(fd, "data", 4), 4);
    EXPECT_OK(syscall(SYS_fstat, fd, &S));
    EXPECT_EQ(S.st_nlink, 0);
    EXPECT_EQ(S.st_size, 4);
    EXPECT_EQ(S.st_mode & 07777, 0600);
}

TEST(openat, o_tmpfile_einval_rdonly) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, D, O_TMPFILE | O_RDONLY, 0600), EINVAL);
}

TEST(openat, o_tmpfile_enotdir_on_file) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, P("f"), O_TMPFILE | O_RDWR, 0600), ENOTDIR);
}

TEST(openat, efault_bad_path) {
    EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, BAD, O_RDONLY), EFAULT);
}

/* ---- creat ------------------------------------------------------------------ */

TEST(creat, truncates_and_is_wronly) {
    scratch();
    int fd;
    char c;
    EXPECT_OK(mkfile(P("f"), "hello"));
    EXPECT_OK(fd = syscall(SYS_creat, P("f"), 0644));
    EXPECT_EQ(fsize(P("f")), 0);
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
    EXPECT_ERRNO(read(fd, &c, 1), EBADF);
}

TEST(creat, new_file_mode) {
    scratch();
    umask(0);
    EXPECT_OK(syscall(SYS_creat, P("f"), 0604));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_mode & 07777, 0604);
}

TEST(creat, efault_and_eisdir) {
    scratch();
    EXPECT_ERRNO(syscall(SYS_creat, BAD, 0644), EFAULT);
    EXPECT_ERRNO(syscall(SYS_creat, D, 0644), EISDIR);
}

/* ---- openat2 ---------------------------------------------------------------- */

TEST(openat2, resolve_beneath_exdev) {
    scratch();
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(mkfile(P("f"), "x"));
    int dfd = fx("d", NULL, O_RDONLY | O_DIRECTORY);
    struct open_how how = { .flags = O_RDONLY, .resolve = RESOLVE_BENEATH };
    EXPECT_ERRNO(syscall(SYS_openat2, dfd, "../f", &how, sizeof how), EXDEV);
    how.resolve = 0;
    EXPECT_OK(syscall(SYS_openat2, dfd, "../f", &how, sizeof how));
}

TEST(openat2, einval_bad_size_and_flags) {
    struct open_how how = { .flags = O_RDONLY };
    EXPECT_ERRNO(syscall(SYS_openat2, AT_FDCWD, "/", &how, 8), EINVAL);
    how.resolve = 1ULL << 40;
    EXPECT_ERRNO(syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how), EINVAL);
}

/* ---- all or nothing: a full fd table creates and truncates nothing ----- */

/* Fill the fd table up to a low RLIMIT_NOFILE (the scratch dir is open). */
static void fill_fd_table(void)
{
    struct rlimit rl = { 12, 12 };
    EXPECT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    for (int i = 0; i < 16 && dup(0) >= 0; i++)
        ;
    EXPECT_ERRNO(dup(0), EMFILE);
}

TEST(open, emfile_creates_nothing) {
    scratch();
    fill_fd_table();
    EXPECT_ERRNO(syscall(SYS_open, P("new"), O_CREAT | O_WRONLY, 0644), EMFILE);
    EXPECT_ERRNO(openat(AT_FDCWD, P("new2"), O_CREAT | O_EXCL | O_RDWR, 0644), EMFILE);
    EXPECT_OK(close(3));
    EXPECT_ERRNO(access(P("new"), F_OK), ENOENT);
    EXPECT_ERRNO(access(P("new2"), F_OK), ENOENT);
}

TEST(open, emfile_truncates_nothing) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "keep me"));
    fill_fd_table();
    EXPECT_ERRNO(openat(AT_FDCWD, P("f"), O_WRONLY | O_TRUNC), EMFILE);
    EXPECT_ERRNO(syscall(SYS_open, P("f"), O_CREAT | O_WRONLY | O_TRUNC, 0644), EMFILE);
    struct stat sb;
    EXPECT_OK(stat(P("f"), &sb));
    EXPECT_EQ(sb.st_size, 7);
}

TEST(open, trunc_after_the_fd_is_in_place) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "old contents"));
    int fd = openat(AT_FDCWD, P("f"), O_WRONLY | O_TRUNC);
    EXPECT_TRUE(fd >= 0);
    struct stat sb;
    EXPECT_OK(fstat(fd, &sb));
    EXPECT_EQ(sb.st_size, 0);
    EXPECT_EQ(write(fd, "new", 3), 3);
    EXPECT_OK(close(fd));
    EXPECT_OK(stat(P("f"), &sb));
    EXPECT_EQ(sb.st_size, 3);
}
