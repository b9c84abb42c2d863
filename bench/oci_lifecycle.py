"""The OCI container lifecycle, timed: pysandbox-oci against Debian's runc.

    python -m bench.oci_lifecycle [-n 20] [--runc PATH] [--profile]

One round is what containerd's runc shim does for a short container:
`create --bundle B --pid-file F ID`, `start ID`, wait for the container to
exit, `delete ID`.  Both runtimes run the same bundle (made here: `runc
spec`, a busybox rootfs, process `/bin/true`, cgroupsPath /pysbk-bench/ID)
with the same state-directory layout; the rounds alternate between them
so a noisy machine hurts both alike.  As a shim does, this process is a
child subreaper: the pid in the pid file (runc's container init, our
sentry) becomes our child once `create` exits, and waitpid() on it is the
"wait" step.  The table shows the median and p90 of each step and of the
whole round, and the ratio pysandbox-oci / runc of the medians.

--profile also times what every pysandbox-oci command pays before doing
anything (the interpreter, `site` with its editable-install finder, our
imports) and lists the slowest imports of `create` (-X importtime),
including those of the sandbox's init, which imports in a forked child.
Needs root.
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
import time
from pathlib import Path

from sentry import native
from sentry.abi.linux import PR_SET_CHILD_SUBREAPER

BUSYBOX = "/bin/busybox"
OCI = str(Path(sys.executable).parent / "pysandbox-oci")
STEPS = ("create", "start", "wait", "delete")
CGROUP_PARENT = "pysbk-bench"


def make_bundle(base: Path, runc: str) -> Path:
    bundle = base / "bundle"
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, bundle / "rootfs" / "bin" / "busybox")
    for applet in ("true", "sh"):
        os.symlink("busybox", bundle / "rootfs" / "bin" / applet)
    subprocess.run([runc, "spec", "--bundle", str(bundle)], check=True)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"].update(args=["/bin/true"], terminal=False)
    cfg["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/c"
    (bundle / "config.json").write_text(json.dumps(cfg, indent=1))
    return bundle


def run_cli(argv: list[str], errlog: Path) -> None:
    with open(errlog, "wb") as err:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {errlog.read_text(errors='replace')}")


def one_round(runtime: str, root: Path, bundle: Path, base: Path, cid: str) -> dict[str, float]:
    """create, start, wait, delete; seconds per step."""
    pid_file, err = base / f"{cid}.pid", base / f"{cid}.err"
    pid_file.unlink(missing_ok=True)
    t: dict[str, float] = {}
    s = time.perf_counter()
    run_cli([runtime, "--root", str(root), "create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid], err)
    t["create"] = time.perf_counter() - s
    pid = int(pid_file.read_text())
    s = time.perf_counter()
    run_cli([runtime, "--root", str(root), "start", cid], err)
    t["start"] = time.perf_counter() - s
    s = time.perf_counter()
    _, wstatus = os.waitpid(pid, 0)
    t["wait"] = time.perf_counter() - s
    if os.waitstatus_to_exitcode(wstatus) != 0:
        raise RuntimeError(f"{runtime}: the container exited with wait status {wstatus:#x}")
    s = time.perf_counter()
    run_cli([runtime, "--root", str(root), "delete", cid], err)
    t["delete"] = time.perf_counter() - s
    t["total"] = sum(t[k] for k in STEPS)
    return t


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q * (len(v) - 1))))]


def table(results: dict[str, list[dict[str, float]]], names: list[str]) -> str:
    ours, ref = names
    rows = [("step", f"{ours} median", "p90", f"{ref} median", "p90", "ratio")]
    for step in (*STEPS, "total"):
        a = [r[step] for r in results[ours]]
        b = [r[step] for r in results[ref]]
        ma, mb = statistics.median(a), statistics.median(b)
        rows.append((step, f"{ma * 1e3:.1f} ms", f"{pct(a, 0.9) * 1e3:.1f} ms", f"{mb * 1e3:.1f} ms",
                     f"{pct(b, 0.9) * 1e3:.1f} ms", f"{ma / mb:.2f}x" if mb else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             + " |" for r in rows]
    lines.insert(1, "| " + " | ".join("-" * w if i == 0 else "-" * (w - 1) + ":" for i, w in enumerate(widths)) + " |")
    return "\n".join(lines)


def timed_cmd(argv: list[str], n: int = 10) -> float:
    """Median wall time of argv, in seconds."""
    times = []
    for _ in range(n):
        s = time.perf_counter()
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - s)
    return statistics.median(times)


def profile(bundle: Path, base: Path) -> None:
    py = sys.executable
    print("\nwhat every pysandbox-oci command pays (median of 10):", flush=True)
    rows = [("python -I -S -c pass (bare interpreter)", [py, "-I", "-S", "-c", "pass"]),
            ("python -c pass (+ site, editable-install finder)", [py, "-c", "pass"]),
            ("python -c 'import sentry.cli.oci'", [py, "-c", "import sentry.cli.oci"]),
            ("python -c 'import sentry.oci.container'", [py, "-c", "import sentry.cli.oci, sentry.oci.container"]),
            ("python -c 'import sentry.oci.launch' (create's imports)", [py, "-c", "import sentry.oci.launch"]),
            ("pysandbox-oci --version", [OCI, "--version"]),
            ("pysandbox-oci state (of a missing container)", [OCI, "--root", str(base / "none"), "state", "x"])]
    for label, argv in rows:
        print(f"  {timed_cmd(argv) * 1e3:7.1f} ms  {label}", flush=True)
    # -X importtime of one create; the sandbox's init is a fork, its imports print too.
    root, err = base / "profile-root", base / "profile.importtime"
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    with open(err, "wb") as f:
        subprocess.run([OCI, "--root", str(root), "create", "--bundle", str(bundle), "--pid-file",
                        str(base / "p.pid"), "prof"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=f, env=env, check=True)
    pid = int((base / "p.pid").read_text())
    subprocess.run([OCI, "--root", str(root), "start", "prof"], check=True)
    os.waitpid(pid, 0)
    subprocess.run([OCI, "--root", str(root), "delete", "prof"], check=True)
    tops = []
    for line in err.read_text(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cum, name = (x.strip() for x in line[len("import time:"):].split("|"))
            if cum.isdigit() and not line.rsplit("|", 1)[1].startswith("  "):
                tops.append((int(cum), name))
    print("\nslowest top-level imports during one `create` (cumulative, all processes):")
    for cum, name in sorted(tops, reverse=True)[:10]:
        print(f"  {cum / 1e3:7.1f} ms  {name}")


def cleanup_cgroups() -> None:
    cg = Path("/sys/fs/cgroup")
    for hier in [cg, *cg.iterdir()] if cg.is_dir() else []:
        d = hier / CGROUP_PARENT
        if d.is_dir():
            for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(str(p)), reverse=True):
                try:
                    sub.rmdir()
                except OSError:
                    pass
            try:
                d.rmdir()
            except OSError:
                pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--rounds", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    ap.add_argument("--profile", action="store_true", help="also time imports and interpreter start-up")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("oci_lifecycle: needs root", file=sys.stderr)
        return 2
    native.prctl(PR_SET_CHILD_SUBREAPER, 1)
    base = Path(tempfile.mkdtemp(prefix="pysbk-bench-"))
    runtimes = {"pysandbox-oci": OCI, "runc": args.runc}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in runtimes}
    try:
        bundle = make_bundle(base, args.runc)
        print(f"bundle {bundle}: busybox /bin/true; {args.rounds} rounds each after {args.warmup} warm-up, "
              f"alternating", file=sys.stderr, flush=True)
        for i in range(-args.warmup, args.rounds):
            for name, exe in runtimes.items():
                t = one_round(exe, base / f"root-{name}", bundle, base, f"bench-{name}")
                if i >= 0:
                    results[name].append(t)
            if i >= 0:
                last = {n: r[-1]["total"] * 1e3 for n, r in results.items()}
                print(f"  round {i + 1}/{args.rounds}: " + ", ".join(f"{n} {v:.0f} ms" for n, v in last.items()),
                      file=sys.stderr, flush=True)
        print(table(results, list(runtimes)))
        ratio = (statistics.median(r["total"] for r in results["pysandbox-oci"])
                 / statistics.median(r["total"] for r in results["runc"]))
        print(f"\npysandbox-oci / runc, whole lifecycle: {ratio:.2f}x (target <= 2x: "
              f"{'met' if ratio <= 2 else 'missed'})")
        if args.profile:
            profile(bundle, base)
    finally:
        for name, exe in runtimes.items():
            subprocess.run([exe, "--root", str(base / f"root-{name}"), "delete", "--force", f"bench-{name}"],
                           capture_output=True)
        subprocess.run([OCI, "--root", str(base / "profile-root"), "delete", "--force", "prof"], capture_output=True)
        cleanup_cgroups()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
