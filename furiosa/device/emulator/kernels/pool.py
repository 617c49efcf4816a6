"""``maxpool`` and ``avgpool`` on stored int8 values.

Max pooling takes the largest stored value of each window (padding never wins) and
requantizes through a table when the output parameters differ. Average pooling sums
``stored - zero_point`` exactly over each window (padding contributes 0) and requantizes
``rint(sum * M + zy)`` with ``M = float32(float32(sx * float32(1 / count)) / sy)`` where
``count`` is the number of counted positions of that window: QLinearConv's arithmetic for a
depthwise kernel of ones with weight scale ``1 / count``.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import apply_table, multiplier, requantize, table

from . import KernelContext, Run, kernel
from .conv import stored_zero_point

_MIN = np.int8(-128)


def _geometry(ctx: KernelContext):
    kh, kw = ctx.attrs["kernel"]
    sh, sw = ctx.attrs["strides"]
    dh, dw = ctx.attrs["dilations"]
    pt, pl, pb, pr = ctx.attrs["pads"]
    eh, ew = ctx.attrs["ceil_extra"]
    _, _, oh, ow = ctx.spec(ctx.op.outputs[0]).shape
    return kh, kw, sh, sw, dh, dw, pt, pl, pb + eh, pr + ew, oh, ow


def _windows(xp: np.ndarray, geometry):
    kh, kw, sh, sw, dh, dw, _, _, _, _, oh, ow = geometry
    for i in range(kh):
        for j in range(kw):
            yield xp[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]


def _requant_table(ctx: KernelContext):
    qp_in, qp_out = ctx.qp(ctx.op.inputs[0]), ctx.qp(ctx.op.outputs[0])
    if qp_in.with_dtype("int8") == qp_out.with_dtype("int8"):
        return None
    return table(qp_in, qp_out)


@kernel("maxpool")
def prepare_maxpool(ctx: KernelContext) -> Run:
    geometry = _geometry(ctx)
    _, _, _, _, _, _, pt, pl, pb, pr, _, _ = geometry
    lut = _requant_table(ctx)

    def run(args):
        x = args[0]
        if pt or pl or pb or pr:
            x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=_MIN)
        result = None
        for view in _windows(x, geometry):
            result = view.copy() if result is None else np.maximum(result, view, out=result)
        return [result if lut is None else apply_table(result, lut)]

    return run


def _counts(ctx: KernelContext, geometry, in_hw: tuple[int, int]) -> np.ndarray:
    """Counted positions of every output window, shape (oh, ow)."""
    kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow = geometry
    eh, ew = ctx.attrs["ceil_extra"]
    h, w = in_hw
    include_pad = bool(ctx.attrs.get("count_include_pad"))
    mask = np.zeros((h + pt + pb, w + pl + pr), dtype=np.int64)
    if include_pad:
        mask[: h + pt + pb - eh, : w + pl + pr - ew] = 1
    else:
        mask[pt:pt + h, pl:pl + w] = 1
    counts = sum(view for view in _windows(mask[None, None], geometry))
    return np.asarray(counts).reshape(oh, ow)


@kernel("avgpool")
def prepare_avgpool(ctx: KernelContext) -> Run:
    name = ctx.op.inputs[0]
    geometry = _geometry(ctx)
    _, _, _, _, _, _, pt, pl, pb, pr, oh, ow = geometry
    _, _, h, w = ctx.spec(name).shape
    zero = stored_zero_point(ctx, name)
    counts = _counts(ctx, geometry, (h, w))
    weight_scale = (1.0 / counts.astype(np.float64)).astype(np.float32)
    mult = multiplier(ctx.qp(name).scale[0], weight_scale, ctx.qp(ctx.op.outputs[0]).scale[0])
    qp_out = ctx.qp(ctx.op.outputs[0])
    kh, kw = ctx.attrs["kernel"]
    dtype = np.float32 if kh * kw * 255 <= 2**24 else np.float64
    whole = (kh, kw) == (h, w) and (oh, ow) == (1, 1) and not (pt or pl or pb or pr)
    # stored values and the stored zero point lie in [-128, 127]: |sum - zero * h * w| <= 256 * h * w
    sum_type = np.int32 if h * w * 256 < 2**31 else np.int64

    def run(args):
        if whole:  # global pooling: one exact integer sum per channel, the zero point's share taken once
            stored = args[0]
            sums = np.add.reduce(stored.reshape(stored.shape[0], stored.shape[1], -1), axis=2, dtype=sum_type)
            sums = sums - zero * h * w
            return [requantize(sums.reshape(stored.shape[0], stored.shape[1], 1, 1), mult, qp_out)]
        x = args[0].astype(dtype) - dtype(zero)
        if pt or pl or pb or pr:
            x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        total = None
        for view in _windows(x, geometry):
            total = view.copy() if total is None else np.add(total, view, out=total)
        return [requantize(total, mult, qp_out)]

    return run
