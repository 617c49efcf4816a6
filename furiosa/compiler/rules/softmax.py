"""Softmax: dequantize, the reference float32 softmax, quantize.

The output of a calibrated Softmax has the fixed range (0, 1) (spec/toolchain-api.md §3.7).
Before opset 13 Softmax flattens the input to two dimensions at ``axis``; the kernel does too.
"""
from __future__ import annotations

from . import Match, normalize_axis, onnx_attrs, rule
from ..ir import Node


@rule("Softmax", output="fixed", fixed_range=(0.0, 1.0))
def build_softmax(m: Match) -> Node | None:
    x = m.inputs[0]
    if x is None or m.value(x).is_const or m.qp(x).per_channel or m.qp(m.outputs[0]).per_channel:
        return None
    rank = len(m.float_shape(0))
    default = -1 if m.opset >= 13 else 1
    axis = normalize_axis(onnx_attrs(m.node).get("axis", default), rank)
    attrs = {"axis": axis, "coerce_2d": m.opset < 13, "onnx_op": "Softmax"}
    return m.kernel("softmax", [x], attrs, "LowLevelSoftmax")
