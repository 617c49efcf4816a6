"""``tflite_conv2d`` and ``tflite_depthwise_conv2d``: TFLite's quantized convolutions, NHWC.

As TFLite's reference kernels define them (``reference_ops::Conv`` / ``DepthwiseConv`` for
uint8, ``reference_integer_ops::ConvPerChannel`` / ``DepthwiseConvPerChannel`` for int8)::

    acc = bias + sum((x - zx) * (w - zw))          exact int32, padding contributes nothing
    y   = clamp(MultiplyByQuantizedMultiplier(acc, q_c, shift_c) + zy, act_min, act_max)

with ``(q_c, shift_c) = QuantizeMultiplier(M_c)``. The real multiplier ``M_c`` is computed the
way TFLite computes it for the filter's type: uint8 filters (one scale) use
``double(float32(sx * sw)) / double(sy)`` (GetQuantizedConvolutionMultipler), int8 filters (per
channel) use ``double(sx) * double(sw_c) / double(sy)``. ``act_min``/``act_max`` come from the
fused activation (:func:`~furiosa.common.qmath.tflite_activation_range`).

Layouts are TFLite's: input (N, H, W, C), filter (O, KH, KW, I) for a convolution and
(1, KH, KW, C * M) for a depthwise one (output channel ``c * M + m`` reads input channel ``c``).
Accumulators are exact: products of stored values are summed with
:class:`~.exact.ExactMatmul` (float32 chunks proven exact) or in int64.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import QParams, quantize_multipliers

from . import KernelContext, Run, kernel
from .exact import ExactMatmul
from .tflite_common import declared, float32_product, output_bounds, requantize_output


def real_multipliers(qp_in: QParams, qp_w: QParams, qp_out: QParams, channels: int,
                     legacy: bool) -> np.ndarray:
    """The per-output-channel real multipliers as TFLite computes them.

    ``legacy``: one multiplier from the float32 product of the scales (TFLite's
    GetQuantizedConvolutionMultipler, used for uint8 convolutions and per-tensor fully
    connected layers); otherwise one per channel from double products.
    """
    if legacy:
        product = float32_product(qp_in.scale[0], qp_w.scale[0])
        values = [np.float64(product) / np.float64(qp_out.scale[0])] * channels
    else:
        scales = np.broadcast_to(np.asarray(qp_w.scale, dtype=np.float64), (channels,))
        values = [np.float64(qp_in.scale[0]) * s / np.float64(qp_out.scale[0]) for s in scales]
    return np.asarray(values, dtype=np.float64)


def filter_declared(ctx: KernelContext, name: str, channel_axis: int) -> np.ndarray:
    """``w - zw`` (declared domain, int64), zero points along ``channel_axis`` when per channel."""
    qp = ctx.qp(name)
    values = declared(ctx.const(name), qp)
    zero = np.asarray(qp.zero_point, dtype=np.int64)
    if zero.size > 1:
        shape = [1] * values.ndim
        shape[channel_axis] = zero.size
        zero = zero.reshape(shape)
    return values - zero


def bias_values(ctx: KernelContext, index: int, channels: int) -> np.ndarray:
    name = ctx.input(index)
    if not name:
        return np.zeros(channels, dtype=np.int64)
    return ctx.const(name).astype(np.int64).reshape(-1)


def input_zero(ctx: KernelContext, name: str) -> int:
    """The input's zero point in the stored domain (what padding must hold to add nothing)."""
    qp = ctx.qp(name)
    return qp.zero_point[0] - qp.offset


def _padded(x: np.ndarray, pads, fill, dtype) -> np.ndarray:
    pt, pl, pb, pr = pads
    x = x.astype(dtype)
    if pt or pl or pb or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    return x


def _patches(xp: np.ndarray, kernel_hw, strides, dilations, out_hw) -> np.ndarray:
    """A strided view (N, OH, OW, KH, KW, C) of a padded NHWC tensor."""
    n, _, _, c = xp.shape
    kh, kw = kernel_hw
    sh, sw = strides
    dh, dw = dilations
    oh, ow = out_hw
    s_n, s_h, s_w, s_c = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, shape=(n, oh, ow, kh, kw, c), strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=False,
    )


@kernel("tflite_conv2d")
def prepare_conv2d(ctx: KernelContext) -> Run:
    x_name, w_name = ctx.op.inputs[0], ctx.op.inputs[1]
    out_name = ctx.op.outputs[0]
    qp_x, qp_w, qp_y = ctx.qp(x_name), ctx.qp(w_name), ctx.qp(out_name)
    n, h, w, c = ctx.spec(x_name).shape
    _, oh, ow, o = ctx.spec(out_name).shape
    wprime = filter_declared(ctx, w_name, 0)
    _, kh, kw, cg = wprime.shape
    groups = c // cg
    og = o // groups
    zero = input_zero(ctx, x_name)
    bias = bias_values(ctx, 2, o)
    q, shift = quantize_multipliers(real_multipliers(qp_x, qp_w, qp_y, o, qp_w.dtype == "uint8"))
    bounds = output_bounds(ctx)
    strides, dilations, pads = ctx.attrs["strides"], ctx.attrs["dilations"], ctx.attrs["pads"]
    matmuls = []
    for g in range(groups):
        rows = wprime[g * og:(g + 1) * og].reshape(og, kh * kw * cg)
        matmuls.append(ExactMatmul(rows, bias[g * og:(g + 1) * og] - zero * rows.sum(axis=1)))

    def run(args):
        xp = _padded(args[0], pads, zero, np.float32)
        view = _patches(xp, (kh, kw), strides, dilations, (oh, ow))
        parts = []
        for g, matmul in enumerate(matmuls):
            columns = view[..., g * cg:(g + 1) * cg].reshape(n * oh * ow, kh * kw * cg)
            parts.append(matmul.right(columns))
        acc = parts[0] if groups == 1 else np.concatenate(parts, axis=1)
        acc = acc.astype(np.int64).reshape(n, oh, ow, o)
        return [requantize_output(acc, q, shift, qp_y.zero_point[0], bounds, qp_y)]

    return run


@kernel("tflite_depthwise_conv2d")
def prepare_depthwise_conv2d(ctx: KernelContext) -> Run:
    x_name, w_name = ctx.op.inputs[0], ctx.op.inputs[1]
    out_name = ctx.op.outputs[0]
    qp_x, qp_w, qp_y = ctx.qp(x_name), ctx.qp(w_name), ctx.qp(out_name)
    _, _, _, c = ctx.spec(x_name).shape
    n, oh, ow, o = ctx.spec(out_name).shape
    wprime = filter_declared(ctx, w_name, 3)[0]  # (KH, KW, C * M)
    kh, kw, _ = wprime.shape
    multiplier = o // c
    zero = input_zero(ctx, x_name)
    bias = bias_values(ctx, 2, o)
    q, shift = quantize_multipliers(real_multipliers(qp_x, qp_w, qp_y, o, qp_w.dtype == "uint8"))
    bounds = output_bounds(ctx)
    sh, sw = ctx.attrs["strides"]
    dh, dw = ctx.attrs["dilations"]
    pads = ctx.attrs["pads"]
    wide = int(np.abs(wprime).sum(axis=(0, 1)).max(initial=0)) * 255 + int(np.abs(bias).max(initial=0)) >= 2**31
    acc_type = np.int64 if wide else np.int32
    taps = [(i, j, wprime[i, j].astype(acc_type)) for i in range(kh) for j in range(kw)]

    def run(args):
        x = args[0].astype(acc_type) - acc_type(zero)
        if multiplier > 1:
            x = np.repeat(x, multiplier, axis=3)
        xp = _padded(x, pads, 0, acc_type)
        acc = np.broadcast_to(bias.astype(acc_type), (n, oh, ow, o)).copy()
        for i, j, tap in taps:
            view = xp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw, :]
            acc += view * tap
        return [requantize_output(acc.astype(np.int64), q, shift, qp_y.zero_point[0], bounds, qp_y)]

    return run
