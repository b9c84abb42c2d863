"""The CRI container log format (cri_handler.logs) and the log relay process
(cri_handler.logrelay). No root or sandbox needed."""
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cri_handler import logrelay
from cri_handler.logs import CRILogWriter, format_timestamp, parse_record, parse_timestamp

ROOT = Path(__file__).resolve().parents[2]
# Go's RFC3339Nano in UTC: the fraction has 1-9 digits and no trailing zero,
# or is absent altogether.
GO_RFC3339NANO_UTC = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")


def records(path):
    # Records end at "\n" only; content may hold "\r" (bytes.splitlines would split there).
    return [parse_record(line) for line in Path(path).read_bytes().split(b"\n")[:-1]]


def fixed_clock(ns=1_795_897_862_123_456_789):
    return lambda: ns


# -- timestamps ----------------------------------------------------------------
@pytest.mark.parametrize("ns, text", [
    (1_795_897_862_123_456_789, "2026-11-28T20:31:02.123456789Z"),
    (1_795_897_862_120_000_000, "2026-11-28T20:31:02.12Z"),     # trailing zeros trimmed
    (1_795_897_862_000_000_100, "2026-11-28T20:31:02.0000001Z"),
    (1_795_897_862_000_000_000, "2026-11-28T20:31:02Z"),        # no fraction, no dot
    (0, "1970-01-01T00:00:00Z"),
])
def test_timestamp_is_go_rfc3339nano(ns, text):
    assert format_timestamp(ns) == text
    assert parse_timestamp(text) == ns


def test_timestamp_parse_accepts_offsets_and_rejects_junk():
    assert parse_timestamp("2026-11-28T21:31:02.5+01:00") == parse_timestamp("2026-11-28T20:31:02.5Z")
    for bad in ("2026-11-21 20:31:02Z", "2026-11-28T20:31:02.1234567891Z", "yesterday"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_real_clock_timestamps_parse_and_are_utc(tmp_path):
    before = time.time_ns()
    w = CRILogWriter(str(tmp_path / "c.log"))
    w.write("stdout", b"hello\n")
    w.close()
    line = (tmp_path / "c.log").read_bytes()
    ts = line.split(b" ")[0]
    assert GO_RFC3339NANO_UTC.match(ts), ts
    assert before <= parse_timestamp(ts.decode()) <= time.time_ns()


# -- records -------------------------------------------------------------------
def test_full_lines_exact_bytes(tmp_path):
    w = CRILogWriter(str(tmp_path / "c.log"), clock=fixed_clock())
    w.write("stdout", b"one\ntwo\n\n")
    w.write("stderr", b"oops\r\nmid\rline\r\n")
    w.close()
    assert (tmp_path / "c.log").read_bytes() == (
        b"2026-11-28T20:31:02.123456789Z stdout F one\n"
        b"2026-11-28T20:31:02.123456789Z stdout F two\n"
        b"2026-11-28T20:31:02.123456789Z stdout F \n"
        b"2026-11-28T20:31:02.123456789Z stderr F oops\n"
        b"2026-11-28T20:31:02.123456789Z stderr F mid\rline\n")


def test_line_split_across_writes_is_one_record(tmp_path):
    w = CRILogWriter(str(tmp_path / "c.log"))
    for piece in (b"hel", b"lo wo", b"rld\nnext"):
        w.write("stdout", piece)
    assert [(r.partial, r.content) for r in records(tmp_path / "c.log")] == [(False, b"hello world")]
    w.close()      # the unterminated "next" is flushed as a partial record
    assert [(r.partial, r.content) for r in records(tmp_path / "c.log")] == [
        (False, b"hello world"), (True, b"next")]


def test_streams_keep_separate_partial_lines(tmp_path):
    w = CRILogWriter(str(tmp_path / "c.log"))
    w.write("stdout", b"out-")
    w.write("stderr", b"err-line\n")
    w.write("stdout", b"line\n")
    w.end_stream("stderr")          # nothing pending: no empty P record
    w.close()
    assert [(r.stream, r.partial, r.content) for r in records(tmp_path / "c.log")] == [
        ("stderr", False, b"err-line"), ("stdout", False, b"out-line")]


def test_long_line_split_into_max_size_partials(tmp_path):
    w = CRILogWriter(str(tmp_path / "c.log"))
    line = bytes(range(65, 91)) * 2000            # 52000 bytes
    w.write("stdout", line + b"\n")
    w.close()
    recs = records(tmp_path / "c.log")
    assert [(r.partial, len(r.content)) for r in recs] == [
        (True, 16384), (True, 16384), (True, 16384), (False, 52000 - 3 * 16384)]
    assert b"".join(r.content for r in recs) == line


def test_line_of_exactly_max_is_one_full_record(tmp_path):
    w = CRILogWriter(str(tmp_path / "c.log"), max_line=8)
    w.write("stdout", b"12345678")     # might still end right here: wait
    assert (tmp_path / "c.log").read_bytes() == b""
    w.write("stdout", b"\n123456789")  # the second line exceeds max: P now
    w.close()
    assert [(r.partial, r.content) for r in records(tmp_path / "c.log")] == [
        (False, b"12345678"), (True, b"12345678"), (True, b"9")]


def test_crlf_split_across_writes_at_the_max(tmp_path):
    w = CRILogWriter(str(tmp_path / "c.log"), max_line=8)
    w.write("stdout", b"12345678\r")  # the "\r" may start "\r\n": not content yet
    w.write("stdout", b"\nx\ry\nab\r")
    w.close()                          # at EOF, a lone "\r" is content
    assert [(r.partial, r.content) for r in records(tmp_path / "c.log")] == [
        (False, b"12345678"), (False, b"x\ry"), (True, b"ab\r")]


def test_concurrent_streams_never_tear_records(tmp_path):
    w = CRILogWriter(str(tmp_path / "c.log"))

    def spam(stream):
        for i in range(300):
            w.write(stream, f"{stream} line {i} ".encode() * 5 + b"\n")
    threads = [threading.Thread(target=spam, args=(s,)) for s in ("stdout", "stderr")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    recs = records(tmp_path / "c.log")
    assert len(recs) == 600
    assert all(r.content.startswith(r.stream.encode()) and not r.partial for r in recs)


def test_parse_record_rejects_garbage():
    with pytest.raises(ValueError):
        parse_record(b"2026-11-28T20:31:02Z stdin F x\n")
    with pytest.raises(ValueError):
        parse_record(b"no-spaces\n")
    r = parse_record(b"2026-11-28T20:31:02Z stdout P:future a b \n")
    assert r.partial and r.content == b"a b "


def test_reopen_after_rename_writes_a_new_file(tmp_path):
    path = tmp_path / "c.log"
    w = CRILogWriter(str(path))
    w.write("stdout", b"before\n")
    path.rename(tmp_path / "c.log.1")          # what the kubelet's rotation does
    w.write("stdout", b"still old\n")          # until reopened, the renamed file grows
    w.reopen()
    w.write("stdout", b"after\n")
    w.close()
    assert [r.content for r in records(tmp_path / "c.log.1")] == [b"before", b"still old"]
    assert [r.content for r in records(path)] == [b"after"]
    assert path.stat().st_mode & 0o777 == 0o640


# -- the relay -------------------------------------------------------------------
def wait_gone(pid, log_path, timeout=10.0):
    end = time.monotonic() + timeout
    while logrelay.is_relay(pid, log_path):
        assert time.monotonic() < end, f"relay {pid} did not exit"
        time.sleep(0.02)


def test_relay_detached_pipes_reopen_and_exit(tmp_path):
    log_path, pid_file = str(tmp_path / "c.log"), str(tmp_path / "relay.pid")
    relay = logrelay.spawn_relay(log_path, pid_file=pid_file)
    try:
        assert logrelay.is_relay(relay.pid, log_path)
        assert Path(pid_file).read_text().strip() == str(relay.pid)
        assert os.getsid(relay.pid) == relay.pid          # its own session
        os.write(relay.stdout_w, b"first\npart")
        os.write(relay.stderr_w, b"warn\n")
        end = time.monotonic() + 5
        while len(Path(log_path).read_bytes().splitlines()) < 2:
            assert time.monotonic() < end
            time.sleep(0.01)
        os.rename(log_path, log_path + ".1")
        logrelay.reopen_log(relay.pid, log_path)          # returns once the new file is held
        assert os.path.exists(log_path)
        os.write(relay.stdout_w, b"ial\nlast")
    finally:
        os.close(relay.stdout_w)
        os.close(relay.stderr_w)
    wait_gone(relay.pid, log_path)
    assert sorted((r.stream, r.content) for r in records(log_path + ".1")) == [
        ("stderr", b"warn"), ("stdout", b"first")]
    assert [(r.partial, r.content) for r in records(log_path)] == [(False, b"partial"), (True, b"last")]
    assert not os.path.exists(pid_file)


def test_relay_reports_startup_errors(tmp_path):
    with pytest.raises(logrelay.RelayError, match="does not exist"):
        logrelay.spawn_relay(str(tmp_path / "missing-dir" / "c.log"))
    with pytest.raises(ProcessLookupError):
        logrelay.reopen_log(os.getpid(), str(tmp_path / "c.log"))   # not a relay: not signalled


def test_relay_foreground_with_fifos(tmp_path):
    out_fifo, err_fifo, log_path = tmp_path / "out", tmp_path / "err", tmp_path / "c.log"
    os.mkfifo(out_fifo)
    os.mkfifo(err_fifo)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "cri_handler.logrelay", "--log", str(log_path),
                             "--stdout", str(out_fifo), "--stderr", str(err_fifo)],
                            env=env, stderr=subprocess.PIPE)
    try:
        # Opening the write sides blocks until the relay opens the read sides.
        with open(out_fifo, "wb") as out, open(err_fifo, "wb") as err:
            out.write(b"via fifo\n")
            err.write(b"to stderr\n")
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert sorted((r.stream, r.content) for r in records(log_path)) == [
        ("stderr", b"to stderr"), ("stdout", b"via fifo")]


def test_relay_cli_errors_are_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "cri_handler.logrelay", "--log", str(tmp_path / "c.log"),
                        "--stdout", "987", "--stderr", str(tmp_path / "nope")],
                       env=env, capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert p.stderr.startswith("logrelay: ") and "Traceback" not in p.stderr


def test_relay_command_line():
    a = logrelay.parse_args(["--log", "/l", "--stdout=3", "--stderr", "/fifo", "--console", "7",
                             "--attach=8", "--stdin", "9", "--stdin-once", "--pid-file", "/p", "--detach",
                             "--gate", "10"])
    assert vars(a) == {"log": "/l", "stdout": "3", "stderr": "/fifo", "console": 7, "attach": 8, "stdin": 9,
                       "pid_file": "/p", "gate": 10, "stdin_once": True, "detach": True}
    assert vars(logrelay.parse_args(["--stdout", "1"]))["detach"] is False
    for bad, why in ((["--stdout"], "--stdout needs a value"), (["--stdout", "1", "--gate", "x"], "not a file"),
                     (["--stdout", "1", "--bogus"], "unknown argument '--bogus'"),
                     (["--stdout", "1", "--detach=yes"], "unknown argument"),
                     (["--log", "/l"], "nothing to relay")):
        with pytest.raises(logrelay.UsageError, match=why):
            logrelay.parse_args(bad)


def test_relay_usage_errors_exit_2_with_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "cri_handler.logrelay", "--log", str(tmp_path / "c.log")],
                       env=env, capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "nothing to relay" in p.stderr, p.stderr
    assert not (tmp_path / "c.log").exists()
