/* The start-up protocol between the sentry, the sandbox's init and the
 * workload, shared with Python through the cdef (sentry/sandbox/protocol.py
 * is its codec).  Over the SOCK_SEQPACKET socket, each message is one tag
 * byte and a payload; some carry one fd (SCM_RIGHTS).
 *
 *   init     -> sentry   READY            the root view is built: join it
 *   sentry   -> init     GO               joined, and init is in the cgroup
 *   init     -> sentry   TTY + fd         the pty master (before READY)
 *   workload -> sentry   USERNS           my user namespace exists
 *   sentry   -> workload MAPPED           its id maps are written
 *   workload -> sentry   SEIZE            ptrace: seize me before my filter
 *   sentry   -> workload SEIZED
 *   workload -> sentry   LISTENER [+ fd]  the filter is loaded (its listener
 *                                         fd, on platforms that have one)
 *   any      -> sentry   ERROR + text     the sandbox did not start
 *
 * "init" is the process that built the view: the sandbox's init, or an
 * OCI container's pid 1, which then is the workload too (no fork).
 * With no_new_privs, LISTENER comes last, just before the exec; without,
 * the filter is loaded (so LISTENER sent) before the workload drops its
 * privileges, and those calls go through the filter: the sentry serves
 * from LISTENER on, and an error after it goes to the workload's stderr,
 * not to the socket.
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
