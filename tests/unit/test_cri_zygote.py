"""The launcher (cri_handler.zygote, cri_handler.spawn) against the subprocess it stands in for.

A real launcher runs tests/zygote_probe.py's main as its target, and the
same probe runs as a console script through subprocess: whatever the probe
can see of how it was started (fds, environment, cwd, umask, rlimits, signal
mask and dispositions, session, stdio, sys.argv and sys.path, cgroups,
namespaces, threads) must be the same both ways, as must exit codes and
output.  Then the launcher's failures: killed while a child runs, killed
before a request, its daemon gone."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cri_handler import spawn


@pytest.fixture
def probe(tmp_path):
    """A console script for the probe, as pip writes pysandbox-oci's."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = bindir / "probe"
    path.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        from tests.zygote_probe import main
        if __name__ == '__main__':
            sys.exit(main())
        """))
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def spawner(probe, monkeypatch):
    # Buffered stdio (the stricter case: line buffering on a tty and on
    # stderr); the launcher's interpreter is configured by this environment.
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    sp = spawn.Spawner(probe, preload=("tests.zygote_probe",))
    yield sp
    sp.close()


def _run(start, argv, stdin=-1, new_session=False, pty=False):
    """(code, stdout, stderr, child) of argv started by start(argv, fds, new_session)."""
    if pty:
        master, slave = os.openpty()
        out_r, out_w, err_w = master, slave, slave
    else:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        child = start(argv, stdin, out_w, err_w, new_session)
    finally:
        os.close(out_w)
        if not pty:
            os.close(err_w)
    out = _read_all(out_r)
    err = b"" if pty else _read_all(err_r)
    return child.wait(30), out, err, child


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:             # EIO: the pty's slave side is closed
            break
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks)


def _both(spawner, argv, **kw):
    """The results through the launcher and as a subprocess; the launcher's must be its own."""
    z = _run(spawner.start, argv, **kw)
    assert isinstance(z[3], spawn.ZygoteChild), "the launcher did not serve the request"
    s = _run(spawn.subprocess_child, argv, **kw)
    assert isinstance(s[3], spawn.PopenChild)
    return z, s


def _report(result) -> dict:
    code, out, err, _ = result
    assert code == 0, err
    return json.loads(out[out.index(b"{"):])


@pytest.mark.parametrize("new_session", [False, True], ids=["own-group", "new-session"])
def test_child_is_what_the_subprocess_is(spawner, probe, tmp_path, monkeypatch, new_session):
    # The daemon's state at the time of the request, not the launcher's at its start:
    spawner.start([probe, "exit", "0"]).wait(30)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZYGOTE_TEST", "a value \u00e9")
    monkeypatch.delenv("LANGUAGE", raising=False)
    old_mask = os.umask(0o027)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1000), hard))
    stray = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(stray, True)       # an inheritable fd of the daemon: never the child's
    try:
        z, s = _both(spawner, [probe, "report"], new_session=new_session)
    finally:
        os.close(stray)
        os.umask(old_mask)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    zr, sr = _report(z), _report(s)
    assert zr["fds"] == [0, 1, 2, 3]       # 3: the probe's listdir of /proc/self/fd
    assert zr["env"]["ZYGOTE_TEST"] == "a value \u00e9" and "PYTHONPATH" not in zr["env"]
    assert zr["cwd"] == str(tmp_path) and zr["status"]["Umask"] == "0027"
    assert zr["rlimits"]["RLIMIT_NOFILE"][0] == min(soft, 1000)
    assert zr["status"]["Threads"] == "1" and zr["status"]["SigBlk"] == "0000000000000000"
    assert zr["session_leader"] is new_session and zr["group_leader"] is new_session
    assert zr["stdio"]["stdout"]["line_buffering"] is False and zr["stdio"]["stderr"]["line_buffering"] is True
    assert zr["cmdline"] == [sys.executable, probe, "report"] and zr["comm"] == "probe"     # as ps shows them
    assert zr == sr


def test_unbuffered_stdio_as_the_interpreter_was_started(probe, monkeypatch):
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    sp = spawn.Spawner(probe, preload=("tests.zygote_probe",))
    try:
        z, s = _both(sp, [probe, "report"])
    finally:
        sp.close()
    zr, sr = _report(z), _report(s)
    assert zr["stdio"]["stdout"]["write_through"] and zr["stdio"]["stdout"]["raw"] == "FileIO"
    assert zr == sr


def test_ignores_the_daemon_was_started_with_are_kept_as_exec_keeps_them(probe):
    # nohup ignores SIGHUP, a shell's background job SIGINT and SIGQUIT: the
    # subprocess's child inherits these, and Python leaves SIGINT ignored.
    sigs = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
    old = [signal.signal(s, signal.SIG_IGN) for s in sigs]
    try:
        sp = spawn.Spawner(probe, preload=("tests.zygote_probe",))
        try:
            z, s = _both(sp, [probe, "report"])
        finally:
            sp.close()
    finally:
        for sig, h in zip(sigs, old):
            signal.signal(sig, h)
    zr, sr = _report(z), _report(s)
    ign = int(zr["status"]["SigIgn"], 16)
    assert all(ign & (1 << (int(x) - 1)) for x in sigs), zr["status"]["SigIgn"]
    assert zr["handlers"][str(int(signal.SIGINT))] == int(signal.SIG_IGN)
    assert zr == sr


def test_a_tty_makes_stdout_line_buffered_as_at_start_up(spawner, probe):
    z, s = _both(spawner, [probe, "report"], pty=True)
    zr, sr = _report(z), _report(s)
    assert zr["stdio"]["stdout"]["isatty"] and zr["stdio"]["stdout"]["line_buffering"]
    assert zr == sr


@pytest.fixture
def sigint_default():
    """SIGINT handled by Python, as in a test run from a terminal.

    A background job of a non-interactive shell (`make test &`) starts with
    SIGINT ignored, and then every child keeps it ignored (exec keeps an
    ignore), so the launcher's own SIGINT ignore would not show.  A handled
    signal is reset to the default by exec: both children start from that.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_signals_are_reset_even_those_the_launcher_and_the_daemon_changed(sigint_default, spawner, probe):
    # The launcher ignores SIGINT; a daemon thread blocking or ignoring a
    # signal at the request reaches neither child (the subprocess restores
    # the dispositions Python changed; exec keeps a mask: so none here).
    spawner.start([probe, "exit", "0"]).wait(30)
    old = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        z = _run(spawner.start, [probe, "report"])
    finally:
        signal.signal(signal.SIGUSR2, old)
    r = _report(z)
    fresh = _report(_run(spawn.subprocess_child, [probe, "report"]))
    assert r["handlers"] == fresh["handlers"]
    assert r["handlers"][str(int(signal.SIGINT))] == "default_int_handler"
    assert r["status"]["SigIgn"] == fresh["status"]["SigIgn"]
    ign = int(r["status"]["SigIgn"], 16)
    python_own = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))
    assert ign & python_own == python_own
    assert not ign & (1 << (signal.SIGUSR2 - 1))      # what the daemon's thread ignored does not reach it
    # Anything else ignored came with this test process (ignored dispositions
    # survive exec, so the subprocess has it too: compared above); glibc's own
    # 32 and 33 cannot be changed from Python at all.


@pytest.mark.parametrize("argv,code", [
    (["exit", "3"], 3), (["exit", "256"], 0), (["sysexit", "a message"], 1), (["raise"], 1),
    (["kill", str(int(signal.SIGTERM))], -signal.SIGTERM), (["kill", str(int(signal.SIGKILL))], -signal.SIGKILL),
    (["noisy"], 3), (["nosuch"], 2),
], ids=["exit-3", "exit-256", "sys.exit-str", "exception", "SIGTERM", "SIGKILL", "output-atexit", "unknown"])
def test_exit_codes_and_output_are_the_subprocess_ones(spawner, probe, argv, code):
    z, s = _both(spawner, [probe, *argv])
    assert z[0] == s[0] == code
    assert z[1] == s[1]
    assert z[2] == s[2]
    if argv == ["noisy"]:
        assert z[1] == b"out 1\nno newline at the end" and z[2] == b"err 1\natexit ran\n"
    if argv == ["raise"]:
        assert b"RuntimeError: probe failed on purpose" in z[2] and b"Traceback" in z[2]


def test_stdin_is_the_given_fd(spawner, probe):
    r, w = os.pipe2(os.O_CLOEXEC)
    os.write(w, b"through stdin\n")
    os.close(w)
    try:
        code, out, _, child = _run(spawner.start, [probe, "cat"], stdin=r)
    finally:
        os.close(r)
    assert (code, out) == (0, b"through stdin\n") and isinstance(child, spawn.ZygoteChild)


def test_signal_group_kills_the_session_and_not_after_the_wait(spawner, probe):
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    child = spawner.start([probe, "sleep", "30"], -1, out_w, out_w, new_session=True)
    os.close(out_w)
    assert isinstance(child, spawn.ZygoteChild)
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.2)
    assert os.getpgid(child.pid) == child.pid
    child.signal_group(signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL
    child.signal_group(signal.SIGKILL)      # waited for: a no-op, whoever has the pid now
    os.close(out_r)


def test_the_launcher_killed_while_a_child_runs(spawner, probe, tmp_path):
    spawner.start([probe, "exit", "0"]).wait(30)
    first = spawner.launcher_pid
    mark = tmp_path / "ran"
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    child = spawner.start([probe, "sleep", "0.5", str(mark)], -1, out_w, out_w)
    os.close(out_w)
    assert isinstance(child, spawn.ZygoteChild)
    os.kill(first, signal.SIGKILL)
    with pytest.raises(spawn.LostChild):
        child.wait(10)                      # returns once the child has ended, as it would have
    assert _read_all(out_r) == b"slept\n"   # it ran to its end, untouched
    assert mark.read_text() == f"{child.pid}\n"
    # The next request runs, once (a subprocess or a new launcher); later ones get a new launcher.
    code, out, _, _ = _run(spawner.start, [probe, "sleep", "0", str(mark)])
    assert (code, out) == (7, b"slept\n") and len(mark.read_text().split()) == 2
    time.sleep(spawn.RESTART_S)
    code, _, _, child = _run(spawner.start, [probe, "exit", "5"])
    assert code == 5 and isinstance(child, spawn.ZygoteChild)
    assert spawner.launcher_pid not in (0, first)


def test_a_dead_launcher_is_not_used(spawner, probe, tmp_path):
    spawner.start([probe, "exit", "0"]).wait(30)
    pid = spawner.launcher_pid
    os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 10
    while spawner.launcher_pid == pid and time.monotonic() < end:
        time.sleep(0.01)                    # the reader has seen its end
    mark = tmp_path / "ran"
    code, _, _, child = _run(spawner.start, [probe, "sleep", "0", str(mark)])
    assert code == 7 and mark.read_text().count("\n") == 1


def test_a_request_larger_than_a_message_goes_to_a_subprocess(spawner, probe, monkeypatch):
    spawner.start([probe, "exit", "0"]).wait(30)
    for i in range(3):                  # one string may have 128 KiB (MAX_ARG_STRLEN)
        monkeypatch.setenv(f"BIG{i}", "x" * (100 << 10))
    code, out, _, child = _run(spawner.start, [probe, "report"])
    assert code == 0 and isinstance(child, spawn.PopenChild) and len(json.loads(out)["env"]["BIG2"]) == 100 << 10


def test_another_binary_is_run_as_a_subprocess(spawner):
    code, out, _, child = _run(spawner.start, ["/bin/echo", "hi"])
    assert (code, out) == (0, b"hi\n") and isinstance(child, spawn.PopenChild)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("how", ["close", "SIGKILL"])
def test_the_launcher_ends_with_its_daemon_and_its_children_do_not(probe, tmp_path, how):
    """A daemon (here a small Python) that closes its Spawner or is SIGKILLed:
    its launcher exits at once; a child it was running goes on to its end."""
    mark = tmp_path / "ran"
    daemon = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import os, sys, time
        from cri_handler import spawn
        sp = spawn.Spawner({probe!r}, preload=("tests.zygote_probe",))
        sp.start([{probe!r}, "exit", "0"]).wait(30)
        child = sp.start([{probe!r}, "sleep", "1", {str(mark)!r}])
        print(sp.launcher_pid, child.pid, type(child).__name__, flush=True)
        if {how!r} == "close":
            sp.close()
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        launcher, child, kind = daemon.stdout.readline().split()
        assert kind == "ZygoteChild"
        if how == "SIGKILL":
            daemon.kill()
        assert _gone_within(int(launcher), 5)
        assert _alive(int(child))
        assert _gone_within(int(child), 10)
        assert mark.read_text() == f"{child}\n"
    finally:
        daemon.kill()
        daemon.wait()


# -- pysandbox-oci itself -----------------------------------------------------------------

OCI = os.path.join(os.path.dirname(sys.executable), "pysandbox-oci")


@pytest.fixture
def oci_spawner():
    sp = spawn.Spawner(OCI)
    yield sp
    sp.close()


def test_the_oci_launcher_holds_no_fd_a_child_would_lose(oci_spawner):
    """Each child closes every fd but 0-2: an fd that an imported module
    kept open would be gone from under it in the child (a fresh process
    would have opened its own)."""
    oci_spawner.start([OCI, "--version"]).wait(30)
    pid = oci_spawner.launcher_pid
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().rstrip(b"\0").split(b"\0") == [os.fsencode(sys.executable), b"-m", b"cri_handler.zygote"]
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert sorted(fds)[:3] == [0, 1, 2] and len(fds) == 4 and fds[max(fds)].startswith("socket:")


@pytest.mark.parametrize("args", [["--version"], ["state", "no-such-container"], ["kill", "bad/id"],
                                  ["--platform", "nope", "list"], []], ids=["version", "state", "bad-id",
                                                                           "bad-flag", "no-command"])
def test_oci_output_exit_code_and_log_are_the_subprocess_ones(oci_spawner, tmp_path, args):
    results = []
    for i, start in enumerate((oci_spawner.start, spawn.subprocess_child)):
        log = tmp_path / f"log-{i}"
        argv = [OCI, "--root", str(tmp_path), "--log", str(log), "--log-format", "json", *args]
        code, out, err, child = _run(start, argv)
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        results.append((code, out, err, [(e["level"], e["msg"]) for e in lines], type(child)))
    (z, s) = results
    assert z[4] is spawn.ZygoteChild and s[4] is spawn.PopenChild
    assert z[:4] == s[:4]
    assert z[0] == (0 if args == ["--version"] else 1)
    assert bool(z[3]) is (z[0] != 0) and bool(z[2]) is (z[0] != 0)     # the error: on stderr and in --log
