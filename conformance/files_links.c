/* Files: link, linkat, symlink, symlinkat, readlink, readlinkat, rename,
 * renameat, renameat2, unlink and unlinkat.
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

/* ---- link / linkat --------------------------------------------------------------- */

TEST(link, same_inode) {
    scratch();
    struct stat a;
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_link, P("f"), P("g")));
    EXPECT_OK(stat(P("f"), &a));
    EXPECT_OK(stat(P("g"), &S));
    EXPECT_EQ(a.st_ino, S.st_ino);
    EXPECT_EQ(S.st_nlink, 2);
}

TEST(link, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(mkfile(P("g"), "y"));
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_ERRNO(syscall(SYS_link, P("f"), P("g")), EEXIST);
    EXPECT_ERRNO(syscall(SYS_link, P("nope"), P("h")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_link, P("d"), P("h")), EPERM);
    EXPECT_ERRNO(syscall(SYS_link, P("f"), P("no/h")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_link, P("f"), BAD), EFAULT);
}

TEST(linkat, symlink_follow_flag) {
    scratch();
    int dfd = opendir_("");
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_linkat, dfd, "l", dfd, "h1", 0));
    EXPECT_OK(lstat(P("h1"), &S));
    EXPECT_TRUE(S_ISLNK(S.st_mode));
    EXPECT_OK(syscall(SYS_linkat, dfd, "l", dfd, "h2", AT_SYMLINK_FOLLOW));
    EXPECT_OK(lstat(P("h2"), &S));
    EXPECT_TRUE(S_ISREG(S.st_mode));
    EXPECT_EQ(S.st_nlink, 2);
    EXPECT_ERRNO(syscall(SYS_linkat, dfd, "f", dfd, "h3", 0x1), EINVAL);
}

/* The documented way to give an O_TMPFILE file a name without
 * CAP_DAC_READ_SEARCH: link its /proc/self/fd entry. */
TEST(linkat, o_tmpfile_via_proc_self_fd) {
    scratch();
    char path[64];
    int fd = fx("", NULL, O_TMPFILE | O_RDWR);
    EXPECT_EQ(write(fd, "tmp", 3), 3);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    EXPECT_OK(syscall(SYS_linkat, AT_FDCWD, path, AT_FDCWD, P("named"), AT_SYMLINK_FOLLOW));
    EXPECT_STREQ(slurp(P("named")), "tmp");
}

/* AT_EMPTY_PATH: since Linux 6.10 a file opened with the caller's own
 * credentials may be linked without CAP_DAC_READ_SEARCH (which the sandbox
 * lacks), so this succeeds natively and in the sandbox alike. */
TEST(linkat, empty_path_own_file) {
    scratch();
    int fd = fx("f", "own", O_RDONLY);
    EXPECT_OK(syscall(SYS_linkat, fd, "", AT_FDCWD, P("g"), AT_EMPTY_PATH));
    EXPECT_STREQ(slurp(P("g")), "own");
    EXPECT_ERRNO(syscall(SYS_linkat, fd, "", AT_FDCWD, P("g"), AT_EMPTY_PATH), EEXIST);
    EXPECT_ERRNO(syscall(SYS_linkat, -1, "", AT_FDCWD, P("h"), AT_EMPTY_PATH), EBADF);
}

/* ---- symlink / symlinkat / readlink / readlinkat ------------------------------------ */

TEST(symlink, roundtrip_and_errors) {
    scratch();
    char buf[64] = {0};
    EXPECT_OK(syscall(SYS_symlink, "any/target", P("l")));
    EXPECT_EQ(readlink(P("l"), buf, sizeof buf), 10);
    EXPECT_STREQ(buf, "any/target");
    EXPECT_ERRNO(syscall(SYS_symlink, "x", P("l")), EEXIST);
    EXPECT_ERRNO(syscall(SYS_symlink, "", P("m")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_symlink, "x", P("no/m")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_symlink, BAD, P("m")), EFAULT);
}

TEST(symlinkat, relative_to_dirfd) {
    scratch();
    int dfd = opendir_("");
    EXPECT_OK(syscall(SYS_symlinkat, "t", dfd, "l"));
    EXPECT_OK(lstat(P("l"), &S));
    EXPECT_TRUE(S_ISLNK(S.st_mode));
    EXPECT_ERRNO(syscall(SYS_symlinkat, "t", -1, "m"), EBADF);
}

TEST(readlink, truncates_without_nul) {
    scratch();
    char buf[8];
    memset(buf, '#', sizeof buf);
    EXPECT_OK(symlink("abcdef", P("l")));
    EXPECT_EQ(syscall(SYS_readlink, P("l"), buf, 3), 3);
    EXPECT_EQ(memcmp(buf, "abc#", 4), 0);
}

TEST(readlink, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("abcdef", P("l")));
    EXPECT_ERRNO(syscall(SYS_readlink, P("f"), B, sizeof B), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readlink, D, B, sizeof B), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readlink, P("l"), B, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readlink, P("nope"), B, sizeof B), ENOENT);
    EXPECT_ERRNO(syscall(SYS_readlink, P("l"), BAD, sizeof B), EFAULT);
}

TEST(readlinkat, dirfd_and_empty_path) {
    scratch();
    char buf[16] = {0};
    int dfd = opendir_(""), lfd;
    EXPECT_OK(symlink("target", P("l")));
    EXPECT_EQ(syscall(SYS_readlinkat, dfd, "l", buf, sizeof buf), 6);
    EXPECT_STREQ(buf, "target");
    EXPECT_OK(lfd = open(P("l"), O_PATH | O_NOFOLLOW));
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(syscall(SYS_readlinkat, lfd, "", buf, sizeof buf), 6);
    EXPECT_STREQ(buf, "target");
}

/* ---- rename / renameat / renameat2 ------------------------------------------------- */

TEST(rename, moves_and_replaces) {
    scratch();
    EXPECT_OK(mkfile(P("a"), "A"));
    EXPECT_OK(mkfile(P("b"), "B"));
    EXPECT_OK(syscall(SYS_rename, P("a"), P("c")));
    EXPECT_ERRNO(stat(P("a"), &S), ENOENT);
    EXPECT_OK(syscall(SYS_rename, P("c"), P("b")));
    EXPECT_STREQ(slurp(P("b")), "A");
    EXPECT_ERRNO(stat(P("c"), &S), ENOENT);
}

TEST(rename, dir_errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(mkdir(P("full"), 0755));
    EXPECT_OK(mkfile(P("full/x"), "x"));
    EXPECT_ERRNO(syscall(SYS_rename, P("f"), P("d")), EISDIR);
    EXPECT_ERRNO(syscall(SYS_rename, P("d"), P("f")), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_rename, P("d"), P("full")), ENOTEMPTY);
    EXPECT_ERRNO(syscall(SYS_rename, P("d"), P("d/sub")), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rename, P("nope"), P("x")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_rename, BAD, P("x")), EFAULT);
}

TEST(rename, dir_onto_empty_dir) {
    scratch();
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(mkfile(P("d/in"), "x"));
    EXPECT_OK(mkdir(P("e"), 0755));
    EXPECT_OK(syscall(SYS_rename, P("d"), P("e")));
    EXPECT_EQ(fsize(P("e/in")), 1);
}

TEST(rename, hard_links_same_inode_noop) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(link(P("f"), P("g")));
    EXPECT_OK(syscall(SYS_rename, P("f"), P("g")));
    EXPECT_OK(stat(P("f"), &S));
    EXPECT_EQ(S.st_nlink, 2);
}

TEST(renameat, relative_to_dirfds) {
    scratch();
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(mkfile(P("f"), "F"));
    EXPECT_OK(syscall(SYS_renameat, opendir_(""), "f", opendir_("d"), "g"));
    EXPECT_STREQ(slurp(P("d/g")), "F");
    EXPECT_ERRNO(syscall(SYS_renameat, -1, "f", AT_FDCWD, P("x")), EBADF);
}

TEST(renameat2, noreplace) {
    scratch();
    EXPECT_OK(mkfile(P("a"), "A"));
    EXPECT_OK(mkfile(P("b"), "B"));
    EXPECT_ERRNO(syscall(SYS_renameat2, AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_NOREPLACE), EEXIST);
    EXPECT_STREQ(slurp(P("b")), "B");
    EXPECT_OK(syscall(SYS_renameat2, AT_FDCWD, P("a"), AT_FDCWD, P("c"), RENAME_NOREPLACE));
    EXPECT_STREQ(slurp(P("c")), "A");
}

TEST(renameat2, exchange) {
    scratch();
    EXPECT_OK(mkfile(P("a"), "A"));
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(syscall(SYS_renameat2, AT_FDCWD, P("a"), AT_FDCWD, P("d"), RENAME_EXCHANGE));
    EXPECT_STREQ(slurp(P("d")), "A");
    EXPECT_OK(stat(P("a"), &S));
    EXPECT_TRUE(S_ISDIR(S.st_mode));
    EXPECT_ERRNO(syscall(SYS_renameat2, AT_FDCWD, P("a"), AT_FDCWD, P("nope"), RENAME_EXCHANGE), ENOENT);
}

TEST(renameat2, einval_flags) {
    scratch();
    EXPECT_OK(mkfile(P("a"), "A"));
    EXPECT_OK(mkfile(P("b"), "B"));
    EXPECT_ERRNO(syscall(SYS_renameat2, AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL);
    EXPECT_ERRNO(syscall(SYS_renameat2, AT_FDCWD, P("a"), AT_FDCWD, P("b"), 1 << 8), EINVAL);
}

/* ---- unlink / unlinkat ------------------------------------------------------------- */

TEST(unlink, file_and_errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(syscall(SYS_unlink, P("f")));
    EXPECT_ERRNO(stat(P("f"), &S), ENOENT);
    EXPECT_ERRNO(syscall(SYS_unlink, P("f")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_unlink, P("d")), EISDIR);
    EXPECT_ERRNO(syscall(SYS_unlink, BAD), EFAULT);
}

TEST(unlink, symlink_not_target) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(syscall(SYS_unlink, P("l")));
    EXPECT_EQ(fsize(P("f")), 1);
}

TEST(unlink, open_file_stays_readable) {
    scratch();
    int fd = fx("f", "still", O_RDONLY);
    char buf[8] = {0};
    EXPECT_OK(syscall(SYS_unlink, P("f")));
    EXPECT_EQ(read(fd, buf, sizeof buf), 5);
    EXPECT_STREQ(buf, "still");
    EXPECT_OK(fstat(fd, &S));
    EXPECT_EQ(S.st_nlink, 0);
}

TEST(unlinkat, removedir_flag) {
    scratch();
    int dfd = opendir_("");
    EXPECT_OK(mkdir(P("d"), 0755));
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_unlinkat, dfd, "f", AT_REMOVEDIR), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_unlinkat, dfd, "d", 0), EISDIR);
    EXPECT_ERRNO(syscall(SYS_unlinkat, dfd, "f", 0x1), EINVAL);
    EXPECT_OK(syscall(SYS_unlinkat, dfd, "d", AT_REMOVEDIR));
    EXPECT_OK(syscall(SYS_unlinkat, dfd, "f", 0));
    EXPECT_STREQ(listing(dfd, 0), ".(4),..(4)");
}
