"""Resource limits for one sandbox: a cgroup of its own.

Kernel facts relied on:

- Only cgroup2 has `cgroup.controllers`: it tells a cgroup2 mount from the
  tmpfs a hybrid system puts at /sys/fs/cgroup.  A v2 controller works in a
  group only once every ancestor lists it in `cgroup.subtree_control`, which
  a non-root group holding processes may not change: our shared
  `pysandbox` parent never holds one.
- A controller bound to a v1 hierarchy is absent from v2 (hybrid systems).
  Each v1 hierarchy (one controller, or a few: cpu,cpuacct) has its own
  tree, and a process is moved in each by writing its pid to cgroup.procs.
- v1 memory.limit_in_bytes does not count swap; memory.memsw.limit_in_bytes
  (when swap accounting is on) counts memory+swap, so setting both to the
  same value leaves no swap to dodge the limit.  In v2, memory.swap.max = 0.
- CPU bandwidth: quota/period in microseconds (v1 cpu.cfs_quota_us and
  cpu.cfs_period_us, v2 cpu.max "QUOTA PERIOD"); the kernel refuses a quota
  under 1 ms.  No limit reads back as -1 / "max"; no v1 memory limit as
  PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages).
- A task leaves cgroup.procs, then stops populating its group, as it
  exits, before it is reaped: rmdir (EBUSY while populated) works once every
  member is dead, zombies included.  Pids are those of the reader's pid
  namespace: the sentry's, the host's.
- A directory fd pins the cgroupfs node, not a path: *at() calls relative
  to it work from any mount namespace.  The sentry setns()es into the
  sandbox's, where /sys/fs/cgroup is not visible, so after create() every
  file operation goes through the fds opened then (paths: messages only).
- cgroup.kill (v2, Linux 5.14) SIGKILLs every member atomically, forks in
  flight included; cgroup.events says "populated 0" once no member is left.
  A v2 group tracks membership without any controller enabled, so on a
  hybrid system (controllers on v1, an empty cgroup2 at
  /sys/fs/cgroup/unified) a group there gives a v1 sandbox both: the kill
  group, asked for with create(..., kill_group=True) (a container in the
  host's pid namespace, whose end no pid namespace's init brings), and
  found again by attach().  The write is checked at open(2): an fd opened
  as root writes after the opener dropped its privileges.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import time

from sentry.errors import SandboxError
from sentry.record import record
from sentry.sandbox.limits import MIN_QUOTA_US, PERIOD_US, UNLIMITED, Limits

CGROUP_ROOT = "/sys/fs/cgroup"
V2_CANDIDATES = (CGROUP_ROOT, CGROUP_ROOT + "/unified")   # pure v2, then hybrid
PARENT = "pysandbox"
CONTROLLERS = ("memory", "pids", "cpu")
V1_EXTRA = ("freezer", "cpuacct")     # optional: pause/resume and CPU usage on v1
REMOVE_WAIT_S = 2.0

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def unique_name() -> str:
    """pysandbox/<pid>-<random hex>: unique across concurrent sentries."""
    return f"{PARENT}/{os.getpid()}-{os.urandom(4).hex()}"


@record
class _Dir:
    """One group directory: per hierarchy in v1, the only one in v2."""
    path: str            # host path, for messages only
    parent_fd: int       # the shared pysandbox dir: rmdir goes through it
    fd: int              # the group itself: every file goes through it
    leaf: str
    controllers: tuple[str, ...]


class Cgroup:
    """A cgroup for one sandbox, in every hierarchy that has a controller we
    use.  Build with create(); use as a context manager or call remove()."""

    def __init__(self, version: int, name: str):
        self.version = version
        self.name = name
        self._dirs: list[_Dir] = []
        self._removed = False
        self._counters: list[int] = []      # fds kept open by counter()
        self._kill_dir: _Dir | None = None  # the v2 group with cgroup.kill and cgroup.events

    @property
    def can_kill(self) -> bool:
        """cgroup.kill is there: kill_all() is atomic, kill_fd() works."""
        return self._kill_dir is not None and _exists(self._kill_dir, "cgroup.kill")

    @property
    def host_paths(self) -> tuple[str, ...]:
        """Where the groups were created (informational: never opened)."""
        return tuple(d.path for d in self._dirs)

    @classmethod
    def create(cls, name: str, limits: Limits, kill_group: bool = False) -> Cgroup:
        """name: pysandbox/<leaf> (a sentry's own group), or an absolute OCI
        cgroupsPath /a/b/leaf (its parents are made and kept; the OCI
        runtime also gets the freezer, for pause/resume).  kill_group: on
        v1, also a group in the cgroup2 mount (see the header); check
        can_kill after."""
        parent, leaf = _check_name(name)
        version, hierarchies = _hierarchies({"memory", "pids"} | ({"cpu"} if limits.cpus is not None else set()))
        cg = cls(version, name)
        extra = _find_v2(set()) if version == 1 and kill_group else None
        if parent == PARENT:
            for root in list(hierarchies) + ([extra[0]] if extra else []):
                remove_orphans(os.path.join(root, PARENT))
        try:
            for root, ctrls in hierarchies.items():
                cg._dirs.append(_make_group(root, parent, leaf, tuple(ctrls)))
            if version == 2:
                cg._kill_dir = cg._dirs[0]
            elif extra:
                cg._kill_dir = _make_group(extra[0], parent, leaf, ())
                cg._dirs.append(cg._kill_dir)
            cg._apply(limits)
        except BaseException as e:
            cg._rmdirs()
            if isinstance(e, OSError):
                raise SandboxError(f"cannot set up cgroup {name}: {_describe(e)}") from None
            raise
        return cg

    @classmethod
    def attach(cls, name: str) -> Cgroup:
        """The existing group `name` (as given to create), e.g. for another
        process's `update`, `pause` or `ps`.  Raises SandboxError if absent."""
        parent, leaf = _check_name(name)
        version, hierarchies = _hierarchies({"memory", "pids"})
        cg = cls(version, name)
        try:
            for root, ctrls in hierarchies.items():
                pfd = os.open(os.path.join(root, parent), _DIR_FLAGS)
                try:
                    fd = os.open(leaf, _DIR_FLAGS, dir_fd=pfd)
                except BaseException:
                    os.close(pfd)
                    raise
                cg._dirs.append(_Dir(os.path.join(root, parent, leaf), pfd, fd, leaf, tuple(ctrls)))
            if version == 2:
                cg._kill_dir = cg._dirs[0]
            elif extra := _find_v2(set()):        # the kill group, if create() made one
                pfd = fd = -1
                try:
                    pfd = os.open(os.path.join(extra[0], parent), _DIR_FLAGS)
                    fd = os.open(leaf, _DIR_FLAGS, dir_fd=pfd)
                except FileNotFoundError:
                    if pfd >= 0:
                        os.close(pfd)
                else:
                    cg._kill_dir = _Dir(os.path.join(extra[0], parent, leaf), pfd, fd, leaf, ())
                    cg._dirs.append(cg._kill_dir)
        except OSError as e:
            cg._rmdirs_close_only()
            raise SandboxError(f"cgroup {name}: {_describe(e)}") from None
        return cg

    def _close_counters(self) -> None:
        for fd in self._counters:
            os.close(fd)
        self._counters = []

    def _rmdirs_close_only(self) -> None:
        self._close_counters()
        for d in self._dirs:
            os.close(d.fd)
            os.close(d.parent_fd)
        self._dirs = []
        self._kill_dir = None
        self._removed = True

    def close(self) -> None:
        """Forget the group without removing it (attach()'s counterpart)."""
        if not self._removed:
            self._rmdirs_close_only()

    def update(self, limits: Limits) -> None:
        """Change limits in force (None: leave as is)."""
        try:
            self._apply(limits)
        except OSError as e:
            raise SandboxError(f"cannot update cgroup {self.name}: {_describe(e)}") from None

    def freeze(self, frozen: bool) -> None:
        """Freeze or thaw every member (v2 cgroup.freeze, v1 freezer.state)
        and wait, up to ~2 s, until the kernel reports it done."""
        if self.version == 2:
            d = self._dirs[0]
            _write(d, "cgroup.freeze", int(frozen))
            done = lambda: f"frozen {int(frozen)}" in _read(d, "cgroup.events").splitlines()  # noqa: E731
        else:
            dirs = self._live_dirs("freezer")
            if not dirs:
                raise SandboxError("pause needs the cgroup v1 freezer hierarchy, which is not mounted")
            want = "FROZEN" if frozen else "THAWED"
            _write(dirs[0], "freezer.state", want)
            done = lambda: _read(dirs[0], "freezer.state") == want  # noqa: E731
        deadline = time.monotonic() + REMOVE_WAIT_S
        while not done():
            if time.monotonic() > deadline:
                raise SandboxError(f"cgroup {self.name}: the kernel did not finish "
                                   f"{'freezing' if frozen else 'thawing'} in time")
            time.sleep(0.005)

    def frozen(self) -> bool:
        if self.version == 2:
            return "frozen 1" in _read(self._dirs[0], "cgroup.events").splitlines()
        dirs = self._live_dirs("freezer")
        return bool(dirs) and _read(dirs[0], "freezer.state") == "FROZEN"

    def cpu_usage_ns(self) -> int:
        """CPU time used by the members, in nanoseconds."""
        if self.version == 2:
            for line in _read(self._dirs[0], "cpu.stat").splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) * 1000
            return 0
        dirs = self._live_dirs("cpuacct") or self._live_dirs("cpu")
        try:
            return int(_read(dirs[0], "cpuacct.usage"))
        except (OSError, IndexError, ValueError):
            return 0

    def _apply(self, limits: Limits) -> None:
        if limits.memory is not None:
            mem = self._dir("memory")
            if self.version == 2:
                _write(mem, "memory.max", limits.memory)
                if _exists(mem, "memory.swap.max"):
                    _write(mem, "memory.swap.max", 0)
            else:
                _write(mem, "memory.limit_in_bytes", limits.memory)
                if _exists(mem, "memory.memsw.limit_in_bytes"):
                    _write(mem, "memory.memsw.limit_in_bytes", limits.memory)
        if limits.cpus is not None:
            quota = max(MIN_QUOTA_US, round(limits.cpus * PERIOD_US))
            cpu = self._dir("cpu")
            if self.version == 2:
                _write(cpu, "cpu.max", f"{quota} {PERIOD_US}")
            else:
                _write(cpu, "cpu.cfs_period_us", PERIOD_US)
                _write(cpu, "cpu.cfs_quota_us", quota)
        if limits.pids is not None:
            _write(self._dir("pids"), "pids.max", limits.pids)

    def add(self, pid: int) -> None:
        """Move process pid (all its threads) into the group, in every hierarchy."""
        for d in self._live_dirs():
            try:
                _write(d, "cgroup.procs", pid)
            except OSError as e:
                raise SandboxError(f"cannot add pid {pid} to cgroup {self.name}: {_describe(e)}") from None

    def limits(self) -> Limits:
        """The limits in force, read back from the kernel (None: unlimited)."""
        mem, pids = self._dir("memory"), self._dir("pids")
        if self.version == 2:      # one dir; cpu.max only if the cpu controller is on
            memory = _read(mem, "memory.max")
            quota, _, period = (_read(mem, "cpu.max") if _exists(mem, "cpu.max") else "max").partition(" ")
        else:
            cpu = self._dir("cpu")
            memory = _read(mem, "memory.limit_in_bytes")
            quota, period = _read(cpu, "cpu.cfs_quota_us"), _read(cpu, "cpu.cfs_period_us")
        return Limits(
            memory=None if memory == "max" or int(memory) >= UNLIMITED else int(memory),
            cpus=None if quota in ("max", "-1") else int(quota) / int(period),
            pids=None if (p := _read(pids, "pids.max")) == "max" else int(p))

    def memory_usage(self) -> int:
        """Bytes charged to the group now (page cache included)."""
        name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        return int(_read(self._dir("memory"), name))

    def memory_cache(self) -> int:
        """Bytes of page cache charged to the group (memory.stat: v2 `file`,
        v1 `total_cache`), a part of memory_usage."""
        key = "file" if self.version == 2 else "total_cache"
        for line in _read(self._dir("memory"), "memory.stat").splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
        return 0

    def oom_kills(self) -> int:
        """How many tasks the OOM killer has killed in the group."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        for line in _read(self._dir("memory"), name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0        # v1 before Linux 4.13 does not count

    def pids_current(self) -> int:
        return int(_read(self._dir("pids"), "pids.current"))

    def counter(self, what: str):
        """A cheap repeated read of one number the kernel keeps: "memory"
        (bytes charged) or "pids" (tasks, i.e. threads), as a function.  The
        file stays open and is read with pread from offset 0, where cgroupfs
        renders it afresh: no open or close per read.  None if the group
        has no such controller."""
        controller = "memory" if what == "memory" else "pids"
        if not any(controller in d.controllers for d in self._dirs):
            return None
        name = "pids.current" if what == "pids" else (
            "memory.current" if self.version == 2 else "memory.usage_in_bytes")
        d = self._dir(controller)
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=d.fd)
        self._counters.append(fd)
        return lambda: int(os.pread(fd, 64, 0))

    def procs(self) -> list[int]:
        """Host pids in the group (the union over v1 hierarchies, in case an
        add() got only part of the way)."""
        pids: set[int] = set()
        for d in self._live_dirs():
            pids.update(int(p) for p in _read(d, "cgroup.procs").split())
        return sorted(pids)

    def kill_all(self) -> None:
        """SIGKILL every member: atomically with v2's cgroup.kill, else one
        pass over cgroup.procs (a child forked meanwhile survives it, and a
        pid could be reused between read and kill: a tiny window)."""
        if self.can_kill:
            assert self._kill_dir is not None
            _write(self._kill_dir, "cgroup.kill", 1)
            return
        for pid in self.procs():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill_fd(self) -> int:
        """An fd (O_CLOEXEC, the caller's to close) to cgroup.kill: a later
        write of "1" kills the group whatever the writer's credentials."""
        if not self.can_kill:
            raise SandboxError(f"cgroup {self.name}: no cgroup.kill (needs cgroup v2 and Linux 5.14)")
        assert self._kill_dir is not None
        try:
            return os.open("cgroup.kill", os.O_WRONLY | os.O_CLOEXEC, dir_fd=self._kill_dir.fd)
        except OSError as e:
            raise SandboxError(f"cgroup {self.name}: cgroup.kill: {e.strerror}") from None

    def populated(self) -> bool:
        """Does any process belong to the group (cgroup.events where there is
        one, the kernel's own count; else cgroup.procs)?"""
        if self._kill_dir is not None:
            return "populated 1" in _read(self._kill_dir, "cgroup.events").splitlines()
        return bool(self.procs())

    def wait_empty(self, timeout: float) -> bool:
        """Wait up to timeout seconds until no member is left (a task stops
        populating its group as it exits, before it is reaped)."""
        deadline = time.monotonic() + timeout
        while self.populated():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def remove(self) -> None:
        """Kill the members, wait (up to ~2 s) for them to die, rmdir our
        groups and close the fds.  Idempotent; a group someone else already
        removed is fine.  Raises SandboxError if a group could not be removed."""
        if self._removed:
            return
        self._close_counters()
        deadline = time.monotonic() + REMOVE_WAIT_S
        while True:
            try:
                self.kill_all()
                if not self.procs() or time.monotonic() > deadline:
                    break   # if not empty, rmdir below says EBUSY, naming the group
            except OSError:
                break       # removed under us (ENOENT), or rmdir below says why
            time.sleep(0.01)
        failed = self._rmdirs(deadline)
        if failed:
            raise SandboxError(f"cannot remove cgroup {self.name}: {'; '.join(failed)}")

    def _rmdirs(self, deadline: float = 0.0) -> list[str]:
        """rmdir our groups (never the shared parent), close the fds; return
        what failed.  EBUSY is retried until deadline: a member may be exiting."""
        failed = []
        for d in reversed(self._dirs):
            os.close(d.fd)
            while True:
                try:
                    os.rmdir(d.leaf, dir_fd=d.parent_fd)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    if e.errno == errno.EBUSY and time.monotonic() < deadline:
                        time.sleep(0.01)
                        continue
                    failed.append(f"{d.path}: {e.strerror}")
                break
            os.close(d.parent_fd)
        self._dirs = []
        self._kill_dir = None
        self._removed = True
        return failed

    def _live_dirs(self, controller: str | None = None) -> list[_Dir]:
        if self._removed:
            raise SandboxError(f"cgroup {self.name} has been removed")
        return [d for d in self._dirs if controller is None or controller in d.controllers]

    def _dir(self, controller: str) -> _Dir:
        return self._live_dirs(controller)[0]     # create() made sure there is one

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def remove_orphans(parent: str) -> list[str]:
    """rmdir the groups of sentries that died without cleaning up (SIGKILL
    leaves no chance to).  A group is named <sentry pid>-<hex>; one whose
    sentry pid is gone can only hold dead processes, and rmdir refuses a
    group that still has any, so nothing alive is touched."""
    removed: list[str] = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        pid, dash, rest = name.partition("-")
        if not (dash and pid.isdigit() and rest) or os.path.exists(f"/proc/{pid}"):
            continue
        try:
            os.rmdir(os.path.join(parent, name))
            removed.append(name)
        except OSError:
            pass            # not empty yet, or not a directory: leave it
    return removed


def _check_name(name: str) -> tuple[str, str]:
    """(parent, leaf) of pysandbox/<leaf> or of an absolute /a/b/<leaf>."""
    comp = r"[A-Za-z0-9][A-Za-z0-9_.:-]*"
    if name.startswith("/"):
        parts = name.strip("/").split("/")
        if len(name) <= 1024 and parts and all(re.fullmatch(comp, p) for p in parts) and ":" not in name:
            return "/".join(parts[:-1]), parts[-1]
        raise SandboxError(f"bad cgroup path {name!r}: expected /a/b/c with letters, digits, '.', '_', '-' "
                           "(systemd slice:prefix:name paths are not supported)")
    parent, _, leaf = name.partition("/")
    if parent != PARENT or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", leaf):
        raise SandboxError(f"bad cgroup name {name!r}: expected {PARENT}/<name> "
                           "(letters, digits, '.', '_', '-'), e.g. from unique_name()")
    return parent, leaf


def _hierarchies(need: set[str]) -> tuple[int, dict[str, list[str]]]:
    """(version, {mountpoint: [controllers]}) for a new group.  v1 adds the
    freezer and cpuacct hierarchies when they are mounted (pause, stats)."""
    v2 = _find_v2(need)
    if v2:
        return 2, {v2[0]: [c for c in CONTROLLERS if c in v2[1]]}
    v1 = _find_v1()
    if missing := sorted(set(CONTROLLERS) - set(v1)):
        raise SandboxError(f"cgroups are unusable: no cgroup v2 at {' or '.join(V2_CANDIDATES)} "
                           f"offers {', '.join(sorted(need))}, and no v1 hierarchy is mounted "
                           f"for {', '.join(missing)}")
    hierarchies: dict[str, list[str]] = {}
    for ctrl in CONTROLLERS + V1_EXTRA:
        if ctrl in v1:
            hierarchies.setdefault(v1[ctrl], []).append(ctrl)
    return 1, hierarchies


def _find_v2(need: set[str]):
    """(mountpoint, controllers it offers) of a cgroup v2 with all of need."""
    for root in V2_CANDIDATES:
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                available = set(f.read().split())
        except OSError:
            continue        # not cgroup2 (hybrid: a tmpfs), or not mounted
        if need <= available:
            return root, available
    return None


def _find_v1() -> dict[str, str]:
    """controller -> mountpoint of its v1 hierarchy, from our mountinfo."""
    found: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, superopts = fields[sep + 1], fields[sep + 3].split(",")
            if fstype != "cgroup":
                continue    # (in a container the mount's root may be a subtree: fine)
            mountpoint = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            for ctrl in CONTROLLERS + V1_EXTRA:
                if ctrl in superopts:
                    found.setdefault(ctrl, mountpoint)
    return found


def _make_group(root: str, parent: str, leaf: str, controllers: tuple[str, ...]) -> _Dir:
    """mkdir -p <root>/<parent> (shared, kept) and <root>/<parent>/<leaf>,
    enabling the controllers on the way down (v2), and open both."""
    fd = os.open(root, _DIR_FLAGS)
    path = root
    try:
        v2 = _exists(_Dir(root, -1, fd, "", controllers), "cgroup.subtree_control")
        for comp in parent.split("/"):
            if v2:
                _enable(_Dir(path, -1, fd, "", controllers))
            try:
                os.mkdir(comp, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd, path = nfd, f"{path}/{comp}"
    except BaseException:
        os.close(fd)
        raise
    parent_dir = _Dir(path, -1, fd, "", controllers)
    try:
        if v2:
            _enable(parent_dir)
        os.mkdir(leaf, 0o755, dir_fd=fd)   # EEXIST: never adopt another's group
        try:
            return _Dir(f"{path}/{leaf}", fd, os.open(leaf, _DIR_FLAGS, dir_fd=fd), leaf, controllers)
        except BaseException:
            os.rmdir(leaf, dir_fd=fd)
            raise
    except BaseException:
        os.close(fd)
        raise


def _enable(d: _Dir) -> None:
    """Enable d's controllers for its children (v2); never disables any."""
    enabled = _read(d, "cgroup.subtree_control").split()
    missing = [c for c in d.controllers if c not in enabled]
    if missing:
        try:
            _write(d, "cgroup.subtree_control", " ".join("+" + c for c in missing))
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            raise OSError(e.errno, f"{e.strerror}: it holds processes, and v2 enables controllers "
                          "only in groups without", e.filename) from None


def _exists(d: _Dir, name: str) -> bool:
    try:
        os.stat(name, dir_fd=d.fd)
        return True
    except FileNotFoundError:
        return False


def _read(d: _Dir, name: str) -> str:
    return _io(d, name, os.O_RDONLY, lambda fd: b"".join(iter(lambda: os.read(fd, 65536), b""))).decode().strip()


def _write(d: _Dir, name: str, value) -> None:
    """One write(2), as cgroupfs wants: it parses each write on its own."""
    _io(d, name, os.O_WRONLY, lambda fd: os.write(fd, str(value).encode()), f" (writing {value})")


def _io(d: _Dir, name: str, flags: int, use, what: str = ""):
    """use(fd) on file name of group d; errors name the host path."""
    try:
        fd = os.open(name, flags | os.O_CLOEXEC, dir_fd=d.fd)
        try:
            return use(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise OSError(e.errno, (e.strerror or "") + what, f"{d.path}/{name}") from None


def _describe(e: OSError) -> str:
    return f"{e.filename}: {e.strerror}" if e.filename else str(e.strerror or e)
