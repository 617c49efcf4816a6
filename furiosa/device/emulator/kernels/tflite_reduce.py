"""``tflite_mean``: TFLite's quantized MEAN (uint8 / int8), reference-kernel arithmetic.

The sum of the declared values over the reduced axes is rescaled with one fixed-point
multiplier that folds in ``1 / n`` (``n`` the number of reduced elements)::

    (q, shift) = QuantizeMultiplier(double(sx) / double(sy))
    s = min(floor(log2(n)), 32, 31 + shift)
    q' = (q * 2**s) // n;  shift' = shift - s
    y = clamp(MBQM(sum - zx * n, q', shift') + zy)

``MBQM`` is :func:`~furiosa.common.qmath.multiply_by_quantized_multiplier`.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import multiply_by_quantized_multiplier, quantize_multiplier

from . import KernelContext, Run, kernel
from .tflite_common import declared, stored


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """The fixed-point multiplier of a mean over ``count`` elements."""
    q, shift = quantize_multiplier(np.float64(np.float32(input_scale)) / np.float64(np.float32(output_scale)))
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return (q << s) // count, shift - s


@kernel("tflite_mean")
def prepare_mean(ctx: KernelContext) -> Run:
    qp_in, qp_out = ctx.qp(ctx.op.inputs[0]), ctx.qp(ctx.op.outputs[0])
    axes = tuple(int(a) for a in ctx.attrs["data_axes"])
    shape = ctx.spec(ctx.op.inputs[0]).shape
    count = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    q, shift = mean_multiplier(qp_in.scale[0], qp_out.scale[0], count)
    out_shape = tuple(ctx.spec(ctx.op.outputs[0]).shape)
    zero_in, zero_out = qp_in.zero_point[0], qp_out.zero_point[0]

    def run(args):
        total = declared(args[0], qp_in).sum(axis=axes)
        y = multiply_by_quantized_multiplier(total - zero_in * count, q, shift) + zero_out
        return [stored(np.clip(y, *qp_out.limits), qp_out).reshape(out_shape)]

    return run
