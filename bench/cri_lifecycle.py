"""The CRI pod lifecycle, timed: pysandbox cri, and Debian's containerd + runc.

    python -m bench.cri_lifecycle [--rounds 10] [--no-containerd]

One round is what a kubelet does for a one-container pod plus a probe:
RunPodSandbox, CreateContainer, StartContainer, ExecSync, StopContainer,
RemoveContainer, StopPodSandbox, RemovePodSandbox, each call timed on the
client side over the runtime's unix socket with the same client
(tests/cri_client.py).  The table shows the median of the rounds per step
and in total; with containerd, the ratio pysandbox / containerd.  The
server forks pysandbox-oci (CreateContainer, ExecSync) from its launcher
(cri_handler/zygote.py); a run it could not take is counted below the table.

Neither runtime's CreateContainer starts a process: containerd's shim and
`runc create` run in StartContainer, and so do pysandbox's `pysandbox-oci
create` (the sentry and the sandbox) and `start`.

Both runtimes get the same busybox image (built from /bin/busybox) and a
bridge network: pysandbox its built-in bridge, containerd a CNI conflist
(bridge + host-local + loopback from /usr/lib/cni) in a temporary
directory.  containerd runs with its own config, root, state and socket in
that directory, restrict_oom_score_adj = true, and a pause image built from
the same busybox (its sandbox container runs `sleep`).  Nothing of the
host's containerd is used or touched.  Needs root.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cri_client import CRI, Server, busybox_archive  # noqa: E402

STEPS = ("RunPodSandbox", "CreateContainer", "StartContainer", "ExecSync", "StopContainer",
         "RemoveContainer", "StopPodSandbox", "RemovePodSandbox")
PAUSE_IMAGE = "pysandbox-bench/pause:1"


def one_round(cri: CRI, i: int, handler: str, log_dir: str) -> dict[str, float]:
    t: dict[str, float] = {}

    def timed(step, fn, *a):
        s = time.perf_counter()
        out = fn(*a)
        t[step] = time.perf_counter() - s
        return out

    pc = cri.pod_config(f"bench-{i}", log_dir=log_dir)
    pod = timed("RunPodSandbox", cri.run_pod, pc, handler)
    cc = cri.container_config("app", ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"],
                              log_path=f"app-{i}.log")
    cid = timed("CreateContainer", cri.create, pod, pc, cc)
    timed("StartContainer", cri.start, cid)
    r = timed("ExecSync", cri.exec_sync, cid, ["echo", "ok"])
    assert r.stdout == b"ok\n", r
    timed("StopContainer", cri.stop, cid, 10)
    timed("RemoveContainer", cri.remove, cid)
    timed("StopPodSandbox", cri.stop_pod, pod)
    timed("RemovePodSandbox", cri.remove_pod, pod)
    t["total"] = sum(t.values())
    return t


def run_rounds(cri: CRI, rounds: int, handler: str, log_dir: str) -> dict[str, float]:
    one_round(cri, -1, handler, log_dir)               # warm-up, not counted
    samples = [one_round(cri, i, handler, log_dir) for i in range(rounds)]
    return {k: statistics.median(s[k] for s in samples) for k in (*STEPS, "total")}


# -- containerd ---------------------------------------------------------------------

def pause_archive(path: Path) -> str:
    """The busybox image again, named as the sandbox image, running sleep."""
    from cri_client import busybox_layer
    from image_files import docker_archive
    return docker_archive(path, PAUSE_IMAGE, [busybox_layer()], {"Env": ["PATH=/bin"], "Cmd": ["sleep", "2147483647"]})


class Containerd:
    def __init__(self, base: Path):
        self.base = base
        self.sock = base / "containerd.sock"
        (base / "cni").mkdir(parents=True, exist_ok=True)
        (base / "cni" / "10-bench.conflist").write_text("""{
  "cniVersion": "0.4.0", "name": "pysb-bench",
  "plugins": [
    {"type": "bridge", "bridge": "pysbbench0", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.216.0.0/24"}]],
              "dataDir": "%s"}},
    {"type": "loopback"}
  ]
}""" % (base / "ipam"))
        (base / "config.toml").write_text(f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{base}/containerd-ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{base}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
""")
        self.proc = None

    def start(self) -> CRI:
        self.log = open(self.base / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(self.base / "config.toml")],
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        end = time.monotonic() + 30
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError("containerd did not start; see " + str(self.base / "containerd.log"))
            time.sleep(0.05)
        for archive in (self.busybox, self.pause):
            subprocess.run(["ctr", "--address", str(self.sock), "-n", "k8s.io", "images", "import", archive],
                           check=True, capture_output=True, timeout=120)
        cri = CRI(f"unix://{self.sock}")
        cri.wait_ready(proc=self.proc)
        return cri

    def stop(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        # shims and their containers were removed by the rounds; leftovers of a failure:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if str(self.base) in line]
        for p in sorted(points, reverse=True):
            subprocess.run(["umount", "-l", p], capture_output=True)
        subprocess.run(["ip", "link", "del", "pysbbench0"], capture_output=True)


def table(results: dict[str, dict[str, float]]) -> str:
    names = list(results)
    head = ["step"] + [f"{n} (ms)" for n in names] + (["pysandbox / containerd"] if len(names) == 2 else [])
    rows = []
    for step in (*STEPS, "total"):
        vals = [results[n][step] * 1000 for n in names]
        row = [step] + [f"{v:,.1f}" for v in vals]
        if len(names) == 2:
            row.append(f"{vals[0] / vals[1]:.2f}" if vals[1] else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                       for i, (c, w) in enumerate(zip(r, widths))) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--no-containerd", action="store_true", help="time pysandbox cri only")
    ap.add_argument("--no-pysandbox", action="store_true", help="time containerd only")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench.cri_lifecycle needs root", file=sys.stderr)
        return 1
    base = Path(tempfile.mkdtemp(prefix="pysb-cri-bench-"))
    results: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    try:
        archive = busybox_archive(base / "busybox.tar")
        if not args.no_pysandbox:
            srv = Server(base / "pysandbox", bridge="pysbbench1", cidr="10.217.0.0/24")
            srv.import_image(archive)
            cri = srv.start()
            try:
                results["pysandbox"] = run_rounds(cri, args.rounds, "pysandbox", str(base / "logs-pysandbox"))
            finally:
                cri.close()
                srv.stop()
                srv.remove_network()
            # A request its launcher could not take ran as a subprocess (slower): never silently.
            fallbacks = srv.log_text().count("launcher unavailable")
            if fallbacks:
                notes.append(f"pysandbox: {fallbacks} pysandbox-oci runs were subprocesses (launcher unavailable)")
        if not args.no_containerd:
            if not shutil.which("containerd") or not shutil.which("runc"):
                print("containerd or runc missing: pysandbox only", file=sys.stderr)
            else:
                ctd = Containerd(base / "containerd")
                ctd.busybox, ctd.pause = archive, pause_archive(base / "pause.tar")
                try:
                    cri = ctd.start()
                    results["containerd+runc"] = run_rounds(cri, args.rounds, "", str(base / "logs-containerd"))
                    cri.close()
                finally:
                    ctd.stop()
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"CRI pod lifecycle, median of {args.rounds} rounds (client-side time per call)")
    print(table(results))
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
