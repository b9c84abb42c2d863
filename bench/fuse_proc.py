"""bench/fuse_proc: what one open+read+close of a synthesized /proc file
costs when sentry/vfs/fuse.py serves it, against a plain tmpfs file.

    python -m bench.fuse_proc [--rounds N] [--iterations N] [--no-sandbox] [--json]

A small C reader (open, read until EOF, close; N times) runs on each path:
the host's /proc/meminfo copied into tmpfs; the host's procfs file itself;
the same bytes from the FUSE server (a callback returning them); meminfo
rendered by procfs.render() per open through procfuse; and, for
comparison, /proc/meminfo in `pysandbox run` today (openat emulated by the
sentry, a memfd installed).  Rows are interleaved each round; the median
is reported.  Runs as root, in a private mount namespace of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PYSANDBOX = str(Path(sys.executable).parent / "pysandbox")
CLONE_NEWNS, MS_REC, MS_PRIVATE, MNT_DETACH = 0x00020000, 16384, 1 << 18, 2

READER = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    static char buf[1 << 16];
    long n = atol(argv[2]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0) { perror(argv[1]); return 1; }
        while (read(fd, buf, sizeof buf) > 0)
            ;
        close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
"""


def build(tmp: Path) -> Path:
    src = tmp / "procread.c"
    src.write_text(READER)
    exe = tmp / "procread"
    subprocess.run(["gcc", "-O2", "-static", "-o", str(exe), str(src)], check=True)
    return exe


def measure(cmd: list[str]) -> float:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit(f"bench.fuse_proc: {' '.join(cmd)} failed: {p.stderr.strip()}")
    return float(p.stdout.strip().splitlines()[-1]) / 1000      # µs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.fuse_proc")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=5000, help="open+read+close per sample")
    ap.add_argument("--no-sandbox", action="store_true", help="skip the pysandbox run row")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench.fuse_proc: must run as root (mounts FUSE and tmpfs)", file=sys.stderr)
        return 1
    if not os.path.exists("/dev/fuse"):
        print("bench.fuse_proc: /dev/fuse is missing (no FUSE in this kernel)", file=sys.stderr)
        return 1
    from sentry import native
    from sentry.vfs import fuse, procfs, procfuse

    # Our own mount namespace: every mount below ends with this process.
    native.unshare(CLONE_NEWNS)
    native.mount(None, "/", None, MS_REC | MS_PRIVATE)
    tmp = Path(tempfile.mkdtemp(prefix="pysandbox-fusebench-"))
    host = open("/proc/meminfo", "rb").read()
    mnts = []
    try:
        exe = build(tmp)
        (tmp / "tmpfs").mkdir()
        native.mount("tmpfs", str(tmp / "tmpfs"), "tmpfs", 0, "size=1m")
        mnts.append(str(tmp / "tmpfs"))
        (tmp / "tmpfs" / "meminfo").write_bytes(host)
        (tmp / "fuse").mkdir()
        fd = fuse.open_device()
        fuse.mount(str(tmp / "fuse"), fd)
        mnts.append(str(tmp / "fuse"))

        def view(pid):
            return procfs.View(read_host=lambda name: open(f"/proc/{name}", "rb").read(),
                               memory_limit=256 << 20, memory_usage=64 << 20, cpus=1.0,
                               uptime=1.0, nr_threads=1, nr_running=1, last_pid=1,
                               hostname="bench", mounts=[])
        files = {"fixed": lambda pid: host, "rendered": procfuse.files(view)["meminfo"]}
        server = fuse.FuseServer(fd, files)
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()

        n = args.iterations
        rows = [("tmpfs file (host meminfo bytes)", [str(exe), str(tmp / "tmpfs/meminfo"), str(n)]),
                ("host procfs /proc/meminfo", [str(exe), "/proc/meminfo", str(n)]),
                ("FUSE, fixed bytes", [str(exe), str(tmp / "fuse/fixed"), str(n)]),
                ("FUSE, procfs.render meminfo", [str(exe), str(tmp / "fuse/rendered"), str(n)])]
        if not args.no_sandbox:
            rows.append(("today: pysandbox run, memfd", [
                PYSANDBOX, "run", "--memory", "256M", "--bind", f"{tmp}:/mnt:ro", "--",
                "/mnt/procread", "/proc/meminfo", str(max(1, n // 5))]))
        samples = {label: [] for label, _ in rows}
        requests = {}
        for rnd in range(args.rounds):
            for label, cmd in rows:
                before = sum(server.counts.values())
                samples[label].append(measure(cmd))
                if "FUSE" in label:
                    requests[label] = (sum(server.counts.values()) - before) / n
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        counts = {str(k): v for k, v in sorted(server.counts.items())}
    finally:
        for m in reversed(mnts):
            native.umount(m, MNT_DETACH)
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(samples[rows[0][0]])
    out = [{"row": label, "us_per_iter": round(statistics.median(v), 2),
            "min": round(min(v), 2), "max": round(max(v), 2),
            "x_tmpfs": round(statistics.median(v) / base, 1),
            "requests_per_iter": round(requests[label], 2) if label in requests else None}
           for label, v in samples.items()]
    if args.json:
        print(json.dumps({"rows": out, "opcode_counts": counts, "rounds": args.rounds,
                          "iterations": n}, indent=1))
        return 0
    print(f"{'open+read+close of':<34} {'µs/iter':>8} {'min':>7} {'max':>7} {'x tmpfs':>8} {'req/iter':>9}")
    for r in out:
        req = f"{r['requests_per_iter']:.2f}" if r["requests_per_iter"] is not None else ""
        print(f"{r['row']:<34} {r['us_per_iter']:>8.2f} {r['min']:>7.2f} {r['max']:>7.2f} "
              f"{r['x_tmpfs']:>7.1f}x {req:>9}")
    print(f"\n{args.rounds} rounds of {n} iterations (the sandbox row {max(1, n // 5)}), median; "
          f"{len(host)} bytes per file; FUSE requests per iteration counted by the server.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
