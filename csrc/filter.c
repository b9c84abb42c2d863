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
    case SB_A_TRAP:   return SCMP_ACT_TRAP;
    case SB_A_LOG:    return SCMP_ACT_LOG;
    case SB_A_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
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


/* A filter from the user's OCI seccomp profile, stacked on ours in the
 * workload.  The kernel runs every filter and takes the strictest action,
 * so this one can only narrow what ours allows.  No listener, no NNP
 * (the workload has set it already), bad arch: kill, as ours. */
void *sb_filter_new_profile(int default_action, int default_errno)
{
    scmp_filter_ctx ctx = seccomp_init(scmp_action(default_action, default_errno));
    if (!ctx)
        return NULL;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0
        || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

/* One rule with up to 6 argument comparisons (op: libseccomp's
 * enum scmp_compare values, SCMP_CMP_NE..SCMP_CMP_MASKED_EQ). */
int sb_filter_rule(void *ctx, int nr, int action, int err, unsigned n,
                   const unsigned *arg, const int *op, const uint64_t *a, const uint64_t *b)
{
    struct scmp_arg_cmp cmp[6];
    if (n > 6)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        cmp[i].arg = arg[i];
        cmp[i].op = (enum scmp_compare)op[i];
        cmp[i].datum_a = a[i];
        cmp[i].datum_b = b[i];
    }
    return seccomp_rule_add_array(ctx, scmp_action(action, err), nr, n, cmp);
}

/* The syscall number of a name on x86_64, or a negative value. */
int sb_syscall_number(const char *name)
{
    return seccomp_syscall_resolve_name(name);
}
