"""``PRelu`` becomes ``Relu(x)·(1−s) + x·s`` (spec/toolchain-api.md §2.2 step 3, ``ConvertPReluToRelu``).

With a constant slope the factor ``1−s`` is computed here (``<out>_slope_fused``); with a
computed slope a ``Sub`` from a ones tensor computes it. Tensor names follow the vendor:
``<out>_relu_out``, ``<out>_mul_0_out``, ``<out>_mul_1_out``.
"""
from __future__ import annotations

import numpy as np
import onnx

from ..graph import ModelGraph
from ..manager import Context
from . import register


@register("convert_prelu")
def convert_prelu(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = ModelGraph(model)
    for node in graph:
        if node.op_type != "PRelu" or len(node.input) != 2:
            continue
        x, slope_name = node.input
        out = node.output[0]
        slope = graph.constant(slope_name)
        relu_out = graph.fresh(out + "_relu_out")
        mul0, mul1 = graph.fresh(out + "_mul_0_out"), graph.fresh(out + "_mul_1_out")
        nodes = [graph.node("Relu", [x], [relu_out], name=node.name + "_relu")]
        if slope is not None:
            fused = graph.add_initializer(out + "_slope_fused", (np.float32(1) - slope).astype(slope.dtype))
        else:
            elem = graph.elem_type(slope_name) or onnx.TensorProto.FLOAT
            dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
            ones = graph.add_initializer(out + "_ones", np.ones((), dtype=dtype))
            fused = graph.fresh(out + "_slope_fused")
            nodes.append(graph.node("Sub", [ones, slope_name], [fused], name=node.name + "_sub"))
        nodes += [
            graph.node("Mul", [relu_out, fused], [mul0], name=node.name + "_mul_0"),
            graph.node("Mul", [x, slope_name], [mul1], name=node.name + "_mul_1"),
            graph.node("Add", [mul0, mul1], [out], name=node.name + "_add"),
        ]
        graph.replace([node], nodes)
    return graph.commit()
