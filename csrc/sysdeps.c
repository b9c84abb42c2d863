/* Thin wrappers over kernel calls that Python 3.11's os module lacks.  Each
 * returns 0 (or a result) on success and -errno on failure, so Python turns
 * the error into an OSError in one place (sentry/native.py). */
#define _GNU_SOURCE
#include <errno.h>
#include "sb.h"
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
struct sb_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#define SB_MOUNT_ATTR_RDONLY 0x00000001

/* Evaluate x once: a second unshare() or mount() would not be harmless. */
#define RET(x) do { long r_ = (x); return r_ < 0 ? -errno : (int)r_; } while (0)

int sb_unshare(int flags) { RET(unshare(flags)); }
int sb_setns(int fd, int nstype) { RET(setns(fd, nstype)); }
int sb_mount(const char *src, const char *target, const char *fstype,
             unsigned long flags, const char *data)
{
    RET(mount(src, target, fstype, flags, data));
}
int sb_umount(const char *target, int flags) { RET(umount2(target, flags)); }
int sb_pivot_root(const char *new_root, const char *put_old)
{
    RET((int)syscall(SYS_pivot_root, new_root, put_old));
}
int sb_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
    RET(prctl(option, a2, a3, a4, a5));
}

/* Make a whole mount tree read-only at once (mount_setattr, Linux 5.12),
 * instead of remounting each submount. */
int sb_mount_setattr_ro(const char *path)
{
    struct sb_mount_attr a = { .attr_set = SB_MOUNT_ATTR_RDONLY };
    RET((int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a, sizeof a));
}

/* Path syscalls the sentry makes on a tracee's behalf, raw: the result
 * struct is copied to the tracee byte for byte, never re-packed. */
int sb_fstatat_raw(int dirfd, const char *path, void *statbuf, int flags)
{
    RET((int)syscall(SYS_newfstatat, dirfd, path, statbuf, flags));
}

int sb_statx_raw(int dirfd, const char *path, int flags, unsigned mask, void *statxbuf)
{
    RET((int)syscall(SYS_statx, dirfd, path, flags, mask, statxbuf));
}

int sb_faccessat2(int dirfd, const char *path, int mode, int flags)
{
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
    RET((int)syscall(SYS_faccessat2, dirfd, path, mode, flags));
}

long sb_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -errno;
    return (long)st.f_type;
}

int sb_statfs_raw(const char *path, void *buf)
{
    RET(statfs(path, buf));
}
