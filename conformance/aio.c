/* Linux native AIO: io_setup, io_submit, io_getevents, io_pgetevents,
 * io_cancel, io_destroy (libaio's calls: databases, QEMU, fio).  io_uring
 * is denied (denied.c); this older interface runs natively. */
#include "harness.h"
#include "helpers.h"
#include <linux/aio_abi.h>

static long io_setup(unsigned n, aio_context_t *ctx) { return syscall(SYS_io_setup, n, ctx); }
static long io_destroy(aio_context_t ctx) { return syscall(SYS_io_destroy, ctx); }
static long io_submit(aio_context_t ctx, long n, struct iocb **v) { return syscall(SYS_io_submit, ctx, n, v); }
static long io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev, struct timespec *ts)
{
    return syscall(SYS_io_getevents, ctx, min, max, ev, ts);
}

TEST(io_setup, context_and_destroy)
{
    aio_context_t ctx = 0;
    EXPECT_OK(io_setup(8, &ctx));
    EXPECT_TRUE(ctx != 0);
    EXPECT_OK(io_destroy(ctx));
    EXPECT_ERRNO(io_destroy(ctx), EINVAL);
}

TEST(io_setup, einval_for_zero_events_or_a_used_context)
{
    aio_context_t ctx = 0;
    EXPECT_ERRNO(io_setup(0, &ctx), EINVAL);
    EXPECT_OK(io_setup(1, &ctx));
    aio_context_t used = ctx;
    EXPECT_ERRNO(io_setup(1, &used), EINVAL);        /* *ctx must be 0 */
    EXPECT_ERRNO(io_setup(1, BAD), EFAULT);
    EXPECT_OK(io_destroy(ctx));
}

TEST(io_submit, pwrite_then_pread_complete_with_their_data)
{
    scratch();
    int fd = open(P("f"), O_RDWR | O_CREAT, 0644);
    EXPECT_OK(fd);
    aio_context_t ctx = 0;
    EXPECT_OK(io_setup(4, &ctx));
    static char out[4096] = "through aio", in[4096];
    struct iocb w = { .aio_fildes = fd, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_buf = (unsigned long)out,
                      .aio_nbytes = sizeof out, .aio_offset = 4096, .aio_data = 7 };
    struct iocb *v[1] = { &w };
    EXPECT_EQ(io_submit(ctx, 1, v), 1);
    struct io_event ev[2];
    struct timespec ts = { 5, 0 };
    EXPECT_EQ(io_getevents(ctx, 1, 2, ev, &ts), 1);
    EXPECT_EQ(ev[0].data, 7);
    EXPECT_EQ(ev[0].res, sizeof out);
    struct iocb r = { .aio_fildes = fd, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_buf = (unsigned long)in,
                      .aio_nbytes = sizeof in, .aio_offset = 4096, .aio_data = 9 };
    v[0] = &r;
    EXPECT_EQ(io_submit(ctx, 1, v), 1);
    EXPECT_EQ(io_getevents(ctx, 1, 2, ev, &ts), 1);
    EXPECT_EQ(ev[0].data, 9);
    EXPECT_EQ(ev[0].res, sizeof in);
    EXPECT_STREQ(in, "through aio");
    EXPECT_EQ(fsize(P("f")), 8192);
    EXPECT_OK(io_destroy(ctx));
}

TEST(io_submit, a_bad_fd_fails_the_submit_and_a_short_read_reports_its_size)
{
    scratch();
    int fd = open(P("f"), O_RDWR | O_CREAT, 0644);
    EXPECT_OK(fd);
    EXPECT_EQ(write(fd, "12345", 5), 5);
    aio_context_t ctx = 0;
    EXPECT_OK(io_setup(4, &ctx));
    static char buf[64];
    struct iocb bad = { .aio_fildes = 999, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_buf = (unsigned long)buf,
                        .aio_nbytes = sizeof buf };
    struct iocb *v[1] = { &bad };
    EXPECT_ERRNO(io_submit(ctx, 1, v), EBADF);
    struct iocb r = { .aio_fildes = fd, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_buf = (unsigned long)buf,
                      .aio_nbytes = sizeof buf, .aio_offset = 2 };
    v[0] = &r;
    EXPECT_EQ(io_submit(ctx, 1, v), 1);
    struct io_event ev;
    EXPECT_EQ(io_getevents(ctx, 1, 1, &ev, NULL), 1);
    EXPECT_EQ(ev.res, 3);
    EXPECT_TRUE(memcmp(buf, "345", 3) == 0);
    EXPECT_ERRNO(io_submit(ctx, -1, v), EINVAL);
    EXPECT_OK(io_destroy(ctx));
}

TEST(io_getevents, times_out_with_nothing_and_einval_for_min_over_max)
{
    aio_context_t ctx = 0;
    EXPECT_OK(io_setup(2, &ctx));
    struct io_event ev[2];
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    EXPECT_EQ(io_getevents(ctx, 1, 2, ev, &ts), 0);
    EXPECT_ERRNO(io_getevents(ctx, 2, 1, ev, &ts), EINVAL);
    EXPECT_OK(io_destroy(ctx));
}

TEST(io_pgetevents, with_a_signal_mask)
{
    aio_context_t ctx = 0;
    EXPECT_OK(io_setup(2, &ctx));
    struct io_event ev[1];
    struct timespec ts = { 0, 1000 * 1000 };
    sigset_t mask;
    sigemptyset(&mask);
    struct { const sigset_t *mask; size_t size; } sig = { &mask, 8 };
    EXPECT_EQ(syscall(SYS_io_pgetevents, ctx, 1, 1, ev, &ts, &sig), 0);
    EXPECT_OK(io_destroy(ctx));
}
