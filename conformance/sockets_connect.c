/* Sockets: listen, accept, accept4, connect and shutdown.  AF_UNIX (path
 * in a /tmp scratch dir and abstract) and AF_INET on loopback only
 * (127.0.0.1, port 0; getsockname tells the port). */
#include "harness.h"
#include "net_helpers.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* ---- listen / accept / accept4 / connect ---- */

TEST(accept, tcp_loopback_roundtrip)
{
    uint16_t port;
    int l = tcp_listener(&port);
    int c = tcp_connect(port);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int a = accept(l, (struct sockaddr *)&peer, &len);
    EXPECT_OK(a);
    EXPECT_EQ(len, sizeof peer);
    EXPECT_EQ(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
    struct sockaddr_in me;
    socklen_t mlen = sizeof me;
    EXPECT_OK(getsockname(c, (struct sockaddr *)&me, &mlen));
    EXPECT_EQ(peer.sin_port, me.sin_port);
    EXPECT_EQ(send(c, "hello", 5, 0), 5);
    char buf[8];
    EXPECT_EQ(recv(a, buf, sizeof buf, 0), 5);
    EXPECT_TRUE(!memcmp(buf, "hello", 5));
    EXPECT_OK(close(c));
    EXPECT_EQ(recv(a, buf, sizeof buf, 0), 0);
}

TEST(accept, eagain_nonblocking)
{
    uint16_t port;
    int l = tcp_listener(&port);
    EXPECT_OK(fcntl(l, F_SETFL, O_NONBLOCK));
    EXPECT_ERRNO(accept(l, NULL, NULL), EAGAIN);
}

TEST(accept, einval_not_listening)
{
    uint16_t port;
    int s = inet_bound(SOCK_STREAM, &port);
    EXPECT_ERRNO(accept(s, NULL, NULL), EINVAL);
}

TEST(accept, eopnotsupp_udp)
{
    uint16_t port;
    int s = inet_bound(SOCK_DGRAM, &port);
    EXPECT_ERRNO(accept(s, NULL, NULL), EOPNOTSUPP);
}

TEST(accept, enotsock_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(accept(p[0], NULL, NULL), ENOTSOCK);
}

TEST(accept4, flags)
{
    uint16_t port;
    int l = tcp_listener(&port);
    tcp_connect(port);
    int a = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    EXPECT_OK(a);
    EXPECT_EQ(fcntl(a, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(a, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    char c;
    EXPECT_ERRNO(recv(a, &c, 1, 0), EAGAIN);
}

TEST(accept4, einval_bad_flags)
{
    uint16_t port;
    int l = tcp_listener(&port);
    EXPECT_ERRNO(accept4(l, NULL, NULL, 1), EINVAL);
}

TEST(accept4, unix_path)
{
    socklen_t len;
    struct sockaddr_un a = unix_path_addr(&len);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_OK(bind(l, (struct sockaddr *)&a, len));
    EXPECT_OK(listen(l, 1));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, len));
    struct sockaddr_un peer;
    socklen_t plen = sizeof peer;
    int s = accept4(l, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
    EXPECT_OK(s);
    EXPECT_EQ(plen, sizeof(sa_family_t));               /* the client is unnamed */
    EXPECT_EQ(write(c, "u", 1), 1);
    char ch;
    EXPECT_EQ(read(s, &ch, 1), 1);
    EXPECT_EQ(ch, 'u');
    struct sockaddr_un pn;
    socklen_t pnlen = sizeof pn;
    EXPECT_OK(getpeername(c, (struct sockaddr *)&pn, &pnlen));
    EXPECT_EQ(pnlen, len);
    EXPECT_STREQ(pn.sun_path, spath);
    unix_rm();
}

TEST(listen, eopnotsupp_udp)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_ERRNO(listen(s, 1), EOPNOTSUPP);
}

TEST(listen, enotsock_file)
{
    int fd = open("/dev/null", O_RDONLY);
    EXPECT_ERRNO(listen(fd, 1), ENOTSOCK);
}

TEST(listen, einval_unix_unbound)
{
    /* An unbound unix stream socket cannot listen. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_ERRNO(listen(s, 1), EINVAL);
}

TEST(connect, econnrefused_closed_port)
{
    /* Bound but not listening: the SYN gets a RST. */
    uint16_t port;
    inet_bound(SOCK_STREAM, &port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo_addr(port);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
}

TEST(connect, eisconn_twice)
{
    uint16_t port;
    tcp_listener(&port);
    int c = tcp_connect(port);
    struct sockaddr_in a = lo_addr(port);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, sizeof a), EISCONN);
}

TEST(connect, einprogress_nonblocking)
{
    uint16_t port;
    int l = tcp_listener(&port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = lo_addr(port);
    errno = 0;
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    /* On loopback the handshake may finish at once; otherwise EINPROGRESS. */
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS);
    EXPECT_OK(accept(l, NULL, NULL));
    int err = -1;
    socklen_t len = sizeof err;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
    EXPECT_EQ(err, 0);
}

TEST(connect, unix_enoent)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strcpy(a.sun_path, "/tmp/conf-no-such-socket");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_ERRNO(connect(s, (struct sockaddr *)&a, sizeof a), ENOENT);
}

TEST(connect, unix_econnrefused_not_listening)
{
    socklen_t len;
    struct sockaddr_un a = unix_path_addr(&len);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_OK(bind(l, (struct sockaddr *)&a, len));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, len), ECONNREFUSED);
    unix_rm();
}

TEST(connect, unix_econnrefused_type_mismatch)
{
    socklen_t len;
    struct sockaddr_un a = unix_abstract_addr(&len);
    int l = socket(AF_UNIX, SOCK_DGRAM, 0);
    EXPECT_OK(bind(l, (struct sockaddr *)&a, len));
    /* Linux looks the name up per socket type: a stream socket finds no
     * stream peer there. */
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, len), ECONNREFUSED);
}

TEST(connect, unix_abstract_seqpacket)
{
    socklen_t len;
    struct sockaddr_un a = unix_abstract_addr(&len);
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    EXPECT_OK(bind(l, (struct sockaddr *)&a, len));
    EXPECT_OK(listen(l, 1));
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, len));
    int s = accept(l, NULL, NULL);
    EXPECT_OK(s);
    EXPECT_EQ(send(c, "one", 3, 0), 3);
    EXPECT_EQ(send(c, "three", 5, 0), 5);
    char buf[16];
    EXPECT_EQ(recv(s, buf, sizeof buf, 0), 3);
    EXPECT_EQ(recv(s, buf, sizeof buf, 0), 5);
}

TEST(connect, udp_default_peer)
{
    uint16_t rport, sport;
    int r = inet_bound(SOCK_DGRAM, &rport);
    int s = inet_bound(SOCK_DGRAM, &sport);
    struct sockaddr_in a = lo_addr(rport);
    EXPECT_OK(connect(s, (struct sockaddr *)&a, sizeof a));
    EXPECT_EQ(send(s, "d", 1, 0), 1);
    struct sockaddr_in p;
    socklen_t plen = sizeof p;
    EXPECT_OK(getpeername(s, (struct sockaddr *)&p, &plen));
    EXPECT_EQ(ntohs(p.sin_port), rport);
    char c;
    EXPECT_EQ(recv(r, &c, 1, 0), 1);
    EXPECT_EQ(c, 'd');
}

/* ---- shutdown ---- */

TEST(shutdown, wr_then_epipe)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_OK(shutdown(sv[0], SHUT_WR));
    EXPECT_ERRNO(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
    char c;
    EXPECT_EQ(read(sv[1], &c, 1), 0);            /* the peer sees EOF */
    EXPECT_EQ(write(sv[1], "y", 1), 1);           /* the other direction still works */
    EXPECT_EQ(read(sv[0], &c, 1), 1);
}

TEST(shutdown, epipe_raises_sigpipe)
{
    uint16_t port;
    int l = tcp_listener(&port);
    int c = tcp_connect(port);
    EXPECT_OK(accept(l, NULL, NULL));
    EXPECT_OK(shutdown(c, SHUT_WR));
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    EXPECT_OK(sigprocmask(SIG_BLOCK, &set, NULL));
    EXPECT_ERRNO(send(c, "x", 1, 0), EPIPE);
    EXPECT_OK(sigpending(&pend));
    EXPECT_TRUE(sigismember(&pend, SIGPIPE));
}

TEST(shutdown, rd_reads_eof)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_OK(shutdown(sv[1], SHUT_RD));
    char c;
    EXPECT_EQ(read(sv[1], &c, 1), 0);
}

TEST(shutdown, einval_bad_how)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_ERRNO(shutdown(sv[0], 3), EINVAL);
}

TEST(shutdown, enotconn_unconnected)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERRNO(shutdown(s, SHUT_RDWR), ENOTCONN);
}

TEST(shutdown, enotsock_file)
{
    int fd = open("/dev/null", O_RDONLY);
    EXPECT_ERRNO(shutdown(fd, SHUT_RDWR), ENOTSOCK);
}
