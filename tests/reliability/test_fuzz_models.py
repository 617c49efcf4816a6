"""Mutated real models: compiling (and running, when it compiles) ends in a documented exception
with a one-line message, or a result, within a time limit; never a crash, a hang or an
undocumented error.

Targets: the vendor's ONNX models (byte-level and structural damage) and TFLite models (byte-level),
plus a TFLite network written by the TFLite tests' writer (so the TFLite target runs without
../shared too). The number of examples per target is bounded for CI (``FURIOSA_FUZZ_EXAMPLES`` or
``--fuzz-examples`` for longer campaigns); examples are derandomized, so a CI failure reproduces.
"""
from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from furiosa.common.errors import FuriosaError
from furiosa.compiler.pipeline import compile_data
from furiosa.device.emulator.executor import Executor
from furiosa.runtime._errors import runtime_error

from .conftest import TIME_LIMIT, refused

MODELS = ["mnist_8.onnx", "named_tensors.onnx", "quantized_i8_conv_truncated.onnx", "mnist.onnx", "test.onnx"]
#: programs whose inputs and outputs take more are compiled, not run (the harness's own memory)
RUN_LIMIT_BYTES = 256 << 20
TFLITE_MODELS = ["MNISTnet_uint8_quant.tflite", "MNISTnet_uint8_quant_without_softmax.tflite",
                 "MNIST_MobileNet_v2_uint8_quant_without_avgpool_softmax.tflite"]


def examples(default: int) -> int:
    """Examples per target: ``FURIOSA_FUZZ_EXAMPLES`` when set, else the CI default."""
    return int(os.environ.get("FURIOSA_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int):
    return settings(max_examples=examples(default), deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    if cut is not None:
        out = out[: cut % len(out)]
    return bytes(out)


def compile_and_run(data: bytes) -> None:
    """Compile (the error must be one clear line, as ``furiosa-compiler`` prints it), then load and
    run (the error must be one clear line as the runtime API raises it)."""
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = compile_data(data)
    except FuriosaError as error:
        refused(error)
        cause = error.__cause__
        assert cause is None or isinstance(cause, FuriosaError) or "cannot be compiled:" not in str(error), \
            f"only the compiler's safety net caught this (add a check that names the problem): {cause!r}"
    else:
        tensors = (*program.inputs, *program.outputs)
        io_bytes = sum(int(np.prod(io.shape)) * np.dtype(io.dtype).itemsize for io in tensors)
        if io_bytes > RUN_LIMIT_BYTES:  # a valid program with big tensors (< 16 GiB): compiling it is the test
            return
        try:
            executor = Executor(program)
            rng = np.random.default_rng(0)
            inputs = [rng.random(io.shape, dtype=np.float32).astype(io.dtype) if np.dtype(io.dtype).kind == "f"
                      else rng.integers(0, 100, io.shape).astype(io.dtype) for io in program.inputs]
            outputs = executor.run(inputs)
            assert [o.shape for o in outputs] == [tuple(io.shape) for io in program.outputs]
        except FuriosaError as error:
            refused(runtime_error(error))
    assert time.monotonic() - started < TIME_LIMIT


@pytest.mark.parametrize("name", MODELS)
@fuzz_settings(25)
@given(edits=st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(1, 2**31)))
def test_mutated_vendor_models(vendor, name, edits, cut):
    compile_and_run(mutate((vendor / name).read_bytes(), edits, cut))


def mutate_structure(data: bytes, choices: list[tuple[int, int, int]]) -> bytes:
    """Semantic damage that keeps the file parseable: weight and scale bytes, attribute values,
    input dimensions, deleted nodes and initializers, dangling names."""
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    for kind, where, value in choices:
        kind %= 6
        if kind == 0 and graph.initializer:
            tensor = graph.initializer[where % len(graph.initializer)]
            raw = bytearray(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(tensor)).raw_data)
            if raw:
                raw[value % len(raw)] = value % 256
                array = np.frombuffer(bytes(raw), dtype=onnx.numpy_helper.to_array(tensor).dtype)
                tensor.CopyFrom(onnx.numpy_helper.from_array(array.reshape(tuple(tensor.dims)), tensor.name))
        elif kind == 1 and graph.node:
            node = graph.node[where % len(graph.node)]
            ints = [a for a in node.attribute if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)]
            if ints:
                attr = ints[value % len(ints)]
                if attr.type == onnx.AttributeProto.INT:
                    attr.i = value % 7 - 2
                elif attr.ints:
                    attr.ints[value % len(attr.ints)] = value % 7 - 2
        elif kind == 2 and graph.input:
            dims = graph.input[where % len(graph.input)].type.tensor_type.shape.dim
            if dims:
                dims[value % len(dims)].dim_value = [0, 1, 2, 3, 7, 4096, 2**40][value % 7]
        elif kind == 3 and graph.node:
            del graph.node[where % len(graph.node)]
        elif kind == 4 and graph.initializer:
            del graph.initializer[where % len(graph.initializer)]
        elif kind == 5 and graph.node:
            node = graph.node[where % len(graph.node)]
            if node.input:
                node.input[value % len(node.input)] = f"dangling_{value}"
    return model.SerializeToString()


@pytest.mark.parametrize("name", MODELS)
@fuzz_settings(30)
@given(choices=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**16), st.integers(0, 2**16)),
                        min_size=1, max_size=3))
def test_semantically_damaged_vendor_models(vendor, name, choices):
    compile_and_run(mutate_structure((vendor / name).read_bytes(), choices))


# --- TFLite ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TFLITE_MODELS)
@fuzz_settings(25)
@given(edits=st.lists(st.tuples(st.integers(8, 2**31), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(1, 2**31)))
def test_mutated_vendor_tflite_models(vendor, name, edits, cut):
    """Byte damage after the file identifier (damage to it makes the file not TFLite, see the ONNX targets)."""
    compile_and_run(mutate((vendor / name).read_bytes(), edits, cut))


_NETWORK: list[bytes] = []


def generated_network() -> bytes:
    if not _NETWORK:
        from tests.tflite import models

        _NETWORK.append(models.network(np.random.default_rng(5), "int8"))
    return _NETWORK[0]


@fuzz_settings(40)
@given(edits=st.lists(st.tuples(st.integers(8, 2**31), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(1, 2**31)))
def test_mutated_generated_tflite_network(edits, cut):
    compile_and_run(mutate(generated_network(), edits, cut))


# --- generated models: the calibration pass and the NPU kernels get more of the damage -----------------
@pytest.mark.parametrize("kind", ["qdq", "calibrated"])
@fuzz_settings(20)
@given(choices=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**16), st.integers(0, 2**16)),
                        min_size=1, max_size=3))
def test_semantically_damaged_generated_models(kind, choices):
    from .corpus import calibrated_cnn, qdq_cnn

    compile_and_run(mutate_structure((qdq_cnn if kind == "qdq" else calibrated_cnn)(), choices))
