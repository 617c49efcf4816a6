"""TFLite data-movement kernels: values move as TFLite moves them (raw integers).

TFLite's RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE, PAD, slicing, depth/space rearrangements
and RESIZE_NEAREST_NEIGHBOR copy the 8-bit integers unchanged, whatever quantization the output
tensor declares (the converter gives them the input's). CONCATENATION also copies, except that
a uint8 input whose parameters differ from the output's is rescaled element by element in
float32 (TFLite's ConcatenationWithScaling)::

    s = float32(sx * float32(1 / sy));  b = float32(-zx * s)
    y = clamp(int(round(float32(float32(x * s) + b))) + zy, 0, 255)

with ``round`` half away from zero. All kernels work on the declared integers of both sides,
so uint8 and int8 tensors are moved exactly.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import QParams, apply_table, round_half_away

from . import KernelContext, Run, kernel, with_constants
from .tflite_common import declared, stored

_STORED = np.roll(np.arange(-128, 128, dtype=np.int16).astype(np.int8), -128)


def raw_copy(ctx: KernelContext, source: str, target: str):
    """Stored values of ``source`` re-expressed for ``target`` with the same declared integers."""
    qp_in, qp_out = ctx.qp(source), ctx.qp(target)
    if qp_in.offset == qp_out.offset:
        return lambda x: x
    shift = qp_out.offset - qp_in.offset
    return lambda x: (x.astype(np.int16) - shift).astype(np.int8)


def _unary(ctx: KernelContext, move) -> Run:
    fix = raw_copy(ctx, ctx.op.inputs[0], ctx.op.outputs[0])
    return lambda args: [fix(np.ascontiguousarray(move(args[0])))]


@kernel("tflite_reshape")
def prepare_reshape(ctx: KernelContext) -> Run:
    shape = tuple(ctx.spec(ctx.op.outputs[0]).shape)
    return _unary(ctx, lambda x: x.reshape(shape))


@kernel("tflite_transpose")
def prepare_transpose(ctx: KernelContext) -> Run:
    perm = tuple(ctx.attrs["perm"])
    return _unary(ctx, lambda x: np.transpose(x, perm))


@kernel("tflite_slice")
def prepare_slice(ctx: KernelContext) -> Run:
    index = tuple(slice(start, stop, step) for start, stop, step in ctx.attrs["data_slices"])
    shape = tuple(ctx.spec(ctx.op.outputs[0]).shape)
    return _unary(ctx, lambda x: x[index].reshape(shape))


@kernel("tflite_pad")
def prepare_pad(ctx: KernelContext) -> Run:
    width = tuple(tuple(p) for p in ctx.attrs["paddings"])
    qp_out = ctx.qp(ctx.op.outputs[0])
    fill = stored(np.asarray(int(ctx.attrs["value"])), qp_out)
    fix = raw_copy(ctx, ctx.op.inputs[0], ctx.op.outputs[0])
    return lambda args: [np.pad(fix(args[0]), width, constant_values=fill)]


@kernel("tflite_depth_to_space")
def prepare_depth_to_space(ctx: KernelContext) -> Run:
    b = int(ctx.attrs["block_size"])

    def move(x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        return x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c // (b * b))

    return _unary(ctx, move)


@kernel("tflite_space_to_depth")
def prepare_space_to_depth(ctx: KernelContext) -> Run:
    b = int(ctx.attrs["block_size"])

    def move(x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        return x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // b, w // b, c * b * b)

    return _unary(ctx, move)


def nearest_indexes(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """Source index of every output position (TFLite's GetNearestNeighbor, float32)."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    position = (np.arange(out_size, dtype=np.float32) + offset) * scale
    index = round_half_away(position) if align_corners else np.floor(position)
    index = np.minimum(index.astype(np.int64), in_size - 1)
    return np.maximum(index, 0) if half_pixel_centers else index


@kernel("tflite_resize_nearest")
def prepare_resize_nearest(ctx: KernelContext) -> Run:
    _, h, w, _ = ctx.spec(ctx.op.inputs[0]).shape
    _, oh, ow, _ = ctx.spec(ctx.op.outputs[0]).shape
    align, half = bool(ctx.attrs["align_corners"]), bool(ctx.attrs["half_pixel_centers"])
    rows = nearest_indexes(h, oh, align, half)
    cols = nearest_indexes(w, ow, align, half)
    return _unary(ctx, lambda x: x[:, rows][:, :, cols])


def scaling_table(qp_in: QParams, qp_out: QParams) -> np.ndarray:
    """ConcatenationWithScaling's element map as a 256-entry table of stored values."""
    inverse = np.float32(1) / np.float32(qp_out.scale[0])
    scale = np.float32(np.float32(qp_in.scale[0]) * inverse)
    bias = np.float32(np.float32(-qp_in.zero_point[0]) * scale)
    values = declared(_STORED, qp_in).astype(np.float32)
    real = ((values * scale).astype(np.float32) + bias).astype(np.float32)
    y = round_half_away(real).astype(np.int64) + qp_out.zero_point[0]
    return stored(np.clip(y, *qp_out.limits), qp_out)


@kernel("tflite_concat")
def prepare_concat(ctx: KernelContext) -> Run:
    axis = int(ctx.attrs["data_axis"])
    out = ctx.op.outputs[0]
    qp_out = ctx.qp(out)
    fixes = []
    for name in ctx.op.inputs:
        qp_in = ctx.qp(name)
        if qp_in.dtype == "uint8" and (qp_in.scale[0], qp_in.zero_point[0]) != (qp_out.scale[0], qp_out.zero_point[0]):
            lut = scaling_table(qp_in, qp_out)
            fixes.append(lambda x, lut=lut: apply_table(x, lut))
        else:
            fixes.append(raw_copy(ctx, name, out))

    def run(*parts):
        return [np.concatenate([fix(p) for fix, p in zip(fixes, parts)], axis=axis)]

    return with_constants(ctx, run)


def _extremum(ctx: KernelContext, pick) -> Run:
    qp_a, qp_b, qp_y = ctx.qp(ctx.op.inputs[0]), ctx.qp(ctx.op.inputs[1]), ctx.qp(ctx.op.outputs[0])
    return with_constants(ctx, lambda a, b: [stored(pick(declared(a, qp_a), declared(b, qp_b)), qp_y)])


@kernel("tflite_maximum")
def prepare_maximum(ctx: KernelContext) -> Run:
    return _extremum(ctx, np.maximum)


@kernel("tflite_minimum")
def prepare_minimum(ctx: KernelContext) -> Run:
    return _extremum(ctx, np.minimum)
