/* Area "files", part 1: open/openat/creat/openat2, the read/write family,
 * lseek, the stat family, access, sync, fadvise64/readahead, fallocate,
 * copy_file_range, sendfile, flock and fcntl locks.  Part 2 is files2.c.
 *
 * Every case that touches files calls scratch() first: it makes a fresh
 * directory D, and the rest of the case runs in a child while the parent
 * waits, removes D whatever happened, and passes the child's status on.
 */
#include "harness.h"
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static char D[32];
static struct stat S;
static struct statx X;
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

/* ---- read / write ------------------------------------------------------------- */

TEST(read, ebadf) {
    char c;
    EXPECT_ERRNO(read(-1, &c, 1), EBADF);
    EXPECT_ERRNO(read(4000, &c, 1), EBADF);
}

TEST(read, ebadf_on_wronly) {
    scratch();
    char c;
    int fd = fx("f", "", O_WRONLY);
    EXPECT_ERRNO(read(fd, &c, 1), EBADF);
}

TEST(read, efault_bad_buffer) {
    scratch();
    int fd = fx("f", "hello", O_RDONLY);
    EXPECT_ERRNO(read(fd, BAD, 5), EFAULT);
}

TEST(read, eisdir_on_dir) {
    scratch();
    int fd = fx("", NULL, O_RDONLY);
    EXPECT_ERRNO(read(fd, B, sizeof B), EISDIR);
}

TEST(read, data_then_eof) {
    scratch();
    int fd = fx("f", "hello", O_RDONLY);
    memset(B, 0, sizeof B);
    EXPECT_EQ(read(fd, B, 3), 3);
    EXPECT_EQ(read(fd, B + 3, 10), 2);
    EXPECT_EQ(read(fd, B + 5, 10), 0);
    EXPECT_STREQ(B, "hello");
}

TEST(write, ebadf_on_rdonly) {
    scratch();
    int fd = fx("f", "x", O_RDONLY);
    EXPECT_ERRNO(write(fd, "y", 1), EBADF);
    EXPECT_ERRNO(write(-1, "y", 1), EBADF);
}

TEST(write, efault_bad_buffer) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    EXPECT_ERRNO(write(fd, BAD, 5), EFAULT);
    EXPECT_EQ(fsize(P("f")), 0);
}

TEST(write, zero_length) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    EXPECT_EQ(write(fd, "x", 0), 0);
    EXPECT_EQ(fsize(P("f")), 0);
}

/* ---- pread64 / pwrite64 -------------------------------------------------------- */

TEST(pread64, keeps_file_offset) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    char buf[8] = {0};
    EXPECT_EQ(syscall(SYS_pread64, fd, buf, 3, 4L), 3);
    EXPECT_STREQ(buf, "456");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
    EXPECT_EQ(syscall(SYS_pread64, fd, buf, 3, 100L), 0);
}

TEST(pread64, espipe_on_pipe) {
    int p[2];
    char c;
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_pread64, p[0], &c, 1, 0L), ESPIPE);
}

TEST(pread64, einval_negative_offset) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    char c;
    EXPECT_ERRNO(syscall(SYS_pread64, fd, &c, 1, -1L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pread64, -1, &c, 1, 0L), EBADF);
}

TEST(pwrite64, at_offset_leaves_zero_hole) {
    scratch();
    int fd = fx("f", "", O_RDWR);
    char buf[8];
    EXPECT_EQ(syscall(SYS_pwrite64, fd, "ab", 2, 4L), 2);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
    EXPECT_EQ(read(fd, buf, 8), 6);
    EXPECT_EQ(memcmp(buf, "\0\0\0\0ab", 6), 0);
}

TEST(pwrite64, espipe_and_einval) {
    scratch();
    int p[2], fd = fx("f", "", O_RDWR);
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_pwrite64, p[1], "x", 1, 0L), ESPIPE);
    EXPECT_ERRNO(syscall(SYS_pwrite64, fd, "x", 1, -5L), EINVAL);
}

TEST(pwrite64, o_append_ignores_offset) {
    scratch();
    int fd = fx("f", "abc", O_WRONLY | O_APPEND);
    EXPECT_EQ(syscall(SYS_pwrite64, fd, "Z", 1, 0L), 1);
    EXPECT_STREQ(slurp(P("f")), "abcZ");
}

/* ---- readv / writev / preadv / pwritev / preadv2 / pwritev2 -------------------- */

TEST(readv, scatters_in_order) {
    scratch();
    int fd = fx("f", "abcdefg", O_RDONLY);
    char a[3] = {0}, b[8] = {0};
    struct iovec iov[2] = { { a, 2 }, { b, 8 } };
    EXPECT_EQ(syscall(SYS_readv, fd, iov, 2), 7);
    EXPECT_STREQ(a, "ab");
    EXPECT_STREQ(b, "cdefg");
}

TEST(readv, einval_bad_iovcnt) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    char c;
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(syscall(SYS_readv, fd, &iov, -1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readv, fd, &iov, 1025), EINVAL);
}

TEST(readv, efault_and_ebadf) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    struct iovec iov = { BAD, 3 };
    EXPECT_ERRNO(syscall(SYS_readv, fd, BAD, 1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_readv, fd, &iov, 1), EFAULT);
    EXPECT_ERRNO(syscall(SYS_readv, -1, &iov, 1), EBADF);
}

TEST(writev, gathers_in_order) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    struct iovec iov[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
    EXPECT_EQ(syscall(SYS_writev, fd, iov, 3), 5);
    EXPECT_STREQ(slurp(P("f")), "abcde");
}

TEST(writev, einval_efault_ebadf) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    struct iovec iov = { "x", 1 };
    EXPECT_ERRNO(syscall(SYS_writev, fd, &iov, 1025), EINVAL);
    EXPECT_ERRNO(syscall(SYS_writev, -1, &iov, 1), EBADF);
    EXPECT_ERRNO(syscall(SYS_writev, fd, BAD, 1), EFAULT);
}

TEST(preadv, at_offset_keeps_position) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    char a[3] = {0}, b[3] = {0};
    struct iovec iov[2] = { { a, 2 }, { b, 2 } };
    EXPECT_EQ(syscall(SYS_preadv, fd, iov, 2, 5L, 0L), 4);
    EXPECT_STREQ(a, "56");
    EXPECT_STREQ(b, "78");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
}

TEST(preadv, einval_negative_and_espipe) {
    scratch();
    int p[2], fd = fx("f", "abc", O_RDONLY);
    char c;
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(syscall(SYS_preadv, fd, &iov, 1, -2L, 0L), EINVAL);
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(syscall(SYS_preadv, p[0], &iov, 1, 0L, 0L), ESPIPE);
}

TEST(pwritev, at_offset) {
    scratch();
    int fd = fx("f", "aaaaaa", O_WRONLY);
    struct iovec iov[2] = { { "X", 1 }, { "YZ", 2 } };
    EXPECT_EQ(syscall(SYS_pwritev, fd, iov, 2, 2L, 0L), 3);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
    EXPECT_STREQ(slurp(P("f")), "aaXYZa");
    EXPECT_ERRNO(syscall(SYS_pwritev, fd, iov, 2, -1L, 0L), EINVAL);
}

TEST(preadv2, offset_minus1_uses_position) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    char a[4] = {0};
    struct iovec iov = { a, 3 };
    EXPECT_EQ(lseek(fd, 2, SEEK_SET), 2);
    EXPECT_EQ(syscall(SYS_preadv2, fd, &iov, 1, -1L, 0L, 0), 3);
    EXPECT_STREQ(a, "234");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5);
    EXPECT_EQ(syscall(SYS_preadv2, fd, &iov, 1, 0L, 0L, 0), 3);
    EXPECT_STREQ(a, "012");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5);
}

TEST(preadv2, eopnotsupp_unknown_flag) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    char c;
    struct iovec iov = { &c, 1 };
    EXPECT_ERRNO(syscall(SYS_preadv2, fd, &iov, 1, 0L, 0L, 0x40000000), EOPNOTSUPP);
    EXPECT_ERRNO(syscall(SYS_preadv2, fd, &iov, 1, -2L, 0L, 0), EINVAL);
}

TEST(pwritev2, rwf_append) {
    scratch();
    int fd = fx("f", "abc", O_WRONLY);
    struct iovec iov = { "Z", 1 };
    EXPECT_EQ(syscall(SYS_pwritev2, fd, &iov, 1, 0L, 0L, RWF_APPEND), 1);
    EXPECT_STREQ(slurp(P("f")), "abcZ");
}

TEST(pwritev2, offset_minus1_advances) {
    scratch();
    int fd = fx("f", "", O_WRONLY);
    struct iovec iov = { "hey", 3 };
    EXPECT_EQ(syscall(SYS_pwritev2, fd, &iov, 1, -1L, 0L, 0), 3);
    EXPECT_EQ(syscall(SYS_pwritev2, fd, &iov, 1, -1L, 0L, 0), 3);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 6);
    EXPECT_STREQ(slurp(P("f")), "heyhey");
    EXPECT_ERRNO(syscall(SYS_pwritev2, fd, &iov, 1, 0L, 0L, 0x40000000), EOPNOTSUPP);
}

/* ---- lseek ---------------------------------------------------------------------- */

TEST(lseek, set_cur_end) {
    scratch();
    int fd = fx("f", "0123456789", O_RDONLY);
    EXPECT_EQ(lseek(fd, 3, SEEK_SET), 3);
    EXPECT_EQ(lseek(fd, 2, SEEK_CUR), 5);
    EXPECT_EQ(lseek(fd, -1, SEEK_END), 9);
    EXPECT_EQ(lseek(fd, 100, SEEK_SET), 100);
    EXPECT_EQ(read(fd, B, 1), 0);
}

TEST(lseek, einval_bad_whence_or_negative) {
    scratch();
    int fd = fx("f", "abc", O_RDONLY);
    EXPECT_ERRNO(lseek(fd, 0, 99), EINVAL);
    EXPECT_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
    EXPECT_ERRNO(lseek(fd, -10, SEEK_END), EINVAL);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
}

TEST(lseek, espipe_and_ebadf) {
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(lseek(p[0], 0, SEEK_SET), ESPIPE);
    EXPECT_ERRNO(lseek(-1, 0, SEEK_SET), EBADF);
}

TEST(lseek, seek_data_and_hole) {
    scratch();
    int fd = fx("f", "", O_RDWR);
    EXPECT_EQ(pwrite(fd, "data", 4, 1 << 20), 4);
    EXPECT_EQ(lseek(fd, 0, SEEK_DATA), 1 << 20);
    EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), 0);
    EXPECT_EQ(lseek(fd, 1 << 20, SEEK_HOLE), (1 << 20) + 4);
    EXPECT_ERRNO(lseek(fd, (1 << 20) + 4, SEEK_DATA), ENXIO);
    EXPECT_ERRNO(lseek(fd, (1 << 20) + 10, SEEK_HOLE), ENXIO);
}

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

/* ---- sync / fsync / fdatasync / syncfs / sync_file_range ----------------------------- */

TEST(sync, succeeds) {
    EXPECT_OK(syscall(SYS_sync));
}

TEST(fsync, file_pipe_and_ebadf) {
    scratch();
    int p[2], fd = fx("f", "x", O_WRONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_fsync, fd));
    EXPECT_OK(syscall(SYS_fsync, fx("", NULL, O_RDONLY)));
    EXPECT_ERRNO(syscall(SYS_fsync, p[0]), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fsync, -1), EBADF);
}

TEST(fdatasync, file_pipe_and_ebadf) {
    scratch();
    int p[2], fd = fx("f", "x", O_WRONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_fdatasync, fd));
    EXPECT_ERRNO(syscall(SYS_fdatasync, p[1]), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fdatasync, -1), EBADF);
}

TEST(syncfs, fd_and_ebadf) {
    scratch();
    EXPECT_OK(syscall(SYS_syncfs, fx("", NULL, O_RDONLY)));
    EXPECT_ERRNO(syscall(SYS_syncfs, -1), EBADF);
}

TEST(sync_file_range, flags_and_espipe) {
    scratch();
    int p[2], fd = fx("f", "abc", O_WRONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_sync_file_range, fd, 0L, 0L, SYNC_FILE_RANGE_WRITE));
    EXPECT_ERRNO(syscall(SYS_sync_file_range, fd, 0L, 0L, 0x10), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sync_file_range, fd, -1L, 0L, SYNC_FILE_RANGE_WRITE), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sync_file_range, p[1], 0L, 0L, SYNC_FILE_RANGE_WRITE), ESPIPE);
}

/* ---- fadvise64 / readahead -------------------------------------------------------- */

TEST(fadvise64, advice_and_errors) {
    scratch();
    int p[2], fd = fx("f", "abc", O_RDONLY);
    EXPECT_OK(pipe(p));
    EXPECT_EQ(syscall(SYS_fadvise64, fd, 0L, 0L, POSIX_FADV_SEQUENTIAL), 0);
    EXPECT_EQ(syscall(SYS_fadvise64, fd, 0L, 3L, POSIX_FADV_DONTNEED), 0);
    EXPECT_ERRNO(syscall(SYS_fadvise64, fd, 0L, 0L, 99), EINVAL);
    EXPECT_ERRNO(syscall(SYS_fadvise64, p[0], 0L, 0L, POSIX_FADV_NORMAL), ESPIPE);
    EXPECT_ERRNO(syscall(SYS_fadvise64, -1, 0L, 0L, POSIX_FADV_NORMAL), EBADF);
}

TEST(readahead, file_and_errors) {
    scratch();
    int p[2], fd = fx("f", "abc", O_RDONLY);
    EXPECT_OK(pipe(p));
    EXPECT_OK(syscall(SYS_readahead, fd, 0L, 4096L));
    EXPECT_ERRNO(syscall(SYS_readahead, p[0], 0L, 10L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readahead, fx("f", NULL, O_WRONLY), 0L, 10L), EBADF);
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

/* ---- copy_file_range / sendfile ---------------------------------------------------------- */

TEST(copy_file_range, copies_with_offsets) {
    scratch();
    int in = fx("a", "0123456789", O_RDONLY), out = fx("b", "", O_WRONLY);
    loff_t oin = 2, oout = 1;
    EXPECT_EQ(syscall(SYS_copy_file_range, in, &oin, out, &oout, 5L, 0), 5);
    EXPECT_EQ(oin, 7);
    EXPECT_EQ(oout, 6);
    EXPECT_EQ(lseek(in, 0, SEEK_CUR), 0);
    EXPECT_EQ(syscall(SYS_copy_file_range, in, NULL, out, NULL, 3L, 0), 3);
    EXPECT_EQ(lseek(out, 0, SEEK_CUR), 3);
    EXPECT_EQ(fsize(P("b")), 6);
    EXPECT_EQ(memcmp(slurp(P("b")), "012456", 6), 0);
}

TEST(copy_file_range, errors) {
    scratch();
    int in = fx("a", "0123456789", O_RDWR), out = fx("b", "", O_WRONLY);
    loff_t o1 = 0, o2 = 2;
    EXPECT_ERRNO(syscall(SYS_copy_file_range, in, NULL, out, NULL, 5L, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, in, &o1, in, &o2, 5L, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, -1, NULL, out, NULL, 5L, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, in, NULL, fx("b", NULL, O_WRONLY | O_APPEND), NULL, 5L, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_copy_file_range, fx("", NULL, O_RDONLY), NULL, out, NULL, 5L, 0), EISDIR);
}

TEST(sendfile, file_to_pipe_with_offset) {
    scratch();
    int p[2], in = fx("a", "hello world", O_RDONLY);
    char buf[16] = {0};
    off_t off = 6;
    EXPECT_OK(pipe(p));
    EXPECT_EQ(syscall(SYS_sendfile, p[1], in, &off, 5L), 5);
    EXPECT_EQ(off, 11);
    EXPECT_EQ(lseek(in, 0, SEEK_CUR), 0);
    EXPECT_EQ(syscall(SYS_sendfile, p[1], in, NULL, 5L), 5);
    EXPECT_EQ(lseek(in, 0, SEEK_CUR), 5);
    EXPECT_EQ(read(p[0], buf, sizeof buf), 10);
    EXPECT_STREQ(buf, "worldhello");
}

TEST(sendfile, file_to_file) {
    scratch();
    int in = fx("a", "abcdef", O_RDONLY), out = fx("b", "", O_WRONLY);
    EXPECT_EQ(syscall(SYS_sendfile, out, in, NULL, 100L), 6);
    EXPECT_STREQ(slurp(P("b")), "abcdef");
    EXPECT_EQ(syscall(SYS_sendfile, out, in, NULL, 100L), 0);
}

TEST(sendfile, errors) {
    scratch();
    int in = fx("a", "abc", O_RDONLY), out = fx("b", "", O_WRONLY);
    EXPECT_ERRNO(syscall(SYS_sendfile, out, -1, NULL, 3L), EBADF);
    EXPECT_ERRNO(syscall(SYS_sendfile, out, fx("a", NULL, O_WRONLY), NULL, 3L), EBADF);
    EXPECT_ERRNO(syscall(SYS_sendfile, in, in, NULL, 3L), EBADF);
    EXPECT_ERRNO(syscall(SYS_sendfile, fx("b", NULL, O_WRONLY | O_APPEND), in, NULL, 3L), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sendfile, out, in, BAD, 3L), EFAULT);
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
