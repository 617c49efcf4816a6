"""Evaluate everything that does not depend on the model's inputs.

Float operators whose inputs are all constants are run once with the ONNX reference evaluator;
``Shape`` / ``Size`` of tensors with static shapes become constants; QuantizeLinear of a
constant becomes a quantized constant. What is left depends on the inputs.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from furiosa.common.errors import UnsupportedModelError
from furiosa.common.qmath import quantize

from . import Context
from ..frontend.onnx import attributes
from ..ir import Graph, Node, Value

_NOT_FOLDED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
               "Bernoulli", "Dropout"}


def _evaluate(node: Node, graph: Graph) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    proto = node.attrs["node"]
    inputs = [name for name in proto.input if name]
    feeds = {name: graph.const(name) for name in inputs}
    model = helper.make_model(
        helper.make_graph(
            [proto], "fold",
            [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(feeds[n].dtype), feeds[n].shape)
             for n in inputs],
            [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in proto.output if o],
        ),
        opset_imports=[helper.make_opsetid("", graph.opset)],
    )
    try:
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as error:
        raise UnsupportedModelError(
            f"cannot evaluate constant {proto.op_type} node {node.name!r}: {error}"
        ) from None
    return [np.asarray(r) for r in results]


def _static_shape_op(node: Node, graph: Graph) -> list[np.ndarray] | None:
    kind = node.onnx_type
    if kind not in ("Shape", "Size") or not node.inputs:
        return None
    shape = graph.values[node.inputs[0]].shape
    if kind == "Size":
        return [np.asarray(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)]
    attrs = attributes(node.attrs["node"])
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return [np.asarray(shape[slice(start, end)], dtype=np.int64)]


def fold_constants(graph: Graph, context: Context) -> None:
    for node in graph:
        results = None
        if node.op == "onnx" and node.onnx_type not in _NOT_FOLDED:
            results = _static_shape_op(node, graph)
            if results is None and all(not n or graph.const(n) is not None for n in node.inputs):
                results = _evaluate(node, graph)
        elif node.op == "quantize" and graph.const(node.inputs[0]) is not None:
            out = graph.values[node.outputs[0]]
            results = [quantize(graph.const(node.inputs[0]), out.qparams)]
        if results is None:
            continue
        for name, array in zip(node.outputs, results):
            old = graph.values[name]
            array = np.ascontiguousarray(array)
            graph.values[name] = Value(name, tuple(array.shape), str(array.dtype), old.qparams, array)
        graph.remove_node(node)
