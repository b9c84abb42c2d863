#include "harness.h"
/* The syscalls the sandbox denies in BPF (docs/syscalls.md, action "denied").
 *
 * In the sandbox a denied call returns the table's errno whatever its
 * arguments: the host kernel never sees it.  Natively each case documents
 * what Linux 6.18 does with arguments that are harmless to the host (bad
 * pointers, bad flags, bad fds, or read-only queries), so nothing is ever
 * mounted, loaded, rebooted or set.  Where Linux itself returns ENOSYS (the
 * call was removed, never implemented, or is compiled out of this kernel)
 * the case says so. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#ifndef SYS_listmount
#define SYS_listmount 458
#endif
#ifndef SYS_lsm_set_self_attr
#define SYS_lsm_set_self_attr 460
#endif
#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467
#endif
#ifndef SYS_create_module
#define SYS_create_module 174
#endif
#ifndef SYS_get_kernel_syms
#define SYS_get_kernel_syms 177
#endif
#ifndef SYS_query_module
#define SYS_query_module 178
#endif
#ifndef SYS_nfsservctl
#define SYS_nfsservctl 180
#endif
#ifndef SYS_lookup_dcookie
#define SYS_lookup_dcookie 212
#endif
#ifndef SYS_uselib
#define SYS_uselib 134
#endif

#define BADPTR ((void *)1)

/* expr fails with native_err on Linux and with sandbox_err in the sandbox. */
#define EXPECT_DENIED(expr, native_err, sandbox_err) do {                        \
        if (IN_SANDBOX) EXPECT_ERRNO(expr, sandbox_err);                         \
        else EXPECT_ERRNO(expr, native_err);                                     \
    } while (0)

/* acct */
TEST(acct, efault_bad_name)
{
    /* Linux checks CAP_SYS_PACCT, then copies the name: EFAULT, and
     * accounting is left as it was. */
    EXPECT_DENIED(syscall(SYS_acct, BADPTR), EFAULT, EPERM);
}

/* add_key */
TEST(add_key, efault_bad_type)
{
    EXPECT_DENIED(syscall(SYS_add_key, BADPTR, "conf", NULL, 0, -2 /* process keyring */),
                  EFAULT, EPERM);
}

/* adjtimex */
TEST(adjtimex, efault_bad_buf)
{
    EXPECT_DENIED(syscall(SYS_adjtimex, BADPTR), EFAULT, EPERM);
}

/* afs_syscall */
TEST(afs_syscall, enosys)
{
    EXPECT_ERRNO(syscall(SYS_afs_syscall, 0), ENOSYS);
}

/* bpf */
TEST(bpf, einval_bad_cmd)
{
    EXPECT_DENIED(syscall(SYS_bpf, 9999, NULL, 0), EINVAL, EPERM);
}

/* clock_adjtime */
TEST(clock_adjtime, efault_bad_buf)
{
    EXPECT_DENIED(syscall(SYS_clock_adjtime, 0 /* CLOCK_REALTIME */, BADPTR), EFAULT, EPERM);
}

/* clock_settime */
TEST(clock_settime, efault_bad_ts)
{
    EXPECT_DENIED(syscall(SYS_clock_settime, 0 /* CLOCK_REALTIME */, BADPTR), EFAULT, EPERM);
}

/* clone3 */
TEST(clone3, size_zero)
{
    /* Linux: a zero-sized clone_args is EINVAL.  The sandbox answers ENOSYS
     * (the flags live in memory BPF cannot read) so libc falls back to clone. */
    EXPECT_DENIED(syscall(SYS_clone3, NULL, 0), EINVAL, ENOSYS);
}

/* create_module */
TEST(create_module, removed)
{
    /* Removed in Linux 2.6: ENOSYS.  The table answers EPERM. */
    EXPECT_DENIED(syscall(SYS_create_module, 0, 0), ENOSYS, EPERM);
}

/* delete_module */
TEST(delete_module, bad_name)
{
    /* This kernel is built without module support: ENOSYS. */
    EXPECT_DENIED(syscall(SYS_delete_module, BADPTR, 0), ENOSYS, EPERM);
}

/* epoll_ctl_old */
TEST(epoll_ctl_old, enosys)
{
    EXPECT_ERRNO(syscall(SYS_epoll_ctl_old, 0, 0, 0, 0), ENOSYS);
}

/* epoll_wait_old */
TEST(epoll_wait_old, enosys)
{
    EXPECT_ERRNO(syscall(SYS_epoll_wait_old, 0, 0, 0, 0), ENOSYS);
}

/* fanotify_init */
TEST(fanotify_init, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_fanotify_init, 0xffffffffu, 0), EINVAL, EPERM);
}

/* fanotify_mark */
TEST(fanotify_mark, einval_no_action)
{
    EXPECT_DENIED(syscall(SYS_fanotify_mark, -1, 0, 0, -1, NULL), EINVAL, EPERM);
}

/* finit_module */
TEST(finit_module, bad_fd)
{
    /* No module support in this kernel: ENOSYS. */
    EXPECT_DENIED(syscall(SYS_finit_module, -1, "", 0), ENOSYS, EPERM);
}

/* fsconfig */
TEST(fsconfig, einval_null_key)
{
    EXPECT_DENIED(syscall(SYS_fsconfig, -1, 0 /* FSCONFIG_SET_FLAG */, NULL, NULL, 0),
                  EINVAL, EPERM);
}

/* fsmount */
TEST(fsmount, ebadf)
{
    EXPECT_DENIED(syscall(SYS_fsmount, -1, 0, 0), EBADF, EPERM);
}

/* fsopen */
TEST(fsopen, efault_bad_name)
{
    EXPECT_DENIED(syscall(SYS_fsopen, NULL, 0), EFAULT, EPERM);
}

TEST(fsopen, enodev_unknown_fs)
{
    EXPECT_DENIED(syscall(SYS_fsopen, "conf-no-such-fs", 0), ENODEV, EPERM);
}

/* fspick */
TEST(fspick, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_fspick, -1, "", 0xffffffffu), EINVAL, EPERM);
}

/* get_kernel_syms */
TEST(get_kernel_syms, enosys)
{
    EXPECT_ERRNO(syscall(SYS_get_kernel_syms, 0), ENOSYS);
}

/* getpmsg */
TEST(getpmsg, enosys)
{
    EXPECT_ERRNO(syscall(SYS_getpmsg, 0), ENOSYS);
}

/* init_module */
TEST(init_module, empty_image)
{
    /* No module support in this kernel: ENOSYS. */
    EXPECT_DENIED(syscall(SYS_init_module, NULL, 0, ""), ENOSYS, EPERM);
}

/* io_uring_enter */
TEST(io_uring_enter, ebadf)
{
    EXPECT_DENIED(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0), EBADF, EPERM);
}

/* io_uring_register */
TEST(io_uring_register, einval_before_fd)
{
    /* Linux validates the opcode's arguments before the fd: EINVAL. */
    EXPECT_DENIED(syscall(SYS_io_uring_register, -1, 0, NULL, 0), EINVAL, EPERM);
}

/* io_uring_setup */
TEST(io_uring_setup, efault_bad_params)
{
    EXPECT_DENIED(syscall(SYS_io_uring_setup, 0, NULL), EFAULT, EPERM);
}

/* ioperm */
TEST(ioperm, out_of_range)
{
    /* This kernel is built without CONFIG_X86_IOPL_IOPERM: ENOSYS. */
    EXPECT_DENIED(syscall(SYS_ioperm, 0x10000, 1, 1), ENOSYS, EPERM);
}

/* iopl */
TEST(iopl, bad_level)
{
    /* Built without CONFIG_X86_IOPL_IOPERM: ENOSYS. */
    EXPECT_DENIED(syscall(SYS_iopl, 4), ENOSYS, EPERM);
}

/* kcmp */
TEST(kcmp, same_file)
{
    /* Natively comparing our own fd 0 with itself is harmless: 0 (equal). */
    if (IN_SANDBOX) {
        EXPECT_ERRNO(syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0), EPERM);
    } else {
        EXPECT_EQ(syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0), 0);
    }
}

/* kexec_file_load */
TEST(kexec_file_load, bad_flags)
{
    /* Built without kexec: ENOSYS. */
    EXPECT_DENIED(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0xffff0000ul), ENOSYS, EPERM);
}

/* kexec_load */
TEST(kexec_load, bad_flags)
{
    /* Built without kexec: ENOSYS. */
    EXPECT_DENIED(syscall(SYS_kexec_load, 0, 0xffff, NULL, 0xffff0000ul), ENOSYS, EPERM);
}

/* keyctl */
TEST(keyctl, eopnotsupp_bad_op)
{
    EXPECT_DENIED(syscall(SYS_keyctl, 9999, 0, 0, 0, 0), EOPNOTSUPP, EPERM);
}

/* listmount */
TEST(listmount, efault_bad_req)
{
    EXPECT_DENIED(syscall(SYS_listmount, NULL, NULL, 0, 0), EFAULT, EPERM);
}

/* lookup_dcookie */
TEST(lookup_dcookie, removed)
{
    /* Removed in Linux 6.6: ENOSYS.  The table answers EPERM. */
    EXPECT_DENIED(syscall(SYS_lookup_dcookie, 0, NULL, 0), ENOSYS, EPERM);
}

/* lsm_set_self_attr */
TEST(lsm_set_self_attr, einval_null_ctx)
{
    EXPECT_DENIED(syscall(SYS_lsm_set_self_attr, 0, NULL, 0, 0), EINVAL, EPERM);
}

/* mbind */
TEST(mbind, empty_range)
{
    /* Natively an empty range with MPOL_DEFAULT only touches our own
     * (nonexistent) mappings: 0. */
    if (IN_SANDBOX)
        EXPECT_ERRNO(syscall(SYS_mbind, NULL, 0, 0, NULL, 0, 0), EPERM);
    else
        EXPECT_EQ(syscall(SYS_mbind, NULL, 0, 0, NULL, 0, 0), 0);
}

TEST(mbind, einval_unaligned)
{
    EXPECT_DENIED(syscall(SYS_mbind, BADPTR, 4096, 0, NULL, 0, 0), EINVAL, EPERM);
}

/* migrate_pages */
TEST(migrate_pages, esrch)
{
    EXPECT_DENIED(syscall(SYS_migrate_pages, 0x7ffffff0, 0, NULL, NULL), ESRCH, EPERM);
}

/* mount */
TEST(mount, efault_null_target)
{
    EXPECT_DENIED(syscall(SYS_mount, NULL, NULL, NULL, 0, NULL), EFAULT, EPERM);
}

/* mount_setattr */
TEST(mount_setattr, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_mount_setattr, -1, "", 0xffffffffu, NULL, 0), EINVAL, EPERM);
}

/* move_mount */
TEST(move_mount, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_move_mount, -1, "", -1, "", 0xffffffffu), EINVAL, EPERM);
}

/* move_pages */
TEST(move_pages, zero_pages)
{
    /* Natively zero pages of our own process: 0. */
    if (IN_SANDBOX)
        EXPECT_ERRNO(syscall(SYS_move_pages, 0, 0, NULL, NULL, NULL, 0), EPERM);
    else
        EXPECT_EQ(syscall(SYS_move_pages, 0, 0, NULL, NULL, NULL, 0), 0);
}

TEST(move_pages, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_move_pages, 0, 0, NULL, NULL, NULL, 0xff), EINVAL, EPERM);
}

/* name_to_handle_at */
TEST(name_to_handle_at, efault_null_handle)
{
    int mnt;
    EXPECT_DENIED(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", NULL, &mnt, 0), EFAULT, EPERM);
}

/* nfsservctl */
TEST(nfsservctl, removed)
{
    /* Removed in Linux 3.1: ENOSYS.  The table answers EPERM. */
    EXPECT_DENIED(syscall(SYS_nfsservctl, 0, NULL, NULL), ENOSYS, EPERM);
}

/* open_by_handle_at */
TEST(open_by_handle_at, efault_bad_handle)
{
    EXPECT_DENIED(syscall(SYS_open_by_handle_at, -1, BADPTR, 0), EFAULT, EPERM);
}

/* open_tree */
TEST(open_tree, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_open_tree, -1, "", 0xffffffffu), EINVAL, EPERM);
}

/* open_tree_attr */
TEST(open_tree_attr, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_open_tree_attr, -1, "", 0xffffffffu, NULL, 0), EINVAL, EPERM);
}

/* perf_event_open */
TEST(perf_event_open, efault_null_attr)
{
    EXPECT_DENIED(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EFAULT, EPERM);
}

/* pivot_root */
TEST(pivot_root, efault_null_paths)
{
    EXPECT_DENIED(syscall(SYS_pivot_root, NULL, NULL), EFAULT, EPERM);
}

/* process_vm_readv */
TEST(process_vm_readv, own_memory)
{
    /* Natively reading our own memory is harmless and copies the bytes. */
    char src[8] = "conform", dst[8] = "";
    struct iovec l = { dst, sizeof dst }, r = { src, sizeof src };
    if (IN_SANDBOX) {
        EXPECT_ERRNO(syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0), EPERM);
        EXPECT_STREQ(dst, "");
    } else {
        EXPECT_EQ(syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0), 8);
        EXPECT_STREQ(dst, "conform");
    }
}

TEST(process_vm_readv, einval_bad_flags)
{
    char buf[8];
    struct iovec l = { buf, sizeof buf }, r = { buf, sizeof buf };
    EXPECT_DENIED(syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 1), EINVAL, EPERM);
}

/* process_vm_writev */
TEST(process_vm_writev, own_memory)
{
    char src[8] = "written", dst[8] = "";
    struct iovec l = { src, sizeof src }, r = { dst, sizeof dst };
    if (IN_SANDBOX) {
        EXPECT_ERRNO(syscall(SYS_process_vm_writev, getpid(), &l, 1, &r, 1, 0), EPERM);
        EXPECT_STREQ(dst, "");
    } else {
        EXPECT_EQ(syscall(SYS_process_vm_writev, getpid(), &l, 1, &r, 1, 0), 8);
        EXPECT_STREQ(dst, "written");
    }
}

/* ptrace */
TEST(ptrace, traceme_in_child)
{
    /* Natively PTRACE_TRACEME in a child that then exits is harmless. */
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0) {
        errno = 0;
        long r = syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
        if (IN_SANDBOX)
            _exit(r == -1 && errno == EPERM ? 0 : 1);
        _exit(r == 0 ? 0 : 1);
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(ptrace, esrch_no_such_pid)
{
    EXPECT_DENIED(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 0x7ffffff0, 0, 0), ESRCH, EPERM);
}

/* putpmsg */
TEST(putpmsg, enosys)
{
    EXPECT_ERRNO(syscall(SYS_putpmsg, 0), ENOSYS);
}

/* query_module */
TEST(query_module, enosys)
{
    EXPECT_ERRNO(syscall(SYS_query_module, 0, 0, 0, 0, 0), ENOSYS);
}

/* quotactl */
TEST(quotactl, enodev_null_special)
{
    EXPECT_DENIED(syscall(SYS_quotactl, 0, NULL, 0, NULL), ENODEV, EPERM);
}

/* quotactl_fd */
TEST(quotactl_fd, ebadf)
{
    EXPECT_DENIED(syscall(SYS_quotactl_fd, -1, 0, 0, NULL), EBADF, EPERM);
}

/* reboot */
TEST(reboot, einval_bad_magic)
{
    /* Only ever with a bad magic: Linux checks CAP_SYS_BOOT, then the magic. */
    EXPECT_DENIED(syscall(SYS_reboot, 0, 0, 0, NULL), EINVAL, EPERM);
}

/* request_key */
TEST(request_key, efault_bad_type)
{
    EXPECT_DENIED(syscall(SYS_request_key, BADPTR, "conf", NULL, -2), EFAULT, EPERM);
}

/* security */
TEST(security, enosys)
{
    EXPECT_ERRNO(syscall(SYS_security, 0), ENOSYS);
}

/* setns */
TEST(setns, ebadf)
{
    EXPECT_DENIED(syscall(SYS_setns, -1, 0), EBADF, EPERM);
}

/* settimeofday */
TEST(settimeofday, efault_bad_tv)
{
    EXPECT_DENIED(syscall(SYS_settimeofday, BADPTR, NULL), EFAULT, EPERM);
}

/* statmount */
TEST(statmount, efault_bad_req)
{
    EXPECT_DENIED(syscall(SYS_statmount, NULL, NULL, 0, 0), EFAULT, EPERM);
}

/* swapoff */
TEST(swapoff, efault_bad_path)
{
    EXPECT_DENIED(syscall(SYS_swapoff, BADPTR), EFAULT, EPERM);
}

/* swapon */
TEST(swapon, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_swapon, BADPTR, 0x7fffffff), EINVAL, EPERM);
}

/* syslog */
TEST(syslog, size_buffer)
{
    /* SYSLOG_ACTION_SIZE_BUFFER is a read-only query: natively the size. */
    if (IN_SANDBOX) {
        EXPECT_ERRNO(syscall(SYS_syslog, 10, NULL, 0), EPERM);
    } else {
        long n = syscall(SYS_syslog, 10, NULL, 0);
        EXPECT_TRUE(n > 0);
    }
}

TEST(syslog, einval_bad_type)
{
    EXPECT_DENIED(syscall(SYS_syslog, 100, NULL, 0), EINVAL, EPERM);
}

/* tuxcall */
TEST(tuxcall, enosys)
{
    EXPECT_ERRNO(syscall(SYS_tuxcall, 0), ENOSYS);
}

/* umount2 */
TEST(umount2, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_umount2, "/conf-nonexistent", 0x80000000), EINVAL, EPERM);
}

TEST(umount2, efault_null_target)
{
    EXPECT_DENIED(syscall(SYS_umount2, NULL, 0), EFAULT, EPERM);
}

/* uselib */
TEST(uselib, removed)
{
    /* Built without CONFIG_USELIB: ENOSYS.  The table answers EPERM. */
    EXPECT_DENIED(syscall(SYS_uselib, BADPTR), ENOSYS, EPERM);
}

/* userfaultfd */
TEST(userfaultfd, einval_bad_flags)
{
    EXPECT_DENIED(syscall(SYS_userfaultfd, 0xff), EINVAL, EPERM);
}

TEST(userfaultfd, create)
{
    /* Natively root may create one (it is harmless until registered). */
    if (IN_SANDBOX) {
        EXPECT_ERRNO(syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
    } else {
        long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
        EXPECT_OK(fd);
        EXPECT_OK(close(fd));
    }
}

/* vhangup */
TEST(vhangup, no_controlling_tty)
{
    /* setsid() first: without a controlling terminal Linux's vhangup does
     * nothing and returns 0, so the runner's terminal is never hung up. */
    EXPECT_OK(setsid());
    if (IN_SANDBOX)
        EXPECT_ERRNO(syscall(SYS_vhangup), EPERM);
    else
        EXPECT_EQ(syscall(SYS_vhangup), 0);
}

/* vserver */
TEST(vserver, enosys)
{
    EXPECT_ERRNO(syscall(SYS_vserver, 0), ENOSYS);
}
