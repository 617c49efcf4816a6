"""``tflite_quantize``: TFLite's QUANTIZE of float32 data into uint8 / int8.

``q = clamp(int32(round(x / scale)) + zero_point)`` with the division in float32 and ``round``
half away from zero (TFLite's AffineQuantize), unlike ONNX's QuantizeLinear, which rounds half
to even. The float-to-int32 conversion behaves as LiteRT's on x86: NaN and values outside the
int32 range become INT32_MIN (the processor's "integer indefinite"), and the zero point is then
added with int32 wrap-around, so for example ``+inf`` quantizes to the type's minimum.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import round_half_away, wrap_int32

from . import KernelContext, Run, kernel
from .tflite_common import stored

INT32_MIN = -(2**31)


def to_int32(values: np.ndarray) -> np.ndarray:
    """C's ``static_cast<int32_t>`` of float values as x86 computes it (int64 result)."""
    values = np.asarray(values, dtype=np.float64)
    inside = (values >= -(2.0**31)) & (values < 2.0**31)  # False for NaN
    return np.where(inside, np.trunc(np.where(inside, values, 0.0)), INT32_MIN).astype(np.int64)


@kernel("tflite_quantize")
def prepare_quantize(ctx: KernelContext) -> Run:
    qp = ctx.qp(ctx.op.outputs[0])
    scale = np.float32(qp.scale[0])
    lo, hi = qp.limits

    def run(args):
        scaled = round_half_away((np.asarray(args[0], dtype=np.float32) / scale).astype(np.float32))
        q = wrap_int32(to_int32(scaled) + qp.zero_point[0])
        return [stored(np.clip(q, lo, hi), qp)]

    return run
