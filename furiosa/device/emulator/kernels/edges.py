"""Kernels at the edges of the NPU: Quantize, Dequantize, Lower / Unlower and their helpers.

``layout`` operators (Lower, Unlower, Pad before Lower, Slice after Unlower) convert between
the logical layout and the NPU's; the emulated NPU computes on the logical layout, so they only
apply a permutation (``permute_input``'s Lower) and otherwise pass data through. Their cost is
the timing model's business.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import dequantize, quantize

from . import KernelContext, Run, integer, kernel, native, parallel


@kernel("quantize")
def prepare_quantize(ctx: KernelContext) -> Run:
    qp = ctx.qp(ctx.op.outputs[0])
    if not qp.per_channel and integer.backend() == "native":
        # the same values in one pass
        return lambda args: [native.quantize(args[0], qp, parallel.native_parts(args[0].size))]
    return lambda args: [quantize(args[0], qp)]


@kernel("dequantize")
def prepare_dequantize(ctx: KernelContext) -> Run:
    qp = ctx.qp(ctx.op.inputs[0])
    return lambda args: [dequantize(args[0], qp)]


@kernel("retag")
def prepare_retag(ctx: KernelContext) -> Run:
    return lambda args: [args[0]]


@kernel("layout")
def prepare_layout(ctx: KernelContext) -> Run:
    perm = ctx.attrs.get("perm")
    if perm is not None:
        order = tuple(perm)
        return lambda args: [np.ascontiguousarray(np.transpose(args[0], order))]
    return lambda args: [args[0]]
