"""``Gather(table) → MatMul(W)`` becomes one ``Gather`` on ``table @ W`` (spec/toolchain-api.md §2.2
step 3, ``FuseGatherMatMul``).

Applies to 2-D float constants: ``Gather(table, i, axis=0) @ W`` is ``Gather(table @ W, i, axis=0)``
and ``W @ Gather(table, i, axis=1)`` is ``Gather(W @ table, i, axis=1)``, when the MatMul is the
Gather's only reader.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ..graph import ModelGraph
from ..manager import Context
from . import register


@register("fuse_gather_matmul")
def fuse_gather_matmul(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = ModelGraph(model)
    for gather in graph:
        if gather.op_type != "Gather" or graph.is_output(gather.output[0]):
            continue
        table = graph.constant(gather.input[0])
        users = graph.consumers(gather.output[0])
        if table is None or table.ndim != 2 or table.dtype != np.float32 or len(users) != 1:
            continue
        matmul = users[0]
        if matmul.op_type != "MatMul":
            continue
        axis = {a.name: helper.get_attribute_value(a) for a in gather.attribute}.get("axis", 0) % 2
        position = list(matmul.input).index(gather.output[0])
        weight = graph.constant(matmul.input[1 - position])
        if weight is None or weight.ndim != 2 or weight.dtype != np.float32:
            continue
        if axis == 0 and position == 0 and table.shape[1] == weight.shape[0]:
            fused = table.astype(np.float64) @ weight.astype(np.float64)
        elif axis == 1 and position == 1 and weight.shape[1] == table.shape[0]:
            fused = weight.astype(np.float64) @ table.astype(np.float64)
        else:
            continue
        name = graph.add_initializer(gather.input[0] + "_" + matmul.input[1 - position] + "_fused",
                                     fused.astype(np.float32))
        node = helper.make_node("Gather", [name, gather.input[1]], [matmul.output[0]], name=gather.name, axis=axis)
        graph.replace([gather, matmul], [node])
    return graph.commit()
