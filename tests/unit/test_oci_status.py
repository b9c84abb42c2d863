"""sentry/oci/container: status when the container ends while it looks (the
sentry removes the cgroup as it exits, between status's checks), and the
removal of a container's state directory."""
from __future__ import annotations

import errno
import os

import pytest

from sentry.oci import container
from sentry.sandbox import cgroups


class _Vanished:
    """A cgroup whose files are gone (removed after attach)."""
    def frozen(self) -> bool:
        raise OSError(errno.ENOENT, "No such file or directory", "/sys/fs/cgroup/freezer/x/freezer.state")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("still_alive, want", [(True, "running"), (False, "stopped")])
def test_a_cgroup_removed_meanwhile_is_a_container_that_ended(monkeypatch, tmp_path, still_alive, want):
    answers = iter([True, still_alive])      # alive at the first check, then as given
    monkeypatch.setattr(container, "alive", lambda st: next(answers))
    monkeypatch.setattr(cgroups.Cgroup, "attach", classmethod(lambda cls, name: _Vanished()))
    d = container.Dir(str(tmp_path), "c1")
    st = container.State(id="c1", bundle="/b", rootfs="/r", created="now", pid=1, cgroup="/x")
    assert container.status(d, st) == want


def test_remove_dir_takes_files_subdirectories_and_absence(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "state.json").write_text("{}")
    os.mkfifo(flat / "exec.fifo")
    (flat / "link").symlink_to(tmp_path / "kept")
    (tmp_path / "kept").write_text("not ours\n")
    container._remove_dir(str(flat))
    assert not flat.exists() and (tmp_path / "kept").exists()
    deep = tmp_path / "deep"
    (deep / "sub").mkdir(parents=True)
    (deep / "sub" / "f").write_text("x")
    container._remove_dir(str(deep))                  # shutil's turn
    assert not deep.exists()
    container._remove_dir(str(tmp_path / "never"))    # absent: nothing to do, no error


def test_remove_dir_when_a_file_goes_first(tmp_path, monkeypatch):
    """`start` unlinks exec.fifo: one gone between the listing and our unlink
    must not leave the directory behind."""
    d = tmp_path / "c"
    d.mkdir()
    (d / "state.json").write_text("{}")
    os.mkfifo(d / "exec.fifo")
    real_unlink = os.unlink

    def raced(path, *a, **kw):
        if str(path).endswith("exec.fifo"):
            real_unlink(path)
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", raced)
    container._remove_dir(str(d))
    assert not d.exists()
