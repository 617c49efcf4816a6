"""Placement: the Warboy operator table decides what runs on the NPU, and says why otherwise."""
from __future__ import annotations

import numpy as np
import pytest

from examples.zoo import Builder, calibration_data, quantize_qdq, small_cnn
from furiosa.compiler.pipeline import compile_data
from tests.helpers import with_calibration


def compile_calibrated(model, **config):
    calibrated = with_calibration(model, calibration_data(model, 4))
    return compile_data(calibrated.SerializeToString(), config=config or None)


def kernel_ops(program):
    return [op for op in program.operators if op.kernel not in ("quantize", "dequantize", "layout")]


def test_quantized_cnn_runs_entirely_on_the_npu():
    program = compile_calibrated(small_cnn())
    assert all(op.unit == "npu" for op in kernel_ops(program))
    assert {op.name for op in kernel_ops(program)} >= {"LowLevelConv2d", "LowLevelMaxPool", "LowLevelSoftmax"}


def test_constraint_violations_are_explained():
    b = Builder()
    x = b.conv("input", 3, 512, 3)
    grouped = b.conv(x, 512, 512, 3, group=256)
    depthwise = b.conv(grouped, 512, 512, 3, group=512)
    wide = b.op("Concat", [depthwise, depthwise], "wide", axis=3)
    up = b.op("Resize", [wide, "", b.const(np.array([1, 1, 2, 2], np.float32))], "up", mode="nearest")
    flat = b.op("Reshape", [up, b.const(np.array([4, -1], np.int64))], "flat")
    b.op("Softmax", [flat], "prob", axis=-1)
    b.nodes[-1].output[0] = "output"
    model = b.model([("input", [1, 3, 4, 4])], [("output", None)])
    program = compile_calibrated(model)
    reasons = {op.name: op.reason for op in program.operators if op.unit == "host"}
    host_nodes = {n["op_type"]: n["reason"] for op in program.operators if op.kernel == "onnx" for n in op.attrs["nodes"]}
    grouped = [op for op in program.operators if op.name == "LowLevelConv2d" and op.attrs.get("group") == 256]
    assert grouped[0].unit == "host" and "group 256" in grouped[0].reason and "<= 128" in grouped[0].reason
    depthwise = next(op for op in program.operators if op.name == "LowLevelDepthwiseConv2d")
    assert depthwise.unit == "npu" and depthwise.attrs["group"] == 512
    assert "width axis" in reasons["LowLevelConcat"]
    assert "LowLevelDepthwiseConv2d" not in reasons
    assert "batch 4" in reasons["LowLevelSoftmax"]
    assert "Resize is not in the Warboy NPU operator table" in host_nodes["Resize"]
    first_conv = next(op for op in program.operators if op.name == "LowLevelConv2d")
    assert first_conv.unit == "npu"


def test_lower_and_unlower_follow_the_width_rule():
    b = Builder()
    b.conv("input", 3, 8, 3)
    b.nodes[-1].output[0] = "output"
    narrow = compile_calibrated(b.model([("input", [1, 3, 8, 24])], [("output", None)]))
    wide_builder = Builder()
    wide_builder.conv("input", 3, 8, 3)
    wide_builder.nodes[-1].output[0] = "output"
    wide = compile_calibrated(wide_builder.model([("input", [1, 3, 8, 64])], [("output", None)]))
    layout = lambda p: [(op.name, op.unit) for op in p.operators if op.kernel == "layout"]  # noqa: E731
    assert layout(narrow) == [("Pad", "host"), ("Lower", "host"), ("Unlower", "host"), ("Slice", "host")]
    assert layout(wide) == [("Lower", "npu"), ("Unlower", "npu")]


def test_qdq_model_from_onnxruntime_is_fused():
    model = small_cnn()
    program = compile_data(quantize_qdq(model, calibration_data(model, 4)).SerializeToString())
    assert all(op.unit == "npu" for op in kernel_ops(program))
    assert [op.name for op in program.host_operators if op.kernel != "layout"] == ["Quantize", "Dequantize"]


def test_batch_size_is_recorded_and_validated():
    program = compile_calibrated(small_cnn())
    assert program.batch_size == 1
    calibrated = with_calibration(small_cnn(), calibration_data(small_cnn(), 2))
    assert compile_data(calibrated.SerializeToString(), batch_size=4).batch_size == 4
    from furiosa.common.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="positive integer"):
        compile_data(calibrated.SerializeToString(), batch_size=0)
    with pytest.raises(InvalidConfigError, match="target NPU"):
        compile_data(calibrated.SerializeToString(), target="renegade")
