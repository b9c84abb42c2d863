/* Area "files", part 2: directories, links and rename, modes and owners,
 * truncate, times, xattrs, mknod, statfs, sync, fallocate, copy_file_range,
 * sendfile, fadvise64/readahead, flock and fcntl locks.  Part 1 is files.c.
 *
 * Every case that touches files calls scratch() first: it makes a fresh
 * directory D, and the rest of the case runs in a child while the parent
 * waits, removes D whatever happened, and passes the child's status on.
 */
#include "harness.h"
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>
#include <utime.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static char D[32];
static struct stat S;
static char B[256];
/* An unmapped address, hidden from the compiler's buffer-size checks. */
static void *volatile bad_ptr = (void *)1;
#define BAD (bad_ptr)

static int rm_one(const char *p, const struct stat *s, int type, struct FTW *f)
{
    (void)s; (void)type; (void)f;
    remove(p);
    return 0;
}

static void scratch(void)
{
    strcpy(D, "/tmp/conf.XXXXXX");
    if (!mkdtemp(D)) SB_FAIL("mkdtemp: %s", sb_errname(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) { alarm(10); return; }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (chdir("/") == 0) nftw(D, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (WIFSIGNALED(st)) { signal(WTERMSIG(st), SIG_DFL); raise(WTERMSIG(st)); }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* D/name, in one of 4 rotating buffers. */
static const char *P(const char *name)
{
    static char buf[4][256]; static int i;
    char *b = buf[i++ & 3];
    snprintf(b, 256, "%s/%s", D, name);
    return b;
}

static int mkfile(const char *path, const char *content)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return -1;
    ssize_t n = write(fd, content, strlen(content));
    close(fd);
    return n == (ssize_t)strlen(content) ? 0 : -1;
}

/* Create D/name holding content (unless content is NULL), open it with flags. */
static int fx(const char *name, const char *content, int flags)
{
    if (content && mkfile(P(name), content) < 0) SB_FAIL("mkfile %s: %s", name, sb_errname(errno));
    int fd = open(name[0] ? P(name) : D, flags, 0644);
    if (fd < 0) SB_FAIL("open %s: %s", name, sb_errname(errno));
    return fd;
}

static long fsize(const char *path)
{
    return stat(path, &S) < 0 ? -1 : (long)S.st_size;
}

static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return "<open failed>";
    ssize_t n = read(fd, B, sizeof B - 1);
    close(fd);
    B[n < 0 ? 0 : n] = 0;
    return B;
}

static int opendir_(const char *name) { return fx(name, NULL, O_RDONLY | O_DIRECTORY); }

struct linux_dirent64 { unsigned long long d_ino; long long d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The entries of directory fd as "name(d_type)" sorted and joined with ','. */
static const char *listing(int fd, int legacy)
{
    static char out[512], names[32][72];
    char buf[600], *v[32];
    int n = 0;
    long r;
    while ((r = syscall(legacy ? SYS_getdents : SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long o = 0; o < r && n < 32; n++) {
            struct linux_dirent64 *d = (void *)(buf + o);
            if (legacy) /* ino, off, reclen, name..., type in the last byte */
                snprintf(names[n], 72, "%s(%d)", buf + o + 18, buf[o + *(unsigned short *)(buf + o + 16) - 1]);
            else
                snprintf(names[n], 72, "%s(%d)", d->d_name, d->d_type);
            v[n] = names[n];
            o += legacy ? *(unsigned short *)(buf + o + 16) : d->d_reclen;
        }
    if (r < 0) return sb_errname(errno);
    qsort(v, n, sizeof *v, by_name);
    out[0] = 0;
    for (int i = 0; i < n; i++) { if (i) strcat(out, ","); strcat(out, v[i]); }
    return out;
}

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
