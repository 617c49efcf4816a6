"""Give every use of an initializer its own copy (spec/toolchain-api.md §2.2 step 2b).

The initializer read by input ``idx`` of a node whose first output is ``out`` becomes
``f"{init}_{out}_{idx}"``, as the vendor's optimizer names it: ``w1`` read by the Conv writing
``c1`` as its input 1 becomes ``w1_c1_1``. Initializers that were also listed as graph inputs
(models of IR version 3) stop being graph inputs: they are constants from here on.
"""
from __future__ import annotations

import onnx

from ..graph import ModelGraph
from ..manager import Context
from . import register


@register("unique_initializers")
def unique_initializers(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = model.graph
    originals = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    created: dict[str, onnx.TensorProto] = {}
    for node in graph.node:
        if not node.output:
            continue
        out = node.output[0]
        for idx, name in enumerate(node.input):
            tensor = originals.get(name)
            if tensor is None:
                continue
            new_name = f"{name}_{out}_{idx}"
            if new_name not in created:
                copy = onnx.TensorProto()
                copy.CopyFrom(tensor)
                copy.name = new_name
                created[new_name] = copy
            node.input[idx] = new_name
    kept = [t for name, t in originals.items() if name in outputs]
    del graph.initializer[:]
    graph.initializer.extend(kept + list(created.values()))
    inputs = [v for v in graph.input if v.name not in originals]
    del graph.input[:]
    graph.input.extend(inputs)
    ModelGraph(model).remove_unused_initializers()
    return model
