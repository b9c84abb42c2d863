"""Container log files in the kubelet's CRI log format.

Format facts this module relies on (kubelet `pkg/kubelet/kuberuntime/logs`
parseCRILog, and containerd's `redirectLogs`, which writes what it parses):
- One record per line: `<timestamp> <stream> <tag> <content>\\n`, separated by
  single spaces. The stream is `stdout` or `stderr`. The tag is `F` (full) or
  `P` (partial); the reader takes only the part before a `:`, to stay
  forward-compatible.
- The timestamp is Go's time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07:00".
  The 9s mean that trailing zeros of the fraction are trimmed, and with them the
  '.' when the fraction is zero: 20:31:02.1234Z, 20:31:02Z. We write UTC (`Z`).
  The reader parses it with that layout, so the fraction's width may vary.
- An `F` record is a whole line, newline stripped; the reader appends the
  `\\n` back. A `P` record is a piece of a line that continues in the next record
  of the same stream. containerd splits a line once it exceeds the maximum line
  size (16 KiB by default): P records of exactly that size, then the rest (F). A
  line of exactly the maximum is one F record. Output that ends without a
  newline (at EOF) is written as P.
- The kubelet rotates a log by renaming the file and calling
  ReopenContainerLog; the runtime then closes its file and creates a new one at
  the same path. The runtime opens the log O_WRONLY|O_APPEND|O_CREAT, mode 0640.
- Content is bytes, written as is, except that a line's "\\r\\n" end is
  stripped like "\\n" (containerd's readLine does this, even when the "\\r" and
  the "\\n" arrive in different reads). A "\\r" elsewhere, or a lone one at EOF, stays.
"""
from __future__ import annotations

import os
import threading
import time

from sentry.oci.rfc3339 import rfc3339_nano as format_timestamp  # Go's RFC3339Nano
from sentry.record import record

# The log relay imports this module, and its start-up is on StartContainer's
# path: what only the daemon's reader needs (re, calendar, logging) is
# imported where it is used.

MAX_LINE = 16 * 1024
STREAMS = ("stdout", "stderr")


_TS = r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z"


def parse_timestamp(text: str) -> int:
    """RFC3339Nano (any offset, any fraction width) to UTC nanoseconds."""
    import calendar
    import re
    m = re.match(_TS, text)          # re keeps the compiled pattern
    if not m:
        raise ValueError(f"not an RFC3339Nano timestamp: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    if m[8] != "Z":
        sign = 1 if m[8][0] == "+" else -1
        secs -= sign * (int(m[8][1:3]) * 3600 + int(m[8][4:6]) * 60)
    return secs * 1_000_000_000 + int((m[7] or "").ljust(9, "0"))


@record
class LogRecord:
    timestamp_ns: int
    stream: str
    partial: bool
    content: bytes


def format_record(ns: int, stream: str, partial: bool, content: bytes) -> bytes:
    return b"%s %s %s %s\n" % (format_timestamp(ns).encode(), stream.encode(),
                               b"P" if partial else b"F", content)


def parse_record(line: bytes) -> LogRecord:
    """One line of a CRI log (with or without its newline), as the kubelet reads it."""
    try:
        ts, stream, tag, content = line.rstrip(b"\n").split(b" ", 3)
    except ValueError:
        raise ValueError(f"not a CRI log line: {line[:80]!r}") from None
    if stream not in (b"stdout", b"stderr"):
        raise ValueError(f"unknown stream {stream!r}")
    return LogRecord(parse_timestamp(ts.decode()), stream.decode(),
                     tag.split(b":")[0] == b"P", content)


class CRILogWriter:
    """Appends the output of a container's stdout and stderr to one CRI log file.

    write() may be called from several threads (one per stream). Each call
    writes its records with one write(2), so records of the two streams
    interleave only at record boundaries."""

    def __init__(self, path: str, max_line: int = MAX_LINE, clock=time.time_ns):
        self.path = path
        self.max_line = max_line
        self.clock = clock
        self._pending = {s: bytearray() for s in STREAMS}   # a line not yet ended
        self._lock = threading.Lock()
        self._fd: int | None = self._open()
        self._write_failed = False

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, stream: str, data: bytes) -> None:
        """Add output from one stream. Finished lines are written now; the end
        of an unfinished line waits for more data, or for end_stream()."""
        with self._lock:
            buf = self._pending[stream]
            buf += data
            out, start = [], 0
            while True:
                nl = buf.find(b"\n", start)
                end = len(buf) if nl < 0 else nl
                if end > start and buf[end - 1] == 0x0D:   # "\r\n" ends a line like "\n";
                    end -= 1                               # a trailing "\r" may be its start
                # A line over the maximum goes out in max-size P pieces. Without a
                # newline we wait for one more byte than the maximum, since a
                # newline right after a max-size line makes it a single F record.
                while end - start > self.max_line:
                    out.append((True, bytes(buf[start:start + self.max_line])))
                    start += self.max_line
                if nl < 0:
                    break
                out.append((False, bytes(buf[start:end])))
                start = nl + 1
            del buf[:start]
            self._emit(stream, out)

    def end_stream(self, stream: str) -> None:
        """The stream reached EOF: write what is left of its last line as P."""
        with self._lock:
            buf = self._pending[stream]
            if buf:
                self._emit(stream, [(True, bytes(buf))])
                buf.clear()

    def _emit(self, stream: str, records) -> None:
        if not records or self._fd is None:
            return
        now = self.clock()
        raw = b"".join(format_record(now, stream, partial, content) for partial, content in records)
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(self._fd, view):]
            self._write_failed = False
        except OSError as e:
            # Keep draining the container's output even when the disk is full:
            # a stalled pipe would block the container (containerd does the same).
            if not self._write_failed:
                import logging
                logging.getLogger(__name__).error("cannot write the container log %s: %s", self.path, e)
            self._write_failed = True

    def reopen(self) -> None:
        """Close the file and open the path again. After the kubelet renamed the
        log, this creates a new file."""
        with self._lock:
            old, self._fd = self._fd, None
            if old is not None:
                os.close(old)
            self._fd = self._open()

    def close(self) -> None:
        for stream in STREAMS:
            self.end_stream(stream)
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)
