"""``tflite_avgpool`` and ``tflite_maxpool``: TFLite's quantized pooling, NHWC.

Windows only cover positions inside the input (padding is never counted). Average pooling sums
the declared values of a window and divides by the number of positions it covers, rounding to
nearest with ties away from zero as TFLite's reference kernels do:
``(sum + count / 2) / count`` for a non-negative sum, ``(sum - count / 2) / count`` for a
negative one (C integer division). Max pooling takes the largest value. Both then clamp to the
fused activation's bounds. The output keeps the input's quantization parameters, as in TFLite.
"""
from __future__ import annotations

import numpy as np

from . import KernelContext, Run, kernel
from .tflite_common import declared, output_bounds, stored


def _geometry(ctx: KernelContext):
    kh, kw = ctx.attrs["kernel"]
    sh, sw = ctx.attrs["strides"]
    pt, pl, pb, pr = ctx.attrs["pads"]
    _, oh, ow, _ = ctx.spec(ctx.op.outputs[0]).shape
    return kh, kw, sh, sw, pt, pl, pb, pr, oh, ow


def _windows(xp: np.ndarray, geometry):
    kh, kw, sh, sw, _, _, _, _, oh, ow = geometry
    for i in range(kh):
        for j in range(kw):
            yield xp[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :]


def _pad(x: np.ndarray, geometry, fill) -> np.ndarray:
    _, _, _, _, pt, pl, pb, pr, _, _ = geometry
    if pt or pl or pb or pr:
        return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    return x


def _div_round_away(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """C's ``(t +/- c / 2) / c`` with truncating division, for int64 arrays."""
    half = count // 2
    up = (total + half) // count
    down = -((-total + half) // count)
    return np.where(total >= 0, up, down)


@kernel("tflite_avgpool")
def prepare_avgpool(ctx: KernelContext) -> Run:
    name = ctx.op.inputs[0]
    qp = ctx.qp(name)
    qp_out = ctx.qp(ctx.op.outputs[0])
    geometry = _geometry(ctx)
    _, h, w, _ = ctx.spec(name).shape
    mask = _pad(np.ones((1, h, w, 1), dtype=np.int64), geometry, 0)
    counts = sum(view for view in _windows(mask, geometry))
    lo, hi = output_bounds(ctx)

    def run(args):
        x = _pad(declared(args[0], qp), geometry, 0)
        total = None
        for view in _windows(x, geometry):
            total = view.copy() if total is None else np.add(total, view, out=total)
        y = np.clip(_div_round_away(total, counts), lo, hi)
        return [stored(y, qp_out)]

    return run


@kernel("tflite_maxpool")
def prepare_maxpool(ctx: KernelContext) -> Run:
    name = ctx.op.inputs[0]
    qp = ctx.qp(name)
    qp_out = ctx.qp(ctx.op.outputs[0])
    geometry = _geometry(ctx)
    lo, hi = output_bounds(ctx)

    def run(args):
        x = _pad(declared(args[0], qp), geometry, np.iinfo(np.int64).min)
        result = None
        for view in _windows(x, geometry):
            result = view.copy() if result is None else np.maximum(result, view, out=result)
        return [stored(np.clip(result, lo, hi), qp_out)]

    return run
