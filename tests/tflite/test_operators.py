"""Every supported TFLite operator, on generated models, bit-exact to LiteRT's reference kernels.

Each case builds a quantized model with random filters, biases and quantization parameters
(uint8 asymmetric or int8, per-tensor or per-channel), runs it on random inputs over the whole
integer range on the emulator and on LiteRT, and requires identical outputs.
"""
from __future__ import annotations

import pytest

from . import models
from .litert import compare

DTYPES = ["uint8", "int8"]

CONV_CASES = {
    "3x3 same": dict(),
    "3x3 valid stride 2": dict(strides=(2, 2), padding="VALID", in_shape=(1, 11, 10, 3)),
    "1x1 relu6": dict(kernel=(1, 1), act="RELU6", out_channels=16, in_shape=(1, 6, 6, 24)),
    "5x3 dilated relu": dict(kernel=(5, 3), dilations=(2, 1), act="RELU"),
    "stride 2x1 relu_n1_to_1": dict(strides=(2, 1), act="RELU_N1_TO_1"),
    "batch 2": dict(in_shape=(2, 7, 7, 4)),
    "wide accumulator": dict(in_shape=(1, 8, 8, 64), out_channels=8),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d(case, dtype, rng):
    per_channel = dtype == "int8"
    assert compare(models.conv2d(rng, dtype, per_channel=per_channel, **CONV_CASES[case]), rng) > 0


def test_conv2d_int8_per_tensor_filter(rng):
    compare(models.conv2d(rng, "int8", per_channel=False, act="RELU"), rng)


def test_grouped_conv2d(rng):
    compare(models.conv2d(rng, "int8", per_channel=True, in_shape=(1, 6, 6, 8), out_channels=6, groups=2), rng)


DEPTHWISE_CASES = {
    "3x3 same": dict(),
    "multiplier 2 relu6": dict(depth_multiplier=2, act="RELU6"),
    "stride 2 valid": dict(strides=(2, 2), padding="VALID", in_shape=(1, 10, 9, 6)),
    "dilated": dict(dilations=(2, 2), in_shape=(1, 9, 9, 4)),
    "multiplier 32 from one channel": dict(depth_multiplier=32, in_shape=(1, 8, 8, 1), strides=(2, 2)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(DEPTHWISE_CASES))
def test_depthwise_conv2d(case, dtype, rng):
    compare(models.conv2d(rng, dtype, depthwise=True, per_channel=dtype == "int8", **DEPTHWISE_CASES[case]), rng)


FC_CASES = {
    "rows": dict(in_shape=(64, 20), units=9),
    "relu keep dims": dict(in_shape=(2, 3, 16), units=5, act="RELU", keep_num_dims=True),
    "flattened 4-D input": dict(in_shape=(1, 2, 2, 8), units=10),
    "no bias relu6": dict(bias=False, act="RELU6", in_shape=(8, 12)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(FC_CASES))
def test_fully_connected(case, dtype, rng):
    compare(models.fully_connected(rng, dtype, **FC_CASES[case]), rng)


def test_fully_connected_int8_per_channel(rng):
    compare(models.fully_connected(rng, "int8", per_channel=True, in_shape=(64, 24), units=12), rng)


POOL_CASES = {
    "3x3 stride 2 same": dict(),
    "2x3 valid": dict(padding="VALID", kernel=(2, 3), strides=(1, 2)),
    "global 4x4 relu": dict(in_shape=(1, 4, 4, 16), kernel=(4, 4), strides=(2, 2), padding="VALID", act="RELU"),
    "relu6": dict(act="RELU6"),
    "same stride 1 relu": dict(strides=(1, 1), act="RELU"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("case", list(POOL_CASES))
def test_pooling(case, op, dtype, rng):
    compare(models.pool(rng, op, dtype, **POOL_CASES[case]), rng)


BINARY_CASES = {
    "same shape": dict(),
    "relu6": dict(act="RELU6"),
    "broadcast channel vector": dict(b_shape=(1, 1, 1, 8)),
    "broadcast both ways": dict(a_shape=(1, 5, 1, 8), b_shape=(1, 1, 5, 1)),
    "constant operand": dict(b_shape=(8,), const_b=True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("case", list(BINARY_CASES))
def test_arithmetic(case, op, dtype, rng):
    compare(models.binary(rng, op, dtype, **BINARY_CASES[case]), rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
def test_maximum_minimum(op, dtype, rng):
    compare(models.binary(rng, op, dtype, same_scales=True, b_shape=(1, 1, 5, 8)), rng)


UNARY_CASES = {
    "LOGISTIC": dict(out_scale=1 / 256, out_zp={"uint8": 0, "int8": -128}),
    "TANH": dict(out_scale=1 / 128, out_zp={"uint8": 128, "int8": 0}),
    "RELU": dict(),
    "RELU6": dict(),
    "RELU_N1_TO_1": dict(),
    "LEAKY_RELU": dict(alpha=0.2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(UNARY_CASES))
def test_activation_functions(op, dtype, rng):
    options = dict(UNARY_CASES[op])
    if "out_zp" in options:
        options["out_zp"] = options["out_zp"][dtype]
    compare(models.unary(rng, op, dtype, **options), rng)


SOFTMAX_CASES = {
    "10 classes": dict(),
    "beta 0.7 on rank 3": dict(shape=(1, 3, 7), beta=0.7),
    "1001 classes": dict(shape=(1, 1001)),
    "wide input scale": dict(in_scale=0.5, shape=(4, 16)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SOFTMAX_CASES))
def test_softmax(case, dtype, rng):
    compare(models.softmax(rng, dtype, **SOFTMAX_CASES[case]), rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_concatenation_channels(dtype, rng):
    # uint8 inputs are rescaled to the output's parameters; int8 requires equal parameters.
    compare(models.concatenation(rng, dtype, same_params=dtype == "int8"), rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_concatenation_height_three_inputs(dtype, rng):
    shapes = ((1, 2, 4, 3), (1, 5, 4, 3), (1, 1, 4, 3))
    compare(models.concatenation(rng, dtype, shapes=shapes, axis=1, same_params=dtype == "int8"), rng)


RESHAPE_CASES = {
    "RESHAPE": dict(in_shape=(1, 2, 3, 4), out_shape=(1, 24)),
    "SQUEEZE": dict(in_shape=(1, 1, 1, 10), out_shape=(10,)),
    "EXPAND_DIMS": dict(in_shape=(3, 10), out_shape=(1, 3, 10)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(RESHAPE_CASES))
def test_reshapes(op, dtype, rng):
    compare(models.reshape(rng, dtype, op=op, **RESHAPE_CASES[op]), rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pad(dtype, rng):
    compare(models.pad(rng, dtype), rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_padv2_constant(dtype, rng):
    compare(models.pad(rng, dtype, value=7 if dtype == "uint8" else -7), rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose(dtype, rng):
    compare(models.transpose(rng, dtype), rng)


SLICE_CASES = {
    "strides": dict(),
    "negative strides and masks": dict(begin=(0, 5, -1, 0), end=(1, 0, 0, 3), strides=(1, -2, -1, 1), begin_mask=1,
                                       end_mask=12),
    "shrink axis": dict(begin=(0, 2, 0, 0), end=(1, 3, 7, 5), strides=(1, 1, 1, 1), shrink_axis_mask=2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SLICE_CASES))
def test_strided_slice(case, dtype, rng):
    compare(models.strided_slice(rng, dtype, **SLICE_CASES[case]), rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_slice(dtype, rng):
    compare(models.slice_(rng, dtype), rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op,shape", [("DEPTH_TO_SPACE", (1, 3, 4, 8)), ("SPACE_TO_DEPTH", (1, 4, 6, 3))])
def test_depth_space(op, shape, dtype, rng):
    compare(models.block(rng, op, dtype, in_shape=shape), rng)


RESIZE_CASES = {
    "upscale": dict(),
    "downscale": dict(in_shape=(1, 9, 8, 3), size=(4, 3)),
    "align corners": dict(align_corners=True),
    "half pixel centers": dict(half_pixel_centers=True, size=(8, 10)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
@pytest.mark.parametrize("case", list(RESIZE_CASES))
def test_resize(case, op, dtype, rng):
    compare(models.resize(rng, op, dtype, **RESIZE_CASES[case]), rng)


MEAN_CASES = {
    "height and width": dict(),
    "keeps parameters": dict(same_params=True),
    "drops dims": dict(keep_dims=False),
    "channels": dict(axes=(-1,), keep_dims=False),
    "7x7x32": dict(in_shape=(1, 7, 7, 32)),
    "three axes": dict(in_shape=(2, 3, 5, 4), axes=(0, 1, 3)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(MEAN_CASES))
def test_mean(case, dtype, rng):
    compare(models.mean(rng, dtype, **MEAN_CASES[case]), rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_quantize_dequantize_float_edges(dtype, rng):
    compare(models.quantize_float(rng, dtype), rng)


@pytest.mark.parametrize("src,dst", [("int8", "uint8"), ("uint8", "int8"), ("int8", "int8"), ("uint8", "uint8")])
def test_requantize(src, dst, rng):
    compare(models.requantize(rng, src, dst), rng)


@pytest.mark.parametrize("src,dst", [("int8", "uint8"), ("uint8", "int8")])
def test_type_change_keeps_values(src, dst, rng):
    compare(models.requantize(rng, src, dst, same_scale=True), rng)
