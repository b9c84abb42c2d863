"""ExecSync: run a command in a running container and return its output.

The command runs under `pysandbox-oci exec --process FILE` in the
foreground: an exec sentry joins the container (sentry.oci.launch), and
its exit status is the command's.  The process file (an OCI Process: argv,
the container's env, cwd, user and capabilities; ocispec.process_for_exec)
lives in the bundle for the duration of the call.  The streaming server's
Exec (streams.py) uses the same file and command line.

Facts relied upon:
- CRI: the output is capped (16 MB per stream, as containerd since
  CVE-2022-1708); on timeout the command is killed and the call fails
  with DEADLINE_EXCEEDED; timeout 0 means none.
- The exec runs in a session of its own (start_new_session), so killpg
  reaches the exec sentry and whatever it started outside the sandbox.
- A background child of the command can keep the pipes open after the
  command exited: the output is read until EOF or a short grace period.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading

from cri_handler import ocispec
from cri_handler.errors import DeadlineExceeded
from cri_handler.store import ContainerRecord
from cri_handler.v1 import api_pb2

MAX_EXEC_OUTPUT = 16 << 20          # per stream (CVE-2022-1708)
DRAIN_S = 2.0                       # output may trail the exit by this much
DRAIN_AFTER_KILL_S = 1.0


def process_file(rec: ContainerRecord, argv, terminal: bool = False) -> str:
    path = os.path.join(rec.bundle, f"exec-{secrets.token_hex(8)}.json")
    with open(path, "w") as f:
        json.dump(ocispec.process_for_exec(rec, argv, terminal), f)
    return path


def exec_sync(oci, rec: ContainerRecord, cmd, timeout: int):
    """rec: a running container, cmd not empty, timeout >= 0 (the caller
    checked).  oci: ociruntime.OciRuntime."""
    pfile = process_file(rec, list(cmd))
    try:
        p = subprocess.Popen(oci.exec_argv(rec.id, pfile), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                             close_fds=True)
        out, err = _CappedReader(p.stdout), _CappedReader(p.stderr)
        try:
            p.wait(timeout or None)
        except subprocess.TimeoutExpired:
            _killpg(p)
            out.finish(DRAIN_AFTER_KILL_S)
            err.finish(DRAIN_AFTER_KILL_S)
            raise DeadlineExceeded(f"timeout {timeout}s exceeded running {list(cmd)} in container {rec.id}") from None
        out.finish(DRAIN_S)
        err.finish(DRAIN_S)
    finally:
        unlink(pfile)
    code = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return api_pb2.ExecSyncResponse(stdout=out.data(), stderr=err.data(), exit_code=code)


class _CappedReader:
    """Reads a pipe on a thread, keeping at most MAX_EXEC_OUTPUT bytes."""

    def __init__(self, pipe):
        self.pipe, self.chunks, self.size = pipe, [], 0
        self.thread = threading.Thread(target=self._run, daemon=True, name="exec-output")
        self.thread.start()

    def _run(self) -> None:
        try:
            while chunk := self.pipe.read1(65536):
                if self.size < MAX_EXEC_OUTPUT:
                    keep = chunk[:MAX_EXEC_OUTPUT - self.size]
                    self.chunks.append(keep)
                    self.size += len(keep)
        except (OSError, ValueError):
            pass

    def finish(self, timeout: float) -> None:
        """Wait for EOF; a background child still holding the pipe is not waited for."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            try:
                self.pipe.close()
            except OSError:
                pass

    def data(self) -> bytes:
        return b"".join(self.chunks)


def _killpg(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
