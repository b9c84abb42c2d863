/* The start-up protocol between the sentry, the sandbox's init and the
 * workload, shared with Python through the cdef (sentry/sandbox/protocol.py
 * is its codec).  Over the SOCK_SEQPACKET socket, each message is one tag
 * byte and a payload; some carry one fd (SCM_RIGHTS).  Over the workload's
 * user-namespace pipes (csrc/spawn.c), a message is the tag byte alone.
 *
 *   init     -> sentry   READY            the root view is built: join it
 *   sentry   -> init     GO               joined, and init is in the cgroup
 *   init     -> sentry   TTY + fd         the pty master (before READY)
 *   workload -> sentry   SEIZE            ptrace: seize me before my filter
 *   sentry   -> workload SEIZED
 *   workload -> sentry   LISTENER [+ fd]  the filter is loaded (its listener
 *                                         fd, on platforms that have one)
 *   any      -> sentry   ERROR + text     the sandbox did not start
 *   workload -> init     USERNS           (pipe) my user namespace exists
 *   init     -> workload MAPPED           (pipe) its id maps are written
 *
 * A sentry started by `pysandbox-oci create`/`exec` reports to that
 * command over a pipe: "ok", or ERROR + text. */
#ifndef PYSANDBOX_PROTOCOL_H
#define PYSANDBOX_PROTOCOL_H

#define SB_MSG_READY    'R'
#define SB_MSG_GO       'G'
#define SB_MSG_TTY      'T'
#define SB_MSG_SEIZE    'S'
#define SB_MSG_SEIZED   'A'
#define SB_MSG_LISTENER 'L'
#define SB_MSG_ERROR    'E'
#define SB_MSG_USERNS   'U'
#define SB_MSG_MAPPED   'M'

#endif
