"""``gemm`` (activations times constant weights) and ``matmul`` (two activations).

``gemm``: ``acc = a_stored @ w'.T - za * rowsum(w') + bias`` with ``w'`` stored as
(out_features, in_features), requantized per output feature. ``matmul``:
``acc = A @ B - zb * rowsum(A) - za * colsum(B) + K * za * zb`` with per-tensor parameters.
Both requantize with the QLinearMatMul / QLinearConv multiplier.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import multiplier

from . import KernelContext, Run, integer, kernel, parallel
from .conv import bias_total, declared_weight, finish, native_requant, stored_zero_point, weight_abs_sums
from .exact import ExactMatmul


@kernel("gemm")
def prepare_gemm(ctx: KernelContext) -> Run:
    a_name, w_name = ctx.op.inputs[0], ctx.op.inputs[1]
    out_features, k = ctx.const(w_name).shape
    zero = stored_zero_point(ctx, a_name)
    mult = multiplier(ctx.qp(a_name).scale[0], ctx.qp(w_name).scale, ctx.qp(ctx.op.outputs[0]).scale[0])
    out_shape = ctx.spec(ctx.op.outputs[0]).shape
    weight_qp = ctx.qp(w_name)
    rows = int(np.prod(ctx.spec(a_name).shape, dtype=np.int64)) // k
    bias = bias_total(ctx, 2, np.zeros((out_features, 1), np.int64), 0)
    bound = int(weight_abs_sums(ctx, w_name).max(initial=0)) * 255 + int(np.abs(bias).max(initial=0))
    if integer.backend() == "native" and bound < 2**31 and not ctx.qp(ctx.op.outputs[0]).per_channel:
        gemm = integer.Gemm(np.ascontiguousarray(ctx.const(w_name).T), weight_qp.zero_point_array(1) - weight_qp.offset,
                            zero + 128)
        requant = native_requant(ctx, bias.astype(np.int32), np.broadcast_to(mult.reshape(-1), (out_features,)),
                                 bound)

        def run_native(args):
            acc = gemm(integer.to_uint8(args[0].reshape(rows, k)))
            return [requant.rows(acc, parts=parallel.native_parts(acc.size)).reshape(out_shape)]

        return run_native
    # The other backends work on the declared weights (int64: exact in every sum below).
    wprime = declared_weight(ctx, w_name)
    if integer.backend() != "blas" and len(set(weight_qp.zero_point)) == 1 and bound < 2**31:
        exact = integer.IntegerMatmul(integer.to_uint8(ctx.const(w_name)).T,
                                      weight_qp.zero_point[0] - weight_qp.offset + 128, zero + 128, rows)
        bias32 = bias.astype(np.int32)

        def run_integer(args):
            acc = exact(args[0].reshape(rows, k))
            acc += bias32
            return [finish(acc, mult, ctx).reshape(out_shape)]

        return run_integer

    matmul = ExactMatmul(wprime, bias_total(ctx, 2, wprime, zero))

    def run(args):
        a = args[0].reshape(-1, k).astype(np.float32)
        acc = matmul.right(a)
        return [finish(acc, mult, ctx).reshape(out_shape)]

    return run


@kernel("matmul")
def prepare_matmul(ctx: KernelContext) -> Run:
    a_name, b_name = ctx.op.inputs[0], ctx.op.inputs[1]
    za, zb = stored_zero_point(ctx, a_name), stored_zero_point(ctx, b_name)
    k = ctx.spec(a_name).shape[-1]
    mult = multiplier(ctx.qp(a_name).scale[0], ctx.qp(b_name).scale[0], ctx.qp(ctx.op.outputs[0]).scale[0])
    step = 1024  # 128 * 128 * 1024 == 2**24: every partial sum of a chunk is exact in float32

    def run(args):
        a = args[0].astype(np.float32)
        b = args[1].astype(np.float32)
        acc = None
        for k0 in range(0, k, step):
            part = np.matmul(a[..., k0:k0 + step], b[..., k0:k0 + step, :]).astype(np.float64)
            acc = part if acc is None else acc + part
        acc -= zb * a.sum(axis=-1, dtype=np.float64)[..., None]
        acc -= za * b.sum(axis=-2, dtype=np.float64)[..., None, :]
        acc += float(k * za * zb)
        return [finish(acc, mult, ctx)]

    return run
