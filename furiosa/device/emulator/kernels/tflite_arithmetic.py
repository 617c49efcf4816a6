"""``tflite_add``, ``tflite_sub`` and ``tflite_mul``: TFLite's quantized element-wise arithmetic.

ADD / SUB (uint8 and int8, reference kernels): both inputs are brought to a common scale with
20 bits of headroom, added (or subtracted), and rescaled to the output::

    m = 2 * max(s1, s2)                                     float32
    M1 = s1 / m, M2 = s2 / m, Mo = m / (2**20 * so)         double, then QuantizeMultiplier
    a = MBQM((x1 - z1) * 2**20, M1);  b = MBQM((x2 - z2) * 2**20, M2)
    y = clamp(MBQM(a ± b, Mo) + zo, act_min, act_max)

MUL: ``y = clamp(MBQM((x1 - z1) * (x2 - z2), M) + zo, act_min, act_max)`` with
``M = double(float32(s1 * s2)) / double(so)``. ``MBQM`` is
:func:`~furiosa.common.qmath.multiply_by_quantized_multiplier`. Shapes broadcast as numpy does.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import multiply_by_quantized_multiplier, quantize_multiplier

from . import KernelContext, Run, kernel, with_constants
from .tflite_common import declared, float32_product, output_bounds, stored

LEFT_SHIFT = 20


def _operands(ctx: KernelContext):
    a, b = ctx.op.inputs[0], ctx.op.inputs[1]
    return ctx.qp(a), ctx.qp(b), ctx.qp(ctx.op.outputs[0])


def _add_or_sub(ctx: KernelContext, sign: int) -> Run:
    qp_a, qp_b, qp_y = _operands(ctx)
    s_a, s_b, s_y = (np.float32(qp.scale[0]) for qp in (qp_a, qp_b, qp_y))
    twice_max = np.float32(2) * max(s_a, s_b)
    q_a, sh_a = quantize_multiplier(np.float64(s_a) / np.float64(twice_max))
    q_b, sh_b = quantize_multiplier(np.float64(s_b) / np.float64(twice_max))
    q_y, sh_y = quantize_multiplier(np.float64(twice_max) / np.float64(np.float32(1 << LEFT_SHIFT) * s_y))
    z_a, z_b, z_y = qp_a.zero_point[0], qp_b.zero_point[0], qp_y.zero_point[0]
    lo, hi = output_bounds(ctx)

    def run(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        va = multiply_by_quantized_multiplier((declared(a, qp_a) - z_a) << LEFT_SHIFT, q_a, sh_a)
        vb = multiply_by_quantized_multiplier((declared(b, qp_b) - z_b) << LEFT_SHIFT, q_b, sh_b)
        y = multiply_by_quantized_multiplier(va + sign * vb, q_y, sh_y) + z_y
        return [stored(np.clip(y, lo, hi), qp_y)]

    return with_constants(ctx, run)


@kernel("tflite_add")
def prepare_add(ctx: KernelContext) -> Run:
    return _add_or_sub(ctx, 1)


@kernel("tflite_sub")
def prepare_sub(ctx: KernelContext) -> Run:
    return _add_or_sub(ctx, -1)


@kernel("tflite_mul")
def prepare_mul(ctx: KernelContext) -> Run:
    qp_a, qp_b, qp_y = _operands(ctx)
    real = np.float64(float32_product(qp_a.scale[0], qp_b.scale[0])) / np.float64(np.float32(qp_y.scale[0]))
    q, shift = quantize_multiplier(real)
    z_a, z_b, z_y = qp_a.zero_point[0], qp_b.zero_point[0], qp_y.zero_point[0]
    lo, hi = output_bounds(ctx)

    def run(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        product = (declared(a, qp_a) - z_a) * (declared(b, qp_b) - z_b)
        y = multiply_by_quantized_multiplier(product, q, shift) + z_y
        return [stored(np.clip(y, lo, hi), qp_y)]

    return with_constants(ctx, run)
