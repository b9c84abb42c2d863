"""`pysandbox cri`: the CRI v1 gRPC server (RuntimeService and ImageService).

    serve(cfg)   load the state of an earlier run, start the streaming
                 server, listen, serve until SIGTERM/SIGINT, then stop
                 accepting, let calls in flight finish (up to GRACE_S),
                 and leave every pod and container running, as containerd
                 does: a restarted server picks them up again.

Every RPC goes through `wrap`: it logs the call (one JSON line: method,
duration, code) and turns exceptions into gRPC statuses through
errors.status_for.  An unexpected exception is logged with its traceback
and answered INTERNAL with a one-line message: a client never sees a
traceback, and the server keeps serving.

Logs are JSON lines on stderr: {"time", "level", "logger", "msg", ...}
plus the fields a call passed in `extra`.
"""
from __future__ import annotations

import datetime
import functools
import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

from cri_handler.errors import status_for
from cri_handler.v1 import api_pb2_grpc

log = logging.getLogger("cri_handler.server")

GRACE_S = 5.0
MAX_MESSAGE = 16 << 20            # as containerd
WORKERS = 32
QUIET = {"Version", "Status", "ListPodSandbox", "ListContainers", "ContainerStatus", "PodSandboxStatus",
         "ListImages", "ImageStatus", "ImageFsInfo", "ListContainerStats", "ListPodSandboxStats",
         "ContainerStats", "PodSandboxStats", "StreamContainers", "StreamPodSandboxes", "StreamImages",
         "StreamContainerStats", "StreamPodSandboxStats", "RuntimeConfig", "ListMetricDescriptors",
         "ListPodSandboxMetrics"}


# -- logging -------------------------------------------------------------------------

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        out = {"time": t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "level": record.levelname.lower(),
               "logger": record.name, "msg": record.getMessage()}
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                out[k] = v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


# -- the error table, applied to every RPC ----------------------------------------------

def _fail(context, method: str, exc: BaseException, started: float):
    mapped = status_for(exc)
    ms = round((time.monotonic() - started) * 1000, 1)
    if mapped is None:
        log.error("rpc failed: internal error", exc_info=exc,
                  extra={"method": method, "ms": ms, "code": "INTERNAL"})
        code, msg = grpc.StatusCode.INTERNAL, f"internal error in {method}: {type(exc).__name__}: {exc}"
    else:
        code, msg = mapped
        log.info("rpc failed", extra={"method": method, "ms": ms, "code": code.name, "error": msg})
    context.abort(code, msg)


class InFlight:
    """Calls being served (not the endless GetContainerEvents streams): at
    shutdown the server waits for these, not for idle client connections
    (gRPC's stop(grace) waits out the whole grace while a client such as
    the kubelet keeps its channel open)."""

    def __init__(self):
        self.n = 0
        self.cond = threading.Condition()

    def __enter__(self):
        with self.cond:
            self.n += 1

    def __exit__(self, *exc):
        with self.cond:
            self.n -= 1
            self.cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.n == 0, timeout)


INFLIGHT = InFlight()
ENDLESS = {"GetContainerEvents"}


def wrap(method: str, fn):
    quiet = method in QUIET
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(request, context):
            started = time.monotonic()
            try:
                if method in ENDLESS:
                    yield from fn(request, context)
                else:
                    with INFLIGHT:
                        yield from fn(request, context)
            except Exception as e:
                _fail(context, method, e, started)
        return stream

    @functools.wraps(fn)
    def unary(request, context):
        started = time.monotonic()
        try:
            with INFLIGHT:
                resp = fn(request, context)
        except Exception as e:
            _fail(context, method, e, started)
        (log.debug if quiet else log.info)("rpc", extra={"method": method, "code": "OK",
                                                          "ms": round((time.monotonic() - started) * 1000, 1)})
        return resp
    return unary


def wrapped(servicer, base: type):
    """Replace each RPC of `base` on servicer by its wrapped version."""
    for name, member in vars(base).items():
        if callable(member) and not name.startswith("_"):
            setattr(servicer, name, wrap(name, getattr(servicer, name)))
    return servicer


# -- the server -------------------------------------------------------------------------

def build_server(rt, streams):
    from cri_handler.images import ImageServicer
    from cri_handler.runtime import RuntimeServicer
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cri"),
                         options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                  ("grpc.max_send_message_length", MAX_MESSAGE)])
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(
        wrapped(RuntimeServicer(rt, streams), api_pb2_grpc.RuntimeServiceServicer), server)
    api_pb2_grpc.add_ImageServiceServicer_to_server(
        wrapped(ImageServicer(rt.image_svc), api_pb2_grpc.ImageServiceServicer), server)
    return server


def _bind(server, cfg) -> str | None:
    """Listen on cfg.listen.  A unix socket is bound at a temporary name and
    renamed into place by _publish once the server runs: a client that finds
    the socket never connects to a server that cannot answer yet (gRPC binds
    at add_insecure_port, before start)."""
    path = cfg.socket_path
    if path is None:
        if server.add_insecure_port(cfg.listen[len("tcp://"):]) == 0:
            raise OSError(f"cannot listen on {cfg.listen}")
        return None
    os.makedirs(os.path.dirname(path), 0o711, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    for p in (path, tmp):
        try:
            os.unlink(p)                     # a stale socket of an earlier run
        except FileNotFoundError:
            pass
    server.add_insecure_port("unix://" + tmp)
    if not os.path.exists(tmp):
        raise OSError(f"cannot listen on {cfg.listen}")
    os.chmod(tmp, 0o660)
    return tmp


def _publish(tmp: str | None, cfg) -> None:
    if tmp is not None:
        os.rename(tmp, cfg.socket_path)


def serve(cfg, ready=None) -> int:
    from cri_handler.runtime import Runtime
    from cri_handler.streaming import StreamServer
    from cri_handler.streams import StreamBackend

    rt = Runtime(cfg)
    rt.recover()
    host, _, port = cfg.stream_address.rpartition(":")
    streams = StreamServer((host.strip("[]"), int(port)), StreamBackend(rt))
    streams.start()
    server = build_server(rt, streams)
    tmp_socket = _bind(server, cfg)
    stop = threading.Event()

    def on_signal(signum, frame):
        log.info("shutting down", extra={"signal": signal.Signals(signum).name})
        stop.set()

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    server.start()
    _publish(tmp_socket, cfg)
    log.info("serving", extra={"listen": cfg.listen, "stream_url": streams.url, "root": cfg.root,
                               "state_dir": cfg.state_dir, "oci_runtime": rt.oci.binary,
                               "pid": os.getpid()})
    if ready is not None:
        ready()
    while not stop.wait(0.2):
        pass
    server.stop(GRACE_S)                       # no new calls from here on
    rt.events.close()                          # ends the GetContainerEvents streams
    if not INFLIGHT.wait_idle(GRACE_S):
        log.warning("calls still running at the end of the grace period", extra={"calls": INFLIGHT.n})
    server.stop(0).wait()
    streams.stop()
    rt.close()
    if cfg.socket_path:
        try:
            os.unlink(cfg.socket_path)
        except FileNotFoundError:
            pass
    log.info("stopped")
    return 0
