"""Observed calls that change who the calling thread is: setuid and the
other id calls, setgroups, capset, chroot, and exec.

The kernel runs them (CONTINUE: they take no pointer the sentry decides
on; the kernel checks the caller's privileges itself).  The sentry only
forgets what it cached of the caller (csrc/creds.c), so its next emulated
call is made with the credentials and root it has then.  These are the
Python forms, for --strace and --no-fastpath; the C fast paths
"creds_change" and "exec" do the same without entering Python.

Kernel facts: credentials and the root are per thread, and only the
thread's own syscalls or an exec change them (glibc's setuid() makes every
thread of the process call setuid itself); an exec by a non-leader thread
takes the leader's tid, so an exec forgets every thread.
"""
from __future__ import annotations

from sentry import native
from sentry.platform.base import CONTINUE, Task


def changed(t: Task):
    native.forget_creds(t.pid)
    return CONTINUE


def exec_(t: Task):
    native.forget_all_creds()
    return CONTINUE
