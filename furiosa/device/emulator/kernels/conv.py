"""``conv``: int8 2-D convolution, exact int32 accumulation, QLinearConv requantization.

With stored inputs ``s``, stored input zero point ``z`` and ``w' = w - zw`` (declared domain):
``acc = sum(s * w') - z * sum(w') + bias``, where padding holds ``z`` so that it contributes
nothing. The products are formed, by backend (:func:`.integer.backend`):

* ``native``: the weights times the patch matrix (built by the native loops) by onnxruntime's
  ``MatMulInteger`` (exact int32, already in the output's (channels, pixels) layout),
  requantized by the native loops; depthwise convolutions summed exactly in int32 and
  requantized by a native loop;
* ``integer``: onnxruntime's ``ConvInteger``;
* ``blas``: :class:`~.exact.ExactMatmul` (float32, exact by construction) or, for depthwise
  convolutions, shifted multiply-adds whose bound is checked.

Requantization is :func:`furiosa.common.qmath.requantize` with QLinearConv's multiplier (the
native loops compute the same expression).
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import multiplier, requantize

from . import KernelContext, Run, integer, kernel, native, parallel
from .exact import LIMIT, MAX_STORED, ExactMatmul
from .parallel import by_channel


def declared_weight(ctx: KernelContext, name: str) -> np.ndarray:
    """``w - zw`` in the declared domain, as int64."""
    qp = ctx.qp(name)
    stored = ctx.const(name).astype(np.int64)
    return stored + qp.offset - qp.zero_point_array(stored.ndim)


def weight_abs_sums(ctx: KernelContext, name: str) -> np.ndarray:
    """``sum(|w - zw|)`` per output channel (first axis), int64, without an int64 copy of the weights."""
    qp = ctx.qp(name)
    stored = ctx.const(name)
    zero = (qp.zero_point_array(stored.ndim) - qp.offset).astype(np.int16)
    return np.abs(stored.astype(np.int16) - zero).reshape(stored.shape[0], -1).sum(axis=1, dtype=np.int64)


def stored_zero_point(ctx: KernelContext, name: str) -> int:
    qp = ctx.qp(name)
    return qp.zero_point[0] - qp.offset


def bias_total(ctx: KernelContext, bias_index: int, weight_rows: np.ndarray, zero: int) -> np.ndarray:
    """Bias minus the input zero point's share, per output channel (exact int64)."""
    name = ctx.input(bias_index)
    bias = ctx.const(name).astype(np.int64).reshape(-1) if name else np.zeros(weight_rows.shape[0], np.int64)
    return bias - zero * weight_rows.sum(axis=1)


def finish(acc: np.ndarray, mult: np.ndarray, ctx: KernelContext) -> np.ndarray:
    """Requantize (per output channel along axis 1) and apply a fused activation's bounds."""
    qp = ctx.qp(ctx.op.outputs[0])
    clamp = ctx.attrs.get("clamp")
    per_channel = mult.ndim > 0 and mult.size > 1

    def part(acc_part: np.ndarray, channels: slice) -> np.ndarray:
        m = mult[:, channels] if per_channel and acc.ndim == 4 else (mult[channels] if per_channel else mult)
        y = requantize(acc_part, m, qp)
        if clamp is not None:
            np.clip(y, clamp[0], clamp[1], out=y)
        return y

    axis = 1 if acc.ndim == 4 else acc.ndim - 1
    return by_channel(part, acc, axis)


@kernel("conv")
def prepare_conv(ctx: KernelContext) -> Run:
    x_name, w_name = ctx.op.inputs[0], ctx.op.inputs[1]
    n, c, h, w = ctx.spec(x_name).shape
    _, o, oh, ow = ctx.spec(ctx.op.outputs[0]).shape
    _, cg, kh, kw = ctx.const(w_name).shape
    group = int(ctx.attrs.get("group", 1))
    sh, sw = ctx.attrs["strides"]
    dh, dw = ctx.attrs["dilations"]
    pt, pl, pb, pr = ctx.attrs["pads"]
    zero = stored_zero_point(ctx, x_name)
    mult = multiplier(ctx.qp(x_name).scale[0], ctx.qp(w_name).scale, ctx.qp(ctx.op.outputs[0]).scale[0])
    mult = mult.reshape(1, o, 1, 1) if mult.size > 1 else mult.reshape(())
    depthwise = group == c == o and cg == 1
    fast = _native_conv(ctx, mult, zero, depthwise)
    if fast is not None:
        return fast
    # The other backends work on the declared weights (int64: exact in every sum below).
    wprime = declared_weight(ctx, w_name)
    rows = wprime.reshape(o, -1)
    total = bias_total(ctx, 2, rows, zero)
    padded = (pt, pb, pl, pr) != (0, 0, 0, 0)

    def pad(x: np.ndarray) -> np.ndarray:
        xf = x.astype(np.float32)
        if padded:
            xf = np.pad(xf, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=np.float32(zero))
        return xf

    if depthwise:
        taps = [(i, j, wprime[:, 0, i, j].astype(np.float32).reshape(1, o, 1, 1)) for i in range(kh) for j in range(kw)]
        wide = np.abs(rows).sum(axis=1).max(initial=0) * MAX_STORED > LIMIT
        acc_dtype = np.float64 if wide else np.float32

        def run_depthwise(args):
            xp = pad(args[0]).astype(acc_dtype, copy=False)
            acc = np.zeros((n, o, oh, ow), dtype=acc_dtype)
            for i, j, tap in taps:
                view = xp[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]
                acc += view * tap
            return [finish(acc.astype(np.float64) + total.reshape(1, o, 1, 1), mult, ctx)]

        return run_depthwise

    weight_qp = ctx.qp(w_name)
    if integer.backend() != "blas" and len(set(weight_qp.zero_point)) == 1:
        exact_conv = integer.IntegerConv(
            integer.to_uint8(ctx.const(w_name)), weight_qp.zero_point[0] - weight_qp.offset + 128, zero + 128,
            (n, c, h, w), (sh, sw), (pt, pl, pb, pr), (dh, dw), group,
        )
        bias = bias_total(ctx, 2, np.zeros((o, 1), np.int64), 0).astype(np.int32).reshape(1, o, 1, 1)
        has_bias = bool(np.any(bias))

        def run_integer(args):
            acc = exact_conv(args[0])
            if has_bias:
                acc += bias  # |acc| <= 255 * 255 * K and |bias| < 2**31 - that bound: checked below
            return [finish(acc, mult, ctx)]

        bound = int(np.abs(rows).sum(axis=1).max(initial=0)) * 255 + int(np.abs(bias).max(initial=0))
        if bound < 2**31:
            return run_integer

    matmul = ExactMatmul(wprime.reshape(group, o // group, cg * kh * kw), total)
    pointwise = kh == kw == 1 and sh == sw == 1 and not padded

    def columns(xp: np.ndarray) -> np.ndarray:
        if pointwise:
            return xp.reshape(n, group, cg, h * w)
        sn, sc, sy, sx = xp.strides
        view = np.lib.stride_tricks.as_strided(
            xp, shape=(n, group, cg, kh, kw, oh, ow),
            strides=(sn, sc * cg, sc, sy * dh, sx * dw, sy * sh, sx * sw), writeable=False,
        )
        return view.reshape(n, group, cg * kh * kw, oh * ow)

    def run(args):
        acc = matmul(columns(pad(args[0])))
        return [finish(acc.reshape(n, o, oh, ow), mult, ctx)]

    return run


def native_requant(ctx: KernelContext, bias: np.ndarray, mult: np.ndarray, bound: int) -> native.Requant:
    """The native requantization of this operator's output (per-tensor output parameters);
    ``bound`` bounds ``|acc + bias|`` (see :class:`.native.Requant`)."""
    qp = ctx.qp(ctx.op.outputs[0])
    clamp = ctx.attrs.get("clamp")
    return native.Requant(bias, mult, qp.zero_point[0], qp.limits, qp.offset,
                          None if clamp is None else (int(clamp[0]), int(clamp[1])), bound, parallel.cores())


def _native_conv(ctx: KernelContext, mult: np.ndarray, zero: int, depthwise: bool) -> Run | None:
    """The ``native`` backend's convolution, or None where it does not apply."""
    if integer.backend() != "native" or ctx.qp(ctx.op.outputs[0]).per_channel:
        return None
    x_name, w_name = ctx.op.inputs[0], ctx.op.inputs[1]
    n, c, h, w = ctx.spec(x_name).shape
    _, o, oh, ow = ctx.spec(ctx.op.outputs[0]).shape
    _, cg, kh, kw = ctx.const(w_name).shape
    group = int(ctx.attrs.get("group", 1))
    sh, sw = ctx.attrs["strides"]
    pt, pl, pb, pr = ctx.attrs["pads"]
    bias = bias_total(ctx, 2, np.zeros((o, 1), np.int64), 0)
    bound = int(weight_abs_sums(ctx, w_name).max(initial=0)) * 255 + int(np.abs(bias).max(initial=0))
    if bound >= 2**31:
        return None
    requant = native_requant(ctx, bias.astype(np.int32), np.broadcast_to(mult.reshape(-1), (o,)), bound)
    pixels = oh * ow

    if depthwise:
        geometry = native.Geometry(c, h, w, kh, kw, (sh, sw), ctx.attrs["dilations"], (pt, pl), oh, ow)
        taps = np.ascontiguousarray(declared_weight(ctx, w_name).reshape(o, kh * kw), np.int32)
        work = o * pixels * kh * kw  # of one sample
        if native.vnni() and native.Depthwise8.fits(taps):
            sample = native.Depthwise8(taps, zero, requant)
        else:
            def sample(x, g, out, parts):
                native.depthwise(x, taps, g, zero, requant, 0, o, out, parts)

        def run_depthwise(args):
            x = args[0]
            out = np.empty((n, o, pixels), np.int8)
            parts = parallel.native_parts(work)
            for s in range(n):
                sample(x[s], geometry, out[s], parts)
            return [out.reshape(n, o, oh, ow)]

        return run_depthwise

    qp_w = ctx.qp(w_name)
    og = o // group
    stored_w = ctx.const(w_name).reshape(o, -1)
    geometry = native.Geometry(cg, h, w, kh, kw, (sh, sw), ctx.attrs["dilations"], (pt, pl), oh, ow)
    direct = kh == kw == 1 and sh == sw == 1 and (pt, pl, pb, pr) == (0, 0, 0, 0)
    blocks = [(g * og, (g + 1) * og) for g in range(group)]
    w_zeros = np.asarray(qp_w.zero_point, np.int64) - qp_w.offset
    if native.vnni() and native.Product.fits(stored_w, w_zeros):
        return _vnni_conv(stored_w, w_zeros, zero, requant, blocks, geometry, direct, n)
    if len(set(qp_w.zero_point)) != 1:
        return None  # onnxruntime takes one zero point for the constant operand
    w_zero = qp_w.zero_point[0] - qp_w.offset
    # One product per group, which onnxruntime splits over the cores when nothing else is running
    # (PlanarGemm); its requantization is cut over the native loops' own threads.
    requants = [requant.part(a, b) for a, b in blocks]
    # Weights times patches gives the (channels, pixels) layout of the output directly.
    gemms = [integer.PlanarGemm(stored_w[a:b], w_zero, zero) for a, b in blocks]
    signed = gemms[0].signed
    pad = (zero & 0xFF) ^ (0 if signed else 0x80)
    patch = cg * kh * kw

    def patches(x: np.ndarray) -> np.ndarray:
        """The patch matrix of every group of one sample: (group, cg * kh * kw, pixels)."""
        if direct and signed:
            return x.reshape(group, cg, pixels)
        if direct:
            return integer.to_uint8(x).reshape(group, cg, pixels)
        out = np.empty((group, patch, pixels), np.int8 if signed else np.uint8)
        parts = parallel.native_parts(patch * pixels)
        for g in range(group):
            native.im2col(x[g * cg:(g + 1) * cg], geometry, out[g], 0, cg, not signed, pad, parts)
        return out

    def run(args):
        x = args[0]
        out = np.empty((n, o, pixels), np.int8)
        threads = parallel.ways(pixels * o * patch)
        parts = parallel.native_parts(og * pixels)
        for s in range(n):
            cols = patches(x[s])
            for i, (a, b) in enumerate(blocks):
                requants[i].planes(gemms[i](cols[i], threads), out[s, a:b], parts)
        return [out.reshape(n, o, oh, ow)]

    return run


def _vnni_conv(stored_w: np.ndarray, w_zeros: np.ndarray, zero: int, requant: native.Requant,
               blocks: list[tuple[int, int]], geometry: native.Geometry, direct: bool, n: int) -> Run:
    """The convolution as :class:`.native.Product` (AVX-512 VNNI): the weights times the patch
    matrix of stored activations (the input planes themselves for a pointwise convolution),
    requantized as the products are summed."""
    w_zeros = np.broadcast_to(w_zeros, (stored_w.shape[0],))
    products = [native.Product(stored_w[a:b], w_zeros[a:b].reshape(-1, 1), zero, requant.part(a, b))
                for a, b in blocks]
    cg, pixels, patch = geometry.c, geometry.pixels, geometry.patch
    group, o = len(blocks), blocks[-1][1]
    work = o * pixels * patch // group // 16  # cut over the cores from about 2**19 multiply-adds

    def patches(x: np.ndarray, g: int) -> np.ndarray:
        if direct:
            return x[g * cg:(g + 1) * cg].reshape(cg, pixels)
        cols = np.empty((patch, pixels), np.int8)
        native.im2col(x[g * cg:(g + 1) * cg], geometry, cols, 0, cg, False, zero,
                      parallel.native_parts(patch * pixels))
        return cols

    def run(args):
        x = args[0]
        out = np.empty((n, o, pixels), np.int8)
        parts = parallel.native_parts(work)
        for s in range(n):
            for g, (a, b) in enumerate(blocks):
                products[g](patches(x[s], g), out[s, a:b], parts)
        return [out.reshape(n, o, geometry.oh, geometry.ow)]

    return run
