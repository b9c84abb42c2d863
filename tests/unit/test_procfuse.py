"""sentry/vfs/procfuse.py: procfs.render()'s files as FUSE callbacks."""
import pytest

from sentry.vfs import procfs, procfuse
from tests.unit.test_procfs import view

MiB = 1 << 20


def test_each_file_renders_its_path_from_the_readers_view():
    seen = []

    def make(pid):
        seen.append(pid)
        return view(memory_limit=512 * MiB, memory_usage=100 * MiB, cpus=1.5,
                    release="6.1.0-test", version="#1 test")
    files = procfuse.files(make)
    assert set(files) == set(procfuse.TARGETS)
    for name, path in procfuse.TARGETS.items():
        assert files[name](4242) == procfs.render(path, make(0)), name
    assert set(seen) == {4242, 0}
    assert files["cpu_online"](1) == b"0-1\n"
    assert files["osrelease"](1) == b"6.1.0-test\n"


def test_a_failing_view_fails_the_open():
    def make(pid):
        raise OSError("cgroup gone")
    with pytest.raises(OSError, match="cgroup gone"):
        procfuse.files(make)["meminfo"](1)


def test_binds():
    assert ("/run/fuse/meminfo", "/proc/meminfo") in procfuse.binds("/run/fuse/")
    assert len(procfuse.binds("/m")) == len(procfuse.TARGETS)
