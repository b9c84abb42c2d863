/* Files: fallocate, truncate and ftruncate.
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
