/* Sockets: getsockopt, setsockopt, getpeername and getsockname.  AF_UNIX
 * (path in a /tmp scratch dir and abstract) and AF_INET on loopback only
 * (127.0.0.1, port 0; getsockname tells the port). */
#include "harness.h"
#include "net_helpers.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

/* ---- getsockopt / setsockopt ---- */

TEST(setsockopt, so_reuseaddr)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &len));
    EXPECT_EQ(v, 0);
    int on = 1;
    EXPECT_OK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &len));
    EXPECT_EQ(v, 1);
    EXPECT_EQ(len, sizeof v);
}

TEST(setsockopt, so_reuseaddr_two_listeners)
{
    /* Two listeners may not share a port even with SO_REUSEADDR. */
    int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    EXPECT_OK(setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
    EXPECT_OK(setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
    struct sockaddr_in sa = lo_addr(0);
    EXPECT_OK(bind(a, (struct sockaddr *)&sa, sizeof sa));
    socklen_t len = sizeof sa;
    EXPECT_OK(getsockname(a, (struct sockaddr *)&sa, &len));
    EXPECT_OK(listen(a, 1));
    EXPECT_ERRNO(bind(b, (struct sockaddr *)&sa, sizeof sa), EADDRINUSE);
}

TEST(setsockopt, so_rcvbuf_doubled)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int v = 8192;
    EXPECT_OK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
    socklen_t len = sizeof v;
    v = 0;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &len));
    EXPECT_EQ(v, 16384);
}

TEST(setsockopt, tcp_nodelay)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1, v = 0;
    socklen_t len = sizeof v;
    EXPECT_OK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on));
    EXPECT_OK(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len));
    EXPECT_EQ(v, 1);
}

TEST(setsockopt, einval_short_optlen)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    char on = 1;
    EXPECT_ERRNO(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, 1), EINVAL);
}

TEST(setsockopt, enoprotoopt)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    EXPECT_ERRNO(setsockopt(s, SOL_SOCKET, 9999, &on, sizeof on), ENOPROTOOPT);
}

TEST(setsockopt, efault_bad_optval)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERRNO(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (void *)1, sizeof(int)), EFAULT);
}

TEST(getsockopt, so_type)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int t = -1;
    socklen_t len = sizeof t;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_TYPE, &t, &len));
    EXPECT_EQ(t, SOCK_DGRAM);
    EXPECT_EQ(len, sizeof t);
}

TEST(getsockopt, enoprotoopt)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int v;
    socklen_t len = sizeof v;
    EXPECT_ERRNO(getsockopt(s, SOL_SOCKET, 9999, &v, &len), ENOPROTOOPT);
    EXPECT_ERRNO(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), EOPNOTSUPP);
}

TEST(getsockopt, so_peercred)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    struct ucred uc;
    socklen_t len = sizeof uc;
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &len));
    EXPECT_EQ(len, sizeof uc);
    EXPECT_EQ(uc.pid, getpid());
    EXPECT_EQ(uc.uid, getuid());
    EXPECT_EQ(uc.gid, getgid());
}

TEST(getsockopt, so_error_after_refused)
{
    uint16_t port;
    inet_bound(SOCK_STREAM, &port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = lo_addr(port);
    errno = 0;
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    EXPECT_TRUE(r == -1);
    if (errno == EINPROGRESS) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        int err = 0;
        socklen_t len = sizeof err;
        for (int i = 0; i < 50 && err == 0; i++) {
            EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
            if (!err) nanosleep(&ts, NULL);
        }
        EXPECT_EQ(err, ECONNREFUSED);
    } else {
        EXPECT_EQ(errno, ECONNREFUSED);
    }
    int err = -1;
    socklen_t len = sizeof err;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
    EXPECT_EQ(err, 0);                       /* reading SO_ERROR clears it */
}

TEST(getsockopt, enotsock_file)
{
    int fd = open("/dev/null", O_RDONLY);
    int v;
    socklen_t len = sizeof v;
    EXPECT_ERRNO(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), ENOTSOCK);
}

TEST(getsockopt, einval_negative_optlen)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int v;
    socklen_t len = (socklen_t)-1;
    EXPECT_ERRNO(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len), EINVAL);
}

/* ---- getpeername / getsockname ---- */

TEST(getpeername, enotconn)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    EXPECT_ERRNO(getpeername(s, (struct sockaddr *)&a, &len), ENOTCONN);
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    EXPECT_ERRNO(getpeername(u, (struct sockaddr *)&a, &len), ENOTCONN);
}

TEST(getpeername, socketpair_unnamed)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    struct sockaddr_un a;
    memset(&a, 0x55, sizeof a);
    socklen_t len = sizeof a;
    EXPECT_OK(getpeername(sv[0], (struct sockaddr *)&a, &len));
    EXPECT_EQ(len, sizeof(sa_family_t));
    EXPECT_EQ(a.sun_family, AF_UNIX);
}

TEST(getpeername, tcp_peer)
{
    uint16_t port;
    tcp_listener(&port);
    int c = tcp_connect(port);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    EXPECT_OK(getpeername(c, (struct sockaddr *)&a, &len));
    EXPECT_EQ(ntohs(a.sin_port), port);
    EXPECT_EQ(ntohl(a.sin_addr.s_addr), INADDR_LOOPBACK);
}

TEST(getpeername, enotsock_file)
{
    int fd = open("/dev/null", O_RDONLY);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    EXPECT_ERRNO(getpeername(fd, (struct sockaddr *)&a, &len), ENOTSOCK);
}

TEST(getsockname, truncated_len)
{
    uint16_t port;
    int s = inet_bound(SOCK_DGRAM, &port);
    struct sockaddr_in a;
    socklen_t len = 4;
    EXPECT_OK(getsockname(s, (struct sockaddr *)&a, &len));
    EXPECT_EQ(len, sizeof a);                /* the real length is reported */
    EXPECT_EQ(a.sin_port, htons(port));
}

TEST(getsockname, unbound_inet_any)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    EXPECT_OK(getsockname(s, (struct sockaddr *)&a, &len));
    EXPECT_EQ(a.sin_family, AF_INET);
    EXPECT_EQ(a.sin_port, 0);
    EXPECT_EQ(a.sin_addr.s_addr, 0);
}

TEST(getsockname, ebadf)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    EXPECT_ERRNO(getsockname(999, (struct sockaddr *)&a, &len), EBADF);
}
