/* Building the seccomp filter with libseccomp's C API.
 *
 * Why the C API and not a Python binding: PyPI's pyseccomp has no
 * get_notify_fd, and Debian's python3-seccomp is built for /usr/bin/python3
 * only.  Calling libseccomp from here works for any interpreter.
 *
 * Facts relied upon:
 * - libseccomp checks the architecture first; SCMP_FLTATR_ACT_BADARCH decides
 *   what a non-x86_64 syscall (i386 via int 0x80) gets: we kill the process.
 *   On x86_64 libseccomp also treats numbers with __X32_SYSCALL_BIT as a bad
 *   architecture (tests check it).
 * - SCMP_FLTATR_CTL_NNP=0: the child sets no_new_privs itself, first.
 * - SCMP_FLTATR_CTL_OPTIMIZE=2 builds a binary tree of syscall numbers, so
 *   the filter costs O(log n) for numbers the kernel's action cache misses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include "sb.h"
#include <seccomp.h>

void *sb_filter_new(int default_errno)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO((uint32_t)default_errno));
    if (!ctx)
        return NULL;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0
        || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0
        || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

void sb_filter_free(void *ctx)
{
    seccomp_release(ctx);
}

static uint32_t scmp_action(int action, int err)
{
    switch (action) {
    case SB_A_ALLOW:  return SCMP_ACT_ALLOW;
    case SB_A_NOTIFY: return SCMP_ACT_NOTIFY;
    case SB_A_ERRNO:  return SCMP_ACT_ERRNO((uint32_t)err);
    case SB_A_TRACE:  return SCMP_ACT_TRACE(0);
    default:          return SCMP_ACT_KILL_PROCESS;
    }
}

/* One syscall, one action. */
int sb_filter_add(void *ctx, int nr, int action, int err)
{
    return seccomp_rule_add_exact(ctx, scmp_action(action, err), nr, 0);
}

/* A flag word in register `arg`: when any bit of `mask` is set take
 * (bit_action, bit_err), otherwise (action, err).  One rule per bit,
 * because libseccomp can only compare (arg & m) == v. */
int sb_filter_add_flags(void *ctx, int nr, int action, int err, unsigned arg,
                        uint64_t mask, int bit_action, int bit_err)
{
    int r = seccomp_rule_add_exact(ctx, scmp_action(action, err), nr, 1,
                                   SCMP_CMP64(arg, SCMP_CMP_MASKED_EQ, mask, 0));
    for (int bit = 0; r == 0 && bit < 64; bit++) {
        uint64_t b = 1ULL << bit;
        if (mask & b)
            r = seccomp_rule_add_exact(ctx, scmp_action(bit_action, bit_err), nr, 1,
                                       SCMP_CMP64(arg, SCMP_CMP_MASKED_EQ, b, b));
    }
    return r;
}

