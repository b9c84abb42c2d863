#!/usr/bin/env bash
# `make demo`: real workloads in the sandbox, with their output and a trace
# summary.  Leaves nothing behind (the busybox rootfs is a temp dir).
set -euo pipefail
PYSANDBOX=${1:-.venv/bin/pysandbox}
ROOTFS=$(mktemp -d /tmp/pysandbox-demo.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. python3 on the host's root, read-only, in a fresh sandbox (--summary)"
echo "\$ pysandbox run --summary -- python3 -c '...'"
"$PYSANDBOX" run --summary -- python3 - <<'PY'
import hashlib, json, os, platform, socket, sqlite3, subprocess
u = platform.uname()
print(f"uname: {u.system} {u.node} {u.release}; pid {os.getpid()}; cpus {os.cpu_count()}")
db = sqlite3.connect(":memory:")
db.execute("create table t (n integer)")
db.executemany("insert into t values (?)", [(i,) for i in range(1000)])
print("sqlite sum:", db.execute("select sum(n) from t").fetchone()[0])
print("sha256 of /etc/os-release:", hashlib.sha256(open("/etc/os-release", "rb").read()).hexdigest()[:16])
print("interfaces:", [name for _, name in socket.if_nameindex()])
print("child process says:", subprocess.run(["uname", "-n"], capture_output=True, text=True).stdout.strip())
try:
    open("/etc/pysandbox-demo", "w")
except OSError as e:
    print("writing the host root:", e.strerror)
print("ps in the sandbox:", subprocess.run(["ps", "-e", "-o", "pid=,comm="], capture_output=True, text=True).stdout.split())
PY

say "2. a busybox rootfs with --strace (intercepted calls only)"
mkdir -p "$ROOTFS"/{bin,proc,dev,tmp,sys,etc}
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh ls cat wc uname hostname tr; do ln -s busybox "$ROOTFS/bin/$a"; done
echo "\$ pysandbox run --rootfs ROOTFS --hostname demo --strace -- sh -c 'uname -a; ls / | wc -l; hostname x'"
"$PYSANDBOX" run --rootfs "$ROOTFS" --hostname demo --strace -- \
    sh -c 'uname -a; echo "entries in /: $(ls / | wc -l)"; hostname x || echo "(sethostname refused: no CAP_SYS_ADMIN)"' || true

say "2b. file-heavy work: the default fs mode against --strict-fs (every path call mediated)"
find /usr/share -xdev >/dev/null        # warm the cache first, for a fair comparison
start=$(date +%s%N); n=$(find /usr/share -xdev | wc -l)
echo "natively: $n entries in $(( ($(date +%s%N) - start) / 1000000 )) ms"
for mode in "" "--strict-fs"; do
    start=$(date +%s%N)
    n=$("$PYSANDBOX" run $mode -- sh -c 'find /usr/share -xdev | wc -l')
    echo "pysandbox run ${mode:-(default fs mode)} -- find /usr/share: $n entries in" \
         "$(( ($(date +%s%N) - start) / 1000000 )) ms (start-up included)"
done

say "3. copy-on-write rootfs and limits: the rootfs directory is never written"
echo hello > "$ROOTFS/etc/motd"
for a in free nproc rm cat; do ln -sf busybox "$ROOTFS/bin/$a"; done
echo "\$ pysandbox run --rootfs ROOTFS --memory 256M --cpus 0.5 -- sh -c 'free; nproc; rm /etc/motd; echo new > /etc/x'"
"$PYSANDBOX" run --rootfs "$ROOTFS" --memory 256M --cpus 0.5 -- \
    sh -c 'free | head -2; echo "nproc: $(nproc)"; rm /etc/motd; echo new > /etc/x; ls /etc'
echo "on the host, ROOTFS/etc still holds: $(ls "$ROOTFS/etc")"

say "4. the same sandbox on the ptrace platform"
"$PYSANDBOX" run --platform ptrace --rootfs "$ROOTFS" -- sh -c 'uname -a; cat /etc/motd'

say "5. the filter: denied calls and exit status"
"$PYSANDBOX" run -- python3 -c '
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
for name, nr in [("ptrace", 101), ("mount", 165), ("bpf", 321), ("io_uring_setup", 425)]:
    libc.syscall(nr, 0, 0, 0, 0, 0, 0)
    print(f"{name:15} -> {errno.errorcode[ctypes.get_errno()]}")
raise SystemExit(3)' || echo "exit status: $?"

say "6. the OCI runtime, as containerd's shim drives it: create, state, start, delete"
OCI=$(dirname "$PYSANDBOX")/pysandbox-oci
BUNDLE=$ROOTFS.bundle
OCIROOT=$ROOTFS.oci
trap 'rm -rf "$ROOTFS" "$BUNDLE" "$OCIROOT"' EXIT
mkdir -p "$BUNDLE" && cp -a "$ROOTFS" "$BUNDLE/rootfs"
"$OCI" spec --bundle "$BUNDLE"
python3 - "$BUNDLE/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"].update(terminal=False, args=["sh", "-c", "echo hello from $(hostname); uname -r; grep Seccomp: /proc/self/status"])
json.dump(c, open(sys.argv[1], "w"))
PY
echo "\$ pysandbox-oci create --bundle BUNDLE demo; pysandbox-oci state demo; pysandbox-oci start demo"
"$OCI" --root "$OCIROOT" create --bundle "$BUNDLE" demo
"$OCI" --root "$OCIROOT" state demo | grep -E '"(status|pid)"'
"$OCI" --root "$OCIROOT" start demo
sleep 0.5
"$OCI" --root "$OCIROOT" state demo | grep '"status"'
"$OCI" --root "$OCIROOT" delete demo

say "done: see 'pysandbox run --help', 'pysandbox syscalls', 'pysandbox-oci --help' and 'pysandbox cri --help'"
