"""The KServe v2 REST API of a running server, over real HTTP on loopback (spec §11.3)."""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.server.settings import FuriosaRTModelConfig

from .conftest import RunningServer, requires_server

pytestmark = requires_server


@pytest.fixture(scope="module")
def served(devices, cnn_path, uint8_path, tmp_path_factory):
    """One server for the module: the float CNN (version default) and the uint8 CNN (version "1")."""
    models = [
        FuriosaRTModelConfig(name="cnn", model=str(cnn_path), version="default", npu_device="npu:0:0"),
        FuriosaRTModelConfig(name="pixels", model=str(uint8_path), version="1", npu_device="npu:0:1"),
    ]
    server = RunningServer(models, tmp_path_factory.mktemp("registry")).start()
    yield server
    server.stop()


def reference(path, array: np.ndarray) -> list[np.ndarray]:
    """What the legacy session API computes for the same input (on another emulated card)."""
    from furiosa.runtime import session

    with session.create(str(path)) as sess:
        outputs = sess.run(array)
        return [outputs[i].numpy() for i in range(len(outputs))]


def infer_body(array: np.ndarray, name: str = "input", datatype: str = "FP32", **extra) -> dict:
    return {"inputs": [{"name": name, "shape": list(array.shape), "datatype": datatype,
                        "data": array.reshape(-1).tolist()}], **extra}


def error_of(answer) -> str:
    body = answer.json
    assert set(body) == {"error"}, body
    return body["error"]


# --- health and metadata ------------------------------------------------------------------------
def test_health(served):
    live = served("/v2/health/live")
    assert live.status == 200 and live.body == b""
    assert served("/v2/health/ready").status == 200
    assert served("/v2/models/cnn/ready").status == 200
    assert served("/v2/models/pixels/versions/1/ready").status == 200


def test_server_metadata(served):
    answer = served("/v2")
    assert answer.status == 200
    body = answer.json
    assert body["name"] == "furiosa-server" and body["extensions"] == []
    assert body["version"].startswith("0.10.2")


def test_model_metadata_lists_the_loaded_tensors(served):
    body = served("/v2/models/cnn").json
    assert body["name"] == "cnn" and body["platform"] == "npu" and body["versions"] == ["default"]
    assert body["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [1, 3, 16, 16], "tags": None}]
    assert body["outputs"][0]["shape"] == [1, 10]
    pixels = served("/v2/models/pixels/versions/1").json
    assert pixels["versions"] == ["1"] and pixels["inputs"][0]["datatype"] == "UINT8"


# --- inference ----------------------------------------------------------------------------------
def test_infer_returns_the_runtime_numbers(served, cnn_path, image):
    answer = served("/v2/models/cnn/infer", "POST", infer_body(image, id="request-7"))
    assert answer.status == 200, answer.body
    body = answer.json
    assert body["model_name"] == "cnn" and body["model_version"] == "default" and body["id"] == "request-7"
    (output,) = body["outputs"]
    assert output["name"] == "0" and output["datatype"] == "FLOAT32" and output["shape"] == [1, 10]
    got = np.array(output["data"], dtype=np.float32).reshape(output["shape"])
    (expected,) = reference(cnn_path, image)
    assert np.array_equal(got, expected)


def test_versioned_endpoint_and_integer_pixels(served, uint8_path):
    """INT32 pixel values feed a UINT8 input (the vendor's sample request does this)."""
    pixels = np.random.default_rng(4).integers(0, 256, (1, 3, 16, 16), dtype=np.uint8)
    answer = served("/v2/models/pixels/versions/1/infer", "POST", infer_body(pixels.astype(np.int32), datatype="INT32"))
    assert answer.status == 200, answer.body
    output = answer.json["outputs"][0]
    got = np.array(output["data"], dtype=output["datatype"].lower()).reshape(output["shape"])
    (expected,) = reference(uint8_path, pixels)
    assert np.array_equal(got, expected)
    # Unversioned endpoints look for version "default" only (the vendor's behaviour).
    missing = served("/v2/models/pixels/infer", "POST", infer_body(pixels, datatype="UINT8"))
    assert missing.status == 400 and error_of(missing) == "Model pixels with version default not found"


def test_request_shape_with_the_same_count_is_reshaped(served, image):
    """The vendor's client sample sends another layout of the same size; it is accepted."""
    body = infer_body(image)
    body["inputs"][0]["shape"] = [1, 16, 16, 3]
    flat = served("/v2/models/cnn/infer", "POST", body)
    same = served("/v2/models/cnn/infer", "POST", infer_body(image))
    assert flat.status == 200 and flat.json["outputs"] == same.json["outputs"]


def test_nested_data_and_input_matched_by_position(served, image):
    body = {"inputs": [{"name": "whatever", "shape": [1, 3, 16, 16], "datatype": "FP32", "data": image.tolist()}]}
    answer = served("/v2/models/cnn/infer", "POST", body)
    assert answer.status == 200
    assert answer.json["outputs"] == served("/v2/models/cnn/infer", "POST", infer_body(image)).json["outputs"]


def test_requested_outputs(served, image):
    by_index = served("/v2/models/cnn/infer", "POST", infer_body(image, outputs=[{"name": "0"}]))
    assert by_index.status == 200 and [o["name"] for o in by_index.json["outputs"]] == ["0"]
    by_name = served("/v2/models/cnn/infer", "POST", infer_body(image, outputs=[{"name": "output"}]))
    assert by_name.status == 200 and by_name.json["outputs"][0]["name"] == "output"
    unknown = served("/v2/models/cnn/infer", "POST", infer_body(image, outputs=[{"name": "logits"}]))
    assert unknown.status == 400 and "no output 'logits'" in error_of(unknown)


# --- bad requests: 4xx with a message, and the server keeps serving ------------------------------
@pytest.mark.parametrize("raw, expected", [
    (b"{not json", "malformed JSON"),
    (b"", "has no body"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"inputs": 3}', "inputs: expected a list"),
    (b'{"id": "x"}', "inputs: field required"),
    (b'{"inputs": [{"name": "input", "datatype": "FP32", "data": [1]}]}', "inputs -> 0 -> shape: field required"),
    (b'{"inputs": [{"name": "input", "shape": "1x3", "datatype": "FP32", "data": []}]}', "shape: expected a list"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_malformed_requests(served, raw, expected):
    answer = served("/v2/models/cnn/infer", "POST", raw=raw)
    assert answer.status == 400
    assert expected in error_of(answer)


def test_wrong_shape(served):
    small = np.zeros((1, 3, 8, 8), np.float32)
    answer = served("/v2/models/cnn/infer", "POST", infer_body(small))
    assert answer.status == 400
    message = error_of(answer)
    assert "input 0 ('input')" in message and "[1, 3, 16, 16] (768 elements)" in message and "[1, 3, 8, 8]" in message
    inconsistent = infer_body(np.zeros((1, 3, 16, 16), np.float32))
    inconsistent["inputs"][0]["data"] = inconsistent["inputs"][0]["data"][:-1]
    answer = served("/v2/models/cnn/infer", "POST", inconsistent)
    assert answer.status == 400 and "holds 768 elements but 'data' has 767" in error_of(answer)


@pytest.mark.parametrize("model, datatype, data, expected", [
    ("cnn", "BYTES", 0.5, "BYTES tensors are not supported"),
    ("cnn", "FLOAT", 0.5, "unknown datatype 'FLOAT'"),
    ("cnn", "FP64", 0.5, "send FP32 data"),
    ("cnn", "BOOL", True, "BOOL data cannot feed it"),
    ("cnn", "INT32", 0.5, "INT32 data must be integers"),
    ("cnn", "FP32", "0.5", "data must be numbers"),
    ("pixels", "FP32", 0.5, "takes UINT8 (integers); FP32 data cannot feed it"),
    ("pixels", "INT32", 300, "takes UINT8 values in [0, 255]; element 0 is 300"),
    ("pixels", "INT8", 300, "out of the INT8 range"),
])
def test_wrong_datatype(served, model, datatype, data, expected):
    path = "/v2/models/cnn/infer" if model == "cnn" else "/v2/models/pixels/versions/1/infer"
    body = {"inputs": [{"name": "input", "shape": [1, 3, 16, 16], "datatype": datatype, "data": [data] * 768}]}
    answer = served(path, "POST", body)
    assert answer.status == 400
    assert expected in error_of(answer)


def test_wrong_number_of_inputs(served, image):
    body = infer_body(image)
    body["inputs"].append(dict(body["inputs"][0], name="second"))
    answer = served("/v2/models/cnn/infer", "POST", body)
    assert answer.status == 400 and "takes 1 input(s) ('input'); the request has 2" in error_of(answer)


def test_unknown_model_version_and_endpoint(served, image):
    unknown = served("/v2/models/resnet/infer", "POST", infer_body(image))
    assert unknown.status == 400 and error_of(unknown) == "Model resnet with version default not found"
    assert served("/v2/models/resnet").status == 400
    assert served("/v2/models/resnet/ready").status == 400
    version = served("/v2/models/cnn/versions/9/infer", "POST", infer_body(image))
    assert version.status == 400 and error_of(version) == "Model cnn with version 9 not found"
    endpoint = served("/v2/nothing/here")
    assert endpoint.status == 404 and "no such endpoint" in error_of(endpoint)
    assert served("/v2/models/cnn/infer").status == 405


def test_still_serving_after_bad_requests(served, image):
    for raw in (b"{", b"null", b'{"inputs": [{}]}'):
        assert served("/v2/models/cnn/infer", "POST", raw=raw).status == 400
    assert served("/v2/models/cnn/infer", "POST", infer_body(image)).status == 200
    assert served("/v2/health/ready").status == 200


def test_an_internal_failure_is_a_500_and_the_server_keeps_serving(start_server, cnn_path, image):
    import asyncio

    server = start_server([FuriosaRTModelConfig(name="cnn", model=str(cnn_path))])
    model = asyncio.run(server.server.repository.get_model("cnn"))
    asyncio.run(model.runner.close())  # the runner dies behind the server's back
    broken = server("/v2/models/cnn/infer", "POST", infer_body(image))
    assert broken.status == 500 and error_of(broken).startswith("internal server error: SessionClosed")
    assert server("/v2/health/live").status == 200
    assert server("/v2/repository/models/cnn/unload", "POST", raw=b"").status == 200
    assert server("/v2/repository/models/cnn/load", "POST", raw=b"").status == 200
    assert server("/v2/models/cnn/infer", "POST", infer_body(image)).status == 200


def test_non_finite_numbers_are_written_as_json_tokens():
    from furiosa.server.rest import KServeJSONResponse

    assert KServeJSONResponse({"data": [float("nan"), float("inf"), 1.5]}).body == b'{"data":[NaN,Infinity,1.5]}'


# --- repository extension -----------------------------------------------------------------------
def test_repository_index_unload_and_load(served, image):
    index = served("/v2/repository/index", "POST", {})
    assert index.status == 200
    assert sorted((i["name"], i["version"], i["state"]) for i in index.json) == [
        ("cnn", "default", "READY"), ("pixels", "1", "READY")]
    assert served("/v2/repository/models/cnn/unload", "POST", raw=b"").status == 200
    states = {i["name"]: i["state"] for i in served("/v2/repository/index", "POST", raw=b"").json}
    assert states == {"cnn": "UNAVAILABLE", "pixels": "READY"}
    assert [i["name"] for i in served("/v2/repository/index", "POST", {"ready": True}).json] == ["pixels"]
    gone = served("/v2/models/cnn/infer", "POST", infer_body(image))
    assert gone.status == 400 and "not found" in error_of(gone)
    assert served("/v2/repository/models/cnn/load", "POST", raw=b"").status == 200
    assert served("/v2/models/cnn/infer", "POST", infer_body(image)).status == 200
    missing = served("/v2/repository/models/nope/load", "POST", raw=b"")
    assert missing.status == 400 and error_of(missing) == "Model nope not found"
    assert served("/v2/repository/models/nope/unload", "POST", raw=b"").status == 400
    bad = served("/v2/repository/index", "POST", {"ready": "maybe"})
    assert bad.status == 400 and "ready" in error_of(bad)


def test_without_autoload_models_wait_for_a_load_request(start_server, cnn_path, image):
    server = start_server([FuriosaRTModelConfig(name="cnn", model=str(cnn_path))], intial_model_autoload=False)
    assert server("/v2/repository/index", "POST", {}).json == [
        {"name": "cnn", "version": None, "state": "UNAVAILABLE", "reason": ""}]
    assert server("/v2/models/cnn/infer", "POST", infer_body(image)).status == 400
    assert server("/v2/repository/models/cnn/load", "POST", raw=b"").status == 200
    assert server("/v2/models/cnn/infer", "POST", infer_body(image)).status == 200


def test_a_model_that_cannot_load_on_request(start_server):
    server = start_server([FuriosaRTModelConfig(name="gone", model="/nonexistent.onnx")], intial_model_autoload=False)
    answer = server("/v2/repository/models/gone/load", "POST", raw=b"")
    assert answer.status == 400 and error_of(answer).startswith("Model gone could not be loaded:")
    (item,) = server("/v2/repository/index", "POST", {}).json
    assert item["state"] == "UNAVAILABLE" and "nonexistent" in item["reason"]


# --- the vendor's MNIST -------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::furiosa.common.errors.CompilerWarning")  # float MNIST runs on the host
def test_vendor_mnist_matches_session_run(vendor, start_server):
    path = vendor / "mnist_8.onnx"
    image = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    (expected,) = reference(path, image)
    server = start_server([FuriosaRTModelConfig(name="mnist", model=str(path))])
    body = {"inputs": [{"name": "Input3", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": image.reshape(-1).tolist()}]}
    answer = server("/v2/models/mnist/infer", "POST", body)
    assert answer.status == 200, answer.body
    output = answer.json["outputs"][0]
    assert output["shape"] == [1, 10] and output["datatype"] == "FLOAT32"
    assert np.array_equal(np.array(output["data"], np.float32).reshape(1, 10), expected)
