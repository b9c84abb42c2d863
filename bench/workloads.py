"""bench/workloads: whole programs, native vs pysandbox vs proot, same run.

    python -m bench.workloads [--rounds N] [--json]

Each workload runs natively, under `pysandbox run` (default view: the host
root read-only) and, where Debian's proot is installed (`make bench`
installs it), under `proot`.  Wall time per run, median of the rounds;
ratios are against native in this run.  Target (issue #3): <= 1.3x native
and below proot.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PYSANDBOX = str(Path(sys.executable).parent / "pysandbox")

WORKLOADS = [
    ("find /usr -xdev | wc -l", "find /usr -xdev | wc -l"),
    ("tar cf - /usr/share | wc -c", "tar cf - /usr/share 2>/dev/null | wc -c"),
    ("python3 imports", "python3 -c 'import json, email, http.client, sqlite3, asyncio'"),
]


def runners():
    out = [("native", lambda cmd: ["sh", "-c", cmd]),
           ("pysandbox", lambda cmd: [PYSANDBOX, "run", "--", "sh", "-c", cmd])]
    if shutil.which("proot"):
        out.append(("proot", lambda cmd: ["proot", "sh", "-c", cmd]))
    return out


def timed(argv) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{argv} failed ({out.returncode}): {out.stderr[-500:]}")
    return dt, out.stdout.strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.workloads")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rs = runners()
    results = []
    for label, cmd in WORKLOADS:
        times = {name: [] for name, _ in rs}
        outputs = {}
        for _name, make in rs:
            timed(make(cmd))                     # warm the page cache
        for rnd in range(args.rounds):
            for name, make in rs:
                print(f"{label}: {name} round {rnd + 1}/{args.rounds}", file=sys.stderr, flush=True)
                dt, out = timed(make(cmd))
                times[name].append(dt)
                outputs[name] = out
        med = {name: statistics.median(v) for name, v in times.items()}
        results.append({"workload": label, "seconds": {k: round(v, 3) for k, v in med.items()},
                        "x_native": {k: round(v / med["native"], 2) for k, v in med.items()},
                        "same_output": len(set(outputs.values())) == 1})
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    names = [n for n, _ in rs]
    print(f"{'workload':<30}" + "".join(f"{n + ' s':>12}" for n in names) + "  sandbox x  proot x  output")
    for r in results:
        secs = "".join(f"{r['seconds'][n]:>12.3f}" for n in names)
        px = f"{r['x_native']['proot']:>7.2f}x" if "proot" in r["x_native"] else "      -"
        print(f"{r['workload']:<30}{secs}  {r['x_native']['pysandbox']:>8.2f}x {px}  "
              f"{'same' if r['same_output'] else 'DIFFERS'}")
    print(f"\n{args.rounds} rounds, median wall time; the first run of each is a warm-up.")
    if "proot" not in names:
        print("proot is not installed: `make bench` installs Debian's proot.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
