"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: the operators with filters.

Padding follows TFLite: SAME gives ``ceil(in / stride)`` outputs and splits the padding with
the extra row / column at the end; VALID pads nothing. Output shapes are checked against the
file's.
"""
from __future__ import annotations

from furiosa.common.errors import InvalidModelError

from .. import schema
from ..model import OperatorInfo
from ..translate import Translator, operator


def padding(size: int, kernel: int, stride: int, dilation: int, mode: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) of one spatial axis, as TFLite computes them."""
    effective = (kernel - 1) * dilation + 1
    if mode == "SAME":
        out = (size + stride - 1) // stride
    else:
        out = (size - effective + stride) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return out, total // 2, total - total // 2


def window(t: Translator, op: OperatorInfo, in_hw, kernel_hw, out_shape) -> tuple[list[int], list[int], list[int]]:
    """Strides, dilations and pads [top, left, bottom, right] of a 2-D window operator."""
    options = op.options
    strides = [int(options.get("stride_h", 1)), int(options.get("stride_w", 1))]
    dilations = [int(options.get("dilation_h_factor", 1)), int(options.get("dilation_w_factor", 1))]
    if min(strides) < 1 or min(dilations) < 1 or min(kernel_hw) < 1:
        raise t.invalid(op, f"has strides {strides}, dilations {dilations} and window {list(kernel_hw)}; "
                            "all must be positive")
    mode = schema.PADDINGS.get(int(options.get("padding", 0)))
    if mode is None:
        raise t.invalid(op, f"has an unknown padding {options.get('padding')}")
    geometry = [padding(s, k, st, d, mode) for s, k, st, d in zip(in_hw, kernel_hw, strides, dilations)]
    expected = tuple(g[0] for g in geometry)
    if tuple(out_shape[1:3]) != expected:
        raise t.invalid(op, f"declares an output of spatial size {list(out_shape[1:3])}, its {mode} window "
                            f"gives {list(expected)}")
    pads = [geometry[0][1], geometry[1][1], geometry[0][2], geometry[1][2]]
    return strides, dilations, pads


def _check_rank(t: Translator, op: OperatorInfo, name: str, rank: int, what: str) -> tuple[int, ...]:
    shape = t.shape(name)
    if len(shape) != rank:
        raise t.unsupported(op, f"has a {what} of shape {list(shape)}; rank {rank} is supported")
    return shape


def _filter_type(t: Translator, op: OperatorInfo, x: str, w: str) -> None:
    x_qp, w_qp = t.qp(x), t.qp(w)
    if x_qp.dtype != w_qp.dtype:
        raise t.unsupported(op, f"combines {x_qp.dtype} activations with {w_qp.dtype} filters; both must have "
                                "the same type (hybrid models are not supported)")
    if x_qp.dtype == "uint8" and w_qp.per_channel:
        raise t.unsupported(op, "has a uint8 filter quantized per channel; TFLite quantizes uint8 filters per tensor")


@operator("CONV_2D")
def conv2d(t: Translator, op: OperatorInfo) -> None:
    x, w, bias = t.data(op, 0), t.weights(op, 1), t.bias(op, 2)
    y = t.output(op)
    _filter_type(t, op, x, w)
    n, h, wd, c = _check_rank(t, op, x, 4, "input")
    o, kh, kw, cg = _check_rank(t, op, w, 4, "filter")
    out = _check_rank(t, op, y, 4, "output")
    if cg < 1 or c % cg or o % (c // cg) or out[3] != o:
        raise t.invalid(op, f"has a filter of shape {[o, kh, kw, cg]} that does not fit {c} input and {out[3]} "
                            "output channels")
    if t.qp(w).per_channel and t.qp(w).axis != 0:
        raise t.invalid(op, f"quantizes its filter along axis {t.qp(w).axis}; TFLite uses axis 0")
    strides, dilations, pads = window(t, op, (h, wd), (kh, kw), out)
    t.expect_shape(op, y, (n, out[1], out[2], o))
    attrs = {"strides": strides, "dilations": dilations, "pads": pads, "activation": t.activation(op),
             "group": c // cg, "onnx_op": "Conv"}
    t.add(op, "tflite_conv2d", [x, w, bias], [y], attrs, "LowLevelConv2d")


@operator("DEPTHWISE_CONV_2D")
def depthwise_conv2d(t: Translator, op: OperatorInfo) -> None:
    x, w, bias = t.data(op, 0), t.weights(op, 1), t.bias(op, 2)
    y = t.output(op)
    _filter_type(t, op, x, w)
    n, h, wd, c = _check_rank(t, op, x, 4, "input")
    one, kh, kw, o = _check_rank(t, op, w, 4, "filter")
    out = _check_rank(t, op, y, 4, "output")
    if one != 1 or o % c or out[3] != o:
        raise t.invalid(op, f"has a filter of shape {[one, kh, kw, o]} that does not fit {c} input and {out[3]} "
                            "output channels")
    if t.qp(w).per_channel and t.qp(w).axis != 3:
        raise t.invalid(op, f"quantizes its filter along axis {t.qp(w).axis}; TFLite uses axis 3")
    strides, dilations, pads = window(t, op, (h, wd), (kh, kw), out)
    t.expect_shape(op, y, (n, out[1], out[2], o))
    attrs = {"strides": strides, "dilations": dilations, "pads": pads, "activation": t.activation(op),
             "depth_multiplier": o // c, "group": c, "onnx_op": "Conv"}
    t.add(op, "tflite_depthwise_conv2d", [x, w, bias], [y], attrs, "LowLevelDepthwiseConv2d")


@operator("FULLY_CONNECTED")
def fully_connected(t: Translator, op: OperatorInfo) -> None:
    if int(op.options.get("weights_format", 0)) != 0:
        raise t.unsupported(op, "stores its weights shuffled (SHUFFLED4x16INT8); the DEFAULT format is supported")
    x, w, bias = t.data(op, 0), t.weights(op, 1), t.bias(op, 2)
    y = t.output(op)
    _filter_type(t, op, x, w)
    units, k = _check_rank(t, op, w, 2, "filter")
    size = 1
    for d in t.shape(x):
        size *= d
    out_size = 1
    for d in t.shape(y):
        out_size *= d
    if k == 0 or size % k or out_size != size // k * units:
        raise InvalidModelError(f"{t.origin}: {op.describe()} reads {list(t.shape(x))} with a filter "
                                f"{[units, k]} but declares an output of shape {list(t.shape(y))}")
    attrs = {"activation": t.activation(op), "onnx_op": "Gemm"}
    t.add(op, "tflite_fully_connected", [x, w, bias], [y], attrs, "LowLevelConv2d")
