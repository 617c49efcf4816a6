"""Constant folding: nodes whose inputs are all known become initializers.

``Shape`` and ``Size`` of a tensor with a static shape are constants too, so after shape
inference ``Shape → Gather → Unsqueeze → Concat → Reshape`` chains collapse. The constant part
of the graph is evaluated in one onnxruntime session (the ONNX reference evaluator when
onnxruntime refuses it). Nodes are not folded when they are random, hold subgraphs, write a
graph output, or would turn small inputs into a large constant (``Expand``, ``Tile``,
``ConstantOfShape`` over more than a million elements).
"""
from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import helper, numpy_helper

from furiosa.common import onnxrt

from ..graph import ONNX_DOMAINS, ModelGraph
from ..manager import Context
from . import register

log = logging.getLogger("furiosa.optimizer")

RANDOM_OPS = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
LARGE = 1 << 20


def _static_value(graph: ModelGraph, node: onnx.NodeProto) -> np.ndarray | None:
    """The value of a Shape / Size node whose input has a static shape."""
    if node.op_type not in ("Shape", "Size") or not node.input:
        return None
    shape = graph.shape(node.input[0])
    if shape is None:
        return None
    if node.op_type == "Size":
        return np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start = attrs.get("start", 0)
    end = attrs.get("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.array(shape[start:end], dtype=np.int64)


def _foldable(graph: ModelGraph, node: onnx.NodeProto, constants: set[str]) -> bool:
    if node.domain not in ONNX_DOMAINS or node.op_type in RANDOM_OPS or node.op_type == "Constant":
        return False
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return False
    if not node.input or any(graph.is_output(o) for o in node.output):
        return False
    if not all(name == "" or name in constants for name in node.input):
        return False
    in_size = sum(int(np.prod(graph.shape(n) or (0,))) for n in node.input if n)
    for out in node.output:
        shape = graph.shape(out)
        if shape is not None and int(np.prod(shape)) > max(LARGE, in_size):
            return False
    return True


def evaluate(model: onnx.ModelProto, nodes: list[onnx.NodeProto], needed: list[str],
             graph: ModelGraph) -> dict[str, np.ndarray]:
    """Evaluate ``nodes`` (inputs all constant) and return the ``needed`` tensors."""
    used = {name for node in nodes for name in node.input if name}
    inits = [graph.initializers[n] for n in used if n in graph.initializers]
    sub = helper.make_graph(nodes, "constants", [], [helper.make_empty_tensor_value_info(n) for n in needed], inits)
    sub_model = helper.make_model(sub, opset_imports=list(model.opset_import))
    sub_model.ir_version = model.ir_version
    try:
        session = onnxrt.session(sub_model, optimize=False)
        return dict(zip(needed, session.run(needed, {})))
    except Exception as error:  # onnxruntime refuses some graphs without inputs; the reference does not
        log.debug("onnxruntime could not fold constants (%s); using the ONNX reference evaluator", error)
        from onnx.reference import ReferenceEvaluator

        return dict(zip(needed, ReferenceEvaluator(sub_model).run(needed, {})))


@register("fold_constants")
def fold_constants(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = ModelGraph(model)
    constants = set(graph.initializers)
    direct: dict[str, np.ndarray] = {}
    folded: list[onnx.NodeProto] = []
    for node in graph.nodes:
        value = _static_value(graph, node)
        if value is not None and not graph.is_output(node.output[0]):
            direct[node.output[0]] = value
            constants.add(node.output[0])
            folded.append(node)
        elif _foldable(graph, node, constants):
            constants.update(o for o in node.output if o)
            folded.append(node)
    if not folded:
        return model
    folded_ids = {id(n) for n in folded}
    remaining = [n for n in graph.nodes if id(n) not in folded_ids]
    wanted = {name for node in remaining for name in node.input} | set(graph.output_names)
    produced = [o for n in folded for o in n.output if o and o in wanted]
    computed = [n for n in folded if n.op_type not in ("Shape", "Size") or n.output[0] not in direct]
    values: dict[str, np.ndarray] = {}
    for node in folded:
        if node.output[0] in direct:
            graph.initializers[node.output[0]] = numpy_helper.from_array(direct[node.output[0]], node.output[0])
    need_eval = [n for n in produced if n not in direct]
    if need_eval:
        values = evaluate(model, computed, need_eval, graph)
    values.update({k: v for k, v in direct.items() if k in wanted})
    del model.graph.node[:]
    model.graph.node.extend(remaining)
    for name in produced:
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(values[name]), name))
    ModelGraph(model).remove_unused_initializers()
    return model
