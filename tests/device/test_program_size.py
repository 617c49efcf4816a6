"""Instruction memory: program sizes, the "Insufficient Instruction Memory" error, program loading."""
from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest

from examples import zoo
from furiosa.common.errors import UnsupportedModelError
from furiosa.compiler import enf, pipeline, program_size
from furiosa.compiler.enf.program import Cost
from furiosa.compiler.program_size import INSTRUCTION_MEMORY_BYTES, InsufficientInstructionMemoryError
from furiosa.device.emulator import timing
from furiosa.runtime import errors, sync
from furiosa.runtime.profiler import RecordFormat, profile

from .test_timing import FUSED, SINGLE, compiled


def chain(convs: int = 260, channels: int = 8, size: int = 8) -> bytes:
    """A deep, narrow model: many small NPU operators, so a long program for little work."""
    b = zoo.Builder(0)
    x = "input"
    for _ in range(convs):
        x = b.conv(x, channels, channels, 1)
    b.nodes[-1].output[0] = "output"
    model = b.model([("input", [1, channels, size, size])], [("output", [1, channels, size, size])], "chain")
    return zoo.nominal_calibration(model, 0.0, 6.0).SerializeToString()


@functools.lru_cache(maxsize=None)
def deep() -> bytes:
    return chain()


def test_operator_model():
    conv = Cost("dense", macs=1, weight_bytes=40 * 1024)
    # setup + 3 weight descriptors (16 KiB each) + passes: 2 channel groups x ceil(56 rows / 128 rows)
    assert program_size.operator_bytes(conv, (1, 64, 56, 56), FUSED) == 1024 + 3 * 16 + 2 * 1 * 32
    # One PE has half the rows per pass; a batch has b times the rows.
    assert program_size.operator_bytes(conv, (1, 64, 56, 56), SINGLE) == 1024 + 3 * 16 + 2 * 1 * 32
    assert program_size.operator_bytes(conv, (1, 64, 224, 224), SINGLE, batch=2) == 1024 + 48 + 2 * 7 * 32
    assert program_size.operator_bytes(Cost("layout"), (1, 1000), FUSED) == 64
    assert program_size.operator_bytes(Cost("vector", vector_bytes=10), (1, 10), FUSED) == 512 + 32


@pytest.mark.parametrize("name, target, batch", [
    ("mobilenet_v1", FUSED, 1), ("resnet50", FUSED, 1), ("resnet50", SINGLE, 8), ("ssd_mobilenet_v1", FUSED, 1),
])
def test_models_run_without_program_loading_fit(name, target, batch):
    program = compiled(name, target, batch, mlperf=name != "mobilenet_v1")
    size = program_size.total_bytes(program.operators)
    assert 0 < size <= INSTRUCTION_MEMORY_BYTES
    assert all(op.program_bytes > 0 for op in program.npu_operators)
    assert all(op.program_bytes == 0 for op in program.host_operators)


def test_mnist_fits(vendor):
    data = zoo.nominal_calibration(onnx.load(str(vendor / "mnist_8.onnx"))).SerializeToString()
    assert 0 < program_size.total_bytes(pipeline.compile_program(data).operators) < 16 * 1024


@pytest.mark.slow
def test_yolov5l_needs_program_loading():
    program = compiled("yolov5l", FUSED, 1, loading=True)
    assert program_size.total_bytes(program.operators) > INSTRUCTION_MEMORY_BYTES


def test_too_large_a_program_does_not_compile():
    with pytest.raises(InsufficientInstructionMemoryError) as caught:
        pipeline.compile_program(deep())
    message = str(caught.value)
    assert isinstance(caught.value, UnsupportedModelError) and isinstance(caught.value, ValueError)
    assert message.startswith("Insufficient Instruction Memory: the program of each PE needs 272.2 KiB")
    assert "260 NPU operators" in message and "256 KiB" in message
    assert 'compiler_config={"use_program_loading": True}' in message


def test_program_loading_compiles_and_costs_time():
    program = pipeline.compile_program(deep(), config={"use_program_loading": True})
    assert program_size.total_bytes(program.operators) > INSTRUCTION_MEMORY_BYTES
    plan = timing.plan(program)
    assert plan.program_loading and len(plan.executions) == 1
    loading = plan.executions[0].program_load_ns
    assert loading == round(plan.program_bytes / 66e9 * 1e9) + 2 * timing.MODELS[FUSED].program_part_ns
    # The ENF file keeps program sizes and the configuration that allows loading.
    again = enf.read(enf.write(program))
    assert [op.program_bytes for op in again.operators] == [op.program_bytes for op in program.operators]
    assert timing.plan(again) == plan


def test_through_the_runtime(device_dir):
    with pytest.raises(errors.CompilationFailed, match="Insufficient Instruction Memory.*use_program_loading"):
        sync.create_runner(deep())
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with sync.create_runner(deep(), compiler_config={"use_program_loading": True}) as runner:
            runner.run([np.zeros((1, 8, 8, 8), np.float32)])
    df = profiler.get_npu_pandas_dataframe()
    load = df[df["name"] == "LoadProgram"]
    execution = df[df["name"] == "Execution"]
    assert len(load) == 1 and load["parent_span_id"].iloc[0] == execution["span_id"].iloc[0]
    assert int(load["dur"].iloc[0]) > 0


def test_the_timing_model_uses_the_same_instruction_memory():
    for model in timing.MODELS.values():
        assert model.instruction_memory_bytes == INSTRUCTION_MEMORY_BYTES
