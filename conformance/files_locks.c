/* Files: flock, fcntl record and OFD locks, fcntl F_GETFL/F_SETFL.
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

static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return "<open failed>";
    ssize_t n = read(fd, B, sizeof B - 1);
    close(fd);
    B[n < 0 ? 0 : n] = 0;
    return B;
}

/* ---- flock / fcntl locks --------------------------------------------------------------- */

TEST(flock, exclusive_conflicts_across_open_files) {
    scratch();
    int a = fx("f", "", O_RDWR), b = fx("f", NULL, O_RDWR);
    EXPECT_OK(syscall(SYS_flock, a, LOCK_EX));
    EXPECT_ERRNO(syscall(SYS_flock, b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    EXPECT_ERRNO(syscall(SYS_flock, b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
    EXPECT_OK(syscall(SYS_flock, a, LOCK_UN));
    EXPECT_OK(syscall(SYS_flock, b, LOCK_EX | LOCK_NB));
}

TEST(flock, shared_compatible_and_errors) {
    scratch();
    int a = fx("f", "", O_RDONLY), b = fx("f", NULL, O_RDONLY);
    EXPECT_OK(syscall(SYS_flock, a, LOCK_SH));
    EXPECT_OK(syscall(SYS_flock, b, LOCK_SH | LOCK_NB));
    EXPECT_ERRNO(syscall(SYS_flock, a, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_flock, -1, LOCK_SH), EBADF);
}

/* A write lock held by this process, seen from a forked child: F_GETLK
 * reports it with our pid, F_SETLK fails with EAGAIN. */
TEST(fcntl, setlk_getlk_across_processes) {
    scratch();
    int p[2], fd = fx("f", "0123456789", O_RDWR), st;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 4 };
    EXPECT_OK(pipe(p));
    EXPECT_OK(fcntl(fd, F_SETLK, &fl));
    pid_t self = getpid(), pid = fork();
    if (pid == 0) {
        struct flock q = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        int res[4] = { fcntl(fd, F_GETLK, &q), q.l_type, q.l_pid, (int)q.l_start };
        q.l_type = F_WRLCK;
        errno = 0;
        res[0] = res[0] < 0 ? -1 : fcntl(fd, F_SETLK, &q) < 0 ? errno : 0;
        _exit(write(p[1], res, sizeof res) == sizeof res ? 0 : 1);
    }
    int res[4];
    EXPECT_EQ(read(p[0], res, sizeof res), sizeof res);
    EXPECT_OK(waitpid(pid, &st, 0));
    EXPECT_EQ(res[0], EAGAIN);
    EXPECT_EQ(res[1], F_WRLCK);
    EXPECT_EQ(res[2], self);
    EXPECT_EQ(res[3], 2);
}

TEST(fcntl, own_lock_does_not_conflict) {
    scratch();
    int fd = fx("f", "x", O_RDWR);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    EXPECT_OK(fcntl(fd, F_SETLK, &fl));
    EXPECT_OK(fcntl(fd, F_GETLK, &fl));
    EXPECT_EQ(fl.l_type, F_UNLCK);
}

TEST(fcntl, lock_errors) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &fl), EBADF);
    fl.l_type = 99;
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &fl), EINVAL);
    fl.l_type = F_RDLCK;
    fl.l_whence = 7;
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &fl), EINVAL);
    EXPECT_ERRNO(fcntl(fd, F_GETLK, BAD), EFAULT);
}

TEST(fcntl, ofd_locks_conflict_within_process) {
    scratch();
    int a = fx("f", "x", O_RDWR), b = fx("f", NULL, O_RDWR);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    EXPECT_OK(fcntl(a, F_OFD_SETLK, &fl));
    EXPECT_ERRNO(fcntl(b, F_OFD_SETLK, &fl), EAGAIN);
    EXPECT_OK(fcntl(b, F_OFD_GETLK, &fl));
    EXPECT_EQ(fl.l_type, F_WRLCK);
    EXPECT_EQ(fl.l_pid, -1);
    fl.l_pid = 1;
    EXPECT_ERRNO(fcntl(b, F_OFD_SETLK, &fl), EINVAL);
}

TEST(fcntl, getfl_setfl_append) {
    scratch();
    int fd = fx("f", "abc", O_RDWR);
    EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_RDWR);
    EXPECT_OK(fcntl(fd, F_SETFL, O_APPEND));
    EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_RDWR | O_APPEND);
    EXPECT_EQ(write(fd, "d", 1), 1);
    EXPECT_STREQ(slurp(P("f")), "abcd");
}
