/* Syscalls hot or simple enough to be answered without entering Python.
 *
 * Each handler follows the same order: decode registers (safe: they are a
 * copy the kernel took), ID_VALID (the tid still names the tracee), then
 * write the result into tracee memory and fill the reply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "sb.h"

/* uname(2): the sandbox's struct utsname, kept in s->uts by the sentry. */
int sb_fast_uname(struct sb_sentry *s, struct seccomp_notif *req,
                  struct seccomp_notif_resp *resp)
{
    long n = sb_mem_write_checked(s->fd, req->id, (int)req->pid, req->data.args[0],
                                  &s->uts, sizeof s->uts);
    if (n == -ESRCH)
        return SB_DROPPED;
    if (n != (long)sizeof s->uts)
        resp->error = -EFAULT;
    return SB_REPLY;
}
