"""``tflite_resize_bilinear``: TFLite's quantized RESIZE_BILINEAR (reference kernels), NHWC.

uint8 is interpolated in float32 (TFLite's ResizeBilinear template)::

    scale = float32(in / out)   (align_corners: (in - 1) / (out - 1))
    p = (o + 0.5) * scale - 0.5 (half_pixel_centers) or o * scale;  p0 = max(floor(p), 0);
    p1 = min(ceil(p), in - 1);  dy = p - p0 (and dx likewise)
    y = int(v00 * (1 - dy) * (1 - dx) + v10 * dy * (1 - dx) + v01 * (1 - dy) * dx + v11 * dy * dx + 0.5)

evaluated left to right in float32. int8 uses TFLite's integer version with 10 fractional bits:
``scale10 = (1024 * in + out // 2) // out``, ``p = o * scale10`` (half-pixel:
``+ scale10 // 2 - 512``), ``p0 = max(p / 1024, 0)``, ``p1 = min(ceil(p / 1024), in - 1)``, the
four weights are products of ``1024 - (p - 1024 p0)`` and ``p - 1024 p0`` terms, and the sum is
divided by ``2**20`` rounding half away from zero (C division). Values are the raw integers.
"""
from __future__ import annotations

import numpy as np

from . import KernelContext, Run, kernel
from .tflite_common import declared, stored


def _float_axis(in_size: int, out_size: int, align: bool, half: bool):
    if align and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    o = np.arange(out_size, dtype=np.float32)
    if half:
        p = ((o + np.float32(0.5)) * scale - np.float32(0.5)).astype(np.float32)
    else:
        p = (o * scale).astype(np.float32)
    lo = np.maximum(np.floor(p).astype(np.int64), 0)
    hi = np.minimum(np.ceil(p).astype(np.int64), in_size - 1)
    frac = (p - lo.astype(np.float32)).astype(np.float32)
    return lo, hi, frac


def _c_div(a: np.ndarray, b: int) -> np.ndarray:
    """C integer division (truncation toward zero) of int64 arrays."""
    q = np.abs(a) // abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


def _integer_axis(in_size: int, out_size: int, align: bool, half: bool):
    if align and out_size > 1:
        scale = (1024 * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = (1024 * in_size + out_size // 2) // out_size
    p = np.arange(out_size, dtype=np.int64) * scale
    if half:
        p = p + scale // 2 - 512
    lo = np.maximum(_c_div(p, 1024), 0)
    hi = np.minimum(_c_div(p + 1023, 1024), in_size - 1)
    return lo, hi, p - 1024 * lo


@kernel("tflite_resize_bilinear")
def prepare_resize_bilinear(ctx: KernelContext) -> Run:
    qp_in, qp_out = ctx.qp(ctx.op.inputs[0]), ctx.qp(ctx.op.outputs[0])
    _, h, w, _ = ctx.spec(ctx.op.inputs[0]).shape
    _, oh, ow, _ = ctx.spec(ctx.op.outputs[0]).shape
    align, half = bool(ctx.attrs["align_corners"]), bool(ctx.attrs["half_pixel_centers"])

    if qp_in.dtype == "uint8":
        y0, y1, dy = _float_axis(h, oh, align, half)
        x0, x1, dx = _float_axis(w, ow, align, half)
        one = np.float32(1)
        wy0, wy1 = (one - dy)[None, :, None, None], dy[None, :, None, None]
        wx0, wx1 = (one - dx)[None, None, :, None], dx[None, None, :, None]

        def run_float(args):
            v = declared(args[0], qp_in).astype(np.float32)
            v00, v10 = v[:, y0][:, :, x0], v[:, y1][:, :, x0]
            v01, v11 = v[:, y0][:, :, x1], v[:, y1][:, :, x1]
            total = (v00 * wy0 * wx0).astype(np.float32)
            total = (total + (v10 * wy1 * wx0).astype(np.float32)).astype(np.float32)
            total = (total + (v01 * wy0 * wx1).astype(np.float32)).astype(np.float32)
            total = (total + (v11 * wy1 * wx1).astype(np.float32)).astype(np.float32)
            total = (total + np.float32(0.5)).astype(np.float32)
            return [stored(np.clip(np.trunc(total).astype(np.int64), *qp_out.limits), qp_out)]

        return run_float

    y0, y1, ry = _integer_axis(h, oh, align, half)
    x0, x1, rx = _integer_axis(w, ow, align, half)
    ry = ry[None, :, None, None]
    rx = rx[None, None, :, None]

    def run_integer(args):
        v = declared(args[0], qp_in)
        total = (v[:, y0][:, :, x0] * (1024 - ry) * (1024 - rx) + v[:, y1][:, :, x0] * ry * (1024 - rx)
                 + v[:, y0][:, :, x1] * (1024 - ry) * rx + v[:, y1][:, :, x1] * ry * rx)
        rounded = _c_div(total + np.where(total > 0, 1 << 19, -(1 << 19)), 1 << 20)
        return [stored(np.clip(rounded, *qp_out.limits), qp_out)]

    return run_integer
