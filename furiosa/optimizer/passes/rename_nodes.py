"""Name every node ``f"{op_type}_{index}"`` (spec/toolchain-api.md §2.2 step 2a)."""
from __future__ import annotations

import onnx

from ..manager import Context
from . import register


@register("rename_nodes")
def rename_nodes(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    for index, node in enumerate(model.graph.node):
        node.name = f"{node.op_type}_{index}"
    return model
