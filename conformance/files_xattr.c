/* Files: extended attributes, the set/get/list/remove xattr family on
 * paths, symlinks (l*) and fds (f*).
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
#include <sys/xattr.h>

/* ---- xattr: user.* on /tmp (ext4 natively, tmpfs in the sandbox) ------------------------ */

/* The attribute names of a list, sorted and joined with ','. */
static const char *names(const char *list, long len)
{
    static char out[256];
    const char *v[16];
    int n = 0;
    for (long o = 0; o < len && n < 16; o += strlen(list + o) + 1) v[n++] = list + o;
    qsort(v, n, sizeof *v, by_name);
    out[0] = 0;
    for (int i = 0; i < n; i++) { if (i) strcat(out, ","); strcat(out, v[i]); }
    return out;
}

TEST(setxattr, getxattr_roundtrip) {
    scratch();
    char buf[16] = {0};
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(syscall(SYS_setxattr, P("f"), "user.k", "value", 5L, 0));
    EXPECT_EQ(syscall(SYS_getxattr, P("f"), "user.k", buf, sizeof buf), 5);
    EXPECT_STREQ(buf, "value");
    EXPECT_EQ(syscall(SYS_getxattr, P("f"), "user.k", NULL, 0L), 5);
    EXPECT_OK(syscall(SYS_setxattr, P("f"), "user.empty", "", 0L, 0));
    EXPECT_EQ(syscall(SYS_getxattr, P("f"), "user.empty", buf, sizeof buf), 0);
}

TEST(setxattr, create_and_replace_flags) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_setxattr, P("f"), "user.k", "v", 1L, XATTR_REPLACE), ENODATA);
    EXPECT_OK(syscall(SYS_setxattr, P("f"), "user.k", "v", 1L, XATTR_CREATE));
    EXPECT_ERRNO(syscall(SYS_setxattr, P("f"), "user.k", "w", 1L, XATTR_CREATE), EEXIST);
    EXPECT_OK(syscall(SYS_setxattr, P("f"), "user.k", "ww", 2L, XATTR_REPLACE));
    EXPECT_EQ(syscall(SYS_getxattr, P("f"), "user.k", NULL, 0L), 2);
    EXPECT_ERRNO(syscall(SYS_setxattr, P("f"), "user.k", "v", 1L, 4), EINVAL);
}

TEST(setxattr, errors) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_setxattr, P("f"), "bogus.k", "v", 1L, 0), EOPNOTSUPP);
    EXPECT_ERRNO(syscall(SYS_setxattr, P("f"), "", "v", 1L, 0), ERANGE);
    EXPECT_ERRNO(syscall(SYS_setxattr, P("nope"), "user.k", "v", 1L, 0), ENOENT);
    EXPECT_ERRNO(syscall(SYS_setxattr, P("f"), "user.k", BAD, 1L, 0), EFAULT);
    EXPECT_ERRNO(syscall(SYS_setxattr, BAD, "user.k", "v", 1L, 0), EFAULT);
}

TEST(getxattr, enodata_and_erange) {
    scratch();
    char buf[4];
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_ERRNO(syscall(SYS_getxattr, P("f"), "user.none", buf, sizeof buf), ENODATA);
    EXPECT_OK(setxattr(P("f"), "user.k", "long value", 10, 0));
    EXPECT_ERRNO(syscall(SYS_getxattr, P("f"), "user.k", buf, sizeof buf), ERANGE);
    EXPECT_ERRNO(syscall(SYS_getxattr, P("f"), "user.k", BAD, 64L), EFAULT);
}

TEST(listxattr, names_and_erange) {
    scratch();
    char buf[64];
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_EQ(syscall(SYS_listxattr, P("f"), buf, sizeof buf), 0);
    EXPECT_OK(setxattr(P("f"), "user.b", "1", 1, 0));
    EXPECT_OK(setxattr(P("f"), "user.a", "2", 1, 0));
    EXPECT_EQ(syscall(SYS_listxattr, P("f"), NULL, 0L), 14);
    EXPECT_EQ(syscall(SYS_listxattr, P("f"), buf, sizeof buf), 14);
    EXPECT_STREQ(names(buf, 14), "user.a,user.b");
    EXPECT_ERRNO(syscall(SYS_listxattr, P("f"), buf, 5L), ERANGE);
    EXPECT_ERRNO(syscall(SYS_listxattr, P("nope"), buf, sizeof buf), ENOENT);
}

TEST(removexattr, removes_then_enodata) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(setxattr(P("f"), "user.k", "v", 1, 0));
    EXPECT_OK(syscall(SYS_removexattr, P("f"), "user.k"));
    EXPECT_ERRNO(getxattr(P("f"), "user.k", NULL, 0), ENODATA);
    EXPECT_ERRNO(syscall(SYS_removexattr, P("f"), "user.k"), ENODATA);
}

/* user.* attributes exist only on regular files and directories: on a
 * symlink, reads find nothing and writes are refused. */
TEST(lsetxattr, user_namespace_on_symlink) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_ERRNO(syscall(SYS_lsetxattr, P("l"), "user.k", "v", 1L, 0), EPERM);
    EXPECT_OK(syscall(SYS_setxattr, P("l"), "user.k", "v", 1L, 0));
    EXPECT_EQ(getxattr(P("f"), "user.k", NULL, 0), 1);
}

TEST(lgetxattr, symlink_itself) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(setxattr(P("f"), "user.k", "val", 3, 0));
    EXPECT_ERRNO(syscall(SYS_lgetxattr, P("l"), "user.k", B, sizeof B), ENODATA);
    EXPECT_EQ(syscall(SYS_getxattr, P("l"), "user.k", B, sizeof B), 3);
    EXPECT_EQ(syscall(SYS_lgetxattr, P("f"), "user.k", B, sizeof B), 3);
}

TEST(llistxattr, symlink_itself) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(setxattr(P("f"), "user.k", "v", 1, 0));
    EXPECT_EQ(syscall(SYS_llistxattr, P("l"), B, sizeof B), 0);
    EXPECT_EQ(syscall(SYS_listxattr, P("l"), B, sizeof B), 7);
}

TEST(lremovexattr, symlink_eperm) {
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    EXPECT_OK(symlink("f", P("l")));
    EXPECT_OK(setxattr(P("f"), "user.k", "v", 1, 0));
    EXPECT_ERRNO(syscall(SYS_lremovexattr, P("l"), "user.k"), EPERM);
    EXPECT_OK(syscall(SYS_lremovexattr, P("f"), "user.k"));
}

TEST(fsetxattr, fd_family) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    char buf[16] = {0};
    EXPECT_OK(syscall(SYS_fsetxattr, fd, "user.fd", "abc", 3L, XATTR_CREATE));
    EXPECT_ERRNO(syscall(SYS_fsetxattr, fd, "user.fd", "abc", 3L, XATTR_CREATE), EEXIST);
    EXPECT_EQ(getxattr(P("f"), "user.fd", buf, sizeof buf), 3);
    EXPECT_STREQ(buf, "abc");
    EXPECT_ERRNO(syscall(SYS_fsetxattr, -1, "user.fd", "abc", 3L, 0), EBADF);
}

TEST(fgetxattr, fd_and_errors) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    char buf[2];
    EXPECT_OK(setxattr(P("f"), "user.k", "xyz", 3, 0));
    EXPECT_EQ(syscall(SYS_fgetxattr, fd, "user.k", NULL, 0L), 3);
    EXPECT_ERRNO(syscall(SYS_fgetxattr, fd, "user.k", buf, sizeof buf), ERANGE);
    EXPECT_ERRNO(syscall(SYS_fgetxattr, fd, "user.no", buf, sizeof buf), ENODATA);
    EXPECT_ERRNO(syscall(SYS_fgetxattr, -1, "user.k", buf, sizeof buf), EBADF);
}

TEST(flistxattr, fd_names) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    char buf[64];
    EXPECT_OK(setxattr(P("f"), "user.one", "1", 1, 0));
    EXPECT_OK(setxattr(P("f"), "user.two", "2", 1, 0));
    EXPECT_EQ(syscall(SYS_flistxattr, fd, buf, sizeof buf), 18);
    EXPECT_STREQ(names(buf, 18), "user.one,user.two");
    EXPECT_ERRNO(syscall(SYS_flistxattr, fd, buf, 3L), ERANGE);
    EXPECT_ERRNO(syscall(SYS_flistxattr, -1, buf, sizeof buf), EBADF);
}

TEST(fremovexattr, fd_remove) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_OK(setxattr(P("f"), "user.k", "1", 1, 0));
    EXPECT_OK(syscall(SYS_fremovexattr, fd, "user.k"));
    EXPECT_ERRNO(syscall(SYS_fremovexattr, fd, "user.k"), ENODATA);
    EXPECT_ERRNO(syscall(SYS_fremovexattr, -1, "user.k"), EBADF);
}
