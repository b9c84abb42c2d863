"""What `pysandbox-oci features` reports and `spec` writes.

`features` follows the runtime-spec features.md document: it lists what
this runtime really accepts (see sentry.oci.spec for the mapping), so an
engine can check before it asks.
"""
from __future__ import annotations

from sentry.oci.seccomp import ACTIONS, OPS
from sentry.sandbox.caps import DEFAULT, NAMES

SPEC_VERSION = "1.0.2"


def features() -> dict:
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": ["bind", "rbind", "ro", "rw", "rro", "size", "nosuid", "nodev", "noexec",
                         "private", "rprivate", "slave", "rslave", "shared", "rshared",
                         "unbindable", "runbindable"],
        "linux": {
            "namespaces": ["pid", "network", "mount", "ipc", "uts", "cgroup"],
            "capabilities": ["CAP_" + n for n in NAMES],
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(ACTIONS), "operators": sorted(OPS),
                        "archs": ["SCMP_ARCH_X86_64"]},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"io.pysandbox.sentry": "every container runs under its own pysandbox sentry"},
    }


def default_spec() -> dict:
    """A config.json to start from, like `runc spec`: `sh` on a terminal in
    ./rootfs, Docker's default capabilities, the usual masked paths."""
    caps = sorted("CAP_" + c for c in DEFAULT)
    return {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "pysandbox",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                            "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }
