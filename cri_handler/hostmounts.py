"""The propagation of the host mount a path is on, for the CRI's
HOST_TO_CONTAINER and BIDIRECTIONAL mounts: containerd refuses them unless
the host path's mount is shared or slave (HOST_TO_CONTAINER) or shared
(BIDIRECTIONAL), since a private mount receives nothing to pass on.

Kernel facts relied upon (proc(5), Documentation/filesystems/proc.rst):
- /proc/self/fdinfo/N has a "mnt_id:" line (Linux 3.15): the id of the
  mount the fd is on, the first field of that mount's line in
  /proc/self/mountinfo.  Exact, where matching the longest mount point
  (containerd's lookup) picks the wrong mount when one is hidden under
  another at the same path.
- mountinfo's optional fields, before the " - " separator, hold
  "shared:N" for a member of peer group N and "master:N" for a slave of
  group N (both for a shared and slave mount), none for a private one.
  The mount point (field 5) escapes space, tab, newline and backslash as
  octal (\\040).
- open(O_PATH) needs no permission on the file itself and follows
  symlinks: the mount found is that of the path's target.
"""
from __future__ import annotations

import os
import re


def propagation(path: str) -> tuple[str, set[str]]:
    """(the mount point the path is on, its kinds: a subset of {"shared", "slave"})."""
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            mnt_id = next(line.split()[1] for line in f if line.startswith("mnt_id:"))
    finally:
        os.close(fd)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[0] == mnt_id:
                optional = fields[6:fields.index("-")]
                kinds = {"shared" for o in optional if o.startswith("shared:")}
                kinds |= {"slave" for o in optional if o.startswith("master:")}
                return _unescape(fields[4]), kinds
    raise OSError(f"mount {mnt_id} of {path} is not in /proc/self/mountinfo")


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
