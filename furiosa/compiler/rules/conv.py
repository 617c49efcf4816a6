"""Conv: int8 convolution with int32 accumulation (QLinearConv semantics).

The kernel computes ``sum((x - zx) * (w - zw)) + bias`` exactly and requantizes with the
float32 multiplier ``(sx * sw) / sy`` (per output channel), as ``QLinearConv`` in the ONNX
reference. A following Relu / Clip is folded in as bounds on the stored result.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.errors import InvalidModelError
from furiosa.common.qmath import QParams, dequantize

from . import Match, activation_bounds, onnx_attrs, rule
from ..ir import Node


def explicit_pads(attrs: dict, in_hw: tuple[int, int], kernel: tuple[int, int],
                  strides: tuple[int, int], dilations: tuple[int, int]) -> list[int]:
    """ONNX pads ``[top, left, bottom, right]`` with ``auto_pad`` resolved."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        return list(attrs.get("pads", [0, 0, 0, 0]))
    if auto == "VALID":
        return [0, 0, 0, 0]
    head, tail = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        target = (size + s - 1) // s
        needed = max(0, (target - 1) * s + (k - 1) * d + 1 - size)
        first = (needed + 1) // 2 if auto == "SAME_LOWER" else needed // 2
        head.append(first)
        tail.append(needed - first)
    return head + tail


def check_window(m: Match, kernel: tuple[int, ...], strides, dilations, pads) -> None:
    """Refuse window attributes no valid model has, naming the node."""
    problems = []
    if any(s < 1 for s in strides):
        problems.append(f"strides {list(strides)} must be positive")
    if any(d < 1 for d in dilations):
        problems.append(f"dilations {list(dilations)} must be positive")
    if any(p < 0 for p in pads):
        problems.append(f"pads {list(pads)} must not be negative")
    if any(k < 1 for k in kernel):
        problems.append(f"kernel shape {list(kernel)} must be positive")
    if len(strides) != 2 or len(dilations) != 2 or len(pads) != 4:
        problems.append("a 2-D window needs 2 strides, 2 dilations and 4 pads")
    if problems:
        raise InvalidModelError(f"{m.node.describe()}: " + "; ".join(problems))


def int32_bias(m: Match, index: int, x_qp: QParams, w_qp: QParams, channels: int) -> str | None:
    """The bias as an int32 constant with scale ``sx * sw``; ``None`` when there is none.

    A bias already quantized with exactly that scale (QLinearConv, onnxruntime's QDQ) is used as
    it is; any other bias (float, or quantized differently) is rounded to it.
    """
    names = m.node.inputs
    if index >= len(names) or not names[index]:
        return None
    expected = (np.float32(x_qp.scale[0]) * np.asarray(w_qp.scale, dtype=np.float32)).astype(np.float32)
    expected = np.broadcast_to(expected, (channels,))
    quantized = m.inputs[index] if index < len(m.inputs) else None
    if quantized is not None:
        value = m.value(quantized)
        if not value.is_const:
            return None
        qp = value.qparams
        if qp is not None and qp.dtype == "int32" and all(z == 0 for z in qp.zero_point):
            scale = np.broadcast_to(np.asarray(qp.scale, dtype=np.float32), (channels,))
            if np.array_equal(scale, expected):
                return quantized
        real = dequantize(value.const, qp) if qp is not None else value.const
    else:
        real = m.raw(index)
        if real is None:
            return None
    real = np.broadcast_to(np.asarray(real, dtype=np.float64).reshape(-1), (channels,))
    ints = np.rint(real / expected.astype(np.float64))
    if np.abs(ints).max(initial=0) >= 2**31:
        return None
    qp = QParams.make(expected, np.zeros(channels, dtype=np.int64), "int32", 0)
    return m.graph.add_const(m.node.name + "_bias_i32", ints.astype(np.int32), qp)


def weight_ok(m: Match, name: str | None, channel_axis: int) -> bool:
    if name is None:
        return False
    value = m.value(name)
    qp = value.qparams
    return (value.is_const and qp is not None and qp.dtype in ("int8", "uint8")
            and (not qp.per_channel or qp.axis == channel_axis))


@rule("Conv", operands=(0, 1, 2), weights={1: 0}, bias=2, fuses_activation=True)
def build_conv(m: Match) -> Node | None:
    x, w = m.inputs[0], m.inputs[1]
    if x is None or not weight_ok(m, w, 0) or len(m.float_shape(0)) != 4:
        return None
    x_qp, y_qp = m.qp(x), m.qp(m.outputs[0])
    if x_qp.per_channel or y_qp.per_channel:
        return None
    attrs = onnx_attrs(m.node)
    weight = m.value(w)
    out_c, in_c_per_group, kh, kw = weight.shape
    group = int(attrs.get("group", 1))
    strides = tuple(attrs.get("strides", [1, 1]))
    dilations = tuple(attrs.get("dilations", [1, 1]))
    in_shape = m.float_shape(0)
    check_window(m, (kh, kw), strides, dilations, attrs.get("pads", [0, 0, 0, 0]))
    if group < 1 or in_shape[1] != in_c_per_group * group or out_c % group:
        raise InvalidModelError(
            f"{m.node.describe()}: group {group} does not fit {in_shape[1]} input and {out_c} output channels "
            f"with weights of shape {list(weight.shape)}"
        )
    pads = explicit_pads(attrs, in_shape[2:], (kh, kw), strides, dilations)
    bias = int32_bias(m, 2, x_qp, m.qp(w), out_c)
    if bias is None and len(m.node.inputs) > 2 and m.node.inputs[2]:
        return None
    depthwise = group > 1 and group == in_shape[1] and in_c_per_group == 1
    kernel_attrs = {
        "strides": list(strides), "pads": pads, "dilations": list(dilations), "group": group,
        "clamp": activation_bounds(m, y_qp), "onnx_op": "Conv",
    }
    inputs = [x, w] + ([bias] if bias else [])
    display = "LowLevelDepthwiseConv2d" if depthwise else "LowLevelConv2d"
    return m.kernel("conv", inputs, kernel_attrs, display)
