#include "harness.h"
/* Event fds: eventfd/eventfd2 and inotify. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* ---- eventfd / eventfd2 ---- */

static uint64_t efd_read(int fd)
{
    uint64_t v = 0;
    EXPECT_EQ(read(fd, &v, 8), 8);
    return v;
}

static void efd_write(int fd, uint64_t v)
{
    EXPECT_EQ(write(fd, &v, 8), 8);
}

TEST(eventfd, raw_initial_value)
{
    long fd = syscall(SYS_eventfd, 3);
    EXPECT_OK(fd);
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_EQ(efd_read(fd), 3);
}

TEST(eventfd2, counter_adds_and_resets)
{
    int fd = syscall(SYS_eventfd2, 5, EFD_NONBLOCK);
    EXPECT_OK(fd);
    efd_write(fd, 3);
    efd_write(fd, 2);
    EXPECT_EQ(efd_read(fd), 10);
    uint64_t v;
    EXPECT_ERRNO(read(fd, &v, 8), EAGAIN);
}

TEST(eventfd2, semaphore_decrements)
{
    int fd = syscall(SYS_eventfd2, 2, EFD_SEMAPHORE | EFD_NONBLOCK);
    EXPECT_OK(fd);
    EXPECT_EQ(efd_read(fd), 1);
    EXPECT_EQ(efd_read(fd), 1);
    uint64_t v;
    EXPECT_ERRNO(read(fd, &v, 8), EAGAIN);
    efd_write(fd, 1);
    EXPECT_EQ(efd_read(fd), 1);
}

TEST(eventfd2, eagain_nonblock_zero)
{
    int fd = syscall(SYS_eventfd2, 0, EFD_NONBLOCK);
    EXPECT_OK(fd);
    uint64_t v;
    EXPECT_ERRNO(read(fd, &v, 8), EAGAIN);
}

TEST(eventfd2, einval_short_read)
{
    int fd = syscall(SYS_eventfd2, 1, 0);
    uint32_t v;
    EXPECT_ERRNO(read(fd, &v, 4), EINVAL);
    EXPECT_ERRNO(read(fd, &v, 0), EINVAL);
}

TEST(eventfd2, einval_short_write)
{
    int fd = syscall(SYS_eventfd2, 0, 0);
    uint32_t v = 1;
    EXPECT_ERRNO(write(fd, &v, 4), EINVAL);
}

TEST(eventfd2, einval_write_all_ones)
{
    int fd = syscall(SYS_eventfd2, 0, 0);
    uint64_t v = UINT64_MAX;
    EXPECT_ERRNO(write(fd, &v, 8), EINVAL);
}

TEST(eventfd2, eagain_write_overflow)
{
    int fd = syscall(SYS_eventfd2, 1, EFD_NONBLOCK);
    uint64_t v = UINT64_MAX - 1;          /* the largest counter value */
    EXPECT_ERRNO(write(fd, &v, 8), EAGAIN);
    v = UINT64_MAX - 2;
    EXPECT_EQ(write(fd, &v, 8), 8);
    EXPECT_TRUE(efd_read(fd) == UINT64_MAX - 1);
}

TEST(eventfd2, long_buffer_reads_8)
{
    int fd = syscall(SYS_eventfd2, 7, 0);
    uint64_t v[2] = { 0, 0 };
    EXPECT_EQ(read(fd, v, sizeof v), 8);
    EXPECT_EQ(v[0], 7);
}

TEST(eventfd2, flags)
{
    int fd = syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
    EXPECT_OK(fd);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
}

TEST(eventfd2, einval_bad_flags)
{
    EXPECT_ERRNO(syscall(SYS_eventfd2, 0, 2), EINVAL);
    EXPECT_ERRNO(syscall(SYS_eventfd2, 0, O_APPEND), EINVAL);
}

TEST(eventfd2, poll_readiness)
{
    int fd = syscall(SYS_eventfd2, 0, 0);
    struct pollfd pfd = { fd, POLLIN | POLLOUT, 0 };
    EXPECT_EQ(poll(&pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLOUT);
    efd_write(fd, 1);
    EXPECT_EQ(poll(&pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLIN | POLLOUT);
}

TEST(eventfd2, efault_bad_buffer)
{
    int fd = syscall(SYS_eventfd2, 1, 0);
    EXPECT_ERRNO(syscall(SYS_read, fd, (void *)1, 8), EFAULT);
    EXPECT_ERRNO(syscall(SYS_write, fd, (void *)1, 8), EFAULT);
}

/* ---- inotify ---- */

/* A fresh scratch directory under /tmp, removed (with its entries) by
 * scratch_rm. */
static char dir[64];
static void scratch_mk(void)
{
    strcpy(dir, "/tmp/conf.XXXXXX");
    EXPECT_TRUE(mkdtemp(dir) != NULL);
}
static char *in_dir(const char *name)
{
    static char buf[4][128];
    static int i;
    char *b = buf[i++ & 3];
    snprintf(b, 128, "%s/%s", dir, name);
    return b;
}
static void scratch_rm(void)
{
    const char *names[] = { "f", "g", "sub", "hello" };
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
        if (unlink(in_dir(names[i])) < 0 && errno == EISDIR)
            rmdir(in_dir(names[i]));
        rmdir(in_dir(names[i]));
    }
    EXPECT_OK(rmdir(dir));
}

/* Read everything pending (non-blocking fd) into buf; returns bytes. */
static long in_read(int fd, char *buf, size_t len)
{
    long n = read(fd, buf, len);
    EXPECT_OK(n);
    return n;
}

TEST(inotify_init, raw)
{
    long fd = syscall(SYS_inotify_init);
    EXPECT_OK(fd);
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
}

TEST(inotify_init1, flags)
{
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    EXPECT_OK(fd);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    char buf[64];
    EXPECT_ERRNO(read(fd, buf, sizeof buf), EAGAIN);
}

TEST(inotify_init1, einval_bad_flags)
{
    EXPECT_ERRNO(inotify_init1(1), EINVAL);
    EXPECT_ERRNO(inotify_init1(O_APPEND), EINVAL);
}

TEST(inotify_add_watch, in_create_event)
{
    scratch_mk();
    int fd = inotify_init1(IN_NONBLOCK);
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    EXPECT_OK(wd);
    EXPECT_EQ(wd, 1);
    int f = open(in_dir("hello"), O_CREAT | O_WRONLY, 0600);
    EXPECT_OK(f);
    EXPECT_OK(close(f));
    char buf[4096] __attribute__((aligned(8)));
    long n = in_read(fd, buf, sizeof buf);
    struct inotify_event *ev = (struct inotify_event *)buf;
    EXPECT_EQ(n, sizeof *ev + ev->len);
    EXPECT_EQ(ev->wd, wd);
    EXPECT_EQ(ev->mask, IN_CREATE);
    EXPECT_EQ(ev->cookie, 0);
    EXPECT_EQ(ev->len, 16);            /* "hello" NUL-padded to 16 */
    EXPECT_STREQ(ev->name, "hello");
    scratch_rm();
}

TEST(inotify_add_watch, mkdir_isdir)
{
    scratch_mk();
    int fd = inotify_init1(IN_NONBLOCK);
    int wd = inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE);
    EXPECT_OK(wd);
    EXPECT_OK(mkdir(in_dir("sub"), 0700));
    EXPECT_OK(rmdir(in_dir("sub")));
    char buf[4096] __attribute__((aligned(8)));
    long n = in_read(fd, buf, sizeof buf);
    struct inotify_event *ev = (struct inotify_event *)buf;
    EXPECT_EQ(ev->mask, IN_CREATE | IN_ISDIR);
    EXPECT_STREQ(ev->name, "sub");
    struct inotify_event *ev2 = (struct inotify_event *)(buf + sizeof *ev + ev->len);
    EXPECT_EQ(n, 2 * (sizeof *ev + ev->len));
    EXPECT_EQ(ev2->mask, IN_DELETE | IN_ISDIR);
    EXPECT_STREQ(ev2->name, "sub");
    scratch_rm();
}

TEST(inotify_add_watch, rename_cookie)
{
    scratch_mk();
    int f = open(in_dir("f"), O_CREAT | O_WRONLY, 0600);
    EXPECT_OK(f);
    close(f);
    int fd = inotify_init1(IN_NONBLOCK);
    EXPECT_OK(inotify_add_watch(fd, dir, IN_MOVE));
    EXPECT_OK(rename(in_dir("f"), in_dir("g")));
    char buf[4096] __attribute__((aligned(8)));
    in_read(fd, buf, sizeof buf);
    struct inotify_event *a = (struct inotify_event *)buf;
    struct inotify_event *b = (struct inotify_event *)(buf + sizeof *a + a->len);
    EXPECT_EQ(a->mask, IN_MOVED_FROM);
    EXPECT_STREQ(a->name, "f");
    EXPECT_EQ(b->mask, IN_MOVED_TO);
    EXPECT_STREQ(b->name, "g");
    EXPECT_TRUE(a->cookie != 0);
    EXPECT_EQ(a->cookie, b->cookie);
    scratch_rm();
}

TEST(inotify_add_watch, file_modify_no_name)
{
    scratch_mk();
    int f = open(in_dir("f"), O_CREAT | O_WRONLY, 0600);
    EXPECT_OK(f);
    int fd = inotify_init1(IN_NONBLOCK);
    int wd = inotify_add_watch(fd, in_dir("f"), IN_MODIFY | IN_CLOSE_WRITE);
    EXPECT_OK(wd);
    EXPECT_EQ(write(f, "x", 1), 1);
    EXPECT_OK(close(f));
    char buf[4096] __attribute__((aligned(8)));
    long n = in_read(fd, buf, sizeof buf);
    struct inotify_event *a = (struct inotify_event *)buf;
    EXPECT_EQ(n, 2 * sizeof *a);       /* a watched file: no names */
    EXPECT_EQ(a->wd, wd);
    EXPECT_EQ(a->mask, IN_MODIFY);
    EXPECT_EQ(a->len, 0);
    EXPECT_EQ(a[1].mask, IN_CLOSE_WRITE);
    scratch_rm();
}

TEST(inotify_add_watch, fionread)
{
    scratch_mk();
    int fd = inotify_init1(IN_NONBLOCK);
    EXPECT_OK(inotify_add_watch(fd, dir, IN_CREATE));
    int pending = -1;
    EXPECT_OK(ioctl(fd, FIONREAD, &pending));
    EXPECT_EQ(pending, 0);
    EXPECT_OK(mkdir(in_dir("sub"), 0700));
    EXPECT_OK(ioctl(fd, FIONREAD, &pending));
    EXPECT_EQ(pending, sizeof(struct inotify_event) + 16);
    scratch_rm();
}

TEST(inotify_add_watch, einval_read_too_small)
{
    scratch_mk();
    int fd = inotify_init1(IN_NONBLOCK);
    EXPECT_OK(inotify_add_watch(fd, dir, IN_CREATE));
    EXPECT_OK(mkdir(in_dir("sub"), 0700));
    char buf[sizeof(struct inotify_event) + 4];
    EXPECT_ERRNO(read(fd, buf, sizeof buf), EINVAL);
    scratch_rm();
}

TEST(inotify_add_watch, same_path_same_wd)
{
    scratch_mk();
    int fd = inotify_init1(0);
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    EXPECT_OK(wd);
    EXPECT_EQ(inotify_add_watch(fd, dir, IN_DELETE), wd);
    EXPECT_ERRNO(inotify_add_watch(fd, dir, IN_DELETE | IN_MASK_CREATE), EEXIST);
    scratch_rm();
}

TEST(inotify_add_watch, enoent_missing_path)
{
    int fd = inotify_init1(0);
    EXPECT_ERRNO(inotify_add_watch(fd, "/tmp/conf-no-such-dir/x", IN_CREATE), ENOENT);
}

TEST(inotify_add_watch, enotdir_onlydir)
{
    int fd = inotify_init1(0);
    EXPECT_ERRNO(inotify_add_watch(fd, "/proc/self/status", IN_CREATE | IN_ONLYDIR), ENOTDIR);
}

TEST(inotify_add_watch, einval_zero_mask)
{
    int fd = inotify_init1(0);
    EXPECT_ERRNO(inotify_add_watch(fd, "/tmp", 0), EINVAL);
}

TEST(inotify_add_watch, einval_not_inotify)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(inotify_add_watch(p[0], "/tmp", IN_CREATE), EINVAL);
}

TEST(inotify_add_watch, ebadf)
{
    EXPECT_ERRNO(inotify_add_watch(999, "/tmp", IN_CREATE), EBADF);
}

TEST(inotify_add_watch, efault_bad_path)
{
    int fd = inotify_init1(0);
    EXPECT_ERRNO(inotify_add_watch(fd, (const char *)1, IN_CREATE), EFAULT);
}

TEST(inotify_rm_watch, in_ignored)
{
    scratch_mk();
    int fd = inotify_init1(IN_NONBLOCK);
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    EXPECT_OK(wd);
    EXPECT_OK(inotify_rm_watch(fd, wd));
    char buf[4096] __attribute__((aligned(8)));
    long n = in_read(fd, buf, sizeof buf);
    struct inotify_event *ev = (struct inotify_event *)buf;
    EXPECT_EQ(n, sizeof *ev);
    EXPECT_EQ(ev->wd, wd);
    EXPECT_EQ(ev->mask, IN_IGNORED);
    EXPECT_ERRNO(inotify_rm_watch(fd, wd), EINVAL);
    /* No more events after the watch is gone. */
    EXPECT_OK(mkdir(in_dir("sub"), 0700));
    EXPECT_ERRNO(read(fd, buf, sizeof buf), EAGAIN);
    scratch_rm();
}

TEST(inotify_rm_watch, einval_bad_wd)
{
    int fd = inotify_init1(0);
    EXPECT_ERRNO(inotify_rm_watch(fd, 12345), EINVAL);
    EXPECT_ERRNO(inotify_rm_watch(fd, -1), EINVAL);
}

TEST(inotify_rm_watch, ebadf)
{
    EXPECT_ERRNO(inotify_rm_watch(999, 1), EBADF);
}
