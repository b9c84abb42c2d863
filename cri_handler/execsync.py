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
- The exec runs in a session of its own (OciRuntime.exec_process), so
  killing its group reaches the exec sentry and whatever it started
  outside the sandbox.
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
from cri_handler.errors import DeadlineExceeded, RuntimeFailure
from cri_handler.spawn import LostChild
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
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            p = oci.exec_process(rec.id, pfile, -1, out_w, err_w)
        except OSError as e:
            for fd in (out_r, err_r):
                os.close(fd)
            raise RuntimeFailure(f"cannot run the OCI runtime: {e.strerror}") from None
        finally:
            os.close(out_w)
            os.close(err_w)
        out, err = _CappedReader(open(out_r, "rb")), _CappedReader(open(err_r, "rb"))
        try:
            code = p.wait(timeout or None)
        except subprocess.TimeoutExpired:
            _kill(p)
            out.finish(DRAIN_AFTER_KILL_S)
            err.finish(DRAIN_AFTER_KILL_S)
            raise DeadlineExceeded(f"timeout {timeout}s exceeded running {list(cmd)} in container {rec.id}") from None
        except LostChild as e:
            raise RuntimeFailure(f"exec in container {rec.id}: {e}") from None
        out.finish(DRAIN_S)
        err.finish(DRAIN_S)
    finally:
        unlink(pfile)
    code = code if code >= 0 else 128 - code
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


def _kill(p) -> None:
    p.signal_group(signal.SIGKILL)
    try:
        p.wait()
    except LostChild:
        pass


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
