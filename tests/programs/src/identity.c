/* Minimal reproducers for what the real programs hit: the sentry answers a
 * path syscall with the identity it took when the sandbox started, and
 * (ptrace) cannot hand a new fd to a thread that is not the main one.
 *
 *   identity setuid   root opens a file, setuid(nobody), opens/stats again
 *   identity thread   open() from the main thread and from a second thread
 *   identity groups   a file readable only by group 4242, opened by root
 *                     without DAC capabilities but with 4242 as a
 *                     supplementary group
 *   identity capdrop  a mode-0000 file opened after dropping DAC
 *                     capabilities from the effective set
 * Each prints one line per call: what it did and "ok" or strerror(errno). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void result(const char *what, long rc)
{
    printf("%s: %s\n", what, rc >= 0 ? "ok" : strerror(errno));
}

static void try_open(const char *what, const char *path)
{
    int fd = open(path, O_RDONLY);
    result(what, fd);
    if (fd >= 0)
        close(fd);
}

static char *make_file(mode_t mode, uid_t uid, gid_t gid)
{
    static char paths[2][32];
    static int n;
    char *p = paths[n++ % 2];
    strcpy(p, "/tmp/identity.XXXXXX");
    int fd = mkstemp(p);
    if (fd < 0 || fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0) { perror(p); exit(2); }
    close(fd);
    return p;
}

static int drop_dac(void)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER));
    return (int)syscall(SYS_capset, &h, d);
}

static void *second_thread(void *arg)
{
    try_open("open /etc/hostname from a second thread", arg);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    struct stat st;
    if (strcmp(mode, "setuid") == 0) {
        try_open("open /etc/hostname as root", "/etc/hostname");
        if (setgid(65534) < 0 || setuid(65534) < 0) { perror("setuid"); return 2; }
        try_open("open /etc/hostname as nobody", "/etc/hostname");
        result("stat /etc/hostname as nobody", stat("/etc/hostname", &st));
        result("access /etc/hostname as nobody", access("/etc/hostname", R_OK));
        try_open("open /etc/shadow as nobody", "/etc/shadow");
    } else if (strcmp(mode, "thread") == 0) {
        try_open("open /etc/hostname from the main thread", "/etc/hostname");
        pthread_t t;
        pthread_create(&t, NULL, second_thread, "/etc/hostname");
        pthread_join(t, NULL);
    } else if (strcmp(mode, "groups") == 0) {
        char *p = make_file(0040, 1000, 4242);
        gid_t g = 4242;
        result("setgroups [4242]", setgroups(1, &g));
        result("drop DAC capabilities", drop_dac());
        try_open("open a 0040 root:4242 file with 4242 as a supplementary group", p);
        unlink(p);
    } else if (strcmp(mode, "capdrop") == 0) {
        char *p = make_file(0000, 1000, 1000);
        try_open("open a 0000 file with CAP_DAC_OVERRIDE", p);
        result("drop DAC capabilities", drop_dac());
        try_open("open a 0000 file without CAP_DAC_OVERRIDE", p);
        unlink(p);
    } else {
        fprintf(stderr, "usage: identity setuid|thread|groups|capdrop\n");
        return 2;
    }
    return 0;
}
