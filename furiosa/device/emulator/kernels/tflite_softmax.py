"""``tflite_softmax``: TFLite's quantized SOFTMAX (uint8 / int8, along the last axis).

TFLite evaluates it in float32 with a table of exponentials (PopulateSoftmaxLookupTable and
the quantized Softmax of its kernels)::

    table[255 - i] = exp(float32(-sx * beta) * i)                for i in 0..255
    e_j   = table[255 - max(x) + x_j]
    sum   = e_0 + e_1 + ...                                       float32, left to right
    p_j   = e_j * (1 / (sum * sy))                                float32
    uint8: y_j = clamp(int(p_j + 0.5));   int8: y_j = clamp(round(p_j) + zy)

``exp`` is correctly rounded to float32; ``round`` is half away from zero; ``int`` truncates.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import round_half_away

from . import KernelContext, Run, kernel
from .tflite_common import declared, stored
from .tflite_lut import expf


def exp_table(input_scale: float, beta: float) -> np.ndarray:
    scale = np.float32(-np.float32(input_scale) * np.float32(beta))
    values = np.arange(256, dtype=np.float32)
    table = np.empty(256, dtype=np.float32)
    table[255 - np.arange(256)] = expf((scale * values).astype(np.float32))
    return table


@kernel("tflite_softmax")
def prepare_softmax(ctx: KernelContext) -> Run:
    qp_in, qp_out = ctx.qp(ctx.op.inputs[0]), ctx.qp(ctx.op.outputs[0])
    table = exp_table(qp_in.scale[0], float(ctx.attrs.get("beta", 1.0)))
    out_scale = np.float32(qp_out.scale[0])
    zero = qp_out.zero_point[0]
    lo, hi = qp_out.limits
    unsigned = qp_out.dtype == "uint8"

    def run(args):
        x = declared(args[0], qp_in)
        index = 255 - x.max(axis=-1, keepdims=True) + x
        e = table[index]
        total = np.cumsum(e, axis=-1, dtype=np.float32)[..., -1:]
        inverse = np.float32(1) / (total * out_scale)
        p = (e * inverse).astype(np.float32)
        if unsigned:
            q = np.trunc(p + np.float32(0.5)).astype(np.int64)
        else:
            q = round_half_away(p).astype(np.int64) + zero
        return [stored(np.clip(q, lo, hi), qp_out)]

    return run
