"""Gemm and MatMul: int8 matrix products with int32 accumulation.

A product with constant weights becomes the ``gemm`` kernel: weights are stored as
``(out_features, in_features)`` with per-output-feature scales, accumulation is exact and
requantization uses the QLinearMatMul / QLinearConv multiplier. A product of two activations
becomes the ``matmul`` kernel (per-tensor parameters, numpy ``matmul`` broadcasting).
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import QParams

from . import Match, activation_bounds, onnx_attrs, rule
from .conv import int32_bias, weight_ok
from ..ir import Node


def _transposed_weight(m: Match, name: str) -> str:
    """The (K, N) weight ``name`` stored as (N, K) with its channel axis moved to 0."""
    value = m.value(name)
    qp = value.qparams
    assert qp is not None and value.const is not None
    moved = QParams(qp.scale, qp.zero_point, qp.dtype, 0 if qp.per_channel else None)
    return m.graph.add_const(name + "_nk", np.ascontiguousarray(value.const.T), moved)


def _gemm(m: Match, a: str, w_nk: str, bias_index: int | None) -> Node | None:
    a_qp, y_qp = m.qp(a), m.qp(m.outputs[0])
    if a_qp.per_channel or y_qp.per_channel:
        return None
    out_features = m.value(w_nk).shape[0]
    bias = None
    if bias_index is not None:
        bias = int32_bias(m, bias_index, a_qp, m.qp(w_nk), out_features)
        if bias is None and len(m.node.inputs) > bias_index and m.node.inputs[bias_index]:
            return None
    attrs = {"clamp": activation_bounds(m, y_qp), "onnx_op": m.node.onnx_type}
    return m.kernel("gemm", [a, w_nk] + ([bias] if bias else []), attrs, "LowLevelConv2d")


def _gemm_weight_axes(attrs: dict) -> dict[int, int]:
    return {1: 0 if attrs.get("transB", 0) else 1}


@rule("Gemm", operands=(0, 1, 2), bias=2, fuses_activation=True, weight_axis=_gemm_weight_axes)
def build_gemm(m: Match) -> Node | None:
    attrs = onnx_attrs(m.node)
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        return None
    a, w = m.inputs[0], m.inputs[1]
    trans_b = bool(attrs.get("transB", 0))
    if a is None or len(m.float_shape(0)) != 2 or not weight_ok(m, w, 0 if trans_b else 1):
        return None
    if len(m.node.inputs) > 2 and m.node.inputs[2]:
        bias = m.raw(2) if m.inputs[2] is None else m.value(m.inputs[2]).const
        if bias is None or np.asarray(bias).size != m.value(w).shape[0 if trans_b else 1]:
            return None
    w_nk = w if trans_b else _transposed_weight(m, w)
    return _gemm(m, a, w_nk, 2)


@rule("MatMul", operands=(0, 1), weights={1: 1}, fuses_activation=True)
def build_matmul(m: Match) -> Node | None:
    a, b = m.inputs[0], m.inputs[1]
    if a is None or b is None:
        return None
    b_value = m.value(b)
    if b_value.is_const and len(b_value.shape) == 2 and weight_ok(m, b, 1):
        return _gemm(m, a, _transposed_weight(m, b), None)
    if b_value.is_const:
        return None
    a_qp, b_qp, y_qp = m.qp(a), m.qp(b), m.qp(m.outputs[0])
    if a_qp.per_channel or b_qp.per_channel or y_qp.per_channel:
        return None
    attrs = {"clamp": activation_bounds(m, y_qp), "onnx_op": "MatMul"}
    return m.kernel("matmul", [a, b], attrs, "LowLevelMatMul")
