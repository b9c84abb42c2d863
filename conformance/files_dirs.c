/* Files: mkdir, mkdirat, rmdir, getdents64, getdents, chdir, fchdir,
 * getcwd, mknod and mknodat.
 *
 * Every case that touches files calls scratch() first: it makes a fresh
 * directory D, and the rest of the case runs in a child while the parent
 * waits, removes D whatever happened, and passes the child's status on.
 */
#include "harness.h"
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

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
