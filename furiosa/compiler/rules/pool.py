"""Pooling: MaxPool on int8 values; AveragePool as an exact window sum.

``maxpool`` takes the largest stored value of each window (dequantization is monotone, so this
is the float maximum) and requantizes it through a table when the output parameters differ.
``avgpool`` sums each window exactly and requantizes like a depthwise QLinearConv whose weights
are all one with scale ``1 / count``: ``rint(sum * float32(float32(sx / count) / sy) + zy)``,
where ``count`` is the number of window positions counted (padding included or not, per
``count_include_pad``).
"""
from __future__ import annotations

from furiosa.common.errors import UnsupportedModelError

from . import Match, onnx_attrs, rule
from .conv import check_window, explicit_pads
from ..ir import Node


def window(m: Match, attrs: dict, global_pool: bool) -> dict | None:
    in_shape = m.float_shape(0)
    out_shape = m.out_shape(0)
    if len(in_shape) != 4:
        return None
    if global_pool:
        return {"kernel": list(in_shape[2:]), "strides": [1, 1], "dilations": [1, 1],
                "pads": [0, 0, 0, 0], "ceil_extra": [0, 0]}
    kernel = tuple(attrs["kernel_shape"])
    strides = tuple(attrs.get("strides", [1, 1]))
    dilations = tuple(attrs.get("dilations", [1, 1]))
    check_window(m, kernel, strides, dilations, attrs.get("pads", [0, 0, 0, 0]))
    pads = explicit_pads(attrs, in_shape[2:], kernel, strides, dilations)
    extra = []
    for axis in range(2):
        needed = (out_shape[2 + axis] - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1
        have = in_shape[2 + axis] + pads[axis] + pads[axis + 2]
        extra.append(max(0, needed - have))
        last_start = (out_shape[2 + axis] - 1) * strides[axis]
        if last_start >= in_shape[2 + axis] + pads[axis]:
            # ONNX shape inference keeps such a window, onnxruntime and the reference drop it:
            # refuse rather than give a shape that depends on who you ask.
            raise UnsupportedModelError(
                f"{m.node.describe()}: with ceil_mode=1 its last window along axis {2 + axis} starts after the end "
                "of the padded input; ONNX runtimes disagree on such windows (set ceil_mode=0 or adjust the pads)"
            )
    return {"kernel": list(kernel), "strides": list(strides), "dilations": list(dilations),
            "pads": pads, "ceil_extra": extra}


def _pool(m: Match, kind: str, global_pool: bool) -> Node | None:
    x = m.inputs[0]
    if x is None or m.value(x).is_const or len(m.outputs) != 1:
        return None
    if m.qp(x).per_channel or m.qp(m.outputs[0]).per_channel:
        return None
    attrs = onnx_attrs(m.node)
    geometry = window(m, attrs, global_pool)
    if geometry is None:
        return None
    op_type = m.node.onnx_type
    geometry["onnx_op"] = op_type
    if kind == "avgpool":
        geometry["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        return m.kernel("avgpool", [x], geometry, "LowLevelAvgPool")
    return m.kernel("maxpool", [x], geometry, "LowLevelMaxPool")


@rule("MaxPool", output="input")
def build_maxpool(m: Match) -> Node | None:
    if len(m.node.outputs) > 1 and m.node.outputs[1]:
        return None
    return _pool(m, "maxpool", False)


@rule("GlobalMaxPool", output="input")
def build_global_maxpool(m: Match) -> Node | None:
    return _pool(m, "maxpool", True)


@rule("AveragePool")
def build_avgpool(m: Match) -> Node | None:
    return _pool(m, "avgpool", False)


@rule("GlobalAveragePool")
def build_global_avgpool(m: Match) -> Node | None:
    return _pool(m, "avgpool", True)
