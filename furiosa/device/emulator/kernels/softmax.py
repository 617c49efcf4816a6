"""``softmax``: dequantize, the ONNX reference's float32 softmax, quantize.

Computed with exactly the numpy operations of ``onnx.reference`` (subtract the maximum,
``exp``, divide by the sum), so results are bit-exact to a DequantizeLinear → Softmax →
QuantizeLinear chain evaluated there. Before opset 13 the input is flattened to two dimensions
at ``axis`` first.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import dequantize, quantize

from . import KernelContext, Run, kernel


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    tmp = x - x.max(axis=axis, keepdims=1)
    y = np.exp(tmp)
    y /= y.sum(axis=axis, keepdims=1)
    return y


@kernel("softmax")
def prepare_softmax(ctx: KernelContext) -> Run:
    name = ctx.op.inputs[0]
    qp_in, qp_out = ctx.qp(name), ctx.qp(ctx.op.outputs[0])
    axis = int(ctx.attrs["axis"])
    coerce = bool(ctx.attrs.get("coerce_2d"))
    shape = ctx.spec(name).shape

    def run(args):
        x = dequantize(args[0], qp_in)
        if coerce:
            rows = int(np.prod(shape[:axis], dtype=np.int64))
            y = softmax(x.reshape(rows, -1), 1).reshape(shape)
        else:
            y = softmax(x, axis)
        return [quantize(y, qp_out)]

    return run
