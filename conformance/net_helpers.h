/* Socket helpers shared by the sockets_*.c files: AF_INET on loopback only
 * (127.0.0.1, port 0, getsockname tells the port) and AF_UNIX addresses (a
 * path in a /tmp scratch dir, or abstract).  Include after harness.h; static
 * inline like helpers.h, so unused ones cost nothing. */
#ifndef PYSANDBOX_NET_HELPERS_H
#define PYSANDBOX_NET_HELPERS_H
#include "harness.h"
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* 127.0.0.1:port. */
static inline struct sockaddr_in lo_addr(uint16_t port)
{
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* A socket of the given type bound to 127.0.0.1 on a kernel-chosen port. */
static inline int inet_bound(int type, uint16_t *port)
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

/* A listening TCP socket on loopback; its port into *port. */
static inline int tcp_listener(uint16_t *port)
{
    int s = inet_bound(SOCK_STREAM, port);
    EXPECT_OK(listen(s, 8));
    return s;
}

/* A TCP socket connected to 127.0.0.1:port (a tcp_listener's). */
static inline int tcp_connect(uint16_t port)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_OK(c);
    struct sockaddr_in a = lo_addr(port);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, sizeof a));
    return c;
}

/* A fresh /tmp scratch dir holding one socket path; unix_rm cleans up. */
static char sdir[64], spath[100];
static inline struct sockaddr_un unix_path_addr(socklen_t *len)
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
static inline void unix_rm(void)
{
    unlink(spath);
    EXPECT_OK(rmdir(sdir));
}

/* An abstract address unique to this process. */
static inline struct sockaddr_un unix_abstract_addr(socklen_t *len)
{
    struct sockaddr_un a = { 0 };
    a.sun_family = AF_UNIX;
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "conf-%d", getpid());
    *len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    return a;
}
#endif
