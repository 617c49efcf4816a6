"""Whole models: the vendor's TFLite files and a generated network, bit-exact to LiteRT."""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.compiler.pipeline import compile_data
from furiosa.device.emulator.executor import Executor

from . import models
from .litert import compare, run
from .writer import ModelBuilder

VENDOR_MODELS = [
    "MNISTnet_uint8_quant.tflite",
    "MNISTnet_uint8_quant_without_softmax.tflite",
    "MNIST_MobileNet_v2_uint8_quant_without_avgpool_softmax.tflite",
]


@pytest.mark.parametrize("name", VENDOR_MODELS)
def test_vendor_model_is_bit_exact(name, vendor, rng):
    model = (vendor / name).read_bytes()
    assert compare(model, rng, runs=20) >= 200


def test_vendor_model_on_digit_like_inputs(vendor, rng):
    """Inputs with the structure of MNIST images (dark background, bright strokes), not noise."""
    model = (vendor / "MNISTnet_uint8_quant.tflite").read_bytes()
    image = np.zeros((1, 28, 28, 1), np.uint8)
    image[0, 6:22, 12:16, 0] = 255
    image[0, 6:9, 9:16, 0] = 200
    executor = Executor(compile_data(model))
    assert np.array_equal(executor.run([image])[0], run(model, [image])[0])


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_generated_network_with_float_edges(dtype, rng):
    model = models.network(rng, dtype)
    assert compare(model, rng, runs=5) == 50


def test_quantize_rounds_ties_away_from_zero(rng):
    """x / scale exactly halfway between integers: TFLite rounds away from zero (ONNX would round
    half to even), for positive and negative values, and saturates outside the range."""
    mb = ModelBuilder()
    x = mb.tensor("x", (1, 64), "float32")
    q = mb.tensor("q", (1, 64), "int8", scale=0.03125, zero_point=3)
    y = mb.tensor("y", (1, 64), "float32")
    mb.op("QUANTIZE", [x], [q])
    mb.op("DEQUANTIZE", [q], [y])
    model = mb.build([x], [y])
    halves = (np.arange(-32, 32, dtype=np.float32) + np.float32(0.5)) * np.float32(0.03125)
    halves[:6] = [-1e9, 1e9, 0.0, -0.0, np.inf, np.nan]
    feeds = [halves.reshape(1, 64)]
    assert compare(model, rng, runs=1, inputs=feeds) == 64
