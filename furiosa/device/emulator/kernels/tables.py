"""``lut`` and ``binary``: element-wise operators as exact lookup tables.

``lut`` applies ``quantize_out(f(dequantize_in(v)))`` through a 256-entry table, ``binary``
applies ``quantize_out(act(f(dequantize_a(a), dequantize_b(b))))`` through a 65,536-entry table
indexed by both stored values (with numpy broadcasting). With the native loops, operands of
the same shape are looked up by a native loop, or, for add / sub / mul, computed in float32 as
the table was, where that computation equals the table on all 65,536 pairs (checked when the
kernel is prepared). The float32 functions are those of
:mod:`furiosa.common.functions`, which repeat the ONNX reference operators exactly.
"""
from __future__ import annotations

from furiosa.common import functions
from furiosa.common.qmath import apply_pair_table, apply_table, pair_table, table

import numpy as np

from . import KernelContext, Run, integer, kernel, native, parallel, with_constants


@kernel("lut")
def prepare_lut(ctx: KernelContext) -> Run:
    name = ctx.op.inputs[0]
    fn = functions.unary(ctx.attrs["fn"], ctx.attrs.get("params"))
    lut = table(ctx.qp(name), ctx.qp(ctx.op.outputs[0]), fn)
    return lambda args: [apply_table(args[0], lut)]


@kernel("binary")
def prepare_binary(ctx: KernelContext) -> Run:
    a, b = ctx.op.inputs[0], ctx.op.inputs[1]
    act = ctx.attrs.get("activation")
    then = None if act is None else functions.unary(act["fn"], act.get("params"))
    fn = functions.chain(functions.binary(ctx.attrs["fn"]), then)
    lut = pair_table(ctx.qp(a), ctx.qp(b), ctx.qp(ctx.op.outputs[0]), fn)
    if integer.backend() != "native":
        return with_constants(ctx, lambda x, y: [apply_pair_table(x, y, lut)])
    compute = _arithmetic(ctx, lut)

    def apply(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        if x.shape != y.shape:  # broadcasting: the numpy definition
            return [apply_pair_table(x, y, lut)]
        x, y = np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(y).reshape(-1)
        out = np.empty(x.shape, np.int8)
        parts = parallel.native_parts(x.size)
        if compute is not None:
            compute(x, y, out, parts)
        else:
            native.pair_lut(x, y, lut, out, parts)
        return [out.reshape(shape)]

    shape = ctx.spec(ctx.op.outputs[0]).shape
    return with_constants(ctx, apply)


def _arithmetic(ctx: KernelContext, lut: np.ndarray) -> "native.Arithmetic | None":
    """The table's computed form where one exists and equals the table on every operand pair."""
    try:
        compute = native.Arithmetic(ctx.attrs["fn"], ctx.attrs.get("activation"), ctx.qp(ctx.op.inputs[0]),
                                    ctx.qp(ctx.op.inputs[1]), ctx.qp(ctx.op.outputs[0]))
    except ValueError:
        return None
    return compute if compute.matches(lut) else None
