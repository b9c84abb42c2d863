/* Times one syscall in a tight loop and prints nanoseconds per call.
 *   loop MODE ITERATIONS     MODE: getpid | uname | sysinfo | openat | stat | ioctl
 * Built and run by bench/syscalls.py, natively and inside the sandbox. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1];
    long n = atol(argv[2]);
    struct utsname u;
    struct sysinfo si;
    int m = !strcmp(mode, "getpid") ? 0 : !strcmp(mode, "uname") ? 1
          : !strcmp(mode, "sysinfo") ? 2 : !strcmp(mode, "openat") ? 3
          : !strcmp(mode, "stat") ? 4 : !strcmp(mode, "ioctl") ? 5 : -1;
    struct stat sb;
    int p[2], avail;
    if (m == 5 && pipe(p) < 0)
        return 1;
    if (m < 0)
        return 2;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        switch (m) {
        case 0: syscall(SYS_getpid); break;
        case 1: uname(&u); break;
        case 2: sysinfo(&si); break;
        case 4: stat("/etc/hostname", &sb); break;
        case 5: ioctl(p[0], FIONREAD, &avail); break;   /* arg-checked in BPF */
        case 3: {
            int fd = openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                close(fd);
            break;
        }
        }
    }
    printf("%.1f\n", (now() - t0) / n);
    return 0;
}
