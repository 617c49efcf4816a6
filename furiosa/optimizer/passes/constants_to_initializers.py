"""``Constant`` nodes become initializers (spec/toolchain-api.md §2.2 step 2d).

The initializer takes the node's output name, so readers are unchanged. A Constant that is a
graph output, or holds strings or a sparse tensor, stays a node.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..graph import ModelGraph
from ..manager import Context
from . import register


def constant_value(node: onnx.NodeProto) -> np.ndarray | None:
    """The value a ``Constant`` node produces, or None for kinds kept as nodes."""
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if attr.name == "value":
            return numpy_helper.to_array(value)
        if attr.name == "value_float":
            return np.array(value, dtype=np.float32)
        if attr.name == "value_floats":
            return np.array(list(value), dtype=np.float32)
        if attr.name == "value_int":
            return np.array(value, dtype=np.int64)
        if attr.name == "value_ints":
            return np.array(list(value), dtype=np.int64)
    return None


@register("constants_to_initializers")
def constants_to_initializers(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = ModelGraph(model)
    kept = []
    changed = False
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and not graph.is_output(node.output[0]):
            value = constant_value(node)
            if value is not None and value.dtype != object:
                tensor = numpy_helper.from_array(value, node.output[0])
                model.graph.initializer.append(tensor)
                changed = True
                continue
        kept.append(node)
    if changed:
        del model.graph.node[:]
        model.graph.node.extend(kept)
    return model
