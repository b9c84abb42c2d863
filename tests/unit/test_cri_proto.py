"""The CRI v1 wire contract: cri_handler/proto/runtime/v1/api.proto and the
modules generated from it in cri_handler/v1/."""
from __future__ import annotations

import tempfile
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

from cri_handler import generate
from cri_handler.v1 import api_pb2, api_pb2_grpc

RUNTIME_SERVICE_METHODS = {
    "Version",
    "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus",
    "ListPodSandbox", "StreamPodSandboxes",
    "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
    "ListContainers", "StreamContainers", "ContainerStatus",
    "UpdateContainerResources", "ReopenContainerLog",
    "ExecSync", "Exec", "Attach", "PortForward",
    "ContainerStats", "ListContainerStats", "StreamContainerStats",
    "PodSandboxStats", "ListPodSandboxStats", "StreamPodSandboxStats",
    "UpdateRuntimeConfig", "Status", "CheckpointContainer",
    "GetContainerEvents", "ListMetricDescriptors", "ListPodSandboxMetrics",
    "StreamPodSandboxMetrics", "RuntimeConfig", "UpdatePodSandboxResources",
}
IMAGE_SERVICE_METHODS = {
    "ListImages", "StreamImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo",
}
# Only these return a stream; nothing takes a stream.
SERVER_STREAMING = {
    "StreamPodSandboxes", "StreamContainers", "StreamContainerStats",
    "StreamPodSandboxStats", "GetContainerEvents", "StreamPodSandboxMetrics", "StreamImages",
}


def _fields(message: str) -> dict[str, tuple[int, int, int, str]]:
    """name -> (number, type, label, type name or '') for a runtime.v1 message."""
    desc = api_pb2.DESCRIPTOR.message_types_by_name[message]
    return {f.name: (f.number, f.type, f.label, f.message_type.full_name if f.message_type
                     else f.enum_type.full_name if f.enum_type else "")
            for f in desc.fields}


# --- (a) the committed generated code matches the proto -------------------

def test_generated_code_is_up_to_date():
    drift = generate.check()
    assert drift == [], (f"cri_handler/v1/ differs from cri_handler/proto/{generate.PROTO}: {drift}; "
                         "run `python -m cri_handler.generate`")


def test_generated_modules_import_as_package():
    assert api_pb2.DESCRIPTOR.name == "runtime/v1/api.proto"
    assert api_pb2.DESCRIPTOR.package == "runtime.v1"
    # the grpc module's rewritten relative import binds the same module object
    assert api_pb2_grpc.runtime_dot_v1_dot_api__pb2 is api_pb2
    assert api_pb2.VersionRequest.__module__ == "cri_handler.v1.api_pb2"


# --- (b) services and a few field numbers, so an accidental edit fails ----

@pytest.mark.parametrize("service,expected", [
    ("RuntimeService", RUNTIME_SERVICE_METHODS),
    ("ImageService", IMAGE_SERVICE_METHODS),
])
def test_service_methods(service, expected):
    svc = api_pb2.DESCRIPTOR.services_by_name[service]
    assert svc.full_name == f"runtime.v1.{service}"
    assert {m.name for m in svc.methods} == expected
    for m in svc.methods:
        assert m.server_streaming == (m.name in SERVER_STREAMING), m.name
        assert not m.client_streaming, m.name


def test_only_two_services():
    assert set(api_pb2.DESCRIPTOR.services_by_name) == {"RuntimeService", "ImageService"}


def test_method_request_response_types():
    rt = api_pb2.DESCRIPTOR.services_by_name["RuntimeService"].methods_by_name
    assert rt["Version"].input_type.name == "VersionRequest"
    assert rt["Version"].output_type.name == "VersionResponse"
    assert rt["GetContainerEvents"].input_type.name == "GetEventsRequest"
    assert rt["GetContainerEvents"].output_type.name == "ContainerEventResponse"
    assert rt["RunPodSandbox"].input_type.name == "RunPodSandboxRequest"
    img = api_pb2.DESCRIPTOR.services_by_name["ImageService"].methods_by_name
    assert img["PullImage"].input_type.name == "PullImageRequest"
    assert img["PullImage"].output_type.name == "PullImageResponse"


def test_run_pod_sandbox_request_fields():
    assert _fields("RunPodSandboxRequest") == {
        "config": (1, FD.TYPE_MESSAGE, FD.LABEL_OPTIONAL, "runtime.v1.PodSandboxConfig"),
        "runtime_handler": (2, FD.TYPE_STRING, FD.LABEL_OPTIONAL, ""),
    }


def test_container_status_fields():
    f = {name: v[0] for name, v in _fields("ContainerStatus").items()}
    assert f == {
        "id": 1, "metadata": 2, "state": 3, "created_at": 4, "started_at": 5,
        "finished_at": 6, "exit_code": 7, "image": 8, "image_ref": 9, "reason": 10,
        "message": 11, "labels": 12, "annotations": 13, "mounts": 14, "log_path": 15,
        "resources": 16, "image_id": 17, "user": 18, "stop_signal": 19,
    }
    fields = _fields("ContainerStatus")
    assert fields["state"][1:] == (FD.TYPE_ENUM, FD.LABEL_OPTIONAL, "runtime.v1.ContainerState")
    assert fields["exit_code"][1] == FD.TYPE_INT32
    assert fields["mounts"][2] == FD.LABEL_REPEATED
    assert fields["stop_signal"][3] == "runtime.v1.Signal"


def test_pod_sandbox_status_fields():
    fields = _fields("PodSandboxStatus")
    assert fields["network"] == (5, FD.TYPE_MESSAGE, FD.LABEL_OPTIONAL, "runtime.v1.PodSandboxNetworkStatus")
    assert fields["linux"][0] == 6
    assert fields["runtime_handler"] == (9, FD.TYPE_STRING, FD.LABEL_OPTIONAL, "")
    labels = api_pb2.PodSandboxStatus.DESCRIPTOR.fields_by_name["labels"]
    assert labels.number == 7 and labels.message_type.GetOptions().map_entry
    assert _fields("PodSandboxNetworkStatus") == {
        "ip": (1, FD.TYPE_STRING, FD.LABEL_OPTIONAL, ""),
        "additional_ips": (2, FD.TYPE_MESSAGE, FD.LABEL_REPEATED, "runtime.v1.PodIP"),
    }


def test_numbers_that_are_not_sequential():
    assert _fields("ImageSpec")["user_specified_image"][0] == 18
    assert _fields("ImageSpec")["runtime_handler"][0] == 19
    assert _fields("ImageSpec")["image_ref"][0] == 20
    assert _fields("LinuxSandboxSecurityContext")["run_as_group"][0] == 8
    assert _fields("LinuxSandboxSecurityContext")["supplemental_groups_policy"][0] == 11
    assert _fields("LinuxContainerSecurityContext")["run_as_group"][0] == 12
    assert _fields("LinuxContainerSecurityContext")["supplemental_groups_policy"][0] == 17
    assert _fields("Namespace") == {
        "options": (2, FD.TYPE_MESSAGE, FD.LABEL_OPTIONAL, "runtime.v1.NamespaceOption")}


def test_enum_spot_checks():
    assert dict(api_pb2.ContainerState.items()) == {
        "CONTAINER_CREATED": 0, "CONTAINER_RUNNING": 1, "CONTAINER_EXITED": 2, "CONTAINER_UNKNOWN": 3}
    assert dict(api_pb2.PodSandboxState.items()) == {"SANDBOX_READY": 0, "SANDBOX_NOTREADY": 1}
    assert dict(api_pb2.NamespaceMode.items()) == {"POD": 0, "CONTAINER": 1, "NODE": 2, "TARGET": 3}
    assert api_pb2.Signal.Value("SIGKILL") == 13
    assert api_pb2.Signal.Value("SIGRTMAX") == 65
    assert len(api_pb2.Signal.keys()) == 66
    assert dict(api_pb2.SecurityProfile.ProfileType.items()) == {
        "RuntimeDefault": 0, "Unconfined": 1, "Localhost": 2}


# --- (c) a real round trip over a unix socket -------------------------------

class _VersionOnly(api_pb2_grpc.RuntimeServiceServicer):
    def Version(self, request, context):
        return api_pb2.VersionResponse(
            version=request.version, runtime_name="pysandbox",
            runtime_version="0.1.0", runtime_api_version="v1")


def test_version_round_trip_over_unix_socket(tmp_path):
    sock = tmp_path / "cri.sock"
    if len(str(sock)) > 100:  # sun_path is 108 bytes
        sock = Path(tempfile.mkdtemp(prefix="cri-")) / "cri.sock"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(_VersionOnly(), server)
    assert server.add_insecure_port(f"unix://{sock}") != 0
    server.start()
    try:
        with grpc.insecure_channel(f"unix://{sock}") as channel:
            stub = api_pb2_grpc.RuntimeServiceStub(channel)
            reply = stub.Version(api_pb2.VersionRequest(version="v1"), timeout=10)
            assert reply == api_pb2.VersionResponse(
                version="v1", runtime_name="pysandbox",
                runtime_version="0.1.0", runtime_api_version="v1")
            with pytest.raises(grpc.RpcError) as err:
                stub.Status(api_pb2.StatusRequest(), timeout=10)
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        server.stop(grace=None).wait(timeout=10)
