"""Containers: create, start, stop, remove, status, list; the state machine
and its events.  ExecSync is execsync.py, stats ctrstats.py, the root
filesystem rootfs.py.

A container is one OCI container of pysandbox-oci (one sentry), created
from a bundle at <state_dir>/containers/<id>/:

    config.json     from cri_handler.ocispec
    rootfs/         overlayfs (cri_handler.rootfs): the image's layers under
                    the writable layer <root>/cri/rw/<id>/{upper,work}
    attach.sock     the relay's attach endpoint (cri_handler.attach)

CreateContainer only prepares it: the bundle, the overlay, the spec
(checked as `pysandbox-oci create` will load it), the record.  As in
containerd, whose CreateContainer makes no task, the sentry is made by
StartContainer, which runs `create` and then `start` (record.launched);
resources updated in between go into config.json.

Its stdout and stderr are pipes read by a log relay (cri_handler.logrelay),
a detached process that writes the CRI log file and outlives a restart of
this server.  The relay is started alongside `create` but gated: it reads
nothing until `create` has succeeded, because until then whatever reaches
the pipes is pysandbox-oci's own complaint, which we read back to report a
failed start instead of leaving it in the container log.

A container gets a relay when it has a log, a tty or stdin (cri_handler.ctrio);
the relay also serves its attach socket and holds the pty master or the
stdin pipe across restarts of this server.

A container asking for pid POD in a pod that holds a shared pid namespace
joins it through /proc/<pod init pid>/ns/pid (cri_handler.podinit); create
checks first that the pod init is still the process recorded (pid and start
time), since a reused pid would name another process's namespace.

State comes from the OCI runtime's state directory (ociruntime.OciRuntime.
state); `refresh` moves a record from CREATED/RUNNING to EXITED once the
sentry is gone, with the exit status, the time and the OOM flag from
exit.json.  The ExitMonitor thread (runtime.py) calls refresh as soon as a
sentry exits, so CONTAINER_STOPPED events are timely.

Events (GetContainerEvents): every transition is made, and its event
published, while holding rt.mu, so a container's events come in the order
CREATED, STARTED, STOPPED, DELETED, each once, whichever thread sees a
transition first (a short-lived container can exit before StartContainer
has recorded it as running: refresh then publishes STARTED before
STOPPED; StartContainer publishes nothing more).
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import time

from cri_handler import ctrio, ctrstats, execsync, logrelay, ocispec, podinit, rootfs
from cri_handler.errors import FailedPrecondition, InvalidArgument, NotFound, RuntimeFailure
from cri_handler.ociruntime import signal_from_cri, signal_to_cri
from cri_handler.pods import labels_match, to_json
from cri_handler.store import CREATED, EXITED, POD_READY, RUNNING, UNKNOWN, ContainerRecord
from cri_handler.v1 import api_pb2
from sentry.errors import SandboxError

log = logging.getLogger(__name__)

KILL_WAIT = 10.0
START_ERROR_EXIT = 128          # the exit code of a container that failed to start
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
            pid_mode = cfg.linux.security_context.namespace_options.pid
            target_pid_ns = self._target_pid_ns(cfg, pod) if pid_mode == api_pb2.TARGET else None
            if pid_mode == api_pb2.POD and "path" in (ocispec.pid_namespace(cfg.linux.security_context, pod) or {}) \
                    and not podinit.alive(pod.pid_init_pid, pod.pid_init_start):
                # Its /proc/<pid>/ns/pid would be another process's, or nothing.
                raise FailedPrecondition(f"pod sandbox {pod.id}: the init holding its shared pid "
                                         f"namespace (pid {pod.pid_init_pid}) is gone")
            rt.reserve_name(name_key, cid)
            try:
                self._create(cid, cfg, pod, image, target_pid_ns)
            except BaseException:
                rt.release_name(name_key)
                raise
        log.info("container created", extra={"container": cid, "pod": pod.id, "container_name": md.name,
                                              "image": image.ref})
        return cid

    def _target_pid_ns(self, cfg, pod) -> str:
        """Pid TARGET (`kubectl debug --target`): the pid namespace of the
        target container, by its init's /proc path.  As containerd checks
        it: named, in the same pod sandbox, running; the path is taken now,
        so a target that restarts before StartContainer fails the start."""
        where = "config.linux.security_context.namespace_options.target_id"
        tid = cfg.linux.security_context.namespace_options.target_id
        if not tid:
            raise InvalidArgument(f"{where}: missing (pid TARGET joins the namespace of the container it names)")
        target = self.rt.find_container(tid)
        if target is None:
            raise NotFound(f"{where} {tid!r}: container not found")
        if target.pod_id != pod.id:
            raise InvalidArgument(f"{where} {tid!r}: in pod sandbox {target.pod_id}, not {pod.id}; a target "
                                  "must be in the same pod sandbox")
        st = self.rt.oci.state(target.id)
        if st.status not in ("running", "paused") or not st.init_pid:
            raise FailedPrecondition(f"{where} {tid!r}: the container is not running")
        return f"/proc/{st.init_pid}/ns/pid"

    def _create(self, cid: str, cfg, pod, image, target_pid_ns: str | None = None) -> ContainerRecord:
        rt = self.rt
        bundle = os.path.join(rt.cfg.state_dir, "containers", cid)
        rw = os.path.join(rt.cfg.root, "cri", "rw", cid)
        root = os.path.join(bundle, "rootfs")
        log_dir = pod.config.get("log_directory", "")
        log_path = os.path.join(log_dir, cfg.log_path) if log_dir and cfg.log_path else ""
        rec = ContainerRecord(
            id=cid, pod_id=pod.id, name=cfg.metadata.name, attempt=cfg.metadata.attempt,
            created_at=time.time_ns(), config=to_json(cfg), image=cfg.image.image, image_name=image.ref,
            image_id=rt.image_svc.image_id(image), log_path=log_path, bundle=bundle, rootfs=root, upper=rw,
            cgroups_path=f"{pod.cgroup_parent.rstrip('/')}/{cid}",
            resources=to_json(cfg.linux.resources), mounts=[to_json(m) for m in cfg.mounts],
            stop_signal=_stop_signal(cfg, image))
        mounted = False
        try:
            os.makedirs(bundle, 0o711)
            os.makedirs(os.path.join(rw, "upper"), 0o755)
            os.makedirs(os.path.join(rw, "work"), 0o700)
            os.mkdir(root, 0o755)
            pod_files = {f"/etc/{n}": os.path.join(pod.pod_dir, n) for n in ("hostname", "hosts", "resolv.conf")
                         if os.path.exists(os.path.join(pod.pod_dir, n))}
            built = ocispec.build(cfg, container_id=cid, pod=pod, image=image, rootfs=root,
                                  cgroups_path=rec.cgroups_path, pod_files=pod_files, target_pid_ns=target_pid_ns)
            rec.user, rec.env, rec.cwd, rec.exec_caps = built.user, built.env, built.cwd, built.bounding
            rec.no_new_privs = built.spec["process"]["noNewPrivileges"]
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(built.spec, f, indent=1)
            rootfs.mount_overlay(image, rw, root)
            mounted = True
            # what `pysandbox-oci create` would refuse is refused now, not at start
            ocispec.check_bundle(bundle, getattr(rt.oci, "platform", None))
            if log_path:
                os.makedirs(os.path.dirname(log_path), 0o755, exist_ok=True)
            rec.launched = False                 # the sentry is made by StartContainer (see the header)
            with rt.mu:
                rt.containers[cid] = rec
                rt.meta.save_container(rec)
                self._publish(rec, CREATED)
            return rec
        except BaseException:
            if mounted:
                rootfs.umount(root)
            shutil.rmtree(bundle, ignore_errors=True)
            shutil.rmtree(rw, ignore_errors=True)
            rt.meta.delete_container(cid)
            raise

    def _launch(self, rec: ContainerRecord) -> None:
        """`pysandbox-oci create` with the container's stdio and log relay:
        its sentry waits on exec.fifo. Undone whole on failure (the bundle
        and the writable layer stay, for RemoveContainer)."""
        from google.protobuf import json_format
        rt = self.rt
        cfg = json_format.ParseDict(rec.config, api_pb2.ContainerConfig(), ignore_unknown_fields=True)
        stdio = ctrio.CreateIO(cfg, rec.bundle, rec.log_path)
        try:
            stdio.setup()                        # the relay, its attach socket, the console socket
            rec.tty, rec.attach_dir = bool(cfg.tty), stdio.attach_dir
            rec.launched = True
            rt.meta.save_container(rec)          # before create: a crash leaves something to clean up
            try:
                rt.oci.create(rec.id, rec.bundle, stdio.stdin, stdio.out_w, stdio.err_w, stdio.console_path)
            except RuntimeFailure as e:
                noise = stdio.failed()
                if noise.strip():
                    log.debug("create output",
                              extra={"container": rec.id, "output": noise[-2000:].decode(errors="replace")})
                raise RuntimeFailure(f"creating container {rec.name}: {e}") from None
            rec.relay_pid = stdio.open_gate()
            if rec.relay_pid:
                from sentry.oci.container import start_time
                rec.relay_start = start_time(rec.relay_pid)
            with rt.mu:
                rt.meta.save_container(rec)
            rt.monitor.watch(rec.id)
        except BaseException:
            stdio.abort()
            try:
                rt.oci.delete(rec.id, force=True)
            except Exception:
                pass
            with rt.mu:
                rec.launched, rec.attach_dir, rec.relay_pid, rec.relay_start = False, "", 0, 0
                rt.meta.save_container(rec)
            raise
        finally:
            stdio.close()

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
                if not rec.launched:
                    self._launch(rec)
                rt.oci.start(rec.id)
            except RuntimeFailure as e:
                self.refresh(rec.id)
                with rt.mu:
                    ended_now = rec.state != EXITED
                    if ended_now:
                        self._mark_exited(rec, None)
                        rec.exit_code = START_ERROR_EXIT        # containerd's (and Docker's)
                    rec.reason, rec.message = "StartError", str(e)
                    rt.meta.save_container(rec)
                    if ended_now:
                        self._publish(rec, EXITED)
                raise
            st = rt.oci.state(rec.id)
            with rt.mu:
                if rec.state == CREATED:        # else refresh (the exit monitor) got there first
                    rec.state = RUNNING
                    rec.started_at = _parse_time(st.started) or time.time_ns()
                    rt.meta.save_container(rec)
                    self._publish(rec, RUNNING)
            rt.monitor.watch(rec.id)        # watched since create; idempotent (a restart in between)
            self.refresh(rec.id)            # it may have exited already
        log.info("container started", extra={"container": rec.id})

    # -- state -----------------------------------------------------------------------

    def refresh(self, cid: str) -> ContainerRecord | None:
        """Bring the record up to date with the runtime, publishing the
        events of the transitions it makes (see the module docstring)."""
        rt = self.rt
        with rt.mu:
            rec = rt.containers.get(cid)
            if rec is None or rec.state not in (CREATED, RUNNING) or not rec.launched:
                return rec
            st = rt.oci.state(cid)
            started = rec.state == RUNNING or bool(st.started)
            if rec.state == CREATED and started and st.status != "created":
                # started: by StartContainer on another thread (not recorded yet), or
                # before a restart of this server
                rec.state, rec.started_at = RUNNING, _parse_time(st.started) or time.time_ns()
                rt.meta.save_container(rec)
                self._publish(rec, RUNNING)
            if st.status not in ("stopped", "absent"):
                return rec
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
        if rec.started_at > rec.finished_at:
            rec.started_at = rec.finished_at    # our clock read after its exit: keep the order

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
            if rec is not None and rec.state in (CREATED, RUNNING) and rec.launched:
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
            if rec.state in (CREATED, RUNNING) and rec.launched:
                self._kill9(rec)
            try:
                rt.oci.delete(rec.id, force=True)
            except RuntimeFailure as e:
                if "does not exist" not in str(e):
                    raise
            rt.monitor.forget(rec.id)
            rootfs.umount(rec.rootfs)
            shutil.rmtree(rec.bundle, ignore_errors=True)
            shutil.rmtree(rec.upper, ignore_errors=True)
            with rt.mu:
                rt.containers.pop(rec.id, None)
                rt.meta.delete_container(rec.id)
                rt.release_id(rec.id)
                self._publish(rec, None)
            self._cpu_samples.pop(rec.id, None)
        log.info("container removed", extra={"container": rec.id})

    # -- status and list -----------------------------------------------------------

    def status(self, cid: str, verbose: bool):
        rec = self._get(cid)
        self.refresh(rec.id)
        resp = api_pb2.ContainerStatusResponse(status=self.to_status(rec))
        if verbose:
            # containerd's keys where they mean the same (crictl inspect users read
            # "pid" to nsenter: the container's pid 1, not its sentry), then ours.
            st = self.rt.oci.state(rec.id)
            try:
                with open(os.path.join(rec.bundle, "config.json")) as f:
                    spec = json.load(f)
            except (OSError, ValueError):
                spec = None
            resp.info["info"] = json.dumps({
                "sandboxID": rec.pod_id, "pid": st.init_pid, "runtimeType": "pysandbox-oci",
                "config": rec.config, "runtimeSpec": spec,
                "sentryPid": st.pid if st.status not in ("stopped", "absent") else 0,
                "sentry_status": st.status, "bundle": rec.bundle, "rootfs": rec.rootfs,
                "cgroupsPath": rec.cgroups_path, "relay_pid": rec.relay_pid}, sort_keys=True)
        return resp

    def to_status(self, rec: ContainerRecord):
        from google.protobuf import json_format
        s = api_pb2.ContainerStatus(
            id=rec.id, state=_STATES[rec.state], created_at=rec.created_at, started_at=rec.started_at,
            finished_at=rec.finished_at, exit_code=rec.exit_code, image_ref=self._image_ref(rec),
            image_id=rec.image_id, reason=rec.reason, message=rec.message, log_path=rec.log_path,
            stop_signal=signal_to_cri(rec.stop_signal))
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

    # -- exec (execsync.py) and stats (ctrstats.py) -----------------------------------

    def running(self, cid: str) -> ContainerRecord:
        rec = self._get(cid)
        self.refresh(rec.id)
        if rec.state != RUNNING:
            raise FailedPrecondition(f"container {rec.id} is not running ({rec.state})")
        return rec

    def exec_sync(self, cid: str, cmd, timeout: int):
        if not cmd:
            raise InvalidArgument("cmd: missing")
        if timeout < 0:
            raise InvalidArgument(f"timeout {timeout}: must not be negative")
        return execsync.exec_sync(self.rt.oci, self.running(cid), cmd, timeout)

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
        return ctrstats.container_stats(rec, self._cpu_samples)

    # -- UpdateContainerResources / ReopenContainerLog ----------------------------

    def update_resources(self, cid: str, linux) -> None:
        from google.protobuf import json_format
        rt = self.rt
        rec = self._get(cid)
        res = ocispec.resources_to_oci(linux)
        with rt.op_lock(rec.id):
            self.refresh(rec.id)
            if rec.state in (CREATED, RUNNING) and rec.launched:
                rt.oci.update(rec.id, res)
            elif rec.state == CREATED:
                ocispec.update_bundle_resources(rec.bundle, res)       # StartContainer's sentry applies them
            merged = api_pb2.LinuxContainerResources()
            json_format.ParseDict(rec.resources, merged, ignore_unknown_fields=True)
            merged.MergeFrom(linux)
            with rt.mu:
                rec.resources = to_json(merged)
                rt.meta.save_container(rec)

    def reopen_log(self, cid: str) -> None:
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

    # -- restart and events ----------------------------------------------------------

    def recover(self, rec: ContainerRecord) -> None:
        """After a restart: refresh from the runtime (exited meanwhile?) and
        watch the live ones."""
        self.refresh(rec.id)
        if rec.state in (CREATED, RUNNING) and rec.launched:
            self.rt.monitor.watch(rec.id)

    def _publish(self, rec: ContainerRecord, state: str | None) -> None:
        """Called with rt.mu held (see the module docstring); state None: deleted.
        The event carries the status of every container of the pod, as
        recorded (the kubelet's evented PLEG takes it for the pod's whole
        status, as containerd sends it); a deleted container is no longer
        among them."""
        rt = self.rt
        kind = _EVENTS[state] if state else api_pb2.CONTAINER_DELETED_EVENT
        ev = api_pb2.ContainerEventResponse(container_id=rec.id, container_event_type=kind,
                                            created_at=time.time_ns())
        pod = rt.pods.get(rec.pod_id)
        if pod is not None:
            ev.pod_sandbox_status.CopyFrom(rt.pods_svc.to_status(pod))
        mates = sorted((c for c in rt.containers.values() if c.pod_id == rec.pod_id), key=lambda c: c.created_at)
        ev.containers_statuses.extend(self.to_status(c) for c in mates)
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


def _parse_time(text: str) -> int:
    if not text:
        return 0
    from cri_handler.logs import parse_timestamp
    try:
        return parse_timestamp(text)
    except ValueError:
        return 0
