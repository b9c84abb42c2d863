/* Sockets: sendto, recvfrom, sendmsg, recvmsg (SCM_RIGHTS,
 * SCM_CREDENTIALS), sendmmsg and recvmmsg.  AF_UNIX (path in a /tmp
 * scratch dir and abstract) and AF_INET on loopback only (127.0.0.1,
 * port 0; getsockname tells the port). */
#include "harness.h"
#include "net_helpers.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

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
