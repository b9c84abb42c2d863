#include "harness.h"
/* Sockets: AF_UNIX (path in a /tmp scratch dir and abstract) and AF_INET on
 * loopback only (127.0.0.1, port 0; getsockname tells the port). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#ifndef ESOCKTNOSUPPORT
#define ESOCKTNOSUPPORT 94
#endif

/* ---- helpers ---- */

static struct sockaddr_in lo_addr(uint16_t port)
{
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* A socket of the given type bound to 127.0.0.1 on a kernel-chosen port. */
static int inet_bound(int type, uint16_t *port)
{
    int s = socket(AF_INET, type, 0);
    EXPECT_OK(s);
    struct sockaddr_in a = lo_addr(0);
    EXPECT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
    socklen_t len = sizeof a;
    EXPECT_OK(getsockname(s, (struct sockaddr *)&a, &len));
    EXPECT_EQ(len, sizeof a);
    EXPECT_TRUE(a.sin_port != 0);
    *port = ntohs(a.sin_port);
    return s;
}

static int tcp_listener(uint16_t *port)
{
    int s = inet_bound(SOCK_STREAM, port);
    EXPECT_OK(listen(s, 8));
    return s;
}

static int tcp_connect(uint16_t port)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_OK(c);
    struct sockaddr_in a = lo_addr(port);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, sizeof a));
    return c;
}

/* A fresh /tmp scratch dir holding one socket path; unix_rm cleans up. */
static char sdir[64], spath[100];
static struct sockaddr_un unix_path_addr(socklen_t *len)
{
    strcpy(sdir, "/tmp/conf.XXXXXX");
    EXPECT_TRUE(mkdtemp(sdir) != NULL);
    snprintf(spath, sizeof spath, "%s/sock", sdir);
    struct sockaddr_un a = { 0 };
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, spath);
    *len = offsetof(struct sockaddr_un, sun_path) + strlen(spath) + 1;
    return a;
}
static void unix_rm(void)
{
    unlink(spath);
    EXPECT_OK(rmdir(sdir));
}

/* An abstract address unique to this process. */
static struct sockaddr_un unix_abstract_addr(socklen_t *len)
{
    struct sockaddr_un a = { 0 };
    a.sun_family = AF_UNIX;
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "conf-%d", getpid());
    *len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    return a;
}

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

/* ---- sendto / recvfrom ---- */

TEST(sendto, udp_loopback)
{
    uint16_t rport, sport;
    int r = inet_bound(SOCK_DGRAM, &rport);
    int s = inet_bound(SOCK_DGRAM, &sport);
    struct sockaddr_in a = lo_addr(rport);
    EXPECT_EQ(sendto(s, "datagram", 8, 0, (struct sockaddr *)&a, sizeof a), 8);
    char buf[16];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    EXPECT_EQ(recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), 8);
    EXPECT_TRUE(!memcmp(buf, "datagram", 8));
    EXPECT_EQ(flen, sizeof from);
    EXPECT_EQ(ntohs(from.sin_port), sport);
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), INADDR_LOOPBACK);
}

TEST(sendto, edestaddrreq_unconnected_udp)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_ERRNO(sendto(s, "x", 1, 0, NULL, 0), EDESTADDRREQ);
}

TEST(sendto, unconnected_stream)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERRNO(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_ERRNO(send(u, "x", 1, MSG_NOSIGNAL), ENOTCONN);
}

TEST(sendto, emsgsize_udp)
{
    uint16_t rport;
    int r = inet_bound(SOCK_DGRAM, &rport);
    (void)r;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    static char big[70000];
    struct sockaddr_in a = lo_addr(rport);
    EXPECT_ERRNO(sendto(s, big, sizeof big, 0, (struct sockaddr *)&a, sizeof a), EMSGSIZE);
}

TEST(recvfrom, eagain_dontwait)
{
    uint16_t port;
    int r = inet_bound(SOCK_DGRAM, &port);
    char buf[4];
    EXPECT_ERRNO(recvfrom(r, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL), EAGAIN);
}

TEST(recvfrom, peek_then_read)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "abc", 3), 3);
    char buf[4] = "";
    EXPECT_EQ(recvfrom(sv[1], buf, 2, MSG_PEEK, NULL, NULL), 2);
    EXPECT_TRUE(!memcmp(buf, "ab", 2));
    EXPECT_EQ(recvfrom(sv[1], buf, sizeof buf, 0, NULL, NULL), 3);
    EXPECT_TRUE(!memcmp(buf, "abc", 3));
}

TEST(recvfrom, trunc_returns_real_length)
{
    uint16_t rport, sport;
    int r = inet_bound(SOCK_DGRAM, &rport);
    int s = inet_bound(SOCK_DGRAM, &sport);
    struct sockaddr_in a = lo_addr(rport);
    EXPECT_EQ(sendto(s, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof a), 10);
    char buf[4];
    EXPECT_EQ(recvfrom(r, buf, sizeof buf, MSG_TRUNC, NULL, NULL), 10);
    EXPECT_TRUE(!memcmp(buf, "0123", 4));
}

TEST(recvfrom, waitall_stream)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "ab", 2), 2);
    EXPECT_EQ(write(sv[0], "cd", 2), 2);
    char buf[4];
    EXPECT_EQ(recvfrom(sv[1], buf, 4, MSG_WAITALL, NULL, NULL), 4);
    EXPECT_TRUE(!memcmp(buf, "abcd", 4));
}

/* ---- sendmsg / recvmsg ---- */

TEST(sendmsg, scm_rights_passes_fd)
{
    int sv[2], p[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_OK(pipe(p));
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cb;
    memset(&cb, 0, sizeof cb);
    char data = 'F';
    struct iovec iov = { &data, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cb.b, .msg_controllen = sizeof cb.b };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[1], sizeof(int));
    EXPECT_EQ(sendmsg(sv[0], &m, 0), 1);
    EXPECT_OK(close(p[1]));

    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } rb;
    memset(&rb, 0, sizeof rb);
    char got = 0;
    struct iovec riov = { &got, 1 };
    struct msghdr r = { .msg_iov = &riov, .msg_iovlen = 1,
                        .msg_control = rb.b, .msg_controllen = sizeof rb.b };
    EXPECT_EQ(recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC), 1);
    EXPECT_EQ(got, 'F');
    EXPECT_EQ(r.msg_flags & (MSG_TRUNC | MSG_CTRUNC), 0);
    struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
    EXPECT_TRUE(rc != NULL);
    EXPECT_EQ(rc->cmsg_level, SOL_SOCKET);
    EXPECT_EQ(rc->cmsg_type, SCM_RIGHTS);
    EXPECT_EQ(rc->cmsg_len, CMSG_LEN(sizeof(int)));
    int nfd;
    memcpy(&nfd, CMSG_DATA(rc), sizeof nfd);
    EXPECT_EQ(fcntl(nfd, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(write(nfd, "via", 3), 3);
    char buf[4];
    EXPECT_EQ(read(p[0], buf, sizeof buf), 3);
    EXPECT_TRUE(!memcmp(buf, "via", 3));
}

TEST(sendmsg, scm_rights_ebadf)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cb;
    memset(&cb, 0, sizeof cb);
    char data = 'x';
    struct iovec iov = { &data, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cb.b, .msg_controllen = sizeof cb.b };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int bad = 999;
    memcpy(CMSG_DATA(c), &bad, sizeof bad);
    EXPECT_ERRNO(sendmsg(sv[0], &m, 0), EBADF);
}

TEST(sendmsg, scm_credentials)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    int on = 1;
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } cb;
    memset(&cb, 0, sizeof cb);
    char data = 'c';
    struct iovec iov = { &data, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cb.b, .msg_controllen = sizeof cb.b };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred uc = { getpid(), getuid(), getgid() };
    memcpy(CMSG_DATA(c), &uc, sizeof uc);
    EXPECT_EQ(sendmsg(sv[0], &m, 0), 1);

    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } rb;
    char got;
    struct iovec riov = { &got, 1 };
    struct msghdr r = { .msg_iov = &riov, .msg_iovlen = 1,
                        .msg_control = rb.b, .msg_controllen = sizeof rb.b };
    EXPECT_EQ(recvmsg(sv[1], &r, 0), 1);
    struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
    EXPECT_TRUE(rc != NULL);
    EXPECT_EQ(rc->cmsg_type, SCM_CREDENTIALS);
    struct ucred rcv;
    memcpy(&rcv, CMSG_DATA(rc), sizeof rcv);
    EXPECT_EQ(rcv.pid, getpid());
    EXPECT_EQ(rcv.uid, getuid());
    EXPECT_EQ(rcv.gid, getgid());
}

TEST(sendmsg, scm_credentials_other_pid_as_root)
{
    /* Root (CAP_SYS_ADMIN) may claim another pid only natively; without
     * CAP_SYS_ADMIN Linux answers EPERM (the sandbox has Docker's caps). */
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } cb;
    memset(&cb, 0, sizeof cb);
    char data = 'c';
    struct iovec iov = { &data, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cb.b, .msg_controllen = sizeof cb.b };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred uc = { getppid(), getuid(), getgid() };
    memcpy(CMSG_DATA(c), &uc, sizeof uc);
    if (IN_SANDBOX)
        EXPECT_ERRNO(sendmsg(sv[0], &m, 0), EPERM);
    else
        EXPECT_EQ(sendmsg(sv[0], &m, 0), 1);
}

TEST(sendmsg, emsgsize_iovlen)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    static struct iovec iov[1025];
    for (int i = 0; i < 1025; i++) iov[i] = (struct iovec){ "x", 1 };
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = 1025 };
    EXPECT_ERRNO(sendmsg(sv[0], &m, 0), EMSGSIZE);
}

TEST(recvmsg, scm_rights_ctrunc)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    union { struct cmsghdr h; char b[CMSG_SPACE(2 * sizeof(int))]; } cb;
    memset(&cb, 0, sizeof cb);
    char data = 'x';
    struct iovec iov = { &data, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cb.b, .msg_controllen = sizeof cb.b };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = { 0, 1 };
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    EXPECT_EQ(sendmsg(sv[0], &m, 0), 1);
    /* Room for one fd only: the second is dropped and MSG_CTRUNC set. */
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } rb;
    char got;
    struct iovec riov = { &got, 1 };
    struct msghdr r = { .msg_iov = &riov, .msg_iovlen = 1,
                        .msg_control = rb.b, .msg_controllen = CMSG_LEN(sizeof(int)) };
    EXPECT_EQ(recvmsg(sv[1], &r, 0), 1);
    EXPECT_EQ(r.msg_flags & MSG_CTRUNC, MSG_CTRUNC);
    EXPECT_EQ(r.msg_controllen, CMSG_LEN(sizeof(int)));
    struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
    EXPECT_TRUE(rc != NULL);
    EXPECT_EQ(rc->cmsg_len, CMSG_LEN(sizeof(int)));
}

TEST(recvmsg, passcred_implicit)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int on = 1;
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    EXPECT_EQ(write(sv[0], "i", 1), 1);
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } rb;
    char got;
    struct iovec riov = { &got, 1 };
    struct msghdr r = { .msg_iov = &riov, .msg_iovlen = 1,
                        .msg_control = rb.b, .msg_controllen = sizeof rb.b };
    EXPECT_EQ(recvmsg(sv[1], &r, 0), 1);
    struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
    EXPECT_TRUE(rc != NULL);
    EXPECT_EQ(rc->cmsg_type, SCM_CREDENTIALS);
    struct ucred rcv;
    memcpy(&rcv, CMSG_DATA(rc), sizeof rcv);
    EXPECT_EQ(rcv.pid, getpid());
    EXPECT_EQ(rcv.uid, 0);
}

TEST(recvmsg, scatter_gather)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    struct iovec out[3] = { { "ab", 2 }, { "", 0 }, { "cdef", 4 } };
    struct msghdr m = { .msg_iov = out, .msg_iovlen = 3 };
    EXPECT_EQ(sendmsg(sv[0], &m, 0), 6);
    char x[3], y[3];
    struct iovec in[2] = { { x, 3 }, { y, 3 } };
    struct msghdr r = { .msg_iov = in, .msg_iovlen = 2 };
    EXPECT_EQ(recvmsg(sv[1], &r, 0), 6);
    EXPECT_TRUE(!memcmp(x, "abc", 3) && !memcmp(y, "def", 3));
}

TEST(recvmsg, efault_bad_msghdr)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_ERRNO(recvmsg(sv[1], (struct msghdr *)1, MSG_DONTWAIT), EFAULT);
}

/* ---- sendmmsg / recvmmsg ---- */

TEST(sendmmsg, three_datagrams)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    struct iovec iov[3] = { { "a", 1 }, { "bb", 2 }, { "ccc", 3 } };
    struct mmsghdr mm[3];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    EXPECT_EQ(sendmmsg(sv[0], mm, 3, 0), 3);
    EXPECT_EQ(mm[0].msg_len, 1);
    EXPECT_EQ(mm[2].msg_len, 3);

    char b[3][8];
    struct iovec riov[3];
    struct mmsghdr rm[3];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 3; i++) {
        riov[i] = (struct iovec){ b[i], sizeof b[i] };
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    EXPECT_EQ(recvmmsg(sv[1], rm, 3, MSG_DONTWAIT, NULL), 3);
    EXPECT_EQ(rm[0].msg_len, 1);
    EXPECT_EQ(rm[1].msg_len, 2);
    EXPECT_EQ(rm[2].msg_len, 3);
    EXPECT_TRUE(!memcmp(b[2], "ccc", 3));
}

TEST(sendmmsg, udp_loopback)
{
    uint16_t rport, sport;
    int r = inet_bound(SOCK_DGRAM, &rport);
    int s = inet_bound(SOCK_DGRAM, &sport);
    struct sockaddr_in a = lo_addr(rport);
    struct iovec iov[2] = { { "x1", 2 }, { "y22", 3 } };
    struct mmsghdr mm[2];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 2; i++) {
        mm[i].msg_hdr.msg_name = &a;
        mm[i].msg_hdr.msg_namelen = sizeof a;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    EXPECT_EQ(sendmmsg(s, mm, 2, 0), 2);
    char b[2][8];
    struct iovec riov[2] = { { b[0], 8 }, { b[1], 8 } };
    struct mmsghdr rm[2];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 2; i++) {
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    /* MSG_WAITFORONE: block for the first, then take what is there. */
    int n = recvmmsg(r, rm, 2, MSG_WAITFORONE, NULL);
    EXPECT_TRUE(n >= 1);
    EXPECT_EQ(rm[0].msg_len, 2);
    if (n == 1)
        EXPECT_EQ(recvmmsg(r, rm + 1, 1, 0, NULL), 1);
    EXPECT_EQ(rm[1].msg_len, 3);
}

TEST(sendmmsg, ebadf)
{
    struct mmsghdr mm;
    memset(&mm, 0, sizeof mm);
    EXPECT_ERRNO(sendmmsg(999, &mm, 1, 0), EBADF);
}

TEST(recvmmsg, eagain_empty)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    char b[4];
    struct iovec iov = { b, 4 };
    struct mmsghdr rm = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
    EXPECT_ERRNO(recvmmsg(sv[1], &rm, 1, MSG_DONTWAIT, NULL), EAGAIN);
}

TEST(recvmmsg, partial_returns_count)
{
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_EQ(send(sv[0], "only", 4, 0), 4);
    char b[2][8];
    struct iovec riov[2] = { { b[0], 8 }, { b[1], 8 } };
    struct mmsghdr rm[2];
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < 2; i++) {
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    EXPECT_EQ(recvmmsg(sv[1], rm, 2, MSG_DONTWAIT, NULL), 1);
    EXPECT_EQ(rm[0].msg_len, 4);
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
