"""PullImage by digest only (`name@sha256:...`) through a real `pysandbox cri`
over gRPC, from Debian's docker-registry on loopback that holds the image
under no tag at all (its manifest was pushed by digest), then a container
run from it. The registry and the image come from test_pull.py's helpers."""
from __future__ import annotations

import os

import grpc
import pytest
from test_pull import BASE_TAR, Image, _http, _start_registry, _stop, insecure, push_image

from conftest import only_seccomp
from cri_client import Server, serving
from cri_handler.logs import parse_record
from cri_handler.v1 import api_pb2

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts, cgroups)"),
              only_seccomp]     # pulling does not depend on the sandbox platform
EXITED = api_pb2.CONTAINER_EXITED


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cri-registry")
    proc, port = _start_registry(tmp, tmp / "storage", "digest-only")
    img = Image([BASE_TAR], note="pulled by digest")
    base = f"http://127.0.0.1:{port}"
    push_image(base, "test/digestonly", img.digest, img)     # PUT /manifests/<digest>: no tag
    try:
        yield port, img
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def cri(tmp_path_factory, registry):
    port, _ = registry
    base = tmp_path_factory.mktemp("cri-pull")
    (base / "registries.toml").write_text(insecure(port))
    srv = Server(base, bridge="pysbcripull0", cidr="10.219.0.0/24", registry_config=str(base / "registries.toml"))
    with serving(srv) as client:
        yield client


def test_pull_by_digest_only_then_run(cri, registry, tmp_path):
    port, img = registry
    repo = f"127.0.0.1:{port}/test/digestonly"
    # The registry really has no tag: only the digest names the image.
    status, _, body = _http("GET", f"http://127.0.0.1:{port}/v2/test/digestonly/tags/list")
    assert status == 404 or b'"tags":null' in body or b'"tags":[]' in body, body
    assert _http("GET", f"http://127.0.0.1:{port}/v2/test/digestonly/manifests/latest")[0] == 404
    ref = f"{repo}@{img.digest}"
    image_id = cri.img.PullImage(api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image=ref)),
                                 timeout=120).image_ref
    assert image_id.startswith("sha256:") and len(image_id) == 71

    st = cri.img.ImageStatus(api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image=ref))).image
    assert st.id == image_id
    assert f"{repo}@{img.digest}" in st.repo_digests and not st.repo_tags
    listed = [i for i in cri.img.ListImages(api_pb2.ListImagesRequest()).images if i.id == image_id]
    assert len(listed) == 1

    pod_cfg = cri.pod_config("digest", log_dir=str(tmp_path))
    pod = cri.run_pod(pod_cfg)
    try:
        cid = cri.create(pod, pod_cfg, cri.container_config("c", [], image=ref, log_path="c.log"))  # image's Cmd
        cri.start(cid)
        cst = cri.wait_state(cid, EXITED, 60)
        assert cst.exit_code == 0, cst
        assert cst.image_id == image_id and cst.image_ref == f"{repo}@{img.digest}" and cst.image.image == ref
        with open(tmp_path / "c.log", "rb") as f:
            assert [parse_record(line).content for line in f if line.strip()] == [b"pulled by digest"]
    finally:
        cri.remove_pod(pod)

    # A digest the registry does not have: NOT_FOUND-ish error, and the server keeps serving.
    with pytest.raises(grpc.RpcError) as e:
        cri.img.PullImage(api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image=f"{repo}@sha256:{'0' * 64}")),
                          timeout=60)
    assert "not found" in e.value.details()
    assert cri.img.ImageStatus(api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image=ref))).image.id == image_id
