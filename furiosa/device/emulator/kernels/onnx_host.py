"""``onnx``: float operators run on the host by onnxruntime (the CPU fallback)."""
from __future__ import annotations

import numpy as np

from furiosa.common import onnxrt
from furiosa.common.errors import UnsupportedModelError

from . import KernelContext, Run, kernel


# Below this many input and output elements a host subgraph that shares the cores with NPU
# kernels runs on the calling thread: waking a thread pool costs more than it saves there.
SMALL = 1 << 18


def session(model: bytes, threads: int = 0, spinning: bool = True):
    return onnxrt.session(model, threads=threads, spinning=spinning, shared_arena=True)


def _options(ctx: KernelContext) -> dict:
    """onnxruntime's defaults when the host runs the whole program (a float model): its spinning
    pool is fastest. Beside NPU kernels, no spin-waiting (idle pool threads would take the cores
    the kernels need) and one thread for small subgraphs."""
    if not ctx.program.npu_operators:
        return {}
    size = sum(int(np.prod(ctx.spec(n).shape)) for n in (*ctx.op.inputs, *ctx.op.outputs) if n)
    return {"threads": 1 if size < SMALL else 0, "spinning": False}


@kernel("onnx")
def prepare_onnx(ctx: KernelContext) -> Run:
    model = ctx.program.blobs[ctx.attrs["model"]]
    try:
        sess = session(model, **_options(ctx))
    except Exception as error:  # onnxruntime raises its own exception types
        kinds = ", ".join(sorted({n["op_type"] for n in ctx.attrs.get("nodes", ())}))
        raise UnsupportedModelError(
            f"the host cannot run operator(s) {kinds}: onnxruntime rejected them ({error})"
        ) from None
    names = [i.name for i in sess.get_inputs()]
    outputs = list(ctx.op.outputs)

    call = onnxrt.run_function(sess, outputs)
    if len(names) == 1:
        only = names[0]
        return lambda args: call({only: args[0]})  # the executor passes arrays; the outputs come as a list

    def run(args):
        return call(dict(zip(names, args)))

    return run
