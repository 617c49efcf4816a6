"""``onnx``: float operators run on the host by onnxruntime (the CPU fallback)."""
from __future__ import annotations

import numpy as np

from furiosa.common import onnxrt
from furiosa.common.errors import UnsupportedModelError

from . import KernelContext, Run, kernel


def session(model: bytes, threads: int = 0):
    return onnxrt.session(model, threads=threads, shared_arena=True)


@kernel("onnx")
def prepare_onnx(ctx: KernelContext) -> Run:
    model = ctx.program.blobs[ctx.attrs["model"]]
    try:
        sess = session(model)
    except Exception as error:  # onnxruntime raises its own exception types
        kinds = ", ".join(sorted({n["op_type"] for n in ctx.attrs.get("nodes", ())}))
        raise UnsupportedModelError(
            f"the host cannot run operator(s) {kinds}: onnxruntime rejected them ({error})"
        ) from None
    names = [i.name for i in sess.get_inputs()]
    outputs = list(ctx.op.outputs)

    def run(args):
        feeds = {name: np.asarray(a) for name, a in zip(names, args)}
        return list(sess.run(outputs, feeds))

    return run
