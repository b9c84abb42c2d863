#include "harness.h"
/* /proc as a program sees it.  Cases are named after the syscall they
 * exercise: openat (opening the file), read (its contents), readlinkat (the
 * magic links), getdents64 (directory listings).
 *
 * Natively this is the host's /proc; in the sandbox it is the sandbox's
 * own pid namespace's /proc (some files synthesized by the sentry).  Where
 * the two are meant to differ (Seccomp, NoNewPrivs, capabilities) the case
 * branches on IN_SANDBOX. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

/* Reads a whole (small) file into a static buffer, NUL-terminated. */
static char *slurp(const char *path)
{
    static char buf[1 << 18];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) SB_FAIL("open %s: %s", path, sb_errname(errno));
    size_t n = 0;
    for (;;) {
        EXPECT_TRUE(n < sizeof buf - 1);
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        EXPECT_OK(r);
        if (r == 0) break;
        n += r;
    }
    close(fd);
    buf[n] = 0;
    return buf;
}

/* The value after "Key:" in a "Key:\tvalue" file, or NULL. */
static const char *field(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, key, k) && p[k] == ':') {
            p += k + 1;
            while (*p == ' ' || *p == '\t') p++;
            return p;
        }
    }
    return NULL;
}

static long field_long(const char *text, const char *key)
{
    const char *v = field(text, key);
    if (!v) SB_FAIL("no %s: line", key);
    return strtol(v, NULL, 10);
}

static int count_prefix(const char *text, const char *prefix)
{
    int n = 0;
    size_t k = strlen(prefix);
    for (const char *p = text; *p; ) {
        if (!strncmp(p, prefix, k)) n++;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    return n;
}

static long rlink(const char *path, char *buf, size_t len)
{
    long n = syscall(SYS_readlinkat, AT_FDCWD, path, buf, len - 1);
    if (n >= 0) buf[n] = 0;
    return n;
}

/* ---- openat: opening /proc files ---- */

TEST(openat, proc_self_status_pid)
{
    const char *s = slurp("/proc/self/status");
    EXPECT_EQ(field_long(s, "Pid"), getpid());
    EXPECT_EQ(field_long(s, "PPid"), getppid());
    EXPECT_EQ(field_long(s, "Tgid"), getpid());
    EXPECT_EQ(field_long(s, "Threads"), 1);
    const char *uid = field(s, "Uid");
    EXPECT_TRUE(uid && !strncmp(uid, "0\t0\t0\t0\n", 8));
}

TEST(openat, proc_pid_of_child)
{
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    const char *s = slurp(path);
    EXPECT_EQ(field_long(s, "Pid"), pid);
    EXPECT_EQ(field_long(s, "PPid"), getpid());
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

TEST(openat, proc_enoent)
{
    EXPECT_ERRNO(open("/proc/self/conf-no-such-file", O_RDONLY), ENOENT);
    EXPECT_ERRNO(open("/proc/2147483647/status", O_RDONLY), ENOENT);
}

/* ---- read: contents of per-process and system-wide files ---- */

TEST(read, proc_self_status_seccomp)
{
    const char *s = slurp("/proc/self/status");
    /* The sandbox runs under a filter (mode 2) with no_new_privs. */
    EXPECT_EQ(field_long(s, "Seccomp"), IN_SANDBOX ? 2 : 0);
    EXPECT_EQ(field_long(s, "NoNewPrivs"), IN_SANDBOX ? 1 : 0);
}

TEST(read, proc_self_status_capeff)
{
    const char *s = slurp("/proc/self/status");
    const char *v = field(s, "CapEff");
    EXPECT_TRUE(v != NULL);
    unsigned long long eff = strtoull(v, NULL, 16);
    if (IN_SANDBOX)
        EXPECT_TRUE(eff == 0xa80425fbull);              /* Docker's default set */
    else
        EXPECT_TRUE((eff & 0xa80425fbull) == 0xa80425fbull && (eff & (1ull << 21)));
}

TEST(read, proc_self_status_name)
{
    EXPECT_OK(prctl(PR_SET_NAME, "conf-status", 0, 0, 0));
    const char *s = slurp("/proc/self/status");
    const char *v = field(s, "Name");
    EXPECT_TRUE(v && !strncmp(v, "conf-status\n", 12));
    EXPECT_STREQ(slurp("/proc/self/comm"), "conf-status\n");
}

TEST(read, proc_self_stat_fields)
{
    EXPECT_OK(prctl(PR_SET_NAME, "a b) c", 0, 0, 0));
    const char *s = slurp("/proc/self/stat");
    EXPECT_EQ(strtol(s, NULL, 10), getpid());
    /* comm may hold ") ": the fields start after the last ')'. */
    const char *open_paren = strchr(s, '(');
    const char *close_paren = strrchr(s, ')');
    EXPECT_TRUE(open_paren && close_paren);
    EXPECT_EQ(close_paren - open_paren - 1, 6);
    EXPECT_TRUE(!strncmp(open_paren + 1, "a b) c", 6));
    char state;
    int ppid, pgrp, session;
    EXPECT_EQ(sscanf(close_paren + 2, "%c %d %d %d", &state, &ppid, &pgrp, &session), 4);
    EXPECT_EQ(state, 'R');
    EXPECT_EQ(ppid, getppid());
    EXPECT_EQ(pgrp, getpgrp());
    EXPECT_EQ(session, getsid(0));
    int fields = 2;
    for (const char *p = close_paren + 1; *p && *p != '\n'; p++)
        if (*p == ' ') fields++;
    EXPECT_EQ(fields, 52);
}

TEST(read, proc_self_statm)
{
    const char *s = slurp("/proc/self/statm");
    unsigned long v[7];
    EXPECT_EQ(sscanf(s, "%lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]), 7);
    EXPECT_TRUE(v[0] > 0);
    EXPECT_TRUE(v[1] <= v[0]);
}

TEST(read, proc_self_maps_stack)
{
    int local = 0;
    uintptr_t here = (uintptr_t)&local;
    const char *s = slurp("/proc/self/maps");
    int found = 0;
    for (const char *p = s; *p; ) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(p, "%lx-%lx %4s", &lo, &hi, perms) == 3 && strstr(p, "[stack]") &&
            strstr(p, "[stack]") < strchr(p, '\n')) {
            EXPECT_TRUE(lo <= here && here < hi);
            EXPECT_TRUE(!strncmp(perms, "rw", 2));
            found = 1;
        }
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    EXPECT_TRUE(found);
}

TEST(read, proc_self_maps_new_mapping)
{
    void *m = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(m != MAP_FAILED);
    char want[64];
    snprintf(want, sizeof want, "%lx-%lx r--p 00000000 00:00 0", (unsigned long)m,
             (unsigned long)m + 3 * 4096);
    EXPECT_TRUE(strstr(slurp("/proc/self/maps"), want) != NULL);
}

TEST(read, proc_meminfo)
{
    const char *s = slurp("/proc/meminfo");
    EXPECT_TRUE(!strncmp(s, "MemTotal:", 9));
    long total = field_long(s, "MemTotal");
    long avail = field_long(s, "MemAvailable");
    EXPECT_TRUE(total > 0);
    EXPECT_TRUE(avail >= 0 && avail <= total);
    EXPECT_TRUE(strstr(field(s, "MemTotal"), " kB\n") != NULL);
}

TEST(read, proc_cpuinfo)
{
    const char *s = slurp("/proc/cpuinfo");
    int n = count_prefix(s, "processor\t:");
    EXPECT_EQ(n, sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(read, proc_stat_cpu_lines)
{
    const char *s = slurp("/proc/stat");
    EXPECT_TRUE(!strncmp(s, "cpu ", 4));
    EXPECT_EQ(count_prefix(s, "cpu"), 1 + sysconf(_SC_NPROCESSORS_ONLN));
    EXPECT_EQ(count_prefix(s, "btime "), 1);
    unsigned long long user, nice_, sys, idle;
    EXPECT_EQ(sscanf(s, "cpu %llu %llu %llu %llu", &user, &nice_, &sys, &idle), 4);
    EXPECT_TRUE(user + sys + idle > 0);
}

TEST(read, proc_uptime)
{
    const char *s = slurp("/proc/uptime");
    double up = -1, idle = -1;
    EXPECT_EQ(sscanf(s, "%lf %lf", &up, &idle), 2);
    EXPECT_TRUE(up >= 0);
    EXPECT_TRUE(idle >= 0);
    EXPECT_TRUE(s[strlen(s) - 1] == '\n');
}

TEST(read, proc_loadavg)
{
    const char *s = slurp("/proc/loadavg");
    double a, b, c;
    int running, total, last;
    EXPECT_EQ(sscanf(s, "%lf %lf %lf %d/%d %d", &a, &b, &c, &running, &total, &last), 6);
    EXPECT_TRUE(a >= 0 && b >= 0 && c >= 0);
    EXPECT_TRUE(running >= 1 && running <= total);
}

TEST(read, proc_mounts_root)
{
    const char *s = slurp("/proc/mounts");
    int root = 0;
    for (const char *p = s; *p; ) {
        char src[256], dst[256], type[64];
        EXPECT_EQ(sscanf(p, "%255s %255s %63s", src, dst, type), 3);
        if (!strcmp(dst, "/")) root = 1;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    EXPECT_TRUE(root);
    EXPECT_STREQ(slurp("/proc/self/mounts"), s);
}

TEST(read, proc_self_mountinfo)
{
    const char *s = slurp("/proc/self/mountinfo");
    int lines = 0, root = 0;
    for (const char *p = s; *p; ) {
        const char *nl = strchr(p, '\n');
        EXPECT_TRUE(nl != NULL);
        int id, parent;
        unsigned maj, min;
        char rootp[256], mnt[256];
        EXPECT_EQ(sscanf(p, "%d %d %u:%u %255s %255s", &id, &parent, &maj, &min, rootp, mnt), 6);
        const char *sep = strstr(p, " - ");
        EXPECT_TRUE(sep != NULL && sep < nl);
        char type[64], src[256], opts[512];
        EXPECT_EQ(sscanf(sep + 3, "%63s %255s %511s", type, src, opts), 3);
        if (!strcmp(mnt, "/")) root = 1;
        lines++;
        p = nl + 1;
    }
    EXPECT_TRUE(lines >= 1);
    EXPECT_TRUE(root);
}

TEST(read, proc_sys_kernel_hostname)
{
    struct utsname u;
    EXPECT_OK(uname(&u));
    char want[80];
    snprintf(want, sizeof want, "%s\n", u.nodename);
    EXPECT_STREQ(slurp("/proc/sys/kernel/hostname"), want);
}

TEST(read, proc_version)
{
    const char *s = slurp("/proc/version");
    EXPECT_TRUE(!strncmp(s, "Linux version ", 14));
    struct utsname u;
    EXPECT_OK(uname(&u));
    size_t n = strlen(u.release);
    EXPECT_TRUE(!strncmp(s + 14, u.release, n) && s[14 + n] == ' ');
}

TEST(read, proc_filesystems)
{
    const char *s = slurp("/proc/filesystems");
    EXPECT_TRUE(strstr(s, "nodev\tproc\n") != NULL);
}

TEST(read, proc_self_limits)
{
    struct rlimit rl;
    EXPECT_OK(setrlimit(RLIMIT_NOFILE, &(struct rlimit){ 77, 99 }));
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    const char *s = slurp("/proc/self/limits");
    const char *line = strstr(s, "Max open files");
    EXPECT_TRUE(line != NULL);
    unsigned long soft, hard;
    EXPECT_EQ(sscanf(line + strlen("Max open files"), "%lu %lu", &soft, &hard), 2);
    EXPECT_EQ(soft, 77);
    EXPECT_EQ(hard, 99);
}

TEST(read, proc_self_cmdline)
{
    int fd = open("/proc/self/cmdline", O_RDONLY);
    EXPECT_OK(fd);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    EXPECT_TRUE(n > 1);
    EXPECT_EQ(buf[n - 1], 0);
    EXPECT_TRUE(buf[0] != 0);                  /* argv[0] */
}

TEST(read, proc_self_environ_has_platform)
{
    int fd = open("/proc/self/environ", O_RDONLY);
    EXPECT_OK(fd);
    static char buf[1 << 16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    EXPECT_OK(n);
    buf[n] = 0;
    int found = 0;
    for (char *p = buf; p < buf + n; p += strlen(p) + 1)
        if (!strncmp(p, "PYSANDBOX_PLATFORM=", 19)) found = 1;
    EXPECT_EQ(found, IN_SANDBOX);
}

/* ---- getdents64: /proc directories ---- */

TEST(getdents64, proc_self_fd)
{
    int p[2];
    EXPECT_OK(pipe(p));
    DIR *d = opendir("/proc/self/fd");
    EXPECT_TRUE(d != NULL);
    int seen[64] = { 0 };
    struct dirent *e;
    int dirfd_ = dirfd(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        int n = atoi(e->d_name);
        EXPECT_EQ(e->d_type, DT_LNK);
        if (n >= 0 && n < 64) seen[n] = 1;
    }
    EXPECT_TRUE(seen[0] && seen[1] && seen[2]);
    EXPECT_TRUE(seen[p[0]] && seen[p[1]] && seen[dirfd_]);
    closedir(d);
}

TEST(getdents64, proc_self_task)
{
    DIR *d = opendir("/proc/self/task");
    EXPECT_TRUE(d != NULL);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        EXPECT_EQ(atoi(e->d_name), getpid());
        n++;
    }
    EXPECT_EQ(n, 1);
    closedir(d);
}

/* ---- readlinkat: the magic links ---- */

TEST(readlinkat, proc_self_fd_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    struct stat st;
    EXPECT_OK(fstat(p[0], &st));
    char want[64], path[64], got[256];
    snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)st.st_ino);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    EXPECT_EQ(rlink(path, got, sizeof got), (long)strlen(want));
    EXPECT_STREQ(got, want);
}

TEST(readlinkat, proc_self_fd_enoent)
{
    char got[64];
    EXPECT_ERRNO(rlink("/proc/self/fd/999", got, sizeof got), ENOENT);
}

TEST(readlinkat, proc_self_exe)
{
    char exe[4096];
    long n = rlink("/proc/self/exe", exe, sizeof exe);
    EXPECT_OK(n);
    EXPECT_EQ(exe[0], '/');
    /* The link names the file that is running. */
    struct stat a, b;
    EXPECT_OK(stat(exe, &a));
    EXPECT_OK(stat("/proc/self/exe", &b));
    EXPECT_TRUE(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
    EXPECT_TRUE(S_ISREG(a.st_mode));
    /* A short buffer truncates without NUL and without error. */
    char small[4];
    EXPECT_EQ(syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", small, sizeof small), 4);
    EXPECT_TRUE(!memcmp(small, exe, 4));
}

TEST(readlinkat, proc_self_cwd)
{
    char dir[] = "/tmp/conf.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    EXPECT_OK(chdir(dir));
    char got[256];
    EXPECT_EQ(rlink("/proc/self/cwd", got, sizeof got), (long)strlen(dir));
    EXPECT_STREQ(got, dir);
    EXPECT_OK(chdir("/"));
    EXPECT_OK(rmdir(dir));
    EXPECT_EQ(rlink("/proc/self/cwd", got, sizeof got), 1);
    EXPECT_STREQ(got, "/");
}

TEST(readlinkat, proc_self)
{
    char got[64], want[64];
    snprintf(want, sizeof want, "%d", getpid());
    EXPECT_EQ(rlink("/proc/self", got, sizeof got), (long)strlen(want));
    EXPECT_STREQ(got, want);
    snprintf(want, sizeof want, "%d/task/%d", getpid(), getpid());
    EXPECT_EQ(rlink("/proc/thread-self", got, sizeof got), (long)strlen(want));
    EXPECT_STREQ(got, want);
}

TEST(readlinkat, einval_not_a_link)
{
    char got[64];
    EXPECT_ERRNO(rlink("/proc/self/status", got, sizeof got), EINVAL);
}
