"""bench/syscalls: the cost of interception, as ratios to native getpid
measured in the same run (absolute ns vary with the VM; ratios less so).

    python -m bench.syscalls [--rounds N] [--json]

Each row runs bench/loop.c natively or inside `pysandbox run`; rounds are
interleaved and the median is reported.  Targets come from issue #2 and
shared/LIMITS.md (C round trip ~24x native; Python one-call ~28x).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYSANDBOX = str(Path(sys.executable).parent / "pysandbox")

# (label, where, extra run flags, mode, iterations, target: (column, max ratio))
# "limit" rows are bench/limit.c: a minimal C supervisor, the floor for any
# user-notify sandbox on this machine.
S = ["--strict-fs"]       # the rows about emulated path calls: they are emulated only there
ROWS = [
    ("native getpid", "native", [], "getpid", 2_000_000, None),
    ("passthrough getpid (in BPF)", "sandbox", [], "getpid", 2_000_000, ("x getpid", 1.5)),
    ("native uname", "native", [], "uname", 1_000_000, None),
    ("limit: C supervisor, RECV+SEND", "limit", [], "bare", 100_000, None),
    ("limit: same + ID_VALID + 390 B write", "limit", [], "write", 100_000, None),
    ("emulated uname, C fast path", "sandbox", [], "uname", 100_000, ("x limit", 1.2)),
    ("emulated uname, Python handler", "sandbox", ["--no-fastpath"], "uname", 100_000, ("x getpid", 40.0)),
    ("emulated sysinfo, Python handler", "sandbox", [], "sysinfo", 20_000, None),
    ("native openat+close", "native", [], "openat", 500_000, None),
    ("openat+close, default fs mode (native)", "sandbox", [], "openat", 500_000, ("x native row", 1.3)),
    ("limit: openat via ADDFD|SEND, +close", "limit", [], "openat", 20_000, None),
    ("emulated openat+close, C fast path", "sandbox", S, "openat", 20_000, ("x limit", 1.3)),
    ("emulated openat+close, Python", "sandbox", S + ["--no-fastpath"], "openat", 20_000, None),
    ("limit: ptrace RET_TRACE, skip + fake return", "limit", [], "ptrace", 50_000, None),
    ("emulated uname, ptrace, C fast path", "sandbox", ["--platform", "ptrace"], "uname", 50_000, ("x limit", 1.3)),
    ("emulated openat+close, ptrace", "sandbox", S + ["--platform", "ptrace"], "openat", 5_000, None),
    ("native ioctl(FIONREAD)", "native", [], "ioctl", 1_000_000, None),
    ("ioctl(FIONREAD), request checked in BPF", "sandbox", [], "ioctl", 1_000_000, ("x native row", 1.5)),
    ("native stat", "native", [], "stat", 500_000, None),
    ("stat, default fs mode (native)", "sandbox", [], "stat", 500_000, ("x native row", 1.3)),
    ("limit: stat, read path + fstatat + write", "limit", [], "stat", 50_000, None),
    ("emulated stat, C fast path", "sandbox", S, "stat", 50_000, ("x limit", 1.3)),
    ("emulated stat, Python", "sandbox", S + ["--no-fastpath"], "stat", 50_000, None),
]
# A default-fs-mode row -> the native row doing the same calls.
NATIVE_FOR = {"openat+close, default fs mode (native)": "native openat+close",
              "ioctl(FIONREAD), request checked in BPF": "native ioctl(FIONREAD)",
              "stat, default fs mode (native)": "native stat"}
LIMIT_FOR = {   # row -> the limit row doing the same kernel work
    "emulated uname, C fast path": "limit: same + ID_VALID + 390 B write",
    "emulated uname, Python handler": "limit: same + ID_VALID + 390 B write",
    "emulated openat+close, C fast path": "limit: openat via ADDFD|SEND, +close",
    "emulated openat+close, Python": "limit: openat via ADDFD|SEND, +close",
    "emulated stat, C fast path": "limit: stat, read path + fstatat + write",
    "emulated uname, ptrace, C fast path": "limit: ptrace RET_TRACE, skip + fake return",
    "emulated stat, Python": "limit: stat, read path + fstatat + write",
}


def build(tmp: Path) -> Path:
    exe = tmp / "loop"
    subprocess.run(["gcc", "-O2", "-static", "-o", str(exe), str(HERE / "loop.c")], check=True)
    subprocess.run(["gcc", "-O2", "-o", str(tmp / "limit"), str(HERE / "limit.c"), "-lseccomp"], check=True)
    return exe


def measure(exe: Path, where: str, flags, mode: str, n: int) -> float:
    if where == "native":
        cmd = [str(exe), mode, str(n)]
    elif where == "limit":
        cmd = [str(exe.parent / "limit"), mode, str(n)]
    else:
        cmd = [PYSANDBOX, "run", *flags, "--bind", f"{exe.parent}:/mnt:ro", "--", "/mnt/loop", mode, str(n)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def idle_sentry_memory() -> tuple[float, float]:
    """RSS and PSS (MB) of the sentry of a sandbox running `sleep`."""
    p = subprocess.Popen([PYSANDBOX, "run", "--", "sleep", "3"])
    try:
        time.sleep(1.5)
        rss = pss = 0.0
        with open(f"/proc/{p.pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) / 1024
        return rss, pss
    finally:
        p.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.syscalls")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="pysandbox-bench-"))
    try:
        exe = build(tmp)
        samples = {r[0]: [] for r in ROWS}
        for rnd in range(1, args.rounds + 1):
            for label, where, flags, mode, n, _ in ROWS:
                if sys.stderr.isatty():
                    print(f"\rround {rnd}/{args.rounds}: {label:<40}", end="", file=sys.stderr, flush=True)
                samples[label].append(measure(exe, where, flags, mode, n))
            if not sys.stderr.isatty():
                print(f"round {rnd}/{args.rounds} done", file=sys.stderr, flush=True)
        if sys.stderr.isatty():
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
        rss, pss = idle_sentry_memory()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(samples["native getpid"])
    med = {label: statistics.median(v) for label, v in samples.items()}
    results = []
    for label, _, _, _, _, target in ROWS:
        ns = med[label]
        limit = LIMIT_FOR.get(label) or NATIVE_FOR.get(label)
        x_limit = ns / med[limit] if limit else None
        met = None
        if target:
            met = (ns / base if target[0] == "x getpid" else x_limit) <= target[1]
        results.append({"row": label, "ns_per_call": round(ns, 1), "x_native_getpid": round(ns / base, 1),
                        "x_limit": round(x_limit, 2) if x_limit else None,
                        "target": f"<= {target[1]:g} {target[0]}" if target else None, "met": met})
    if args.json:
        print(json.dumps({"rows": results, "sentry_rss_mb": round(rss, 1), "sentry_pss_mb": round(pss, 1)}, indent=1))
        return 0
    print(f"{'path':<40} {'ns/call':>9} {'x getpid':>9} {'x limit':>8}  {'target':<18}")
    for r in results:
        tgt = r["target"] or ""
        verdict = "" if r["met"] is None else ("ok" if r["met"] else "missed")
        xl = f"{r['x_limit']:.2f}x" if r["x_limit"] else ""
        print(f"{r['row']:<40} {r['ns_per_call']:>9.1f} {r['x_native_getpid']:>8.1f}x {xl:>8}  {tgt:<18} {verdict}")
    print(f"\nidle sentry (sandbox running sleep): RSS {rss:.1f} MB, PSS {pss:.1f} MB (target RSS <= 30 MB)")
    print(f"{args.rounds} rounds, median; native getpid = {base:.1f} ns in this run.")
    print("x limit: against the minimal C supervisor doing the same kernel work (bench/limit.c); for the "
          "default fs mode's rows, against the native row.  Emulated path rows run with --strict-fs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
