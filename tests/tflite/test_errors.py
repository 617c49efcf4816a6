"""What cannot be compiled is refused with a clear error, never a crash."""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.common.errors import FuriosaError, InvalidConfigError, InvalidModelError, UnsupportedModelError
from furiosa.compiler.pipeline import compile_data
from furiosa.device.emulator.executor import Executor

from . import models
from .writer import ModelBuilder


def _float_conv() -> bytes:
    mb = ModelBuilder()
    x = mb.tensor("x", (1, 5, 5, 2), "float32")
    w = mb.tensor("w", (3, 3, 3, 2), "float32", np.ones((3, 3, 3, 2)))
    b = mb.tensor("b", (3,), "float32", np.zeros(3))
    y = mb.tensor("y", (1, 5, 5, 3), "float32")
    mb.op("CONV_2D", [x, w, b], [y], padding="SAME", stride_h=1, stride_w=1)
    return mb.build([x], [y])


def test_float_model_is_refused_with_the_way_out():
    with pytest.raises(UnsupportedModelError) as info:
        compile_data(_float_conv(), "float.tflite")
    message = str(info.value)
    assert "float.tflite" in message and "operator 0 (CONV_2D)" in message
    assert "float32" in message and "full-integer" in message


def test_hybrid_model_is_refused():
    mb = ModelBuilder()
    x = mb.tensor("x", (1, 8), "float32")
    w = mb.tensor("w", (4, 8), "int8", np.ones((4, 8)), scale=0.1, zero_point=0)
    y = mb.tensor("y", (1, 4), "float32")
    mb.op("FULLY_CONNECTED", [x, w, -1], [y])
    with pytest.raises(UnsupportedModelError, match="float32"):
        compile_data(mb.build([x], [y]))


def _quantized_unary(op: str, custom: str | None = None) -> bytes:
    mb = ModelBuilder()
    x = mb.tensor("x", (1, 4), "int8", scale=0.1, zero_point=0)
    y = mb.tensor("y", (1, 4), "int8", scale=0.1, zero_point=0)
    mb.op(op, [x], [y], custom=custom)
    return mb.build([x], [y])


def test_unsupported_operator_names_itself_and_the_supported_ones():
    with pytest.raises(UnsupportedModelError) as info:
        compile_data(_quantized_unary("ELU"))
    message = str(info.value)
    assert "operator 0 (ELU) is not supported" in message
    assert "CONV_2D" in message and "SOFTMAX" in message


def test_custom_operator_is_refused():
    with pytest.raises(UnsupportedModelError, match="custom operator 'TFLite_Detection_PostProcess'"):
        compile_data(_quantized_unary("CUSTOM", custom="TFLite_Detection_PostProcess"))


def test_fused_tanh_activation_is_refused():
    mb = ModelBuilder()
    a = mb.tensor("a", (1, 4), "int8", scale=0.1, zero_point=0)
    b = mb.tensor("b", (1, 4), "int8", scale=0.1, zero_point=0)
    y = mb.tensor("y", (1, 4), "int8", scale=0.2, zero_point=0)
    mb.op("ADD", [a, b], [y], fused_activation_function="TANH")
    with pytest.raises(UnsupportedModelError, match="fused activation TANH"):
        compile_data(mb.build([a, b], [y]))


def test_uint8_per_channel_filter_is_refused():
    mb = ModelBuilder()
    x = mb.tensor("x", (1, 4, 4, 2), "uint8", scale=0.1, zero_point=128)
    w = mb.tensor("w", (2, 1, 1, 2), "uint8", np.ones((2, 1, 1, 2)), scale=[0.1, 0.2], zero_point=[128, 128], axis=0)
    b = mb.tensor("b", (2,), "int32", np.zeros(2))
    y = mb.tensor("y", (1, 4, 4, 2), "uint8", scale=0.1, zero_point=128)
    mb.op("CONV_2D", [x, w, b], [y], padding="VALID", stride_h=1, stride_w=1)
    with pytest.raises(UnsupportedModelError, match="per channel"):
        compile_data(mb.build([x], [y]))


def test_int8_concatenation_with_different_parameters_is_refused(rng):
    with pytest.raises(UnsupportedModelError, match="different quantization parameters"):
        compile_data(models.concatenation(rng, "int8", same_params=False))


def test_lowered_io_is_refused_for_nhwc_models(rng):
    model = models.conv2d(rng, "int8", per_channel=True)
    for key in ("remove_lower", "remove_unlower"):
        with pytest.raises(InvalidConfigError, match="NHWC"):
            compile_data(model, config={key: True})


@pytest.mark.parametrize("cut", [8, 24, 100, 0.5])
def test_truncated_file_is_an_invalid_model(rng, cut):
    model = models.conv2d(rng, "uint8")
    size = int(len(model) * cut) if isinstance(cut, float) else cut
    with pytest.raises(InvalidModelError, match="not a valid TFLite file|TFLite"):
        compile_data(model[:size], "cut.tflite")


def test_wrong_schema_version_is_refused(rng):
    model = bytearray(models.conv2d(rng, "uint8"))
    from furiosa.compiler.frontend.tflite.flatbuffer import Buffer

    root = Buffer(bytes(model), "m").root()
    position = root._field(0)  # Model.version
    model[position:position + 4] = (2).to_bytes(4, "little")
    with pytest.raises(UnsupportedModelError, match="schema version 2"):
        compile_data(bytes(model))


def test_corrupted_files_never_crash(rng):
    """Random byte damage anywhere after the header: the compiler either compiles (the damage hit
    data, names or padding) or raises one of its own errors."""
    original = models.network(rng, "int8")
    outcomes = {"compiled": 0, "refused": 0}
    for _ in range(150):
        damaged = bytearray(original)
        for position in rng.integers(8, len(damaged), size=int(rng.integers(1, 4))):
            damaged[position] = int(rng.integers(0, 256))
        try:
            program = compile_data(bytes(damaged), "damaged.tflite")
        except FuriosaError:
            outcomes["refused"] += 1
            continue
        outcomes["compiled"] += 1
        feeds = [rng.normal(0, 1, io.shape).astype(io.dtype) for io in program.inputs]
        outputs = Executor(program).run(feeds)
        assert [o.shape for o in outputs] == [io.shape for io in program.outputs]
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 150


def test_runtime_reports_the_compiler_error(tmp_path, device_dir):
    from furiosa.runtime import session

    path = tmp_path / "float.tflite"
    path.write_bytes(_float_conv())
    with pytest.raises(Exception) as info:
        session.create(str(path))
    assert "only quantized TFLite models are supported" in str(info.value)
