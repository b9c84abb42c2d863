/* Identity: uids and gids (get*, set*, setres*, setre*, setfs*), groups
 * and capabilities (capget, capset).
 *
 * Both runs are root (uid 0).  Natively root has (nearly) every capability;
 * the sandbox has Docker's default capability set, no_new_privs and a
 * seccomp filter.  Every case runs in its own forked child, so dropping
 * privileges stays there. */
#include "harness.h"
#include "helpers.h"
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/syscall.h>

/* Docker's default capability set (CHOWN DAC_OVERRIDE FOWNER FSETID KILL
 * SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD
 * AUDIT_WRITE SETFCAP). */
#define DOCKER_CAPS 0xa80425fbull

/* ---- getuid & co ---- */

TEST(getuid, root)
{
    EXPECT_EQ(getuid(), 0);
    EXPECT_EQ(syscall(SYS_getuid), 0);
}

TEST(geteuid, root)
{
    EXPECT_EQ(syscall(SYS_geteuid), 0);
}

TEST(getgid, root)
{
    EXPECT_EQ(syscall(SYS_getgid), 0);
}

TEST(getegid, root)
{
    EXPECT_EQ(syscall(SYS_getegid), 0);
}

TEST(getresuid, root)
{
    uid_t r = 9, e = 9, s = 9;
    EXPECT_OK(getresuid(&r, &e, &s));
    EXPECT_EQ(r, 0);
    EXPECT_EQ(e, 0);
    EXPECT_EQ(s, 0);
}

TEST(getresuid, efault)
{
    uid_t r, e;
    EXPECT_ERRNO(syscall(SYS_getresuid, &r, &e, (void *)1), EFAULT);
}

TEST(getresgid, root)
{
    gid_t r = 9, e = 9, s = 9;
    EXPECT_OK(getresgid(&r, &e, &s));
    EXPECT_EQ(r, 0);
    EXPECT_EQ(e, 0);
    EXPECT_EQ(s, 0);
}

TEST(getgroups, initial)
{
    /* The sandbox starts with an empty supplementary group list; natively it
     * is whatever the runner had, so only consistency is checked. */
    int n = getgroups(0, NULL);
    EXPECT_OK(n);
    if (IN_SANDBOX)
        EXPECT_EQ(n, 0);
    gid_t g[64];
    EXPECT_EQ(getgroups(64, g), n);
}

/* ---- setgroups / getgroups ---- */

TEST(setgroups, set_and_get)
{
    gid_t set[3] = { 5, 100, 1000 };
    EXPECT_OK(setgroups(3, set));
    EXPECT_EQ(getgroups(0, NULL), 3);
    gid_t g[8];
    EXPECT_EQ(getgroups(8, g), 3);
    EXPECT_EQ(g[0], 5);
    EXPECT_EQ(g[1], 100);
    EXPECT_EQ(g[2], 1000);
    EXPECT_ERRNO(getgroups(2, g), EINVAL);
    EXPECT_OK(setgroups(0, NULL));
    EXPECT_EQ(getgroups(0, NULL), 0);
}

TEST(setgroups, einval_too_many)
{
    gid_t g[1] = { 0 };
    EXPECT_ERRNO(syscall(SYS_setgroups, 65537, g), EINVAL);
    EXPECT_ERRNO(syscall(SYS_setgroups, -1, g), EINVAL);
}

TEST(setgroups, efault)
{
    EXPECT_ERRNO(syscall(SYS_setgroups, 2, (void *)1), EFAULT);
}

TEST(setgroups, eperm_after_setuid)
{
    EXPECT_OK(setuid(1000));
    gid_t g[1] = { 0 };
    EXPECT_ERRNO(setgroups(1, g), EPERM);
}

/* ---- setuid / setgid / setres* / setre* / setfs* ---- */

TEST(setuid, drop_then_eperm)
{
    EXPECT_OK(syscall(SYS_setuid, 1000));
    uid_t r, e, s;
    EXPECT_OK(getresuid(&r, &e, &s));
    EXPECT_EQ(r, 1000);
    EXPECT_EQ(e, 1000);
    EXPECT_EQ(s, 1000);
    EXPECT_ERRNO(syscall(SYS_setuid, 0), EPERM);
    EXPECT_OK(syscall(SYS_setuid, 1000));              /* to itself: allowed */
}

TEST(setuid, drops_capabilities)
{
    EXPECT_OK(syscall(SYS_setuid, 1000));
    struct __user_cap_data_struct d[2];
    caps_get(d);
    EXPECT_EQ(cap_word(d, 0), 0);
    EXPECT_EQ(cap_word(d, 1), 0);
}

TEST(setuid, einval_minus_one)
{
    EXPECT_ERRNO(syscall(SYS_setuid, -1), EINVAL);
}

TEST(setgid, drop_then_eperm)
{
    EXPECT_OK(syscall(SYS_setgid, 1000));
    gid_t r, e, s;
    EXPECT_OK(getresgid(&r, &e, &s));
    EXPECT_EQ(r, 1000);
    EXPECT_EQ(e, 1000);
    EXPECT_EQ(s, 1000);
    EXPECT_OK(syscall(SYS_setgid, 0));                 /* still root: allowed */
    EXPECT_OK(syscall(SYS_setuid, 1000));
    EXPECT_ERRNO(syscall(SYS_setgid, 1), EPERM);
    EXPECT_OK(syscall(SYS_setgid, 0));                 /* the current gid */
}

TEST(setresuid, all_three)
{
    EXPECT_OK(syscall(SYS_setresuid, 1000, 1001, 1002));
    uid_t r, e, s;
    EXPECT_OK(getresuid(&r, &e, &s));
    EXPECT_EQ(r, 1000);
    EXPECT_EQ(e, 1001);
    EXPECT_EQ(s, 1002);
    /* Unprivileged: any of the three current ids, nothing else. */
    EXPECT_ERRNO(syscall(SYS_setresuid, -1, 0, -1), EPERM);
    EXPECT_OK(syscall(SYS_setresuid, -1, 1002, 1000));
    EXPECT_OK(getresuid(&r, &e, &s));
    EXPECT_EQ(r, 1000);
    EXPECT_EQ(e, 1002);
    EXPECT_EQ(s, 1000);
    EXPECT_EQ(geteuid(), 1002);
}

TEST(setresuid, keep_saved_root)
{
    /* Dropping only the effective uid keeps the way back. */
    EXPECT_OK(syscall(SYS_setresuid, -1, 1000, -1));
    EXPECT_EQ(geteuid(), 1000);
    EXPECT_OK(syscall(SYS_setresuid, -1, 0, -1));
    EXPECT_EQ(geteuid(), 0);
}

TEST(setresgid, all_three)
{
    EXPECT_OK(syscall(SYS_setresgid, 2000, 2001, 2002));
    gid_t r, e, s;
    EXPECT_OK(getresgid(&r, &e, &s));
    EXPECT_EQ(r, 2000);
    EXPECT_EQ(e, 2001);
    EXPECT_EQ(s, 2002);
    EXPECT_OK(syscall(SYS_setresuid, 1000, 1000, 1000));
    EXPECT_ERRNO(syscall(SYS_setresgid, 0, -1, -1), EPERM);
    EXPECT_OK(syscall(SYS_setresgid, 2002, 2000, 2001));
}

TEST(setreuid, real_and_effective)
{
    EXPECT_OK(syscall(SYS_setreuid, 1000, 1001));
    uid_t r, e, s;
    EXPECT_OK(getresuid(&r, &e, &s));
    EXPECT_EQ(r, 1000);
    EXPECT_EQ(e, 1001);
    EXPECT_EQ(s, 1001);         /* real uid set: saved = new effective */
    EXPECT_ERRNO(syscall(SYS_setreuid, 0, -1), EPERM);
    EXPECT_OK(syscall(SYS_setreuid, 1001, 1000));     /* swap: allowed */
}

TEST(setregid, real_and_effective)
{
    EXPECT_OK(syscall(SYS_setregid, 2000, 2001));
    gid_t r, e, s;
    EXPECT_OK(getresgid(&r, &e, &s));
    EXPECT_EQ(r, 2000);
    EXPECT_EQ(e, 2001);
    EXPECT_EQ(s, 2001);
    EXPECT_OK(syscall(SYS_setuid, 1000));
    EXPECT_ERRNO(syscall(SYS_setregid, -1, 0), EPERM);
}

TEST(setfsuid, returns_previous)
{
    EXPECT_EQ(syscall(SYS_setfsuid, 1000), 0);
    EXPECT_EQ(syscall(SYS_setfsuid, -1), 1000);       /* query only */
    EXPECT_EQ(syscall(SYS_setfsuid, 0), 1000);
    /* A change of the effective uid moves the fsuid along. */
    EXPECT_OK(syscall(SYS_setresuid, -1, 1234, -1));
    EXPECT_EQ(syscall(SYS_setfsuid, -1), 1234);
}

TEST(setfsuid, unprivileged_refused_silently)
{
    EXPECT_OK(syscall(SYS_setuid, 1000));
    EXPECT_EQ(syscall(SYS_setfsuid, 0), 1000);         /* no error, no change */
    EXPECT_EQ(syscall(SYS_setfsuid, -1), 1000);
}

TEST(setfsgid, returns_previous)
{
    EXPECT_EQ(syscall(SYS_setfsgid, 1000), 0);
    EXPECT_EQ(syscall(SYS_setfsgid, -1), 1000);
    EXPECT_EQ(syscall(SYS_setfsgid, 0), 1000);
    EXPECT_OK(syscall(SYS_setuid, 1000));
    EXPECT_EQ(syscall(SYS_setfsgid, 5), 0);            /* refused: unchanged */
    EXPECT_EQ(syscall(SYS_setfsgid, -1), 0);
}

/* ---- capget / capset ---- */

TEST(capget, effective_set)
{
    struct __user_cap_data_struct d[2];
    caps_get(d);
    uint64_t eff = cap_word(d, 0), prm = cap_word(d, 1);
    if (IN_SANDBOX) {
        EXPECT_EQ(eff, DOCKER_CAPS);
        EXPECT_EQ(prm, DOCKER_CAPS);
    } else {
        /* Natively root: every Docker capability and CAP_SYS_ADMIN too. */
        EXPECT_EQ(eff & DOCKER_CAPS, DOCKER_CAPS);
        EXPECT_TRUE(eff & (1ull << CAP_SYS_ADMIN));
        EXPECT_EQ(eff, prm);
    }
}

TEST(capget, version_probe)
{
    /* An unknown version: the kernel writes its preferred one back.  With
     * NULL data that is a successful probe, with data it is EINVAL. */
    struct __user_cap_header_struct h = { 0, 0 };
    EXPECT_EQ(syscall(SYS_capget, &h, NULL), 0);
    EXPECT_EQ(h.version, _LINUX_CAPABILITY_VERSION_3);
    struct __user_cap_data_struct d[2];
    h.version = 0x12345678;
    EXPECT_ERRNO(syscall(SYS_capget, &h, d), EINVAL);
    EXPECT_EQ(h.version, _LINUX_CAPABILITY_VERSION_3);
}

TEST(capget, esrch_no_such_pid)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0x7ffffff0 };
    struct __user_cap_data_struct d[2];
    EXPECT_ERRNO(syscall(SYS_capget, &h, d), ESRCH);
}

TEST(capget, efault_bad_header)
{
    struct __user_cap_data_struct d[2];
    EXPECT_ERRNO(syscall(SYS_capget, (void *)1, d), EFAULT);
}

TEST(capset, drop_and_raise_effective)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    caps_get(d);
    d[0].effective &= ~(1u << CAP_NET_BIND_SERVICE);
    EXPECT_OK(syscall(SYS_capset, &h, d));
    struct __user_cap_data_struct g[2];
    caps_get(g);
    EXPECT_EQ(g[0].effective & (1u << CAP_NET_BIND_SERVICE), 0);
    EXPECT_TRUE(g[0].permitted & (1u << CAP_NET_BIND_SERVICE));
    d[0].effective |= 1u << CAP_NET_BIND_SERVICE;     /* still permitted: allowed */
    EXPECT_OK(syscall(SYS_capset, &h, d));
    caps_get(g);
    EXPECT_TRUE(g[0].effective & (1u << CAP_NET_BIND_SERVICE));
}

TEST(capset, eperm_regain_permitted)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    caps_get(d);
    d[0].effective &= ~(1u << CAP_NET_RAW);
    d[0].permitted &= ~(1u << CAP_NET_RAW);
    EXPECT_OK(syscall(SYS_capset, &h, d));
    d[0].permitted |= 1u << CAP_NET_RAW;
    EXPECT_ERRNO(syscall(SYS_capset, &h, d), EPERM);
    d[0].permitted &= ~(1u << CAP_NET_RAW);
    d[0].effective |= 1u << CAP_NET_RAW;              /* effective must be within permitted */
    EXPECT_ERRNO(syscall(SYS_capset, &h, d), EPERM);
}

TEST(capset, eperm_other_pid)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, getppid() };
    struct __user_cap_data_struct d[2];
    caps_get(d);
    EXPECT_ERRNO(syscall(SYS_capset, &h, d), EPERM);
}

TEST(capset, einval_bad_version)
{
    struct __user_cap_header_struct h = { 0x12345678, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    EXPECT_ERRNO(syscall(SYS_capset, &h, d), EINVAL);
}
