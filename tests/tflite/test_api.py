"""TFLite models through the vendor's APIs and tools: sessions, runners, the compiler CLI,
furiosa-bench, placement and profiling."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from furiosa.compiler import enf
from furiosa.compiler.pipeline import compile_data

from . import models
from .litert import run

MNIST = "MNISTnet_uint8_quant.tflite"
BIN = Path(sys.executable).parent


def test_session_summary_prints_as_the_vendor_does(vendor, device_dir):
    from furiosa.runtime import session

    with session.create(str(vendor / MNIST)) as sess:
        assert sess.model.summary() == (
            "Inputs:\n{0: TensorDesc(shape=(1, 28, 28, 1), dtype=UINT8, format=NHWC, size=784, len=784)}\n"
            "Outputs:\n{0: TensorDesc(shape=(1, 10), dtype=UINT8, format=??, size=10, len=10)}"
        )
        _, h, w, c = sess.model.input(0).shape  # image_classify.py unpacks NHWC this way
        assert (h, w, c) == (28, 28, 1) and sess.model.input(0).name is None
        image = np.random.default_rng(0).integers(0, 256, (1, h, w, c), dtype=np.uint8)
        outputs = sess.run(image)
        assert np.array_equal(outputs[0].numpy(), run((vendor / MNIST).read_bytes(), [image])[0])


def test_four_dimensional_outputs_are_nhwc(vendor, device_dir):
    from furiosa.runtime import session

    with session.create(str(vendor / "MNISTnet_uint8_quant_without_softmax.tflite")) as sess:
        assert repr(sess.model.output(0)) == \
            "TensorDesc(shape=(1, 1, 1, 10), dtype=UINT8, format=NHWC, size=10, len=10)"


def test_sync_runner_with_batch(vendor, device_dir):
    from furiosa.runtime.sync import create_runner

    model = (vendor / MNIST).read_bytes()
    images = np.random.default_rng(1).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    with create_runner(str(vendor / MNIST), batch_size=2) as runner:
        assert runner.model.input(0).shape == (2, 28, 28, 1)
        outputs = runner.run([images])
    expected = np.concatenate([run(model, [images[i:i + 1]])[0] for i in range(2)])
    assert np.array_equal(outputs[0], expected)


def test_int8_model_with_float_edges_through_a_runner(rng, tmp_path, device_dir):
    from furiosa.runtime.sync import create_runner

    model = models.network(rng, "int8")
    path = tmp_path / "net.tflite"
    path.write_bytes(model)
    image = rng.normal(0, 1, (1, 12, 12, 3)).astype(np.float32)
    with create_runner(str(path)) as runner:
        assert [repr(d) for d in runner.model.inputs()] == [
            "TensorDesc(shape=(1, 12, 12, 3), dtype=FLOAT32, format=NHWC, size=1728, len=432)"]
        outputs = runner.run([image])
    assert np.array_equal(outputs[0], run(model, [image])[0])


def test_placement_follows_the_warboy_table(vendor):
    program = compile_data((vendor / "MNIST_MobileNet_v2_uint8_quant_without_avgpool_softmax.tflite").read_bytes())
    assert program.source_format == "tflite"
    by_kind: dict[str, set[str]] = {}
    for op in program.operators:
        by_kind.setdefault(op.kernel, set()).add((op.unit, op.reason))
    # Depthwise convolutions run on the NPU at any width (the group limit is for grouped ones).
    assert by_kind["tflite_depthwise_conv2d"] == {("npu", "Conv is accelerated by the NPU")}
    assert ("npu", "Conv is accelerated by the NPU") in by_kind["tflite_conv2d"]
    lowers = [op for op in program.operators if op.kernel == "layout" and op.name == "Lower"]
    assert lowers and all(op.unit == "host" and "NHWC" in op.reason for op in lowers)
    assert [io.axes for io in program.inputs] == [("N", "H", "W", "C")]


def test_compiled_tflite_program_round_trips_through_enf(vendor, rng):
    model = (vendor / MNIST).read_bytes()
    program = compile_data(model)
    again = enf.read(enf.write(program), "x.enf")
    assert again.inputs == program.inputs and again.outputs == program.outputs


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in {BIN}")
    return str(path)


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(FURIOSA_EMU_STATE_DIR=str(tmp_path / "devices"), FC_CACHE_STORE_URL=str(tmp_path / "cache"))
    env.pop("FURIOSA_DEVICES", None)
    return env


def test_furiosa_compiler_takes_tflite(vendor, tmp_path, device_dir):
    out = tmp_path / "mnist.enf"
    result = subprocess.run([_tool("furiosa-compiler"), str(vendor / MNIST), "-o", str(out)], capture_output=True,
                            text=True, env=_environment(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    program = enf.read(out.read_bytes(), str(out))
    assert program.source_format == "tflite" and program.inputs[0].shape == (1, 28, 28, 1)

    from furiosa.runtime import session

    image = np.full((1, 28, 28, 1), 77, np.uint8)
    with session.create(str(out)) as sess:
        assert np.array_equal(sess.run(image)[0].numpy(), run((vendor / MNIST).read_bytes(), [image])[0])


def test_furiosa_bench_takes_tflite(vendor, tmp_path):
    report = tmp_path / "bench.json"
    result = subprocess.run([_tool("furiosa-bench"), str(vendor / MNIST), "-n", "4", "-o", str(report)],
                            capture_output=True, text=True, env=_environment(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(report.read_text())


def test_profiler_records_tflite_operators(vendor, device_dir):
    from furiosa.runtime import session
    from furiosa.runtime.profiler import RecordFormat, profile

    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with session.create(str(vendor / MNIST)) as sess:
            sess.run(np.zeros((1, 28, 28, 1), np.uint8))
    names = set(profiler.get_pandas_dataframe()["name"])
    assert {"LowLevelConv2d", "LowLevelDepthwiseConv2d", "LowLevelSoftmax"} <= names


def test_permute_input_feeds_nchw_data_to_an_nhwc_model(rng):
    from furiosa.device.emulator.executor import Executor

    model = models.conv2d(rng, "int8", per_channel=True, in_shape=(1, 6, 32, 3))
    program = compile_data(model, config={"permute_input": [[0, 3, 1, 2]]})
    assert program.inputs[0].shape == (1, 3, 6, 32) and program.inputs[0].axes == ("N", "C", "H", "W")
    lower = next(op for op in program.operators if op.name == "Lower")
    assert (lower.unit, lower.reason) == ("npu", "Lower on the npu: the last axis is the width (32), a multiple of 32")
    image = rng.integers(-128, 128, (1, 6, 32, 3), dtype=np.int8)
    got = Executor(program).run([np.ascontiguousarray(image.transpose(0, 3, 1, 2))])
    assert np.array_equal(got[0], run(model, [image])[0])
