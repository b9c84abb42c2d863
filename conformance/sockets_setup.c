/* Sockets: socket, socketpair and bind.  AF_UNIX (path in a /tmp scratch
 * dir and abstract) and AF_INET on loopback only (127.0.0.1, port 0;
 * getsockname tells the port). */
#include "harness.h"
#include "net_helpers.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#ifndef ESOCKTNOSUPPORT
#define ESOCKTNOSUPPORT 94
#endif

/* ---- socket ---- */

TEST(socket, af_unix_types)
{
    int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
    for (int i = 0; i < 3; i++) {
        int s = socket(AF_UNIX, types[i], 0);
        EXPECT_OK(s);
        int t = -1;
        socklen_t len = sizeof t;
        EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_TYPE, &t, &len));
        EXPECT_EQ(t, types[i]);
        EXPECT_OK(close(s));
    }
}

TEST(socket, af_inet_tcp_udp)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_OK(s);
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &len));
    EXPECT_EQ(v, IPPROTO_TCP);
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &len));
    EXPECT_EQ(v, AF_INET);
    int u = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    EXPECT_OK(u);
    EXPECT_OK(getsockopt(u, SOL_SOCKET, SO_PROTOCOL, &v, &len));
    EXPECT_EQ(v, IPPROTO_UDP);
}

TEST(socket, flags)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    EXPECT_OK(s);
    EXPECT_EQ(fcntl(s, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
}

TEST(socket, eafnosupport)
{
    EXPECT_ERRNO(socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT);
}

TEST(socket, einval_type)
{
    EXPECT_ERRNO(socket(AF_UNIX, 99, 0), EINVAL);
    EXPECT_ERRNO(socket(AF_INET, -1, 0), EINVAL);
    EXPECT_ERRNO(socket(AF_UNIX, SOCK_STREAM | 0x40000000, 0), EINVAL);
}

TEST(socket, unix_raw_is_dgram)
{
    /* Linux turns an AF_UNIX SOCK_RAW socket into SOCK_DGRAM. */
    int s = socket(AF_UNIX, SOCK_RAW, 0);
    EXPECT_OK(s);
    int t = -1;
    socklen_t len = sizeof t;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_TYPE, &t, &len));
    EXPECT_EQ(t, SOCK_DGRAM);
}

TEST(socket, esocktnosupport_inet_seqpacket)
{
    EXPECT_ERRNO(socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
}

TEST(socket, eprotonosupport)
{
    EXPECT_ERRNO(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    /* AF_UNIX accepts protocol 0 and PF_UNIX (1) only. */
    EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, PF_UNIX));
    EXPECT_ERRNO(socket(AF_UNIX, SOCK_STREAM, 2), EPROTONOSUPPORT);
}

/* ---- socketpair ---- */

TEST(socketpair, unix_stream_roundtrip)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "ping", 4), 4);
    char buf[8] = "";
    EXPECT_EQ(read(sv[1], buf, sizeof buf), 4);
    EXPECT_TRUE(!memcmp(buf, "ping", 4));
    EXPECT_EQ(write(sv[1], "pong", 4), 4);
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 4);
    EXPECT_TRUE(!memcmp(buf, "pong", 4));
}

TEST(socketpair, dgram_keeps_boundaries)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_EQ(send(sv[0], "ab", 2, 0), 2);
    EXPECT_EQ(send(sv[0], "cde", 3, 0), 3);
    char buf[8];
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 2);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 3);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
}

TEST(socketpair, seqpacket_truncates)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    EXPECT_EQ(send(sv[0], "abcdef", 6, 0), 6);
    char buf[4];
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    EXPECT_EQ(recvmsg(sv[1], &m, 0), 4);
    EXPECT_EQ(m.msg_flags & MSG_TRUNC, MSG_TRUNC);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);   /* rest dropped */
}

TEST(socketpair, eopnotsupp_inet)
{
    int sv[2];
    EXPECT_ERRNO(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
}

TEST(socketpair, efault_bad_sv)
{
    EXPECT_ERRNO(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, (int *)1), EFAULT);
}

/* ---- bind ---- */

TEST(bind, inet_port_zero)
{
    uint16_t port;
    int s = inet_bound(SOCK_DGRAM, &port);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    EXPECT_OK(getsockname(s, (struct sockaddr *)&a, &len));
    EXPECT_EQ(a.sin_family, AF_INET);
    EXPECT_EQ(ntohl(a.sin_addr.s_addr), INADDR_LOOPBACK);
    EXPECT_EQ(ntohs(a.sin_port), port);
}

TEST(bind, eaddrinuse_tcp)
{
    uint16_t port;
    tcp_listener(&port);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo_addr(port);
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
}

TEST(bind, eaddrinuse_udp)
{
    uint16_t port;
    inet_bound(SOCK_DGRAM, &port);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo_addr(port);
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
}

TEST(bind, einval_already_bound)
{
    uint16_t port;
    int s = inet_bound(SOCK_STREAM, &port);
    struct sockaddr_in a = lo_addr(0);
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EINVAL);
}

TEST(bind, einval_short_addrlen)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo_addr(0);
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a - 1), EINVAL);
}

TEST(bind, eafnosupport_wrong_family)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo_addr(0);
    a.sin_family = AF_INET6;
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
}

TEST(bind, eaddrnotavail_foreign_address)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo_addr(0);
    a.sin_addr.s_addr = inet_addr("192.0.2.1");      /* TEST-NET-1, never local */
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EADDRNOTAVAIL);
}

TEST(bind, unix_path_creates_socket_file)
{
    socklen_t len;
    struct sockaddr_un a = unix_path_addr(&len);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_OK(bind(s, (struct sockaddr *)&a, len));
    struct stat st;
    EXPECT_OK(stat(spath, &st));
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    struct sockaddr_un b;
    socklen_t blen = sizeof b;
    EXPECT_OK(getsockname(s, (struct sockaddr *)&b, &blen));
    EXPECT_EQ(blen, len);
    EXPECT_STREQ(b.sun_path, spath);
    unix_rm();
}

TEST(bind, unix_path_eaddrinuse)
{
    socklen_t len;
    struct sockaddr_un a = unix_path_addr(&len);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_OK(bind(s, (struct sockaddr *)&a, len));
    int t = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_ERRNO(bind(t, (struct sockaddr *)&a, len), EADDRINUSE);
    EXPECT_OK(close(s));
    /* The file stays after close: still in use. */
    EXPECT_ERRNO(bind(t, (struct sockaddr *)&a, len), EADDRINUSE);
    unix_rm();
}

TEST(bind, unix_path_enoent_parent)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, "/tmp/conf-no-such-dir/sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), ENOENT);
}

TEST(bind, unix_abstract_eaddrinuse)
{
    socklen_t len;
    struct sockaddr_un a = unix_abstract_addr(&len);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    EXPECT_OK(bind(s, (struct sockaddr *)&a, len));
    struct sockaddr_un b;
    socklen_t blen = sizeof b;
    EXPECT_OK(getsockname(s, (struct sockaddr *)&b, &blen));
    EXPECT_EQ(blen, len);
    EXPECT_TRUE(!memcmp(&a, &b, len));
    int t = socket(AF_UNIX, SOCK_DGRAM, 0);
    EXPECT_ERRNO(bind(t, (struct sockaddr *)&a, len), EADDRINUSE);
    EXPECT_OK(close(s));
    EXPECT_OK(bind(t, (struct sockaddr *)&a, len));    /* abstract names go with the socket */
}
