"""``tflite_fully_connected``: TFLite's quantized FULLY_CONNECTED.

``acc = bias + sum((x - zx) * (w - zw))`` over the last input axis (the input is read as
``(numel / K, K)`` rows, the filter is ``(units, K)``), then
``clamp(round(acc * q / 2**(31 - shift)) + zy, act_min, act_max)`` with a *single* rounding, ties
toward +infinity (:func:`~furiosa.common.qmath.multiply_by_quantized_multiplier_single_round`):
LiteRT computes fully connected layers with its GEMM backend, which requantizes this way, not
with the two-step rounding of its convolutions (measured against LiteRT's reference kernels).
A filter with one scale uses TFLite's single multiplier from the float32 product of the scales;
a per-channel filter uses one multiplier per unit from double products (see :mod:`.tflite_conv`).
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import multiply_by_quantized_multiplier_single_round, quantize_multipliers

from . import KernelContext, Run, kernel
from .exact import ExactMatmul
from .tflite_common import output_bounds, stored
from .tflite_conv import bias_values, filter_declared, input_zero, real_multipliers


@kernel("tflite_fully_connected")
def prepare_fully_connected(ctx: KernelContext) -> Run:
    x_name, w_name = ctx.op.inputs[0], ctx.op.inputs[1]
    out_name = ctx.op.outputs[0]
    qp_x, qp_w, qp_y = ctx.qp(x_name), ctx.qp(w_name), ctx.qp(out_name)
    wprime = filter_declared(ctx, w_name, 0)
    units, k = wprime.shape
    zero = input_zero(ctx, x_name)
    bias = bias_values(ctx, 2, units)
    q, shift = quantize_multipliers(real_multipliers(qp_x, qp_w, qp_y, units, not qp_w.per_channel))
    bounds = output_bounds(ctx)
    matmul = ExactMatmul(wprime, bias - zero * wprime.sum(axis=1))
    out_shape = ctx.spec(out_name).shape

    def run(args):
        rows = args[0].reshape(-1, k).astype(np.float32)
        acc = matmul.right(rows).astype(np.int64)
        y = multiply_by_quantized_multiplier_single_round(acc, q, shift) + qp_y.zero_point[0]
        return [stored(np.clip(y, bounds[0], bounds[1]), qp_y).reshape(out_shape)]

    return run
