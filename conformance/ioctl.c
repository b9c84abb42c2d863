/* ioctl on the descriptors every program has: pipes and sockets (FIONREAD,
 * FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC), terminals (TCGETS, TIOCGWINSZ,
 * TIOCSWINSZ, TIOCGPTN on a pty of our own) and the errors.  TIOCSTI and
 * TIOCLINUX, which type into a terminal, are refused in the sandbox
 * whatever the capabilities (EPERM), on the request's low 32 bits, which
 * are all the kernel reads. */
#include "harness.h"
#include "helpers.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

static int own_pty(int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) SB_FAIL("posix_openpt: %s", sb_errname(errno));
    *slave = open(ptsname(m), O_RDWR | O_NOCTTY);
    if (*slave < 0) SB_FAIL("open slave: %s", sb_errname(errno));
    return m;
}

TEST(ioctl, fionread_counts_a_pipes_bytes)
{
    int p[2];
    EXPECT_OK(pipe(p));
    int n = -1;
    EXPECT_OK(ioctl(p[0], FIONREAD, &n));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(write(p[1], "hello", 5), 5);
    EXPECT_OK(ioctl(p[0], FIONREAD, &n));
    EXPECT_EQ(n, 5);
}

TEST(ioctl, fionbio_and_fioclex_change_the_flags)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int on = 1, off = 0;
    EXPECT_OK(ioctl(sv[0], FIONBIO, &on));
    EXPECT_TRUE(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    char c;
    EXPECT_ERRNO(read(sv[0], &c, 1), EAGAIN);
    EXPECT_OK(ioctl(sv[0], FIONBIO, &off));
    EXPECT_TRUE(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    EXPECT_OK(ioctl(sv[0], FIOCLEX));
    EXPECT_EQ(fcntl(sv[0], F_GETFD), FD_CLOEXEC);
    EXPECT_OK(ioctl(sv[0], FIONCLEX));
    EXPECT_EQ(fcntl(sv[0], F_GETFD), 0);
    EXPECT_OK(ioctl(sv[0], FIOASYNC, &off));
}

TEST(ioctl, terminal_requests_on_a_pipe_are_enotty)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct termios t;
    EXPECT_ERRNO(ioctl(p[0], TCGETS, &t), ENOTTY);
    struct winsize w;
    EXPECT_ERRNO(ioctl(p[0], TIOCGWINSZ, &w), ENOTTY);
    EXPECT_TRUE(!isatty(p[0]));
}

TEST(ioctl, ebadf_and_efault)
{
    int n;
    EXPECT_ERRNO(ioctl(-1, FIONREAD, &n), EBADF);
    EXPECT_ERRNO(ioctl(999, FIONREAD, &n), EBADF);
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(ioctl(p[0], FIONREAD, BAD), EFAULT);
}

TEST(ioctl, a_pty_of_our_own_window_size_and_attributes)
{
    int s, m = own_pty(&s);
    EXPECT_TRUE(isatty(s));
    struct winsize w = { .ws_row = 33, .ws_col = 101 }, r = { 0 };
    EXPECT_OK(ioctl(m, TIOCSWINSZ, &w));
    EXPECT_OK(ioctl(s, TIOCGWINSZ, &r));
    EXPECT_EQ(r.ws_row, 33);
    EXPECT_EQ(r.ws_col, 101);
    struct termios t;
    EXPECT_OK(tcgetattr(s, &t));
    t.c_lflag &= ~ECHO;
    EXPECT_OK(tcsetattr(s, TCSANOW, &t));
    EXPECT_OK(tcgetattr(s, &t));
    EXPECT_TRUE(!(t.c_lflag & ECHO));
    unsigned n = 9999;
    EXPECT_OK(ioctl(m, TIOCGPTN, &n));
    EXPECT_TRUE(n < 9999);
    EXPECT_EQ(write(m, "in\n", 3), 3);
    EXPECT_EQ(read(s, B, sizeof B), 3);
}

TEST(ioctl, tiocsti_on_our_own_controlling_terminal)
{
    EXPECT_OK(setsid());
    int s, m = own_pty(&s);
    EXPECT_OK(ioctl(s, TIOCSCTTY, 0));
    char c = 'q';
    if (IN_SANDBOX) {
        EXPECT_ERRNO(ioctl(s, TIOCSTI, &c), EPERM);
        EXPECT_ERRNO(syscall(SYS_ioctl, s, 0xffffffff00000000UL | TIOCSTI, &c), EPERM);
        EXPECT_ERRNO(syscall(SYS_ioctl, s, 0x100000000UL | TIOCLINUX, &c), EPERM);
    } else {
        /* the caller's controlling terminal: Linux lets it type into it */
        struct termios t;
        EXPECT_OK(tcgetattr(s, &t));
        cfmakeraw(&t);                     /* one byte is a whole read */
        EXPECT_OK(tcsetattr(s, TCSANOW, &t));
        EXPECT_OK(ioctl(s, TIOCSTI, &c));
        EXPECT_EQ(read(s, B, sizeof B), 1);
        EXPECT_EQ(B[0], 'q');
    }
    (void)m;
}
