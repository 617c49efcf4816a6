"""Quantized single-operator and small multi-operator TFLite models for the tests.

Parameters are random but sensible: scales are chosen so that results spread over the output
type's range instead of saturating, which keeps every rounding step of the arithmetic visible.
"""
from __future__ import annotations

import numpy as np

from .writer import ModelBuilder

LIMITS = {"uint8": (0, 255), "int8": (-128, 127)}


def zero_point(rng: np.random.Generator, dtype: str) -> int:
    lo, hi = LIMITS[dtype]
    return int(rng.integers(lo + 40, hi - 40))


def activation(mb: ModelBuilder, name: str, shape, dtype: str, rng: np.random.Generator,
               scale: float | None = None, zp: int | None = None) -> int:
    scale = float(rng.uniform(0.01, 0.1)) if scale is None else scale
    zp = zero_point(rng, dtype) if zp is None else zp
    return mb.tensor(name, shape, dtype, scale=scale, zero_point=zp)


def _scale_of(mb: ModelBuilder, index: int) -> float:
    return mb.tensors[index].quant.scale[0]


def _filter(rng: np.random.Generator, shape, dtype: str, per_channel_axis: int | None):
    """Random filter values with TFLite's conventions: uint8 asymmetric per tensor, int8
    symmetric (zero point 0), optionally per channel."""
    if dtype == "uint8":
        values = rng.integers(0, 256, shape)
        return values, float(rng.uniform(0.002, 0.02)), int(rng.integers(90, 166))
    values = rng.integers(-127, 128, shape)
    if per_channel_axis is None:
        return values, float(rng.uniform(0.002, 0.02)), 0
    channels = shape[per_channel_axis]
    return values, rng.uniform(0.001, 0.02, channels).astype(np.float32), np.zeros(channels, np.int64)


def _output_scale(rng, s_in: float, s_w: float, terms: int) -> float:
    spread = 74.0 * 73.0 * np.sqrt(max(terms, 1)) * s_in * s_w
    return float(spread * 3.0 / 127.0 * rng.uniform(0.7, 1.4))


def conv2d(rng, dtype="uint8", in_shape=(1, 9, 9, 3), out_channels=4, kernel=(3, 3), strides=(1, 1),
           dilations=(1, 1), padding="SAME", act="NONE", per_channel=False, bias=True, groups=1,
           depthwise=False, depth_multiplier=1) -> bytes:
    mb = ModelBuilder()
    n, h, w, c = in_shape
    x = activation(mb, "x", in_shape, dtype, rng)
    s_in = _scale_of(mb, x)
    if depthwise:
        out_channels = c * depth_multiplier
        wshape = (1, kernel[0], kernel[1], out_channels)
        axis = 3
        terms = kernel[0] * kernel[1]
    else:
        wshape = (out_channels, kernel[0], kernel[1], c // groups)
        axis = 0
        terms = kernel[0] * kernel[1] * c // groups
    values, s_w, z_w = _filter(rng, wshape, dtype, axis if per_channel else None)
    wt = mb.tensor("w", wshape, dtype, values, scale=s_w, zero_point=z_w, axis=axis)
    s_w_arr = np.atleast_1d(np.asarray(s_w, np.float32))
    inputs = [x, wt]
    if bias:
        bias_scale = (np.float32(s_in) * s_w_arr).astype(np.float32)
        bias_scale = np.broadcast_to(bias_scale, (out_channels,)) if per_channel else bias_scale
        b_values = rng.integers(-3000, 3000, out_channels)
        inputs.append(mb.tensor("b", (out_channels,), "int32", b_values, scale=bias_scale,
                                zero_point=np.zeros(len(np.atleast_1d(bias_scale)), np.int64)))
    else:
        inputs.append(-1)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    if padding == "SAME":
        oh, ow = [(s + st - 1) // st for s, st in zip((h, w), strides)]
    else:
        oh, ow = [(s - e + st) // st for s, e, st in zip((h, w), eff, strides)]
    y = activation(mb, "y", (n, oh, ow, out_channels), dtype, rng,
                   scale=_output_scale(rng, s_in, float(s_w_arr.max()), terms))
    common = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], fused_activation_function=act,
                  dilation_h_factor=dilations[0], dilation_w_factor=dilations[1])
    if depthwise:
        mb.op("DEPTHWISE_CONV_2D", inputs, [y], depth_multiplier=depth_multiplier, **common)
    else:
        mb.op("CONV_2D", inputs, [y], **common)
    return mb.build([x], [y])


def fully_connected(rng, dtype="uint8", in_shape=(2, 20), units=7, act="NONE", per_channel=False,
                    keep_num_dims=False, bias=True) -> bytes:
    mb = ModelBuilder()
    x = activation(mb, "x", in_shape, dtype, rng)
    s_in = _scale_of(mb, x)
    k = in_shape[-1]
    values, s_w, z_w = _filter(rng, (units, k), dtype, 0 if per_channel else None)
    wt = mb.tensor("w", (units, k), dtype, values, scale=s_w, zero_point=z_w, axis=0)
    inputs = [x, wt]
    s_w_arr = np.atleast_1d(np.asarray(s_w, np.float32))
    if bias:
        inputs.append(mb.tensor("b", (units,), "int32", rng.integers(-3000, 3000, units),
                                scale=(np.float32(s_in) * s_w_arr).astype(np.float32),
                                zero_point=np.zeros(s_w_arr.size, np.int64)))
    else:
        inputs.append(-1)
    rows = int(np.prod(in_shape)) // k
    out_shape = tuple(in_shape[:-1]) + (units,) if keep_num_dims else (rows, units)
    y = activation(mb, "y", out_shape, dtype, rng, scale=_output_scale(rng, s_in, float(s_w_arr.max()), k))
    mb.op("FULLY_CONNECTED", inputs, [y], fused_activation_function=act, keep_num_dims=keep_num_dims)
    return mb.build([x], [y])


def pool(rng, op="AVERAGE_POOL_2D", dtype="uint8", in_shape=(1, 9, 9, 4), kernel=(3, 3), strides=(2, 2),
         padding="SAME", act="NONE") -> bytes:
    mb = ModelBuilder()
    n, h, w, c = in_shape
    scale, zp = float(rng.uniform(0.01, 0.1)), zero_point(rng, dtype)
    x = activation(mb, "x", in_shape, dtype, rng, scale, zp)
    if padding == "SAME":
        oh, ow = [(s + st - 1) // st for s, st in zip((h, w), strides)]
    else:
        oh, ow = [(s - k + st) // st for s, k, st in zip((h, w), kernel, strides)]
    y = activation(mb, "y", (n, oh, ow, c), dtype, rng, scale, zp)
    mb.op(op, [x], [y], padding=padding, stride_h=strides[0], stride_w=strides[1], filter_height=kernel[0],
          filter_width=kernel[1], fused_activation_function=act)
    return mb.build([x], [y])


def binary(rng, op="ADD", dtype="uint8", a_shape=(1, 5, 5, 8), b_shape=(1, 5, 5, 8), act="NONE",
           const_b=False, same_scales=False) -> bytes:
    mb = ModelBuilder()
    a = activation(mb, "a", a_shape, dtype, rng)
    if const_b:
        lo, hi = LIMITS[dtype]
        b = mb.tensor("b", b_shape, dtype, rng.integers(lo, hi + 1, b_shape), scale=float(rng.uniform(0.01, 0.1)),
                      zero_point=zero_point(rng, dtype))
    elif same_scales:
        b = activation(mb, "b", b_shape, dtype, rng, _scale_of(mb, a), mb.tensors[a].quant.zero_point[0])
    else:
        b = activation(mb, "b", b_shape, dtype, rng)
    out_shape = tuple(np.broadcast_shapes(a_shape, b_shape))
    s_a, s_b = _scale_of(mb, a), _scale_of(mb, b)
    if op == "MUL":
        out_scale = s_a * s_b * 128 * rng.uniform(0.4, 1.0)
    elif op in ("MAXIMUM", "MINIMUM"):
        out_scale = s_a
    else:
        out_scale = max(s_a, s_b) * rng.uniform(1.2, 2.2)
    y = activation(mb, "y", out_shape, dtype, rng, scale=float(out_scale),
                   zp=mb.tensors[a].quant.zero_point[0] if op in ("MAXIMUM", "MINIMUM") else None)
    options = {} if op in ("MAXIMUM", "MINIMUM") else {"fused_activation_function": act}
    mb.op(op, [a, b], [y], **options)
    return mb.build([a] if const_b else [a, b], [y])


def unary(rng, op="LOGISTIC", dtype="uint8", shape=(1, 4, 4, 16), out_scale=None, out_zp=None, **options) -> bytes:
    mb = ModelBuilder()
    x = activation(mb, "x", shape, dtype, rng, scale=float(rng.uniform(0.02, 0.12)))
    if out_scale is None:
        out_scale = float(rng.uniform(0.01, 0.08))
    y = activation(mb, "y", shape, dtype, rng, scale=out_scale, zp=out_zp)
    mb.op(op, [x], [y], **options)
    return mb.build([x], [y])


def softmax(rng, dtype="uint8", shape=(2, 10), beta=1.0, in_scale=None) -> bytes:
    mb = ModelBuilder()
    x = activation(mb, "x", shape, dtype, rng, scale=float(rng.uniform(0.02, 0.3)) if in_scale is None else in_scale)
    y = mb.tensor("y", shape, dtype, scale=1.0 / 256, zero_point=0 if dtype == "uint8" else -128)
    mb.op("SOFTMAX", [x], [y], beta=beta)
    return mb.build([x], [y])


def concatenation(rng, dtype="uint8", shapes=((1, 4, 4, 3), (1, 4, 4, 5)), axis=3, same_params=False) -> bytes:
    mb = ModelBuilder()
    scale, zp = float(rng.uniform(0.01, 0.1)), zero_point(rng, dtype)
    inputs = [activation(mb, f"x{i}", s, dtype, rng, *((scale, zp) if same_params else (None, None)))
              for i, s in enumerate(shapes)]
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    y = activation(mb, "y", out_shape, dtype, rng, *((scale, zp) if same_params else (None, None)))
    mb.op("CONCATENATION", inputs, [y], axis=axis - len(out_shape) if axis == len(out_shape) - 1 else axis)
    return mb.build(inputs, [y])


def _same_params_op(rng, dtype, in_shape, out_shape, op, extra_inputs=(), **options) -> bytes:
    """A model of one data-movement operator (output quantized like the input)."""
    mb = ModelBuilder()
    scale, zp = float(rng.uniform(0.01, 0.1)), zero_point(rng, dtype)
    x = activation(mb, "x", in_shape, dtype, rng, scale, zp)
    consts = [mb.tensor(f"c{i}", np.asarray(v).shape, t, v) for i, (t, v) in enumerate(extra_inputs)]
    y = activation(mb, "y", out_shape, dtype, rng, scale, zp)
    mb.op(op, [x] + consts, [y], **options)
    return mb.build([x], [y])


def reshape(rng, dtype="uint8", in_shape=(1, 2, 3, 4), out_shape=(1, 24), op="RESHAPE") -> bytes:
    if op == "RESHAPE":
        return _same_params_op(rng, dtype, in_shape, out_shape, op, [("int32", np.asarray(out_shape, np.int32))],
                               new_shape=list(out_shape))
    if op == "EXPAND_DIMS":
        return _same_params_op(rng, dtype, in_shape, out_shape, op, [("int32", np.asarray([0], np.int32))])
    return _same_params_op(rng, dtype, in_shape, out_shape, op, squeeze_dims=[i for i, d in enumerate(in_shape) if d == 1])


def pad(rng, dtype="uint8", in_shape=(1, 3, 4, 2), paddings=((0, 0), (1, 2), (2, 0), (0, 1)), value=None) -> bytes:
    out_shape = [d + a + b for d, (a, b) in zip(in_shape, paddings)]
    extra = [("int32", np.asarray(paddings, np.int32))]
    if value is None:
        return _same_params_op(rng, dtype, in_shape, out_shape, "PAD", extra)
    mb = ModelBuilder()
    scale, zp = float(rng.uniform(0.01, 0.1)), zero_point(rng, dtype)
    x = activation(mb, "x", in_shape, dtype, rng, scale, zp)
    p = mb.tensor("paddings", (len(in_shape), 2), "int32", np.asarray(paddings, np.int32))
    v = mb.tensor("value", (), dtype, np.asarray(value), scale=scale, zero_point=zp)
    y = activation(mb, "y", out_shape, dtype, rng, scale, zp)
    mb.op("PADV2", [x, p, v], [y])
    return mb.build([x], [y])


def transpose(rng, dtype="int8", in_shape=(1, 3, 4, 5), perm=(0, 3, 1, 2)) -> bytes:
    out_shape = [in_shape[p] for p in perm]
    return _same_params_op(rng, dtype, in_shape, out_shape, "TRANSPOSE", [("int32", np.asarray(perm, np.int32))])


def strided_slice(rng, dtype="uint8", in_shape=(1, 6, 7, 5), begin=(0, 1, 0, 1), end=(1, 6, 7, 4),
                  strides=(1, 2, 3, 1), begin_mask=0, end_mask=0, shrink_axis_mask=0) -> bytes:
    probe = np.empty(in_shape)
    index = []
    for axis, dim in enumerate(in_shape):
        b = None if begin_mask >> axis & 1 else begin[axis]
        e = None if end_mask >> axis & 1 else end[axis]
        index.append(begin[axis] if shrink_axis_mask >> axis & 1 else slice(b, e, strides[axis]))
    out_shape = probe[tuple(index)].shape
    extra = [("int32", np.asarray(v, np.int32)) for v in (begin, end, strides)]
    return _same_params_op(rng, dtype, in_shape, out_shape, "STRIDED_SLICE", extra, begin_mask=begin_mask,
                           end_mask=end_mask, shrink_axis_mask=shrink_axis_mask)


def slice_(rng, dtype="int8", in_shape=(1, 5, 6, 4), begin=(0, 1, 2, 0), size=(1, 3, -1, 2)) -> bytes:
    out_shape = [d - b if s == -1 else s for d, b, s in zip(in_shape, begin, size)]
    extra = [("int32", np.asarray(begin, np.int32)), ("int32", np.asarray(size, np.int32))]
    return _same_params_op(rng, dtype, in_shape, out_shape, "SLICE", extra)


def block(rng, op="DEPTH_TO_SPACE", dtype="uint8", in_shape=(1, 3, 4, 8), block_size=2) -> bytes:
    n, h, w, c = in_shape
    b = block_size
    out_shape = (n, h * b, w * b, c // (b * b)) if op == "DEPTH_TO_SPACE" else (n, h // b, w // b, c * b * b)
    return _same_params_op(rng, dtype, in_shape, out_shape, op, block_size=block_size)


def resize(rng, op="RESIZE_NEAREST_NEIGHBOR", dtype="uint8", in_shape=(1, 4, 5, 3), size=(7, 9),
           align_corners=False, half_pixel_centers=False) -> bytes:
    n, _, _, c = in_shape
    return _same_params_op(rng, dtype, in_shape, (n, size[0], size[1], c), op, [("int32", np.asarray(size, np.int32))],
                           align_corners=align_corners, half_pixel_centers=half_pixel_centers)


def quantize_float(rng, dtype="int8", shape=(1, 6, 6, 3)) -> bytes:
    """float32 input -> QUANTIZE -> DEQUANTIZE -> float32 output."""
    mb = ModelBuilder()
    x = mb.tensor("x", shape, "float32")
    q = activation(mb, "q", shape, dtype, rng, scale=float(rng.uniform(0.01, 0.05)))
    y = mb.tensor("y", shape, "float32")
    mb.op("QUANTIZE", [x], [q])
    mb.op("DEQUANTIZE", [q], [y])
    return mb.build([x], [y])


def requantize(rng, src="int8", dst="uint8", shape=(1, 4, 4, 8), same_scale=False) -> bytes:
    mb = ModelBuilder()
    x = activation(mb, "x", shape, src, rng)
    scale = mb.tensors[x].quant.scale[0] if same_scale else None
    zp = (mb.tensors[x].quant.zero_point[0] + (128 if dst == "uint8" else -128) * (src != dst)) if same_scale else None
    y = activation(mb, "y", shape, dst, rng, scale=scale, zp=zp)
    mb.op("QUANTIZE", [x], [y])
    return mb.build([x], [y])


def mean(rng, dtype="int8", in_shape=(1, 5, 6, 8), axes=(1, 2), keep_dims=True, same_params=False) -> bytes:
    mb = ModelBuilder()
    x = activation(mb, "x", in_shape, dtype, rng)
    axis = mb.tensor("axes", (len(axes),), "int32", np.asarray(axes, np.int32))
    norm = [a % len(in_shape) for a in axes]
    out_shape = [1 if i in norm else d for i, d in enumerate(in_shape)] if keep_dims else \
        [d for i, d in enumerate(in_shape) if i not in norm]
    q = mb.tensors[x].quant
    y = activation(mb, "y", out_shape, dtype, rng, *((q.scale[0], q.zero_point[0]) if same_params else (None, None)))
    mb.op("MEAN", [x, axis], [y], keep_dims=keep_dims)
    return mb.build([x], [y])


def network(rng, dtype="int8") -> bytes:
    """A small MobileNet-like int8 network with float input and output:
    QUANTIZE → CONV(RELU6) → DEPTHWISE(RELU6) → CONV → ADD(residual) → MEAN → FC → SOFTMAX →
    DEQUANTIZE. Intermediate scales come from running the float-free integer chain on the
    shapes, chosen so no stage saturates."""
    mb = ModelBuilder()
    per_channel = dtype == "int8"
    shape = (1, 12, 12, 3)
    x = mb.tensor("image", shape, "float32")
    q = activation(mb, "image_q", shape, dtype, rng, scale=0.02)

    def conv_like(src, name, out_channels, kernel, act, depthwise=False):
        n, h, w, c = mb.tensors[src].shape
        s_in = _scale_of(mb, src)
        if depthwise:
            wshape, axis, terms = (1, kernel, kernel, c), 3, kernel * kernel
            out_channels = c
        else:
            wshape, axis, terms = (out_channels, kernel, kernel, c), 0, kernel * kernel * c
        values, s_w, z_w = _filter(rng, wshape, dtype, axis if per_channel else None)
        wt = mb.tensor(f"{name}/w", wshape, dtype, values, scale=s_w, zero_point=z_w, axis=axis)
        s_w_arr = np.atleast_1d(np.asarray(s_w, np.float32))
        b = mb.tensor(f"{name}/b", (out_channels,), "int32", rng.integers(-2000, 2000, out_channels),
                      scale=np.broadcast_to((np.float32(s_in) * s_w_arr).astype(np.float32),
                                            (out_channels,) if per_channel else (1,)),
                      zero_point=np.zeros(out_channels if per_channel else 1, np.int64))
        y = activation(mb, name, (n, h, w, out_channels), dtype, rng,
                       scale=_output_scale(rng, s_in, float(s_w_arr.max()), terms))
        options = dict(padding="SAME", stride_h=1, stride_w=1, fused_activation_function=act)
        if depthwise:
            mb.op("DEPTHWISE_CONV_2D", [src, wt, b], [y], depth_multiplier=1, **options)
        else:
            mb.op("CONV_2D", [src, wt, b], [y], **options)
        return y

    mb.op("QUANTIZE", [x], [q])
    c1 = conv_like(q, "expand", 8, 3, "RELU6")
    c2 = conv_like(c1, "depthwise", 8, 3, "RELU6", depthwise=True)
    c3 = conv_like(c2, "project", 8, 1, "NONE")
    s = activation(mb, "residual", (1, 12, 12, 8), dtype, rng,
                   scale=max(_scale_of(mb, c1), _scale_of(mb, c3)) * 1.5)
    mb.op("ADD", [c3, c1], [s], fused_activation_function="NONE")
    axes = mb.tensor("axes", (2,), "int32", np.asarray([1, 2], np.int32))
    m = activation(mb, "pooled", (1, 8), dtype, rng, scale=_scale_of(mb, s) / 3)
    mb.op("MEAN", [s, axes], [m], keep_dims=False)
    values, s_w, z_w = _filter(rng, (10, 8), dtype, None)
    fw = mb.tensor("logits/w", (10, 8), dtype, values, scale=s_w, zero_point=z_w)
    fb = mb.tensor("logits/b", (10,), "int32", rng.integers(-500, 500, 10), scale=np.float32(_scale_of(mb, m)) * np.float32(s_w))
    logits = activation(mb, "logits", (1, 10), dtype, rng, scale=_output_scale(rng, _scale_of(mb, m), s_w, 8))
    mb.op("FULLY_CONNECTED", [m, fw, fb], [logits], fused_activation_function="NONE")
    probs = mb.tensor("probs", (1, 10), dtype, scale=1 / 256, zero_point=0 if dtype == "uint8" else -128)
    mb.op("SOFTMAX", [logits], [probs], beta=1.0)
    out = mb.tensor("probabilities", (1, 10), "float32")
    mb.op("DEQUANTIZE", [probs], [out])
    return mb.build([x], [out])
