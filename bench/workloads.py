"""bench/workloads: whole programs, native against pysandbox (both fs
modes), proot and strace, in one run.

    python -m bench.workloads [--rounds N] [--json]

Each workload runs under every runner.  Two times are kept per run, median
of the rounds (after one warm-up run each):
- work: the workload itself, timed from inside by bench/timeit.c (static),
  so a runner's own start-up is left out;
- whole: the wall time of the whole command, start-up included.
Ratios are against native in this run.  Target (issue #13): work <= 1.3x
native on the seccomp platform in the default fs mode.  proot and strace
come from Debian (`make bench` installs them).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYSANDBOX = str(Path(sys.executable).parent / "pysandbox")
TARGET = 1.3

C_PROJECT = {
    "Makefile": "OBJS = " + " ".join(f"m{i}.o" for i in range(12)) + " main.o\n"
                "prog: $(OBJS)\n\tgcc -o $@ $(OBJS)\n%.o: %.c m.h\n\tgcc -O2 -c -o $@ $<\n"
                "clean:\n\trm -f $(OBJS) prog\n",
    "m.h": "".join(f"int f{i}(int);\n" for i in range(12)),
    "main.c": "#include <stdio.h>\n#include \"m.h\"\nint main(void){int s=0;"
              + "".join(f"s+=f{i}({i});" for i in range(12)) + "printf(\"%d\\n\",s);return 0;}\n",
    **{f"m{i}.c": f"#include \"m.h\"\n#include <string.h>\n#include <stdlib.h>\nint f{i}(int x)"
                  "{char b[64]; memset(b, x, sizeof b); return b[3] + atoi(\"7\");}\n" for i in range(12)},
}


def workloads(work: Path) -> list[tuple[str, str]]:
    return [
        ("find /usr -xdev | wc -l", "find /usr -xdev | wc -l"),
        ("tar cf - /usr/share | wc -c", "tar cf - /usr/share 2>/dev/null | wc -c"),
        ("python3 imports", "python3 -c 'import json, email, http.client, sqlite3, asyncio'"),
        ("git status (CPython's Lib)", f"cd {work}/repo && git status --porcelain | wc -l"),
        ("gcc: make -j2, 13 files", f"cd {work}/cproj && make -s clean && make -s -j2 && ./prog"),
    ]


def prepare(work: Path) -> None:
    """A git repo of a few thousand files and a small C project."""
    repo = work / "repo"
    lib = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    shutil.copytree(lib, repo, ignore=shutil.ignore_patterns("__pycache__", "site-packages"))
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    (repo / "json" / "__init__.py").write_text("# changed\n")     # one change for status to find
    proj = work / "cproj"
    proj.mkdir()
    for name, text in C_PROJECT.items():
        (proj / name).write_text(text)
    subprocess.run(["make", "-s", "clean"], cwd=proj, capture_output=True)


# Every runner gets the environment a sandbox gets (built from scratch), so
# that nothing of the caller's (PYTHONDONTWRITEBYTECODE, say) tilts a row.
CLEAN_ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "HOME=/root", "HOSTNAME=pysandbox"]


def runners(work: Path, timeit: str):
    bind = ["--bind", f"{work}:{work}", "--bind", f"{timeit}:{timeit}:ro"]
    out = [("native", lambda cmd: [*CLEAN_ENV, timeit, "sh", "-c", cmd]),
           ("pysandbox", lambda cmd: [PYSANDBOX, "run", *bind, "--", timeit, "sh", "-c", cmd]),
           ("pysandbox --strict-fs",
            lambda cmd: [PYSANDBOX, "run", "--strict-fs", *bind, "--", timeit, "sh", "-c", cmd])]
    if shutil.which("proot"):
        out.append(("proot", lambda cmd: [*CLEAN_ENV, "proot", timeit, "sh", "-c", cmd]))
    if shutil.which("strace"):
        out.append(("strace -f", lambda cmd: [*CLEAN_ENV, "strace", "-f", "-qq", "-o", "/dev/null",
                                              timeit, "sh", "-c", cmd]))
    return out


def timed(argv) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True)
    whole = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{argv} failed ({out.returncode}): {out.stderr[-500:]}")
    m = re.search(r"^timeit-ns (\d+)$", out.stderr, re.M)
    if not m:
        raise RuntimeError(f"{argv}: no timing in its output: {out.stderr[-300:]}")
    return int(m[1]) / 1e9, whole, out.stdout.strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.workloads")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pysandbox-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        timeit = str(work / "timeit")
        subprocess.run(["gcc", "-O2", "-static", "-o", timeit, str(HERE / "timeit.c")], check=True)
        print("preparing the git repo and the C project ...", file=sys.stderr, flush=True)
        prepare(work)
        rs = runners(work, timeit)
        results = []
        for label, cmd in workloads(work):
            work_t = {name: [] for name, _ in rs}
            whole_t = {name: [] for name, _ in rs}
            outputs = {}
            for _name, make in rs:
                timed(make(cmd))                     # warm the page cache
            for rnd in range(args.rounds):
                for name, make in rs:
                    print(f"{label}: {name} round {rnd + 1}/{args.rounds}", file=sys.stderr, flush=True)
                    w, whole, out = timed(make(cmd))
                    work_t[name].append(w)
                    whole_t[name].append(whole)
                    outputs[name] = out
            med = {name: statistics.median(v) for name, v in work_t.items()}
            medw = {name: statistics.median(v) for name, v in whole_t.items()}
            results.append({"workload": label,
                            "work_s": {k: round(v, 3) for k, v in med.items()},
                            "work_x": {k: round(v / med["native"], 2) for k, v in med.items()},
                            "whole_s": {k: round(v, 3) for k, v in medw.items()},
                            "whole_x": {k: round(v / medw["native"], 2) for k, v in medw.items()},
                            "same_output": len(set(outputs.values())) == 1})
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    names = [n for n, _ in rs]
    for key, title in (("work", "the workload's own time (timeit inside)"),
                       ("whole", "whole command, start-up included")):
        print(f"\n{title}: seconds, and x native")
        print(f"{'workload':<30}" + "".join(f"{n:>24}" for n in names) + "  output")
        for r in results:
            cells = "".join(f"{r[key + '_s'][n]:>15.3f} {r[key + '_x'][n]:>6.2f}x " for n in names)
            print(f"{r['workload']:<30}{cells} {'same' if r['same_output'] else 'DIFFERS'}")
    worst = max(r["work_x"]["pysandbox"] for r in results)
    print(f"\n{args.rounds} rounds, median; the first run of each is a warm-up.  pysandbox (default fs mode, "
          f"seccomp platform) worst work ratio: {worst:.2f}x native "
          f"(target <= {TARGET}x: {'met' if worst <= TARGET else 'missed'}).")
    for tool in ("proot", "strace"):
        if not shutil.which(tool):
            print(f"{tool} is not installed: `make bench` installs Debian's {tool}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
