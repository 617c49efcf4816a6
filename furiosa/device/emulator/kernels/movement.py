"""Data-movement kernels: values move unchanged, then (when the parameters of an input and the
output differ) pass through the exact requantization table ``quantize_out(dequantize_in(v))``.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import apply_table, quantize, table

from . import KernelContext, Run, kernel, with_constants


def requant(ctx: KernelContext, source: str, target: str):
    """A function mapping stored values of ``source`` to stored values of ``target``."""
    qp_in, qp_out = ctx.program.tensors[source].qparams, ctx.program.tensors[target].qparams
    if qp_in is None or qp_out is None or qp_in.with_dtype("int8") == qp_out.with_dtype("int8"):
        return lambda x: x
    lut = table(qp_in, qp_out)
    return lambda x: apply_table(x, lut)


def _unary(ctx: KernelContext, move) -> Run:
    fix = requant(ctx, ctx.op.inputs[0], ctx.op.outputs[0])
    return lambda args: [fix(np.ascontiguousarray(move(args[0])))]


@kernel("transpose")
def prepare_transpose(ctx: KernelContext) -> Run:
    perm = tuple(ctx.attrs["perm"])
    return _unary(ctx, lambda x: np.transpose(x, perm))


@kernel("reshape")
def prepare_reshape(ctx: KernelContext) -> Run:
    shape = tuple(ctx.attrs["shape"])
    return _unary(ctx, lambda x: x.reshape(shape))


@kernel("expand")
def prepare_expand(ctx: KernelContext) -> Run:
    shape = tuple(ctx.attrs["shape"])
    return _unary(ctx, lambda x: np.broadcast_to(x, shape))


@kernel("slice")
def prepare_slice(ctx: KernelContext) -> Run:
    index = tuple(slice(start, stop, step) for start, stop, step in ctx.attrs["slices"])
    return _unary(ctx, lambda x: x[index])


@kernel("pad")
def prepare_pad(ctx: KernelContext) -> Run:
    pads = list(ctx.attrs["pads"])
    rank = len(pads) // 2
    width = tuple((pads[i], pads[rank + i]) for i in range(rank))
    qp_out = ctx.qp(ctx.op.outputs[0])
    fill = quantize(np.asarray([ctx.attrs["value"]], dtype=np.float32), qp_out)[0]
    fix = requant(ctx, ctx.op.inputs[0], ctx.op.outputs[0])
    return lambda args: [np.pad(fix(args[0]), width, constant_values=fill)]


@kernel("depth_to_space")
def prepare_depth_to_space(ctx: KernelContext) -> Run:
    b = int(ctx.attrs["blocksize"])
    mode = ctx.attrs.get("mode", "DCR")

    def move(x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        if mode == "DCR":
            y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
        return y.reshape(n, c // (b * b), h * b, w * b)

    return _unary(ctx, move)


@kernel("space_to_depth")
def prepare_space_to_depth(ctx: KernelContext) -> Run:
    b = int(ctx.attrs["blocksize"])

    def move(x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
        return y.reshape(n, c * b * b, h // b, w // b)

    return _unary(ctx, move)


@kernel("concat")
def prepare_concat(ctx: KernelContext) -> Run:
    axis = int(ctx.attrs["axis"])
    out = ctx.op.outputs[0]
    fixes = [requant(ctx, name, out) for name in ctx.op.inputs]

    def run(*parts):
        return [np.concatenate([fix(p) for fix, p in zip(fixes, parts)], axis=axis)]

    return with_constants(ctx, run)


@kernel("split")
def prepare_split(ctx: KernelContext) -> Run:
    axis = int(ctx.attrs["axis"])
    edges = np.cumsum(ctx.attrs["sizes"])[:-1]
    fixes = [requant(ctx, ctx.op.inputs[0], out) for out in ctx.op.outputs]
    return lambda args: [fix(np.ascontiguousarray(part))
                         for fix, part in zip(fixes, np.split(args[0], edges, axis=axis))]
