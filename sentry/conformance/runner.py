"""`pysandbox conformance`: build the C cases, run every case natively and on
each platform, compare, and keep the expected-failures file true.

Like gVisor's syscall tests: Linux is the reference, so a case must pass
natively (as root, in a private UTS and IPC namespace, so sethostname cannot
touch the host).  In the sandbox it runs under `pysandbox run` in the default
view, with PYSANDBOX_PLATFORM set so a case can state where the sandbox is
meant to differ.

conformance/expected-failures.txt lists known gaps, one per line:
    PLATFORM  CASE  reason...
The run fails on a failure that is not listed, on a listed failure that now
passes (so the file stays true), and on any native failure.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sentry.sandbox.config import PLATFORMS

SRC = Path(__file__).resolve().parents[2] / "conformance"
BUILD = SRC / "build"
EXPECTED = SRC / "expected-failures.txt"
LAST_RUN = BUILD / "last-run.json"
PYSANDBOX = str(Path(sys.executable).parent / "pysandbox")
LINE = re.compile(r"(PASS|FAIL) (\S+)(?:: (.*))?")


@dataclass
class Outcome:
    passed: bool
    detail: str = ""


@dataclass
class Results:
    platforms: list[str]
    cases: dict[str, dict[str, Outcome]] = field(default_factory=dict)   # case -> env -> outcome
    areas: dict[str, str] = field(default_factory=dict)                 # case -> area

    def counts(self, env: str) -> tuple[int, int]:
        outs = [c[env] for c in self.cases.values() if env in c]
        passed = sum(o.passed for o in outs)
        return passed, len(outs) - passed


def sources() -> list[Path]:
    return sorted(p for p in SRC.glob("*.c"))


def build(progress=print) -> list[Path]:
    """Compile each area (static, so it runs in any rootfs); skip fresh ones."""
    BUILD.mkdir(exist_ok=True)
    # Every area may include any of the shared headers (harness.h, helpers.h...).
    headers = max((h.stat().st_mtime for h in SRC.glob("*.h")), default=0)
    out = []
    for src in sources():
        exe = BUILD / src.stem
        newest = max(src.stat().st_mtime, headers)
        if not exe.exists() or exe.stat().st_mtime < newest:
            progress(f"building {src.name}")
            cmd = ["gcc", "-O2", "-static", "-pthread", f"-I{SRC}", "-o", str(exe), str(src), "-lrt"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"conformance: {src.name} does not compile:\n{r.stderr}")
        out.append(exe)
    return out


# Every platform runs in both fs modes: "seccomp" (the default mode) and
# "seccomp-strict" (--strict-fs: every path call mediated by the sentry).
STRICT = "-strict"
ENVS = tuple(e for p in PLATFORMS for e in (p, p + STRICT))


def command(env: str, exe: Path, pattern: str | None) -> list[str]:
    tail = [pattern] if pattern else []
    if env == "native":
        return ["unshare", "--uts", "--ipc", "--", str(exe), *tail]
    platform = env.removesuffix(STRICT)
    strict = ["--strict-fs"] if env.endswith(STRICT) else []
    return [PYSANDBOX, "run", "--platform", platform, *strict, "-e", f"PYSANDBOX_PLATFORM={platform}",
            "--bind", f"{BUILD}:/mnt:ro", "--cwd", "/tmp", "--", f"/mnt/{exe.name}", *tail]


def run_area(env: str, exe: Path, pattern: str | None) -> dict[str, Outcome]:
    try:
        r = subprocess.run(command(env, exe, pattern), capture_output=True, text=True, timeout=600)
        text, err = r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        text, err = (e.stdout or b"").decode(errors="replace"), "timed out"
    out = {}
    for line in text.splitlines():
        m = LINE.fullmatch(line.strip())
        if m:
            out[m[2]] = Outcome(m[1] == "PASS", m[3] or "")
    if not out and err:
        out[f"{exe.name}.(run)"] = Outcome(False, err.strip().splitlines()[-1] if err.strip() else "no output")
    return out


def load_expected() -> dict[tuple[str, str], str]:
    exp = {}
    if EXPECTED.exists():
        for raw in EXPECTED.read_text().splitlines():
            line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                raise SystemExit(f"{EXPECTED.name}: every entry needs PLATFORM CASE REASON: {raw!r}")
            exp[(parts[0], parts[1])] = parts[2]
    return exp


def run(platforms: list[str], pattern: str | None = None, progress=None) -> Results:
    progress = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    res = Results(platforms)
    exes = build(progress)
    for i, exe in enumerate(exes, 1):
        for env in ["native", *platforms]:
            t0 = time.monotonic()
            outs = run_area(env, exe, pattern)
            for case, o in outs.items():
                res.cases.setdefault(case, {})[env] = o
                res.areas[case] = exe.name
            if pattern and not outs:
                continue  # an area the filter left empty is not news
            bad = sum(not o.passed for o in outs.values())
            progress(f"[{i}/{len(exes)}] {exe.name:<14} {env:<14} {len(outs) - bad:>4} passed, "
                     f"{bad} failed  ({time.monotonic() - t0:.1f}s)")
    return res


def verdict(res: Results, expected) -> list[str]:
    """Problems that make the run fail."""
    problems = []
    for case, envs in sorted(res.cases.items()):
        native = envs.get("native")
        if native is None or not native.passed:
            detail = native.detail if native else "missing"
            problems.append(f"{'native':<15}{case}: must pass natively first ({detail})")
        for env in res.platforms:
            o = envs.get(env)
            listed = (env, case) in expected
            if o is None:
                problems.append(f"{env:<15}{case}: did not run")
            elif not o.passed and not listed:
                problems.append(f"{env:<15}{case}: new failure: {o.detail}")
            elif o.passed and listed:
                problems.append(f"{env:<15}{case}: passes now; remove it from {EXPECTED.name}")
    return problems


def save(res: Results) -> None:
    data = {env: {c: ("pass" if e[env].passed else "fail") for c, e in res.cases.items() if env in e}
            for env in ["native", *res.platforms]}
    LAST_RUN.write_text(json.dumps(data, indent=1, sort_keys=True))


def load_last_run() -> dict[str, dict[str, str]] | None:
    try:
        return json.loads(LAST_RUN.read_text())
    except (OSError, ValueError):
        return None


def print_table(res: Results, expected, out=sys.stdout, failures_only=False) -> None:
    envs = ["native", *res.platforms]
    width = max((len(c) for c in res.cases), default=10)
    cols = [max(8, len(e)) for e in envs]
    out.write((f"{'case':<{width}}  " + "  ".join(f"{e:<{w}}" for e, w in zip(envs, cols))).rstrip() + "\n")
    for case in sorted(res.cases, key=lambda c: (res.areas[c], c)):
        cells = []
        for e, w in zip(envs, cols):
            o = res.cases[case].get(e)
            cell = "-" if o is None else "pass" if o.passed else ("xfail" if (e, case) in expected else "FAIL")
            cells.append(f"{cell:<{w}}")
        if failures_only and all(c.strip() in ("pass", "-") for c in cells):
            continue
        out.write((f"{case:<{width}}  " + "  ".join(cells)).rstrip() + "\n")


def main(platform: str = "all", pattern: str | None = None, as_json: bool = False, verbose: bool = True) -> int:
    if platform == "all":
        platforms = list(ENVS)
    elif platform in PLATFORMS:
        platforms = [platform, platform + STRICT]
    else:
        platforms = [platform]
    for p in platforms:
        if p not in ENVS:
            print(f"pysandbox: error: platform {p!r} is not available (have: {', '.join(ENVS)}, all)",
                  file=sys.stderr)
            return 125
    res = run(platforms, pattern)
    expected = load_expected()
    problems = verdict(res, expected)
    if pattern is None:
        save(res)
    if as_json:
        print(json.dumps({c: {e: o.passed for e, o in envs.items()} for c, envs in res.cases.items()}, indent=1))
    else:
        print_table(res, expected, failures_only=not verbose)
    syscalls = {c.split(".", 1)[0] for c in res.cases}
    print(f"\n{len(res.cases)} cases covering {len(syscalls)} syscalls; "
          f"{sum(1 for k in expected if k[0] in platforms)} known gaps listed in {EXPECTED.name}")
    for p in problems:
        print(f"  problem: {p}")
    for env in ["native", *platforms]:
        passed, failed = res.counts(env)
        print(f"{env}: {passed} passed, {failed} failed")
    return 1 if problems else 0
