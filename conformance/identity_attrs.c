/* Identity: process and host attributes: uname, sethostname,
 * setdomainname, personality, prctl and arch_prctl.
 *
 * Both runs are root (uid 0).  Natively root has (nearly) every capability
 * and its own UTS namespace; the sandbox has Docker's default capability
 * set, no_new_privs, a seccomp filter and the nodename "pysandbox".  Every
 * case runs in its own forked child, so dropping privileges stays there. */
#include "harness.h"
#include "helpers.h"
#include <asm/prctl.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

/* ---- uname ---- */

TEST(uname, sysname_machine)
{
    struct utsname u;
    EXPECT_OK(uname(&u));
    EXPECT_STREQ(u.sysname, "Linux");
    EXPECT_STREQ(u.machine, "x86_64");
}

TEST(uname, nodename_release)
{
    struct utsname u;
    EXPECT_OK(uname(&u));
    if (IN_SANDBOX) {
        EXPECT_STREQ(u.nodename, "pysandbox");
        EXPECT_STREQ(u.release, "6.1.0-pysandbox");
    } else {
        /* Natively: the private UTS namespace's copy of the host's name. */
        EXPECT_TRUE(u.nodename[0] != 0);
        EXPECT_TRUE(u.release[0] >= '1' && u.release[0] <= '9');
        EXPECT_TRUE(strchr(u.release, '.') != NULL);
    }
    EXPECT_TRUE(u.version[0] == '#');
}

TEST(uname, gethostname_matches)
{
    struct utsname u;
    EXPECT_OK(uname(&u));
    char h[256];
    EXPECT_OK(gethostname(h, sizeof h));
    EXPECT_STREQ(h, u.nodename);
    char small[2];
    EXPECT_ERRNO(gethostname(small, sizeof small), ENAMETOOLONG);
}

TEST(uname, efault)
{
    EXPECT_ERRNO(syscall(SYS_uname, (void *)1), EFAULT);
}

/* ---- sethostname / setdomainname ---- */

TEST(sethostname, set_and_read_back)
{
    /* Natively (private UTS namespace, CAP_SYS_ADMIN) root may rename it;
     * the sandbox has no CAP_SYS_ADMIN: EPERM, and the name is unchanged. */
    struct utsname before, after;
    EXPECT_OK(uname(&before));
    if (IN_SANDBOX) {
        EXPECT_ERRNO(sethostname("conf-host", 9), EPERM);
        EXPECT_OK(uname(&after));
        EXPECT_STREQ(after.nodename, before.nodename);
        return;
    }
    EXPECT_OK(sethostname("conf-host", 9));
    EXPECT_OK(uname(&after));
    EXPECT_STREQ(after.nodename, "conf-host");
    EXPECT_OK(sethostname(before.nodename, strlen(before.nodename)));
}

TEST(sethostname, einval_too_long)
{
    char name[66];
    memset(name, 'a', sizeof name);
    /* Linux checks CAP_SYS_ADMIN before the length. */
    if (IN_SANDBOX) {
        EXPECT_ERRNO(sethostname(name, 65), EPERM);
    } else {
        EXPECT_ERRNO(sethostname(name, 65), EINVAL);
        EXPECT_ERRNO(syscall(SYS_sethostname, name, -1), EINVAL);
    }
}

TEST(sethostname, efault)
{
    EXPECT_ERRNO(syscall(SYS_sethostname, (void *)1, 5), IN_SANDBOX ? EPERM : EFAULT);
}

TEST(setdomainname, set_and_read_back)
{
    struct utsname before, after;
    EXPECT_OK(uname(&before));
    if (IN_SANDBOX) {
        EXPECT_ERRNO(setdomainname("conf.dom", 8), EPERM);
        EXPECT_OK(uname(&after));
        EXPECT_STREQ(after.domainname, before.domainname);
        return;
    }
    EXPECT_OK(setdomainname("conf.dom", 8));
    EXPECT_OK(uname(&after));
    EXPECT_STREQ(after.domainname, "conf.dom");
    EXPECT_STREQ(after.nodename, before.nodename);
    EXPECT_OK(setdomainname(before.domainname, strlen(before.domainname)));
}

TEST(setdomainname, einval_too_long)
{
    char name[66];
    memset(name, 'b', sizeof name);
    EXPECT_ERRNO(setdomainname(name, 65), IN_SANDBOX ? EPERM : EINVAL);
}

/* ---- personality ---- */

TEST(personality, query)
{
    EXPECT_EQ(syscall(SYS_personality, 0xffffffff), PER_LINUX);
}

TEST(personality, set_returns_previous)
{
    EXPECT_EQ(personality(PER_LINUX | ADDR_NO_RANDOMIZE), PER_LINUX);
    EXPECT_EQ(personality(0xffffffff), PER_LINUX | ADDR_NO_RANDOMIZE);
    EXPECT_EQ(personality(PER_LINUX), PER_LINUX | ADDR_NO_RANDOMIZE);
    EXPECT_EQ(personality(0xffffffff), PER_LINUX);
}

/* ---- prctl ---- */

TEST(prctl, set_get_name)
{
    char name[32] = "";
    EXPECT_OK(prctl(PR_SET_NAME, "conf-name", 0, 0, 0));
    EXPECT_OK(prctl(PR_GET_NAME, name, 0, 0, 0));
    EXPECT_STREQ(name, "conf-name");
    /* Truncated to 15 bytes and a NUL. */
    EXPECT_OK(prctl(PR_SET_NAME, "0123456789abcdefghij", 0, 0, 0));
    EXPECT_OK(prctl(PR_GET_NAME, name, 0, 0, 0));
    EXPECT_STREQ(name, "0123456789abcde");
}

TEST(prctl, efault_name)
{
    EXPECT_ERRNO(prctl(PR_SET_NAME, (void *)1, 0, 0, 0), EFAULT);
    EXPECT_ERRNO(prctl(PR_GET_NAME, (void *)1, 0, 0, 0), EFAULT);
}

TEST(prctl, pdeathsig)
{
    int sig = -1;
    EXPECT_OK(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0));
    EXPECT_EQ(sig, 0);
    EXPECT_OK(prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0));
    EXPECT_OK(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0));
    EXPECT_EQ(sig, SIGUSR1);
    EXPECT_ERRNO(prctl(PR_SET_PDEATHSIG, 100, 0, 0, 0), EINVAL);
    EXPECT_OK(prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0));
}

TEST(prctl, no_new_privs)
{
    /* The sandbox sets no_new_privs before exec; natively it is clear. */
    EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), IN_SANDBOX ? 1 : 0);
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
    EXPECT_ERRNO(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);   /* one way only */
    EXPECT_ERRNO(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL);
}

TEST(prctl, seccomp_mode)
{
    /* The sandbox runs under a seccomp filter (mode 2). */
    EXPECT_EQ(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), IN_SANDBOX ? 2 : 0);
}

TEST(prctl, dumpable)
{
    /* Only prctl calls while non-dumpable: the sentry cannot read the
     * memory of a non-dumpable process (docs/SECURITY.md). */
    EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    EXPECT_OK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
    long got = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    long bad = prctl(PR_SET_DUMPABLE, 2, 0, 0, 0);
    int bad_errno = errno;
    EXPECT_OK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
    EXPECT_EQ(got, 0);
    EXPECT_EQ(bad, -1);
    EXPECT_EQ(bad_errno, EINVAL);
    EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
}

TEST(prctl, capbset_read)
{
    EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), 1);
    EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0), 1);
    /* Docker's bounding set has no CAP_SYS_ADMIN. */
    EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0), IN_SANDBOX ? 0 : 1);
    EXPECT_ERRNO(prctl(PR_CAPBSET_READ, 200, 0, 0, 0), EINVAL);
}

TEST(prctl, capbset_drop)
{
    /* Needs CAP_SETPCAP, which Docker's set keeps. */
    EXPECT_OK(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0));
    EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_MKNOD, 0, 0, 0), 0);
}

TEST(prctl, keepcaps)
{
    EXPECT_EQ(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0);
    EXPECT_OK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    EXPECT_EQ(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1);
    EXPECT_OK(syscall(SYS_setresuid, 1000, 1000, 1000));
    struct __user_cap_data_struct d[2];
    caps_get(d);
    EXPECT_EQ(cap_word(d, 0), 0);               /* effective cleared */
    EXPECT_TRUE(cap_word(d, 1) != 0);           /* permitted kept */
    EXPECT_ERRNO(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL);
}

TEST(prctl, child_subreaper)
{
    int v = -1;
    EXPECT_OK(prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0));
    EXPECT_EQ(v, 0);
    EXPECT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
    EXPECT_OK(prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0));
    EXPECT_EQ(v, 1);
}

TEST(prctl, einval_bad_option)
{
    EXPECT_ERRNO(prctl(9999, 0, 0, 0, 0), EINVAL);
    EXPECT_ERRNO(prctl(-1, 0, 0, 0, 0), EINVAL);
}

/* ---- arch_prctl ---- */

TEST(arch_prctl, get_fs)
{
    unsigned long fs = 0;
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
    EXPECT_TRUE(fs != 0);
    /* glibc's TCB starts with a pointer to itself. */
    unsigned long self;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(self));
    EXPECT_TRUE(self == fs);
}

TEST(arch_prctl, set_fs_roundtrip)
{
    unsigned long fs = 0, got = 0;
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_SET_FS, fs));
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &got));
    EXPECT_TRUE(got == fs);
}

TEST(arch_prctl, einval_bad_code)
{
    unsigned long v;
    EXPECT_ERRNO(syscall(SYS_arch_prctl, 0x9999, &v), EINVAL);
}

TEST(arch_prctl, efault_bad_address)
{
    EXPECT_ERRNO(syscall(SYS_arch_prctl, ARCH_GET_FS, (void *)1), EFAULT);
}

TEST(arch_prctl, eperm_set_fs_noncanonical)
{
    EXPECT_ERRNO(syscall(SYS_arch_prctl, ARCH_SET_FS, 0x8000000000000000ul), EPERM);
}
