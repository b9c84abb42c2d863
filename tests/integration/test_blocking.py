"""A handler that sleeps must not stall the sandbox's other threads.

The sysinfo row is replaced (in a child sentry process) by a handler that
sleeps 1.5 s.  While one tracee thread waits in it, another thread makes 200
emulated uname calls through Python.  With the row marked blocking they
finish at once; without, they queue behind the sleep -- which shows the test
can tell the two apart."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import only_seccomp

PROGRAM = r"""
#include <pthread.h>
#include <stdio.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
static double ms(void)
{ struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static void *slow(void *a) { struct sysinfo si; sysinfo(&si); return a; }
int main(void) {
    pthread_t th; pthread_create(&th, 0, slow, 0);
    usleep(200000);
    struct utsname u; double t0 = ms();
    for (int i = 0; i < 200; i++) uname(&u);
    printf("uname_ms=%.0f\n", ms() - t0); fflush(stdout);
    pthread_join(th, 0);
    return 0;
}
"""

SENTRY = textwrap.dedent("""
    import sys, time
    from sentry import record
    from sentry.syscalls import table
    from sentry.sandbox import lifecycle as sandbox
    from sentry.sandbox.config import RunConfig, normalise, parse_bind

    def slow_sysinfo(t):
        time.sleep(1.5)
        return 0

    blocking = sys.argv[2] == "blocking"
    table.ROWS = tuple(record.replace(r, handler=slow_sysinfo, blocking=blocking)
                       if r.name == "sysinfo" else r for r in table.ROWS)
    cfg = normalise(RunConfig(argv=["/mnt/blocking_prog"], binds=[parse_bind(sys.argv[1] + ":/mnt:ro")],
                              fastpath=False))
    sys.exit(sandbox.run(cfg))
""")


@only_seccomp      # under ptrace one thread must do all ptrace calls: no deferral
@pytest.mark.parametrize("mode", ["blocking", "inline"])
def test_slow_handler_does_not_stall_other_threads(cc, mode):
    prog = cc(PROGRAM, "blocking_prog")
    out = subprocess.run([sys.executable, "-c", SENTRY, str(prog.parent), mode],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    elapsed = float(out.stdout.split("uname_ms=")[1])
    if mode == "blocking":
        assert elapsed < 500, f"uname calls waited {elapsed} ms behind a blocking handler"
    else:
        assert elapsed > 1000, "without deferral the calls should queue (else this test proves nothing)"
