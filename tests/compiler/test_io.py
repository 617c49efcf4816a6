"""Model inputs and outputs: permute_input, lowered layouts, ModelEditor conversions, batch."""
from __future__ import annotations

import numpy as np
import pytest

from examples.zoo import Builder, calibration_data
from furiosa.common.errors import InvalidConfigError
from furiosa.common.qmath import QParams, dequantize, quantize
from furiosa.compiler.enf import lowered
from furiosa.compiler.pipeline import compile_data
from furiosa.device.emulator.executor import Executor
from furiosa.quantizer.metadata import WITHOUT_DEQUANTIZE_KEY, WITHOUT_QUANTIZE_KEY
from tests.helpers import with_calibration


def nhwc_model():
    b = Builder(seed=3)
    x = b.op("Transpose", ["input"], "nchw", perm=[0, 3, 1, 2])
    x = b.conv(x, 3, 8, 3)
    b.conv(x, 8, 4, 3, stride=2)
    b.nodes[-1].output[0] = "output"
    return b.model([("input", [1, 16, 64, 3])], [("output", None)])


@pytest.fixture(scope="module")
def calibrated():
    model = nhwc_model()
    return with_calibration(model, calibration_data(model, 4)).SerializeToString()


def test_permute_input_feeds_the_permuted_layout(calibrated):
    plain = compile_data(calibrated)
    permuted = compile_data(calibrated, config={"permute_input": [[0, 3, 1, 2]]})
    assert plain.inputs[0].shape == (1, 16, 64, 3) and permuted.inputs[0].shape == (1, 3, 16, 64)
    x = calibration_data(nhwc_model(), 1, seed=9)[0]["input"]
    expected = Executor(plain).run([x])[0]
    assert np.array_equal(Executor(permuted).run([np.ascontiguousarray(x.transpose(0, 3, 1, 2))])[0], expected)
    lower = next(op for op in permuted.operators if op.name == "Lower")
    assert lower.unit == "npu", "a 64-wide NCHW input is lowered on the NPU"


def test_permute_input_is_checked_against_the_model(calibrated):
    with pytest.raises(InvalidConfigError, match="has 3 axes"):
        compile_data(calibrated, config={"permute_input": [[0, 2, 1]]})
    with pytest.raises(InvalidConfigError, match="2 entries but the model has 1 inputs"):
        compile_data(calibrated, config={"permute_input": [[0, 1, 2, 3], [0, 1, 2, 3]]})


def test_lowered_inputs_and_outputs(calibrated):
    plain = compile_data(calibrated)
    both = compile_data(calibrated, config={"remove_lower": True, "remove_unlower": True})
    assert both.inputs[0].layout == both.outputs[0].layout == "lowered"
    assert not any(op.name in ("Lower", "Unlower") for op in both.operators)
    x = calibration_data(nhwc_model(), 1, seed=9)[0]["input"]
    x_lowered = np.ascontiguousarray(lowered(x.shape, both.target).to_lowered(x))
    out = Executor(both).run([x_lowered])[0]
    expected = Executor(plain).run([x])[0]
    assert out.ndim == 6
    assert np.array_equal(lowered(expected.shape, both.target).to_logical(out), expected)


def test_editor_conversions_give_uint8_input_and_int8_output():
    model = nhwc_model()
    feeds = calibration_data(model, 4)
    float_program = compile_data(with_calibration(model, feeds).SerializeToString())
    edited = with_calibration(model, feeds, **{WITHOUT_QUANTIZE_KEY: "0", WITHOUT_DEQUANTIZE_KEY: "[(0,I8,None)]"})
    program = compile_data(edited.SerializeToString())
    assert program.inputs[0].dtype == "uint8" and program.outputs[0].dtype == "int8"
    assert not any(op.name in ("Quantize", "Dequantize") for op in program.operators)
    qp_in: QParams = program.inputs[0].qparams
    x = feeds[0]["input"]
    x_u8 = quantize(x, qp_in.with_dtype("int8")).view(np.uint8) ^ np.uint8(0x80)
    out = Executor(program).run([x_u8])[0]
    expected = Executor(float_program).run([dequantize(quantize(x, qp_in.with_dtype("int8")), qp_in.with_dtype("int8"))])[0]
    assert np.array_equal(dequantize(out, program.outputs[0].qparams), expected)


def test_editor_output_range_requantizes():
    model = nhwc_model()
    feeds = calibration_data(model, 4)
    program = compile_data(with_calibration(model, feeds, **{WITHOUT_DEQUANTIZE_KEY: "[(0,U8,Some((0.0,6.0)))]"})
                           .SerializeToString())
    qp = program.outputs[0].qparams
    assert program.outputs[0].dtype == "uint8" and qp.zero_point == (0,)
    assert qp.scale[0] == pytest.approx(6.0 / 255, rel=1e-6)
    assert any(op.name == "LowLevelRequantize" for op in program.operators)
