/* Exercises the syscalls of sentry/handlers/ (dirs, attrs, times, xattr, inotify) with raw syscall(2)
 * calls, success and error cases; prints one line per case,
 * "name result ERRNO" (plus lines showing the files' modes, owners, times,
 * contents).  tests/integration/test_fsmeta.py runs it natively and in the
 * sandbox and compares the output line by line.
 *
 * usage: fsmeta BASEDIR [root|caps:HEX|user]      (BASEDIR: a tmpfs, 1777)
 *   root    keep our identity
 *   caps:X  keep uid 0 but only the capabilities in mask X
 *   user    become uid/gid 1000 (a no-op when we already are) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#define RENAME_WHITEOUT 4
#endif
#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

#define BAD ((void *)1)        /* an unmapped address: EFAULT */

static void report(const char *name, long r, int e)
{
    if (r < 0)
        printf("%s -1 %s\n", name, strerrorname_np(e));
    else
        printf("%s %ld OK\n", name, r);
}
#define T(name, expr) do { errno = 0; long r_ = (long)(expr); report(name, r_, errno); } while (0)

static void show(const char *name, const char *path, int follow)
{
    struct stat s;
    int r = follow ? stat(path, &s) : lstat(path, &s);
    if (r < 0) {
        printf("%s stat -1 %s\n", name, strerrorname_np(errno));
        return;
    }
    printf("%s mode=%o uid=%u gid=%u size=%lld nlink=%lu rdev=%u:%u\n", name, s.st_mode, s.st_uid, s.st_gid,
           (long long)s.st_size, (unsigned long)s.st_nlink, major(s.st_rdev), minor(s.st_rdev));
}

static void times_of(const char *name, const char *path, int follow)
{
    struct stat s;
    int r = follow ? stat(path, &s) : lstat(path, &s);
    if (r < 0) {
        printf("%s times -1 %s\n", name, strerrorname_np(errno));
        return;
    }
    time_t now = time(NULL);
    char at[64] = "recent", mt[64] = "recent";
    if (now - s.st_atim.tv_sec >= 100)
        snprintf(at, sizeof at, "%lld.%09ld", (long long)s.st_atim.tv_sec, s.st_atim.tv_nsec);
    if (now - s.st_mtim.tv_sec >= 100)
        snprintf(mt, sizeof mt, "%lld.%09ld", (long long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
    printf("%s atime=%s mtime=%s\n", name, at, mt);
}

static void times_recent(const char *name, const char *path)
{
    struct stat s;
    if (stat(path, &s) < 0) {
        printf("%s times -1 %s\n", name, strerrorname_np(errno));
        return;
    }
    time_t now = time(NULL);
    printf("%s atime-recent=%d mtime-recent=%d\n", name, now - s.st_atim.tv_sec < 100, now - s.st_mtim.tv_sec < 100);
}

static void touch(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) { perror(path); exit(2); }
    if (data && write(fd, data, strlen(data)) < 0) { perror("write"); exit(2); }
    close(fd);
}

static void content(const char *name, const char *path)
{
    char buf[64] = "";
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    printf("%s content=%s\n", name, n < 0 ? "?" : buf);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

static void become(const char *how)
{
    if (!strcmp(how, "user")) {
        if (getuid() == 0) {
            if (setgroups(0, NULL) < 0 || setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0) {
                perror("becoming 1000");
                exit(2);
            }
            prctl(PR_SET_DUMPABLE, 1);      /* as an execve() as uid 1000 would leave us */
        }
    } else if (!strncmp(how, "caps:", 5)) {
        uint64_t mask = strtoull(how + 5, NULL, 16);
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2] = {
            { (uint32_t)mask, (uint32_t)mask, 0 }, { (uint32_t)(mask >> 32), (uint32_t)(mask >> 32), 0 } };
        if (syscall(SYS_capset, &h, d) < 0) {
            perror("capset");
            exit(2);
        }
    }
}

static int thread_ifd;
static long thread_wd;
static void *watch_from_thread(void *arg)
{
    thread_wd = syscall(SYS_inotify_add_watch, thread_ifd, "f1", IN_ATTRIB);
    if (thread_wd < 0)
        thread_wd = -errno;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s BASEDIR [root|caps:HEX|user]\n", argv[0]); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    become(argc > 2 ? argv[2] : "root");
    if (chdir(argv[1]) < 0) { perror(argv[1]); return 2; }
    umask(027);
    printf("id uid=%u gid=%u\n", getuid(), getgid());
    char *huge = repeat('a', 5000), *longcomp = repeat('b', 300), *target4000 = repeat('t', 4000);
    char proc_path[256];

    /* -- mkdir / mkdirat -- */
    T("mkdir.work", syscall(SYS_mkdir, "w", 0777));
    if (chdir("w") < 0) { perror("w"); return 2; }
    T("mkdir.ok", syscall(SYS_mkdir, "d1", 0777));
    show("mkdir.ok", "d1", 1);
    T("mkdir.exist", syscall(SYS_mkdir, "d1", 0777));
    T("mkdir.noent", syscall(SYS_mkdir, "nope/x", 0777));
    touch("f1", "0123456789");
    T("mkdir.notdir", syscall(SYS_mkdir, "f1/x", 0777));
    T("mkdir.efault", syscall(SYS_mkdir, NULL, 0777));
    T("mkdir.efault_bad", syscall(SYS_mkdir, BAD, 0777));
    T("mkdir.toolong", syscall(SYS_mkdir, huge, 0777));
    T("mkdir.comp_toolong", syscall(SYS_mkdir, longcomp, 0777));
    T("mkdir.empty", syscall(SYS_mkdir, "", 0777));
    T("symlink.dangling", syscall(SYS_symlink, "nowhere", "dl"));
    T("mkdir.on_dangling", syscall(SYS_mkdir, "dl", 0777));
    T("symlink.loop", syscall(SYS_symlink, "lp", "lp"));
    T("mkdir.loop", syscall(SYS_mkdir, "lp/x", 0777));
    T("mkdir.sticky", syscall(SYS_mkdir, "d6", 07777));
    show("mkdir.sticky", "d6", 1);
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    int ffd = open("f1", O_RDONLY);
    T("mkdirat.ok", syscall(SYS_mkdirat, dfd, "d2", 0700));
    show("mkdirat.ok", "d2", 1);
    T("mkdirat.badfd", syscall(SYS_mkdirat, 999, "d3", 0700));
    T("mkdirat.negfd", syscall(SYS_mkdirat, -5, "d3", 0700));
    T("mkdirat.notdirfd", syscall(SYS_mkdirat, ffd, "d3", 0700));
    T("mkdirat.abs_badfd", syscall(SYS_mkdirat, 999, "/proc/self/cwd/d4", 0700));
    show("mkdirat.abs_badfd", "d4", 1);
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d/d5", dfd);
    T("mkdirat.procfd", syscall(SYS_mkdirat, AT_FDCWD, proc_path, 0755));
    show("mkdirat.procfd", "d5", 1);
    T("mkdirat.empty", syscall(SYS_mkdirat, dfd, "", 0755));
    T("mkdirat.dev_fd", syscall(SYS_mkdirat, AT_FDCWD, "/dev/fd/999/x", 0755));

    /* -- mknod / mknodat -- */
    T("mknod.fifo", syscall(SYS_mknod, "p1", S_IFIFO | 0666, 0));
    show("mknod.fifo", "p1", 0);
    T("mknod.reg", syscall(SYS_mknod, "r1", S_IFREG | 0666, 0));
    show("mknod.reg", "r1", 0);
    T("mknod.zero_type", syscall(SYS_mknod, "r2", 0644, 0));
    show("mknod.zero_type", "r2", 0);
    T("mknod.sock", syscall(SYS_mknod, "s1", S_IFSOCK | 0777, 0));
    show("mknod.sock", "s1", 0);
    T("mknod.setuid", syscall(SYS_mknod, "r3", S_IFREG | 04777, 0));
    show("mknod.setuid", "r3", 0);
    T("mknod.exist", syscall(SYS_mknod, "r1", S_IFREG | 0600, 0));
    T("mknod.dir", syscall(SYS_mknod, "dd", S_IFDIR | 0755, 0));
    T("mknod.dir_efault", syscall(SYS_mknod, NULL, S_IFDIR | 0755, 0));
    T("mknod.badtype", syscall(SYS_mknod, "bt", 0170000 | 0644, 0));
    T("mknod.chr", syscall(SYS_mknod, "c1", S_IFCHR | 0600, makedev(1, 3)));      /* sandbox: EPERM */
    T("mknod.blk", syscall(SYS_mknod, "b1", S_IFBLK | 0600, makedev(7, 0)));      /* sandbox: EPERM */
    T("mknod.whiteout", syscall(SYS_mknod, "wh", S_IFCHR | 0600, 0));
    show("mknod.whiteout", "wh", 0);
    T("mknod.noent", syscall(SYS_mknod, "nope/x", S_IFIFO | 0600, 0));
    T("mknod.efault", syscall(SYS_mknod, NULL, S_IFIFO | 0600, 0));
    T("mknodat.ok", syscall(SYS_mknodat, dfd, "p2", S_IFIFO | 0600, 0));
    show("mknodat.ok", "p2", 0);
    T("mknodat.badfd", syscall(SYS_mknodat, 999, "p3", S_IFIFO | 0600, 0));

    /* -- unlink / unlinkat / rmdir -- */
    T("unlink.ok", syscall(SYS_unlink, "r2"));
    show("unlink.ok", "r2", 0);
    T("unlink.noent", syscall(SYS_unlink, "r2"));
    T("unlink.dir", syscall(SYS_unlink, "d1"));
    T("unlink.notdir", syscall(SYS_unlink, "f1/x"));
    T("unlink.efault", syscall(SYS_unlink, NULL));
    T("unlink.toolong", syscall(SYS_unlink, huge));
    T("unlink.loop", syscall(SYS_unlink, "lp/x"));
    T("symlink.tmp", syscall(SYS_symlink, "f1", "sl0"));
    T("unlink.symlink", syscall(SYS_unlink, "sl0"));
    show("unlink.symlink_target", "f1", 0);
    T("unlinkat.removedir", syscall(SYS_unlinkat, dfd, "d2", AT_REMOVEDIR));
    T("unlinkat.badflags", syscall(SYS_unlinkat, dfd, "r1", 0x1));
    T("unlinkat.removedir_file", syscall(SYS_unlinkat, dfd, "f1", AT_REMOVEDIR));
    T("unlinkat.badfd", syscall(SYS_unlinkat, 999, "r1", 0));
    T("unlinkat.procself", syscall(SYS_unlinkat, AT_FDCWD, "/proc/self/cwd/r1", 0));
    show("unlinkat.procself", "r1", 0);
    T("mkdir.d7", syscall(SYS_mkdir, "d7", 0755));
    touch("d7/inside", NULL);
    T("rmdir.notempty", syscall(SYS_rmdir, "d7"));
    T("rmdir.noent", syscall(SYS_rmdir, "nope"));
    T("rmdir.notdir", syscall(SYS_rmdir, "f1"));
    T("rmdir.dot", syscall(SYS_rmdir, "."));
    T("rmdir.dotdot", syscall(SYS_rmdir, "d7/.."));
    T("rmdir.efault", syscall(SYS_rmdir, NULL));
    T("rmdir.ok", syscall(SYS_rmdir, "d6"));

    /* -- rename / renameat / renameat2 -- */
    touch("f2", "two");
    T("rename.ok", syscall(SYS_rename, "f2", "f3"));
    content("rename.ok", "f3");
    T("rename.noent", syscall(SYS_rename, "f2", "f4"));
    T("rename.dir_over_file", syscall(SYS_rename, "d1", "f1"));
    T("rename.file_over_dir", syscall(SYS_rename, "f3", "d1"));
    T("rename.notempty", syscall(SYS_rename, "d1", "d7"));
    T("rename.into_self", syscall(SYS_rename, "d1", "d1/sub"));
    T("rename.efault_old", syscall(SYS_rename, NULL, "f4"));
    T("rename.efault_new", syscall(SYS_rename, "f3", NULL));
    T("rename.empty_new", syscall(SYS_rename, "f3", ""));
    T("rename.loop", syscall(SYS_rename, "f3", "lp/x"));
    T("renameat.badfd", syscall(SYS_renameat, 999, "f3", dfd, "f4"));
    T("renameat.procself", syscall(SYS_renameat, AT_FDCWD, "/proc/self/cwd/f3", dfd, "f4"));
    content("renameat.procself", "f4");
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d/f8", dfd);
    T("renameat.both_procself", syscall(SYS_renameat, AT_FDCWD, "/proc/self/cwd/f4", AT_FDCWD, proc_path));
    content("renameat.both_procself", "f8");
    T("renameat.back", syscall(SYS_renameat, dfd, "f8", dfd, "f4"));
    T("renameat2.noreplace", syscall(SYS_renameat2, dfd, "f4", dfd, "f1", RENAME_NOREPLACE));
    touch("ea", "A");
    touch("eb", "B");
    T("renameat2.exchange", syscall(SYS_renameat2, dfd, "ea", dfd, "eb", RENAME_EXCHANGE));
    content("renameat2.exchange", "ea");
    T("renameat2.exchange_noent", syscall(SYS_renameat2, dfd, "ea", dfd, "ec", RENAME_EXCHANGE));
    T("renameat2.badflags", syscall(SYS_renameat2, dfd, "ea", dfd, "ec", 8));
    T("renameat2.exch_noreplace", syscall(SYS_renameat2, dfd, "ea", dfd, "eb", RENAME_EXCHANGE | RENAME_NOREPLACE));
    T("renameat2.badflags_efault", syscall(SYS_renameat2, dfd, NULL, dfd, "ec", 8));
    T("renameat2.whiteout", syscall(SYS_renameat2, dfd, "ea", dfd, "ed", RENAME_WHITEOUT));
    show("renameat2.whiteout", "ea", 0);
    show("renameat2.whiteout_new", "ed", 0);

    /* -- link / linkat -- */
    T("link.ok", syscall(SYS_link, "f1", "h1"));
    show("link.ok", "f1", 0);
    T("link.exist", syscall(SYS_link, "f1", "h1"));
    T("link.noent", syscall(SYS_link, "nope", "h9"));
    T("link.dir", syscall(SYS_link, "d1", "hd"));
    T("link.efault_old", syscall(SYS_link, NULL, "h9"));
    T("link.efault_new", syscall(SYS_link, "f1", NULL));
    T("symlink.sl1", syscall(SYS_symlink, "f1", "sl1"));
    T("linkat.follow", syscall(SYS_linkat, AT_FDCWD, "sl1", AT_FDCWD, "h2", AT_SYMLINK_FOLLOW));
    show("linkat.follow", "h2", 0);
    T("linkat.nofollow", syscall(SYS_linkat, AT_FDCWD, "sl1", AT_FDCWD, "h3", 0));
    show("linkat.nofollow", "h3", 0);
    T("linkat.badflags", syscall(SYS_linkat, AT_FDCWD, "f1", AT_FDCWD, "h9", 0x1));
    T("linkat.empty_path", syscall(SYS_linkat, ffd, "", AT_FDCWD, "h4", AT_EMPTY_PATH));
    T("linkat.empty_noflag", syscall(SYS_linkat, ffd, "", AT_FDCWD, "h5", 0));
    T("linkat.badfd", syscall(SYS_linkat, 999, "f1", AT_FDCWD, "h9", 0));
    T("linkat.badfd_new", syscall(SYS_linkat, AT_FDCWD, "f1", 999, "h9", 0));
    int tmp = open(".", O_TMPFILE | O_RDWR, 0640);
    if (tmp >= 0 && write(tmp, "tmpfile", 7) != 7) return 2;
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", tmp);
    T("linkat.tmpfile", syscall(SYS_linkat, AT_FDCWD, proc_path, AT_FDCWD, "h6", AT_SYMLINK_FOLLOW));
    content("linkat.tmpfile", "h6");
    show("linkat.tmpfile", "h6", 0);
    close(tmp);

    /* -- symlink / symlinkat -- */
    char rl[4200];
    T("symlink.verbatim", syscall(SYS_symlink, "../some//target/./x", "s2"));
    ssize_t n = readlink("s2", rl, sizeof rl - 1);
    printf("symlink.verbatim target=%.*s\n", (int)(n < 0 ? 0 : n), rl);
    T("symlink.exist", syscall(SYS_symlink, "x", "s2"));
    T("symlink.empty_target", syscall(SYS_symlink, "", "s3"));
    T("symlink.efault_target", syscall(SYS_symlink, NULL, "s3"));
    T("symlink.efault_link", syscall(SYS_symlink, "x", NULL));
    T("symlink.noent", syscall(SYS_symlink, "x", "nope/s"));
    T("symlink.toolong_target", syscall(SYS_symlink, huge, "s3"));
    T("symlink.long_target", syscall(SYS_symlink, target4000, "s4"));
    n = readlink("s4", rl, sizeof rl - 1);
    printf("symlink.long_target len=%zd\n", n);
    T("symlinkat.ok", syscall(SYS_symlinkat, "/abs/target", dfd, "s5"));
    n = readlink("s5", rl, sizeof rl - 1);
    printf("symlinkat.ok target=%.*s\n", (int)(n < 0 ? 0 : n), rl);
    T("symlinkat.badfd", syscall(SYS_symlinkat, "x", 999, "s6"));
    T("symlinkat.procself", syscall(SYS_symlinkat, "f1", AT_FDCWD, "/proc/self/cwd/s7"));
    show("symlinkat.procself", "s7", 0);

    /* -- chmod / fchmodat / fchmodat2 -- */
    T("chmod.ok", syscall(SYS_chmod, "f1", 04751));
    show("chmod.ok", "f1", 0);
    T("chmod.noent", syscall(SYS_chmod, "nope", 0644));
    T("chmod.efault", syscall(SYS_chmod, NULL, 0644));
    T("chmod.notdir", syscall(SYS_chmod, "f1/x", 0644));
    T("chmod.loop", syscall(SYS_chmod, "lp", 0644));
    T("chmod.follow", syscall(SYS_chmod, "sl1", 0600));
    show("chmod.follow", "f1", 0);
    T("chmod.highbits", syscall(SYS_chmod, "f1", 0170640));
    show("chmod.highbits", "f1", 0);
    T("fchmodat.ok_ignores_arg4", syscall(SYS_fchmodat, dfd, "f1", 0644, 0x100));
    show("fchmodat.ok_ignores_arg4", "f1", 0);
    T("fchmodat.badfd", syscall(SYS_fchmodat, 999, "f1", 0644));
    T("fchmodat.empty", syscall(SYS_fchmodat, ffd, "", 0644));
    T("fchmodat2.nofollow_symlink", syscall(SYS_fchmodat2, dfd, "sl1", 0600, AT_SYMLINK_NOFOLLOW));
    T("fchmodat2.nofollow_file", syscall(SYS_fchmodat2, dfd, "f1", 0640, AT_SYMLINK_NOFOLLOW));
    show("fchmodat2.nofollow_file", "f1", 0);
    T("fchmodat2.badflags", syscall(SYS_fchmodat2, dfd, "f1", 0640, 0x1));
    T("fchmodat2.empty", syscall(SYS_fchmodat2, ffd, "", 0604, AT_EMPTY_PATH));
    show("fchmodat2.empty", "f1", 0);
    T("fchmodat2.empty_noflag", syscall(SYS_fchmodat2, ffd, "", 0600, 0));
    T("fchmodat2.procself", syscall(SYS_fchmodat2, AT_FDCWD, "/proc/self/cwd/f1", 0644, 0));
    show("fchmodat2.procself", "f1", 0);

    /* -- chown / lchown / fchownat -- */
    T("chown.same", syscall(SYS_chown, "f1", getuid(), getgid()));
    T("chown.noop", syscall(SYS_chown, "f1", -1, -1));
    T("chown.other", syscall(SYS_chown, "f1", 1234, 1234));
    show("chown.other", "f1", 0);
    T("chown.noent", syscall(SYS_chown, "nope", -1, -1));
    T("chown.efault", syscall(SYS_chown, NULL, -1, -1));
    T("lchown.symlink", syscall(SYS_lchown, "sl1", 4321, -1));
    show("lchown.symlink", "sl1", 0);
    show("lchown.symlink_target", "f1", 0);
    T("fchownat.badflags", syscall(SYS_fchownat, dfd, "f1", -1, -1, 0x1));
    T("fchownat.empty", syscall(SYS_fchownat, ffd, "", -1, 4321, AT_EMPTY_PATH));
    show("fchownat.empty", "f1", 0);
    T("fchownat.nofollow", syscall(SYS_fchownat, dfd, "sl1", 55, 55, AT_SYMLINK_NOFOLLOW));
    T("fchownat.badfd", syscall(SYS_fchownat, 999, "f1", -1, -1, 0));
    T("chown.back", syscall(SYS_chown, "f1", getuid(), getgid()));

    /* -- truncate -- */
    T("truncate.ok", syscall(SYS_truncate, "f1", 100));
    show("truncate.ok", "f1", 0);
    T("truncate.neg", syscall(SYS_truncate, "f1", -1L));
    T("truncate.neg_efault", syscall(SYS_truncate, NULL, -1L));
    T("truncate.dir", syscall(SYS_truncate, "d1", 0));
    T("truncate.noent", syscall(SYS_truncate, "nope", 0));
    T("truncate.fifo", syscall(SYS_truncate, "p1", 0));
    T("truncate.efault", syscall(SYS_truncate, NULL, 0));
    T("truncate.notdir", syscall(SYS_truncate, "f1/x", 0));
    T("truncate.loop", syscall(SYS_truncate, "lp", 0));
    T("truncate.procself", syscall(SYS_truncate, "/proc/self/cwd/f1", 5));
    show("truncate.procself", "f1", 0);
    T("truncate.symlink", syscall(SYS_truncate, "sl1", 7));
    show("truncate.symlink", "f1", 0);
    touch("f5", "x");
    chmod("f5", 0444);
    T("truncate.readonly", syscall(SYS_truncate, "f5", 0));
    /* RLIMIT_FSIZE also limits our stdout: print only after restoring it. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim.rlim_cur = 1000;              /* the soft limit only: we may not raise the hard one again */
    lim.rlim_max = old.rlim_max;
    touch("f6", "0123456789");
    setrlimit(RLIMIT_FSIZE, &lim);
    long grow = syscall(SYS_truncate, "f6", 5000);
    int grow_err = errno;
    long ok500 = syscall(SYS_truncate, "f6", 500);
    int ok500_err = errno;
    lim.rlim_cur = 400;
    setrlimit(RLIMIT_FSIZE, &lim);
    long shrink = syscall(SYS_truncate, "f6", 450);
    int shrink_err = errno;
    setrlimit(RLIMIT_FSIZE, &old);
    report("truncate.fsize_grow", grow, grow_err);
    report("truncate.fsize_ok", ok500, ok500_err);
    report("truncate.fsize_shrink", shrink, shrink_err);
    show("truncate.fsize_shrink", "f6", 0);

    /* -- utimensat / futimesat / utimes / utime -- */
    struct timespec ts[2] = { { 1000000000, 123 }, { 1500000000, 456 } };
    T("utimensat.set", syscall(SYS_utimensat, AT_FDCWD, "f1", ts, 0));
    times_of("utimensat.set", "f1", 1);
    struct timespec omit[2] = { { 0, UTIME_OMIT }, { 1600000000, 0 } };
    T("utimensat.omit_atime", syscall(SYS_utimensat, dfd, "f1", omit, 0));
    times_of("utimensat.omit_atime", "f1", 1);
    struct timespec both_omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
    T("utimensat.both_omit_noent", syscall(SYS_utimensat, AT_FDCWD, "nope", both_omit, 0));
    T("utimensat.both_omit_null", syscall(SYS_utimensat, AT_FDCWD, NULL, both_omit, 0));
    T("utimensat.both_omit_badflags", syscall(SYS_utimensat, AT_FDCWD, "f1", both_omit, 0x1));
    T("utimensat.now", syscall(SYS_utimensat, AT_FDCWD, "f1", NULL, 0));
    times_recent("utimensat.now", "f1");
    T("utimensat.set2", syscall(SYS_utimensat, AT_FDCWD, "f1", ts, 0));
    struct timespec now2[2] = { { 0, UTIME_NOW }, { 5, UTIME_NOW } };
    T("utimensat.now_both", syscall(SYS_utimensat, AT_FDCWD, "f1", now2, 0));
    times_recent("utimensat.now_both", "f1");
    struct timespec badns[2] = { { 0, 2000000000 }, { 0, 0 } };
    T("utimensat.badnsec", syscall(SYS_utimensat, AT_FDCWD, "f1", badns, 0));
    T("utimensat.badnsec_noent", syscall(SYS_utimensat, AT_FDCWD, "nope", badns, 0));
    T("utimensat.noent", syscall(SYS_utimensat, AT_FDCWD, "nope", ts, 0));
    T("utimensat.badflags", syscall(SYS_utimensat, AT_FDCWD, "f1", ts, 0x1));
    T("utimensat.nofollow", syscall(SYS_utimensat, AT_FDCWD, "sl1", ts, AT_SYMLINK_NOFOLLOW));
    times_of("utimensat.nofollow", "sl1", 0);
    T("utimensat.fd_null", syscall(SYS_utimensat, ffd, NULL, omit, 0));
    times_of("utimensat.fd_null", "f1", 1);
    T("utimensat.fd_null_flags", syscall(SYS_utimensat, ffd, NULL, ts, AT_SYMLINK_NOFOLLOW));
    T("utimensat.fd_null_badfd", syscall(SYS_utimensat, 999, NULL, ts, 0));
    /* openat2 runs natively: the sandbox's open(2) cannot hand back an O_PATH fd. */
    struct { uint64_t flags, mode, resolve; } how = { O_PATH | O_CLOEXEC, 0, 0 };
    int opath = syscall(SYS_openat2, AT_FDCWD, "f1", &how, sizeof how);
    printf("openat2.opath ok=%d\n", opath >= 0);
    T("utimensat.fd_null_opath", syscall(SYS_utimensat, opath, NULL, ts, 0));
    T("utimensat.opath_empty", syscall(SYS_utimensat, opath, "", ts, AT_EMPTY_PATH));
    close(opath);
    T("utimensat.cwd_null", syscall(SYS_utimensat, AT_FDCWD, NULL, ts, 0));
    T("utimensat.empty_path", syscall(SYS_utimensat, ffd, "", omit, AT_EMPTY_PATH));
    T("utimensat.empty_noflag", syscall(SYS_utimensat, ffd, "", omit, 0));
    T("utimensat.efault_times", syscall(SYS_utimensat, AT_FDCWD, "f1", BAD, 0));
    T("utimensat.badfd", syscall(SYS_utimensat, 999, "f1", ts, 0));
    T("utimensat.parent", syscall(SYS_utimensat, AT_FDCWD, "..", ts, 0));
    T("utimensat.parent_now", syscall(SYS_utimensat, AT_FDCWD, "..", NULL, 0));
    T("utimensat.procself", syscall(SYS_utimensat, AT_FDCWD, "/proc/self/cwd/f1", ts, 0));
    times_of("utimensat.procself", "f1", 1);
    struct timeval tv[2] = { { 1000000000, 5 }, { 1200000000, 7 } };
    T("utimes.set", syscall(SYS_utimes, "f1", tv));
    times_of("utimes.set", "f1", 1);
    struct timeval badtv[2] = { { 0, 1000000 }, { 0, 0 } };
    T("utimes.badusec", syscall(SYS_utimes, "f1", badtv));
    struct timeval negtv[2] = { { 0, 0 }, { 0, -1 } };
    T("utimes.negusec", syscall(SYS_utimes, "f1", negtv));
    T("utimes.badusec_noent", syscall(SYS_utimes, "nope", badtv));
    T("utimes.null", syscall(SYS_utimes, "f1", NULL));
    times_recent("utimes.null", "f1");
    T("utimes.noent", syscall(SYS_utimes, "nope", tv));
    T("utimes.efault", syscall(SYS_utimes, NULL, tv));
    T("utimes.efault_times", syscall(SYS_utimes, "f1", BAD));
    T("futimesat.ok", syscall(SYS_futimesat, dfd, "f1", tv));
    times_of("futimesat.ok", "f1", 1);
    T("futimesat.fd_null", syscall(SYS_futimesat, ffd, NULL, NULL));
    times_recent("futimesat.fd_null", "f1");
    T("futimesat.badfd", syscall(SYS_futimesat, 999, "f1", tv));
    struct utimbuf ub = { 1100000000, 1300000000 };
    T("utime.set", syscall(SYS_utime, "f1", &ub));
    times_of("utime.set", "f1", 1);
    T("utime.null", syscall(SYS_utime, "f1", NULL));
    times_recent("utime.null", "f1");
    T("utime.noent", syscall(SYS_utime, "nope", &ub));
    T("utime.efault", syscall(SYS_utime, NULL, &ub));
    T("utime.efault_times", syscall(SYS_utime, "f1", BAD));

    /* -- statfs -- */
    struct statfs a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    T("statfs.ok", syscall(SYS_statfs, ".", &a));
    fstatfs(dfd, &b);
    printf("statfs.ok same=%d\n", a.f_type == b.f_type && a.f_bsize == b.f_bsize && a.f_blocks == b.f_blocks
           && a.f_files == b.f_files && a.f_namelen == b.f_namelen && a.f_flags == b.f_flags
           && !memcmp(&a.f_fsid, &b.f_fsid, sizeof a.f_fsid));
    memset(&a, 0, sizeof a);
    T("statfs.procself", syscall(SYS_statfs, "/proc/self/cwd", &a));
    printf("statfs.procself same=%d\n", a.f_type == b.f_type && !memcmp(&a.f_fsid, &b.f_fsid, sizeof a.f_fsid));
    T("statfs.symlink", syscall(SYS_statfs, "sl1", &a));
    T("statfs.dangling", syscall(SYS_statfs, "dl", &a));
    T("statfs.noent", syscall(SYS_statfs, "nope", &a));
    T("statfs.efault", syscall(SYS_statfs, NULL, &a));
    T("statfs.efault_buf", syscall(SYS_statfs, ".", BAD));
    T("statfs.notdir", syscall(SYS_statfs, "f1/x", &a));
    T("statfs.loop", syscall(SYS_statfs, "lp", &a));
    T("statfs.empty", syscall(SYS_statfs, "", &a));

    /* -- xattrs -- */
    char val[128], *name255 = repeat('n', 250), longname[300];
    snprintf(longname, sizeof longname, "user.%s", name255);      /* 255 bytes */
    char *name256 = repeat('m', 256);
    T("setxattr.ok", syscall(SYS_setxattr, "f1", "user.a", "hello", 5, 0));
    T("setxattr.create_exists", syscall(SYS_setxattr, "f1", "user.a", "x", 1, XATTR_CREATE));
    T("setxattr.replace_missing", syscall(SYS_setxattr, "f1", "user.zz", "x", 1, XATTR_REPLACE));
    T("setxattr.badflags", syscall(SYS_setxattr, "f1", "user.b", "x", 1, 4));
    T("setxattr.badflags_efault", syscall(SYS_setxattr, NULL, NULL, NULL, 1, 4));
    T("setxattr.emptyname", syscall(SYS_setxattr, "f1", "", "x", 1, 0));
    T("setxattr.name255", syscall(SYS_setxattr, "f1", longname, "x", 1, 0));
    T("removexattr.name255", syscall(SYS_removexattr, "f1", longname));
    T("setxattr.name256", syscall(SYS_setxattr, "f1", name256, "x", 1, 0));
    T("setxattr.e2big", syscall(SYS_setxattr, "f1", "user.b", huge, 65537, 0));
    T("setxattr.efault_value", syscall(SYS_setxattr, "f1", "user.b", NULL, 5, 0));
    T("setxattr.empty_value", syscall(SYS_setxattr, "f1", "user.e", NULL, 0, 0));
    T("setxattr.efault_name", syscall(SYS_setxattr, "f1", NULL, "x", 1, 0));
    T("setxattr.efault_path", syscall(SYS_setxattr, NULL, "user.b", "x", 1, 0));
    T("setxattr.noent", syscall(SYS_setxattr, "nope", "user.b", "x", 1, 0));
    T("setxattr.badns", syscall(SYS_setxattr, "f1", "foo.bar", "x", 1, 0));
    T("setxattr.trusted", syscall(SYS_setxattr, "f1", "trusted.t", "x", 1, 0));
    T("removexattr.trusted", syscall(SYS_removexattr, "f1", "trusted.t"));
    T("getxattr.size0", syscall(SYS_getxattr, "f1", "user.a", NULL, 0));
    T("getxattr.small", syscall(SYS_getxattr, "f1", "user.a", val, 2));
    memset(val, 0, sizeof val);
    T("getxattr.ok", syscall(SYS_getxattr, "f1", "user.a", val, sizeof val));
    printf("getxattr.ok value=%s\n", val);
    T("getxattr.empty_value", syscall(SYS_getxattr, "f1", "user.e", val, sizeof val));
    T("getxattr.missing", syscall(SYS_getxattr, "f1", "user.nope", val, sizeof val));
    T("getxattr.symlink_follow", syscall(SYS_getxattr, "sl1", "user.a", val, sizeof val));
    T("lgetxattr.symlink", syscall(SYS_lgetxattr, "sl1", "user.a", val, sizeof val));
    T("lgetxattr.file", syscall(SYS_lgetxattr, "f1", "user.a", val, sizeof val));
    T("lsetxattr.symlink", syscall(SYS_lsetxattr, "sl1", "user.b", "x", 1, 0));
    T("lsetxattr.file", syscall(SYS_lsetxattr, "f1", "user.c", "cc", 2, 0));
    T("getxattr.efault_value", syscall(SYS_getxattr, "f1", "user.a", BAD, 10));
    T("getxattr.efault_name", syscall(SYS_getxattr, "f1", NULL, val, 10));
    T("getxattr.name_before_path", syscall(SYS_getxattr, NULL, "", val, 10));
    T("getxattr.name_efault_noent", syscall(SYS_getxattr, "nope", NULL, val, 10));
    T("getxattr.noent", syscall(SYS_getxattr, "nope", "user.a", val, 10));
    T("getxattr.notdir", syscall(SYS_getxattr, "f1/x", "user.a", val, 10));
    T("getxattr.loop", syscall(SYS_getxattr, "lp", "user.a", val, 10));
    T("getxattr.toolong", syscall(SYS_getxattr, huge, "user.a", val, 10));
    T("getxattr.empty_path", syscall(SYS_getxattr, "", "user.a", val, 10));
    T("getxattr.procself", syscall(SYS_getxattr, "/proc/self/cwd/f1", "user.a", val, 10));
    T("getxattr.big_size", syscall(SYS_getxattr, "f1", "user.a", val, (size_t)1 << 40));
    T("listxattr.size0", syscall(SYS_listxattr, "f1", NULL, 0));
    char list[256];
    memset(list, 0, sizeof list);
    n = syscall(SYS_listxattr, "f1", list, sizeof list);
    report("listxattr.ok", n, errno);
    for (ssize_t i = 0; i < n; i++)
        if (!list[i]) list[i] = ',';
    printf("listxattr.ok names=%s\n", list);
    T("listxattr.small", syscall(SYS_listxattr, "f1", list, 3));
    T("listxattr.symlink_follow", syscall(SYS_listxattr, "sl1", NULL, 0));
    T("llistxattr.symlink", syscall(SYS_llistxattr, "sl1", list, sizeof list));
    T("listxattr.noent", syscall(SYS_listxattr, "nope", list, sizeof list));
    T("listxattr.efault", syscall(SYS_listxattr, NULL, list, sizeof list));
    T("listxattr.efault_list", syscall(SYS_listxattr, "f1", BAD, 100));
    T("removexattr.ok", syscall(SYS_removexattr, "f1", "user.a"));
    T("removexattr.missing", syscall(SYS_removexattr, "f1", "user.a"));
    T("removexattr.emptyname", syscall(SYS_removexattr, "f1", ""));
    T("removexattr.efault_name", syscall(SYS_removexattr, "f1", NULL));
    T("removexattr.noent", syscall(SYS_removexattr, "nope", "user.a"));
    T("lremovexattr.symlink", syscall(SYS_lremovexattr, "sl1", "user.c"));
    T("removexattr.symlink_follow", syscall(SYS_removexattr, "sl1", "user.c"));
    T("lremovexattr.file", syscall(SYS_lremovexattr, "f1", "user.e"));
    T("listxattr.after", syscall(SYS_listxattr, "f1", NULL, 0));

    /* -- inotify_add_watch -- */
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    T("inotify.add", syscall(SYS_inotify_add_watch, ifd, ".", IN_CREATE));
    touch("ev1", NULL);
    char ev[4096] __attribute__((aligned(8)));
    n = read(ifd, ev, sizeof ev);
    if (n > 0) {
        struct inotify_event *e = (struct inotify_event *)ev;
        printf("inotify.event wd=%d mask=%#x name=%s\n", e->wd, e->mask, e->len ? e->name : "");
    } else {
        printf("inotify.event none %s\n", strerrorname_np(errno));
    }
    T("inotify.add_again", syscall(SYS_inotify_add_watch, ifd, ".", IN_CREATE | IN_DELETE));
    T("inotify.add_file", syscall(SYS_inotify_add_watch, ifd, "f1", IN_MODIFY));
    T("inotify.procself", syscall(SYS_inotify_add_watch, ifd, "/proc/self/cwd", IN_CREATE));
    T("inotify.mask_create", syscall(SYS_inotify_add_watch, ifd, ".", IN_CREATE | IN_MASK_CREATE));
    T("inotify.mask_both", syscall(SYS_inotify_add_watch, ifd, ".", IN_CREATE | IN_MASK_CREATE | IN_MASK_ADD));
    T("inotify.mask0", syscall(SYS_inotify_add_watch, ifd, ".", 0));
    T("inotify.mask0_badfd", syscall(SYS_inotify_add_watch, 999, ".", 0));
    T("inotify.badfd", syscall(SYS_inotify_add_watch, 999, ".", IN_CREATE));
    T("inotify.negfd", syscall(SYS_inotify_add_watch, -1, ".", IN_CREATE));
    T("inotify.notinotify", syscall(SYS_inotify_add_watch, ffd, ".", IN_CREATE));
    T("inotify.notinotify_efault", syscall(SYS_inotify_add_watch, ffd, NULL, IN_CREATE));
    T("inotify.noent", syscall(SYS_inotify_add_watch, ifd, "nope", IN_CREATE));
    T("inotify.efault", syscall(SYS_inotify_add_watch, ifd, NULL, IN_CREATE));
    T("inotify.onlydir", syscall(SYS_inotify_add_watch, ifd, "f1", IN_CREATE | IN_ONLYDIR));
    T("inotify.dangling", syscall(SYS_inotify_add_watch, ifd, "dl", IN_ATTRIB));
    T("inotify.dontfollow", syscall(SYS_inotify_add_watch, ifd, "dl", IN_ATTRIB | IN_DONT_FOLLOW));
    T("inotify.loop", syscall(SYS_inotify_add_watch, ifd, "lp", IN_ATTRIB));
    touch("f7", NULL);
    chmod("f7", 0);
    T("inotify.unreadable", syscall(SYS_inotify_add_watch, ifd, "f7", IN_ATTRIB));
    thread_ifd = ifd;
    pthread_t th;
    pthread_create(&th, NULL, watch_from_thread, NULL);
    pthread_join(th, NULL);
    report("inotify.other_thread", thread_wd < 0 ? -1 : thread_wd, thread_wd < 0 ? (int)-thread_wd : 0);
    T("inotify.relative_dirfd_cwd", syscall(SYS_inotify_add_watch, ifd, "d7/inside", IN_ATTRIB));
    close(ifd);

    /* -- the files' owners and modes at the end -- */
    show("final.f1", "f1", 0);
    show("final.d1", "d1", 0);
    show("final.d7", "d7", 0);
    show("final.p1", "p1", 0);
    fflush(stdout);
    return 0;
}
