"""Mutated real models: compiling (and running, when it compiles) ends in a documented exception
or a result, never in a crash, a hang or an undocumented error."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from furiosa.common.errors import FuriosaError
from furiosa.compiler.pipeline import compile_data
from furiosa.device.emulator.executor import Executor

MODELS = ["mnist_8.onnx", "named_tensors.onnx", "quantized_i8_conv_truncated.onnx", "mnist.onnx", "test.onnx"]
TIME_LIMIT = 20.0


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    if cut is not None:
        out = out[: cut % len(out)]
    return bytes(out)


def compile_and_run(data: bytes) -> None:
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = compile_data(data)
            executor = Executor(program)
        rng = np.random.default_rng(0)
        inputs = [rng.random(io.shape, dtype=np.float32).astype(io.dtype) if np.dtype(io.dtype).kind == "f"
                  else rng.integers(0, 100, io.shape).astype(io.dtype) for io in program.inputs]
        executor.run(inputs)
    except FuriosaError:
        pass
    assert time.monotonic() - started < TIME_LIMIT


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None,
          derandomize=True)
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
                dims[value % len(dims)].dim_value = [0, 1, 2, 3, 7, 4096][value % 6]
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
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None,
          derandomize=True)
@given(choices=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**16), st.integers(0, 2**16)),
                        min_size=1, max_size=3))
def test_semantically_damaged_vendor_models(vendor, name, choices):
    compile_and_run(mutate_structure((vendor / name).read_bytes(), choices))
