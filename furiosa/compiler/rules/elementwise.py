"""Element-wise operators: exact lookup tables over int8 values.

A unary operator becomes the ``lut`` kernel and a binary one the ``binary`` kernel; both apply
``quantize(f(dequantize(...)))`` with the float32 functions of :mod:`furiosa.common.functions`,
through a 256-entry (unary) or 65,536-entry (binary) table built when the program is loaded.
A DequantizeLinear feeding a QuantizeLinear directly (a change of parameters) is the ``lut``
kernel with the identity function.
"""
from __future__ import annotations

from typing import Any

from furiosa.common.functions import ONNX_BINARY, ONNX_UNARY

from . import Match, activation_range, onnx_attrs, rule
from ..ir import Node


def unary_params(m: Match, fn: str) -> dict[str, Any] | None:
    attrs = onnx_attrs(m.node)
    if fn == "clip":
        bounds = activation_range(m.graph, m.node)
        if bounds is None:
            return None
        return {"min": bounds[0], "max": bounds[1]}
    return {k: float(v) for k, v in attrs.items() if isinstance(v, (int, float))}


def activation_fn(m: Match) -> dict[str, Any] | None:
    """The fused activation of a binary operator, as a unary function description."""
    if m.activation is None:
        return None
    bounds = activation_range(m.graph, m.activation)
    if bounds is None:
        return None
    if m.activation.onnx_type == "Relu":
        return {"fn": "relu", "params": {}}
    return {"fn": "clip", "params": {"min": bounds[0], "max": bounds[1]}}


def _unary_rule(op_type: str, fn: str, **kwargs: Any) -> None:
    def build(m: Match) -> Node | None:
        x = m.inputs[0]
        if x is None or m.value(x).is_const:
            return None
        if m.qp(x).per_channel or m.qp(m.outputs[0]).per_channel:
            return None
        params = unary_params(m, fn)
        if params is None:
            return None
        attrs = {"fn": fn, "params": params, "onnx_op": op_type}
        return m.kernel("lut", [x], attrs, f"LowLevel{op_type}")

    rule(op_type, **kwargs)(build)


def _binary_rule(op_type: str, fn: str, **kwargs: Any) -> None:
    def build(m: Match) -> Node | None:
        a, b = m.inputs[0], m.inputs[1]
        if a is None or b is None:
            return None
        if any(m.qp(v).per_channel for v in (a, b, m.outputs[0])):
            return None
        if m.value(a).is_const and m.value(b).is_const:
            return None
        if m.activation is not None and activation_fn(m) is None:
            return None
        attrs = {"fn": fn, "activation": activation_fn(m), "onnx_op": op_type}
        return m.kernel("binary", [a, b], attrs, f"LowLevel{op_type}")

    rule(op_type, operands=(0, 1), **kwargs)(build)


# How each operator's output is quantized in a calibrated model (spec/toolchain-api.md §3.7):
# Sigmoid has the fixed range (0, 1); Identity keeps its input's parameters.
_OUTPUT_POLICY: dict[str, dict[str, Any]] = {
    "Sigmoid": {"output": "fixed", "fixed_range": (0.0, 1.0)},
    "Identity": {"output": "input"},
}

for _op, _fn in ONNX_UNARY.items():
    _unary_rule(_op, _fn, **_OUTPUT_POLICY.get(_op, {}))

for _op, _fn in ONNX_BINARY.items():
    _binary_rule(_op, _fn, fuses_activation=(_op == "Add"))
