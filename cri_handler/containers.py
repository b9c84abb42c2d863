"""Containers: create, start, stop, remove, status, list, exec, stats, logs.

A container is one OCI container of pysandbox-oci (one sentry), created
from a bundle at <state_dir>/containers/<id>/:

    config.json     from cri_handler.ocispec
    rootfs/         overlayfs: the image's unpacked layers (lower, top first)
                    under the writable layer <root>/cri/rw/<id>/{upper,work}
    stdin           a FIFO, when the CRI config asks for stdin (attach)

Its stdout and stderr are pipes read by a log relay (cri_handler.logrelay),
a detached process that writes the CRI log file and outlives a restart of
this server.  The relay is started once `create` has succeeded: until then
whatever reaches the pipes is pysandbox-oci's own complaint, which we read
back to report a failed create instead of leaving it in the container log.

State comes from the OCI runtime's state directory (ociruntime.OciRuntime.
state); `refresh` moves a record from CREATED/RUNNING to EXITED once the
sentry is gone, with the exit status, the time and the OOM flag from
exit.json.  The ExitMonitor thread (runtime.py) calls refresh as soon as a
sentry exits, so CONTAINER_STOPPED events are timely.

Kernel facts relied upon:
- overlayfs takes lower layers as `lowerdir=top:...:bottom`; the whole
  mount data must fit in one page (4096 bytes), which bounds the number of
  layers with absolute paths (about 40 with the store's paths).
- A FIFO opened O_RDWR never blocks and never reads EOF: the container's
  stdin stays open across attaches.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

from cri_handler import ocispec
from cri_handler.errors import (DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound,
                                RuntimeFailure, Unimplemented)
from cri_handler.ociruntime import signal_from_cri
from cri_handler.pods import labels_match, to_json
from cri_handler.store import CREATED, EXITED, POD_READY, RUNNING, UNKNOWN, ContainerRecord
from cri_handler.v1 import api_pb2
from sentry import native
from sentry.errors import SandboxError

log = logging.getLogger(__name__)

MAX_EXEC_OUTPUT = 16 << 20          # per stream (CVE-2022-1708)
KILL_WAIT = 10.0
MNT_DETACH = 2
_STATES = {CREATED: api_pb2.CONTAINER_CREATED, RUNNING: api_pb2.CONTAINER_RUNNING,
           EXITED: api_pb2.CONTAINER_EXITED, UNKNOWN: api_pb2.CONTAINER_UNKNOWN}
_EVENTS = {CREATED: api_pb2.CONTAINER_CREATED_EVENT, RUNNING: api_pb2.CONTAINER_STARTED_EVENT,
           EXITED: api_pb2.CONTAINER_STOPPED_EVENT}


class Containers:
    def __init__(self, rt):
        self.rt = rt
        self._cpu_samples: dict[str, tuple[int, int]] = {}

    # -- lookups -----------------------------------------------------------------------

    def _get(self, cid: str) -> ContainerRecord:
        if not cid:
            raise InvalidArgument("container_id: missing")
        rec = self.rt.find_container(cid)
        if rec is None:
            raise NotFound(f"container {cid!r} not found")
        return rec

    # -- CreateContainer -------------------------------------------------------------

    def create(self, req) -> str:
        rt = self.rt
        if not req.pod_sandbox_id:
            raise InvalidArgument("pod_sandbox_id: missing")
        if not req.HasField("config"):
            raise InvalidArgument("config: missing")
        cfg = req.config
        if not cfg.HasField("metadata") or not cfg.metadata.name:
            raise InvalidArgument("config.metadata.name: missing")
        if not cfg.HasField("image") or not cfg.image.image:
            raise InvalidArgument("config.image.image: missing")
        pod = rt.find_pod(req.pod_sandbox_id)
        if pod is None:
            raise NotFound(f"pod sandbox {req.pod_sandbox_id!r} not found")
        rt.image_svc.check_ref(cfg.image.image, "config.image.image")
        image = rt.image_svc.resolve(cfg.image.image)
        if image is None:
            raise NotFound(f"image {cfg.image.image!r} not found: pull it first")
        if cfg.log_path and (os.path.isabs(cfg.log_path) or ".." in cfg.log_path.split("/")):
            raise InvalidArgument(f"config.log_path {cfg.log_path!r}: must be relative to the pod's "
                                  "log_directory, without '..'")
        cid = secrets.token_hex(32)
        md = cfg.metadata
        name_key = f"ctr:{md.name}_{pod.name}_{pod.namespace}_{pod.uid}_{md.attempt}"
        with rt.op_lock(pod.id):
            if pod.state != POD_READY:
                raise FailedPrecondition(f"pod sandbox {pod.id} is not ready (stopped)")
            rt.reserve_name(name_key, cid)
            try:
                rec = self._create(cid, cfg, pod, image)
            except BaseException:
                rt.release_name(name_key)
                raise
        self._publish(rec, CREATED)
        log.info("container created", extra={"container": cid, "pod": pod.id, "container_name": md.name,
                                              "image": image.ref})
        return cid

    def _create(self, cid: str, cfg, pod, image) -> ContainerRecord:
        rt = self.rt
        bundle = os.path.join(rt.cfg.state_dir, "containers", cid)
        rw = os.path.join(rt.cfg.root, "cri", "rw", cid)
        rootfs = os.path.join(bundle, "rootfs")
        log_dir = pod.config.get("log_directory", "")
        log_path = os.path.join(log_dir, cfg.log_path) if log_dir and cfg.log_path else ""
        rec = ContainerRecord(
            id=cid, pod_id=pod.id, name=cfg.metadata.name, attempt=cfg.metadata.attempt,
            created_at=time.time_ns(), config=to_json(cfg), image=cfg.image.image, image_name=image.ref,
            image_id=rt.image_svc.image_id(image), log_path=log_path, bundle=bundle, rootfs=rootfs, upper=rw,
            cgroups_path=f"{pod.cgroup_parent.rstrip('/')}/{cid}",
            resources=to_json(cfg.linux.resources), mounts=[to_json(m) for m in cfg.mounts],
            stop_signal=_stop_signal(cfg, image))
        mounted = False
        fds: list[int] = []
        try:
            os.makedirs(bundle, 0o711)
            os.makedirs(os.path.join(rw, "upper"), 0o755)
            os.makedirs(os.path.join(rw, "work"), 0o700)
            os.mkdir(rootfs, 0o755)
            pod_files = {f"/etc/{n}": os.path.join(pod.pod_dir, n) for n in ("hostname", "hosts", "resolv.conf")
                         if os.path.exists(os.path.join(pod.pod_dir, n))}
            built = ocispec.build(cfg, container_id=cid, pod=pod, image=image, rootfs=rootfs,
                                  cgroups_path=rec.cgroups_path, pod_files=pod_files)
            rec.user, rec.env, rec.cwd, rec.exec_caps = built.user, built.env, built.cwd, built.bounding
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(built.spec, f, indent=1)
            _mount_overlay(image, rw, rootfs)
            mounted = True
            if log_path:
                os.makedirs(os.path.dirname(log_path), 0o755, exist_ok=True)
            # stdio: the relay's pipes (or /dev/null), stdin a FIFO if asked for.
            if cfg.stdin:
                rec.stdin_fifo = os.path.join(bundle, "stdin")
                os.mkfifo(rec.stdin_fifo, 0o600)
                stdin = os.open(rec.stdin_fifo, os.O_RDWR | os.O_CLOEXEC)
            else:
                stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            fds.append(stdin)
            if log_path:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                fds += [out_r, out_w, err_r, err_w]
            else:
                out_r = err_r = -1
                out_w = err_w = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
                fds.append(out_w)
            rt.meta.save_container(rec)          # before create: a crash leaves something to clean up
            try:
                rt.oci.create(cid, bundle, stdin, out_w, err_w)
            except RuntimeFailure as e:
                noise = _drain(out_r) + _drain(err_r) if log_path else b""
                if noise.strip():
                    log.debug("create output", extra={"container": cid, "output": noise[-2000:].decode(errors="replace")})
                raise RuntimeFailure(f"creating container {cfg.metadata.name}: {e}") from None
            if log_path:
                os.close(out_w)
                os.close(err_w)
                fds = [fd for fd in fds if fd not in (out_w, err_w)]
                rec.relay_pid = _spawn_relay(log_path, out_r, err_r)
                from sentry.oci.container import start_time
                rec.relay_start = start_time(rec.relay_pid)
            with rt.mu:
                rt.containers[cid] = rec
                rt.meta.save_container(rec)
            rt.monitor.watch(rec.id)
            return rec
        except BaseException:
            try:
                rt.oci.delete(cid, force=True)
            except Exception:
                pass
            if mounted:
                _umount(rootfs)
            shutil.rmtree(bundle, ignore_errors=True)
            shutil.rmtree(rw, ignore_errors=True)
            rt.meta.delete_container(cid)
            raise
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    # -- StartContainer ------------------------------------------------------------

    def start(self, cid: str) -> None:
        rt = self.rt
        rec = self._get(cid)
        with rt.op_lock(rec.id):
            self.refresh(rec.id)
            if rec.state != CREATED:
                raise FailedPrecondition(f"container {rec.id} is {rec.state}, not created: it cannot be started")
            pod = rt.find_pod(rec.pod_id)
            if pod is None or pod.state != POD_READY:
                raise FailedPrecondition(f"the pod sandbox of container {rec.id} is not ready")
            try:
                rt.oci.start(rec.id)
            except RuntimeFailure as e:
                self.refresh(rec.id)
                with rt.mu:
                    if rec.state != EXITED:
                        self._mark_exited(rec, None)
                    rec.reason, rec.message = "StartError", str(e)
                    rt.meta.save_container(rec)
                raise
            st = rt.oci.state(rec.id)
            with rt.mu:
                if rec.state == CREATED:
                    rec.state = RUNNING
                    rec.started_at = _parse_time(st.started) or time.time_ns()
                    rt.meta.save_container(rec)
            self._publish(rec, RUNNING)
            rt.monitor.watch(rec.id)
            self.refresh(rec.id)            # it may have exited already
        log.info("container started", extra={"container": rec.id})

    # -- state -----------------------------------------------------------------------

    def refresh(self, cid: str) -> ContainerRecord | None:
        """Bring the record up to date with the runtime; publish STOPPED on
        the transition to EXITED (here only, so exactly once)."""
        rt = self.rt
        with rt.mu:
            rec = rt.containers.get(cid)
            if rec is None or rec.state not in (CREATED, RUNNING):
                return rec
            st = rt.oci.state(cid)
            if st.status in ("running", "paused") and rec.state == CREATED and st.started:
                # started, but the server went down before it recorded it
                rec.state, rec.started_at = RUNNING, _parse_time(st.started) or time.time_ns()
                rt.meta.save_container(rec)
            if st.status not in ("stopped", "absent"):
                return rec
            was_started = rec.state == RUNNING or bool(st.started)
            if was_started and not rec.started_at:
                rec.started_at = _parse_time(st.started) or rec.created_at
            self._mark_exited(rec, st.exit)
            rt.meta.save_container(rec)
        self._publish(rec, EXITED)
        log.info("container exited", extra={"container": cid, "exit_code": rec.exit_code, "reason": rec.reason})
        return rec

    def _mark_exited(self, rec: ContainerRecord, exit_info: dict | None) -> None:
        rec.state = EXITED
        if exit_info:
            rec.exit_code = int(exit_info.get("status", 255))
            rec.finished_at = _parse_time(exit_info.get("finishedAt", "")) or time.time_ns()
            if exit_info.get("oomKilled"):
                rec.reason = "OOMKilled"
            else:
                rec.reason = "Completed" if rec.exit_code == 0 else "Error"
        else:
            rec.exit_code, rec.finished_at = 255, time.time_ns()
            rec.reason = "Unknown"
            rec.message = "the container's sentry is gone without an exit status"

    # -- StopContainer / kill ------------------------------------------------------

    def stop(self, cid: str, timeout: int) -> None:
        rt = self.rt
        if not cid:
            raise InvalidArgument("container_id: missing")
        rec = rt.find_container(cid)
        if rec is None:
            return                          # already removed: fine (idempotent)
        with rt.op_lock(rec.id):
            self.refresh(rec.id)
            if rec.state != RUNNING:
                return                      # created (never started) or exited: nothing to stop
            if timeout > 0:
                try:
                    rt.oci.kill(rec.id, rec.stop_signal)
                except RuntimeFailure as e:
                    log.info("stop signal not delivered", extra={"container": rec.id, "error": str(e)})
                if rt.oci.wait(rec.id, timeout):
                    self.refresh(rec.id)
                    return
            self._kill9(rec)
        log.info("container stopped", extra={"container": rec.id, "exit_code": rec.exit_code})

    def kill_now(self, cid: str) -> None:
        """Forcibly end a created or running container (StopPodSandbox)."""
        with self.rt.op_lock(cid):
            rec = self.refresh(cid)
            if rec is not None and rec.state in (CREATED, RUNNING):
                self._kill9(rec)

    def _kill9(self, rec: ContainerRecord) -> None:
        """SIGKILL the container's process; its sentry then ends the rest of
        the sandbox and records 137 in exit.json.  (`kill --all` would also
        hit the sentry, which lives in the container's cgroup, and lose the
        exit status: it is only the fallback.)"""
        rt = self.rt
        for all_procs in (False, True):
            try:
                rt.oci.kill(rec.id, signal.SIGKILL, all_procs=all_procs)
            except RuntimeFailure as e:
                log.info("SIGKILL not delivered", extra={"container": rec.id, "error": str(e)})
            if rt.oci.wait(rec.id, KILL_WAIT / 2):
                self.refresh(rec.id)
                return
        raise RuntimeFailure(f"container {rec.id} did not die within {KILL_WAIT:.0f}s of SIGKILL")

    # -- RemoveContainer -----------------------------------------------------------

    def remove(self, cid: str) -> None:
        rt = self.rt
        if not cid:
            raise InvalidArgument("container_id: missing")
        rec = rt.find_container(cid)
        if rec is None:
            return
        with rt.op_lock(rec.id):
            if rec.id not in rt.containers:
                return                      # removed meanwhile
            self.refresh(rec.id)
            if rec.state in (CREATED, RUNNING):
                self._kill9(rec)
            try:
                rt.oci.delete(rec.id, force=True)
            except RuntimeFailure as e:
                if "does not exist" not in str(e):
                    raise
            rt.monitor.forget(rec.id)
            _umount(rec.rootfs)
            shutil.rmtree(rec.bundle, ignore_errors=True)
            shutil.rmtree(rec.upper, ignore_errors=True)
            with rt.mu:
                rt.containers.pop(rec.id, None)
                rt.meta.delete_container(rec.id)
                rt.release_id(rec.id)
            self._cpu_samples.pop(rec.id, None)
        self._publish(rec, None)
        log.info("container removed", extra={"container": rec.id})

    # -- status and list -----------------------------------------------------------

    def status(self, cid: str, verbose: bool):
        rec = self._get(cid)
        self.refresh(rec.id)
        resp = api_pb2.ContainerStatusResponse(status=self.to_status(rec))
        if verbose:
            st = self.rt.oci.state(rec.id)
            resp.info["info"] = json.dumps({"pid": st.pid, "sentry_status": st.status, "bundle": rec.bundle,
                                            "rootfs": rec.rootfs, "cgroupsPath": rec.cgroups_path,
                                            "relay_pid": rec.relay_pid, "config": rec.config}, sort_keys=True)
        return resp

    def to_status(self, rec: ContainerRecord):
        from google.protobuf import json_format
        s = api_pb2.ContainerStatus(
            id=rec.id, state=_STATES[rec.state], created_at=rec.created_at, started_at=rec.started_at,
            finished_at=rec.finished_at, exit_code=rec.exit_code, image_ref=self._image_ref(rec),
            image_id=rec.image_id, reason=rec.reason, message=rec.message, log_path=rec.log_path,
            stop_signal=rec.config.get("stop_signal") and api_pb2.Signal.Value(rec.config["stop_signal"]) or 0)
        s.metadata.name, s.metadata.attempt = rec.name, rec.attempt
        s.image.image = rec.image_name or rec.image
        s.labels.update(rec.labels)
        s.annotations.update(rec.annotations)
        for m in rec.mounts:
            s.mounts.append(json_format.ParseDict(m, api_pb2.Mount(), ignore_unknown_fields=True))
        s.resources.linux.CopyFrom(json_format.ParseDict(rec.resources, api_pb2.LinuxContainerResources(),
                                                         ignore_unknown_fields=True))
        if rec.user:
            lu = s.user.linux
            lu.uid, lu.gid = rec.user.get("uid", 0), rec.user.get("gid", 0)
            lu.supplemental_groups.extend(rec.user.get("groups", []))
        return s

    def _image_ref(self, rec: ContainerRecord) -> str:
        return self.rt.image_svc.repo_digest(rec.image_name) or rec.image_id

    def list(self, flt) -> list:
        rt = self.rt
        with rt.mu:
            ids = [c.id for c in rt.containers.values()
                   if (not flt.id or c.id.startswith(flt.id))
                   and (not flt.pod_sandbox_id or c.pod_id.startswith(flt.pod_sandbox_id))]
        out = []
        for cid in ids:
            rec = self.refresh(cid)
            if rec is None:
                continue
            state = _STATES[rec.state]
            if flt.HasField("state") and flt.state.state != state:
                continue
            if not labels_match(rec.labels, flt.label_selector):
                continue
            c = api_pb2.Container(id=rec.id, pod_sandbox_id=rec.pod_id, state=state, created_at=rec.created_at,
                                  image_ref=self._image_ref(rec), image_id=rec.image_id)
            c.metadata.name, c.metadata.attempt = rec.name, rec.attempt
            c.image.image = rec.image_name or rec.image
            c.labels.update(rec.labels)
            c.annotations.update(rec.annotations)
            out.append(c)
        out.sort(key=lambda c: c.created_at)
        return out

    # -- exec ----------------------------------------------------------------------

    def running(self, cid: str) -> ContainerRecord:
        rec = self._get(cid)
        self.refresh(rec.id)
        if rec.state != RUNNING:
            raise FailedPrecondition(f"container {rec.id} is not running ({rec.state})")
        return rec

    def process_file(self, rec: ContainerRecord, argv, terminal: bool = False) -> str:
        path = os.path.join(rec.bundle, f"exec-{secrets.token_hex(8)}.json")
        with open(path, "w") as f:
            json.dump(ocispec.process_for_exec(rec, argv, terminal), f)
        return path

    def exec_sync(self, cid: str, cmd, timeout: int):
        if not cmd:
            raise InvalidArgument("cmd: missing")
        if timeout < 0:
            raise InvalidArgument(f"timeout {timeout}: must not be negative")
        rec = self.running(cid)
        pfile = self.process_file(rec, list(cmd))
        try:
            p = subprocess.Popen(self.rt.oci.exec_argv(rec.id, pfile), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                 close_fds=True)
            out, err = _CappedReader(p.stdout), _CappedReader(p.stderr)
            try:
                p.wait(timeout or None)
            except subprocess.TimeoutExpired:
                _killpg(p)
                out.finish(1.0)
                err.finish(1.0)
                raise DeadlineExceeded(f"timeout {timeout}s exceeded running {list(cmd)} in container {rec.id}")
            out.finish(2.0)
            err.finish(2.0)
        finally:
            _unlink(pfile)
        code = p.returncode if p.returncode >= 0 else 128 - p.returncode
        return api_pb2.ExecSyncResponse(stdout=out.data(), stderr=err.data(), exit_code=code)

    # -- UpdateContainerResources / ReopenContainerLog ----------------------------

    def update_resources(self, cid: str, linux) -> None:
        from google.protobuf import json_format
        rt = self.rt
        rec = self._get(cid)
        res = ocispec.resources_to_oci(linux)
        with rt.op_lock(rec.id):
            self.refresh(rec.id)
            if rec.state in (CREATED, RUNNING):
                rt.oci.update(rec.id, res)
            merged = api_pb2.LinuxContainerResources()
            json_format.ParseDict(rec.resources, merged, ignore_unknown_fields=True)
            merged.MergeFrom(linux)
            with rt.mu:
                rec.resources = to_json(merged)
                rt.meta.save_container(rec)

    def reopen_log(self, cid: str) -> None:
        from cri_handler import logrelay
        rec = self._get(cid)
        self.refresh(rec.id)
        if rec.state != RUNNING:
            raise FailedPrecondition(f"container {rec.id} is not running: its log is not reopened")
        if not rec.log_path:
            raise FailedPrecondition(f"container {rec.id} has no log file (no log_directory/log_path)")
        try:
            logrelay.reopen_log(rec.relay_pid, rec.log_path)
        except (ProcessLookupError, TimeoutError, OSError) as e:
            raise RuntimeFailure(f"reopening the log of container {rec.id}: {e}") from None

    # -- stats -----------------------------------------------------------------------

    def stats(self, cid: str):
        rec = self._get(cid)
        self.refresh(rec.id)
        return self.stats_of(rec)

    def list_stats(self, flt) -> list:
        rt = self.rt
        with rt.mu:
            recs = [c for c in rt.containers.values()
                    if (not flt.id or c.id.startswith(flt.id))
                    and (not flt.pod_sandbox_id or c.pod_id.startswith(flt.pod_sandbox_id))
                    and labels_match(c.labels, flt.label_selector)]
        out = []
        for rec in recs:
            self.refresh(rec.id)
            if rec.state == RUNNING:        # "stats of all running containers"
                out.append(self.stats_of(rec))
        return out

    def stats_of(self, rec: ContainerRecord):
        now = time.time_ns()
        cs = api_pb2.ContainerStats()
        a = cs.attributes
        a.id = rec.id
        a.metadata.name, a.metadata.attempt = rec.name, rec.attempt
        a.labels.update(rec.labels)
        a.annotations.update(rec.annotations)
        cpu_ns = usage = working = 0
        if rec.state == RUNNING:
            cpu_ns, usage, working = _cgroup_usage(rec.cgroups_path)
        cs.cpu.timestamp = now
        cs.cpu.usage_core_nano_seconds.value = cpu_ns
        prev = self._cpu_samples.get(rec.id)
        if prev and now > prev[0] and cpu_ns >= prev[1]:
            cs.cpu.usage_nano_cores.value = int((cpu_ns - prev[1]) * 1e9 / (now - prev[0]))
        self._cpu_samples[rec.id] = (now, cpu_ns)
        cs.memory.timestamp = now
        cs.memory.usage_bytes.value = usage
        cs.memory.working_set_bytes.value = working
        limit = int(rec.resources.get("memory_limit_in_bytes", 0) or 0)
        if limit:
            cs.memory.available_bytes.value = max(0, limit - working)
        used, inodes = _disk_usage(os.path.join(rec.upper, "upper"))
        wl = cs.writable_layer
        wl.timestamp = now
        wl.fs_id.mountpoint = rec.rootfs
        wl.used_bytes.value, wl.inodes_used.value = used, inodes
        return cs

    def process_count(self, rec: ContainerRecord) -> int:
        if rec.state != RUNNING:
            return 0
        from sentry.cgroups import Cgroup
        try:
            cg = Cgroup.attach(rec.cgroups_path)
        except SandboxError:
            return 0
        try:
            return len(cg.procs())
        except OSError:
            return 0
        finally:
            cg.close()

    # -- restart -------------------------------------------------------------------

    def recover(self, rec: ContainerRecord) -> None:
        """After a restart: refresh from the runtime (exited meanwhile?) and
        watch the live ones."""
        self.refresh(rec.id)
        if rec.state in (CREATED, RUNNING):
            self.rt.monitor.watch(rec.id)

    def _publish(self, rec: ContainerRecord, state: str | None) -> None:
        rt = self.rt
        kind = _EVENTS[state] if state else api_pb2.CONTAINER_DELETED_EVENT
        ev = api_pb2.ContainerEventResponse(container_id=rec.id, container_event_type=kind,
                                            created_at=time.time_ns())
        pod = rt.find_pod(rec.pod_id)
        if pod is not None:
            ev.pod_sandbox_status.CopyFrom(rt.pods_svc.to_status(pod))
        if state is not None:
            ev.containers_statuses.append(self.to_status(rec))
        rt.events.publish(ev)


# -- helpers ---------------------------------------------------------------------------

def _stop_signal(cfg, image) -> int:
    if cfg.stop_signal:
        return signal_from_cri(cfg.stop_signal)
    text = ((image.config or {}).get("config") or {}).get("StopSignal") or ""
    if text:
        try:
            from sentry.oci.container import signal_number
            return signal_number(text)
        except SandboxError:
            log.warning("ignoring the image's StopSignal", extra={"image": image.ref, "signal": text})
    return int(signal.SIGTERM)


def _mount_overlay(image, rw: str, rootfs: str) -> None:
    layers = list(dict.fromkeys(reversed(image.layers)))       # top first, each once
    if not layers:
        empty = os.path.join(rw, "empty")
        os.makedirs(empty, exist_ok=True)
        layers = [empty]
    data = (f"lowerdir={':'.join(layers)},upperdir={os.path.join(rw, 'upper')},"
            f"workdir={os.path.join(rw, 'work')}")
    if len(data) >= 4096:
        raise Unimplemented(f"image {image.ref} has {len(layers)} layers: too many for one overlayfs mount "
                            "with the store's layer paths (the mount options exceed a page)")
    try:
        native.mount("overlay", rootfs, "overlay", 0, data)
    except OSError as e:
        raise RuntimeFailure(f"cannot mount the root filesystem of image {image.ref} at {rootfs}: "
                             f"{e.strerror}") from None


def _umount(path: str) -> None:
    if not path:
        return
    try:
        native.umount(path, MNT_DETACH)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            log.warning("cannot unmount", extra={"path": path, "error": e.strerror})


def _spawn_relay(log_path: str, out_r: int, err_r: int) -> int:
    """Start cri_handler.logrelay detached on our pipes' read ends; its pid.
    (logrelay.spawn_relay makes its own pipes; we need ours, made before
    `create`, so that a failed create's message can be read back.)"""
    from cri_handler.logrelay import MODULE
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", MODULE, "--log", os.path.abspath(log_path),
                           "--stdout", str(out_r), "--stderr", str(err_r), "--detach"],
                          pass_fds=(out_r, err_r), stdin=subprocess.DEVNULL, capture_output=True, cwd="/",
                          env=env, start_new_session=True, timeout=30)
    out = proc.stdout.decode().strip()
    if proc.returncode != 0 or not out.isdigit():
        why = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise RuntimeFailure(f"the log relay for {log_path} failed to start: {why}")
    return int(out)


def _drain(fd: int) -> bytes:
    if fd < 0:
        return b""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)


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


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _parse_time(text: str) -> int:
    if not text:
        return 0
    from cri_handler.logs import parse_timestamp
    try:
        return parse_timestamp(text)
    except ValueError:
        return 0


def _cgroup_usage(path: str) -> tuple[int, int, int]:
    """(cpu ns, memory usage, working set) of the container's cgroup; zeros if gone."""
    from sentry.cgroups import Cgroup
    try:
        cg = Cgroup.attach(path)
    except SandboxError:
        return 0, 0, 0
    try:
        cpu = cg.cpu_usage_ns()
        usage = cg.memory_usage()
        inactive = 0
        for host in cg.host_paths:
            stat_file = os.path.join(host, "memory.stat")
            if os.path.exists(stat_file):
                with open(stat_file) as f:
                    for line in f:
                        k, _, v = line.partition(" ")
                        if k in ("total_inactive_file", "inactive_file"):
                            inactive = int(v)
                            if k == "total_inactive_file":
                                break
                break
        return cpu, usage, max(0, usage - inactive)
    except (OSError, ValueError, SandboxError):
        return 0, 0, 0
    finally:
        cg.close()


def _disk_usage(path: str) -> tuple[int, int]:
    used = inodes = 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    inodes += 1
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    used += st.st_blocks * 512
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
        except OSError:
            continue
    return used, inodes
