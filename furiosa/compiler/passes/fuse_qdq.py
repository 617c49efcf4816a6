"""Fuse dequantize → operator (→ Relu/Clip) → quantize chains into int8 kernels.

For every float operator with a rule (:mod:`furiosa.compiler.rules`) the pass looks for the
chain: each data input produced by a dequantize node, each output read only by a quantize node
(through a Relu / Clip the rule folds in). The rule builds the kernel node; the operator, the
activation and the quantize nodes are replaced by it. A dequantize feeding a quantize directly
becomes a requantizing table. Dequantize nodes nobody reads any more disappear.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.errors import FuriosaError, UnsupportedModelError
from furiosa.common.qmath import dequantize

from . import Context
from ..ir import Graph, Node, Value
from ..rules import RULES, Match, Rule, activation_range


def _inputs(graph: Graph, node: Node, rule: Rule) -> list[str | None] | None:
    operands = set(rule.operand_indexes(node))
    found: list[str | None] = []
    for index, name in enumerate(node.inputs):
        if not name:
            found.append(None)
            continue
        producer = graph.producer(name)
        if index in operands and producer is not None and producer.op == "dequantize":
            found.append(producer.inputs[0])
        elif graph.const(name) is not None:
            found.append(None)
        else:
            return None
    return found


def _outputs(graph: Graph, node: Node, rule: Rule) -> tuple[list[str], Node | None, list[Node]] | None:
    quantized: list[str] = []
    quantizers: list[Node] = []
    activation = None
    for name in node.outputs:
        if not name:
            return None
        sink = name
        if rule.fuses_activation and len(node.outputs) == 1:
            user = graph.only_consumer(name)
            if user is not None and user.op == "onnx" and activation_range(graph, user) is not None:
                activation, sink = user, user.outputs[0]
        quant = graph.only_consumer(sink)
        if quant is None or quant.op != "quantize":
            return None
        quantized.append(quant.outputs[0])
        quantizers.append(quant)
    return quantized, activation, quantizers


def _fuse(graph: Graph, node: Node) -> bool:
    rule = RULES.get(node.onnx_type or "")
    if rule is None:
        return False
    inputs = _inputs(graph, node, rule)
    if inputs is None or all(x is None for x in inputs):
        return False
    outputs = _outputs(graph, node, rule)
    if outputs is None:
        return False
    quantized, activation, quantizers = outputs
    try:
        kernel = rule.build(Match(graph, node, inputs, quantized, activation))
    except FuriosaError as error:
        raise type(error)(f"{node.describe()}: {error}") from None
    except Exception as error:  # a malformed node the rule did not expect
        raise UnsupportedModelError(f"{node.describe()} cannot be compiled: {type(error).__name__}: {error}") from None
    if kernel is None:
        return False
    position = graph.nodes.index(node)
    for gone in [node, *quantizers] + ([activation] if activation is not None else []):
        graph.remove_node(gone)
    graph.add_node(kernel, position)
    return True


def _requantize(graph: Graph, quant: Node) -> None:
    producer = graph.producer(quant.inputs[0])
    if producer is None or producer.op != "dequantize":
        return
    source = producer.inputs[0]
    if graph.values[source].dtype not in ("int8", "uint8"):
        return
    qp_in, qp_out = graph.values[source].qparams, graph.values[quant.outputs[0]].qparams
    if qp_in is None or qp_out is None or qp_in.per_channel or qp_out.per_channel:
        return
    position = graph.nodes.index(quant)
    graph.remove_node(quant)
    kernel = Node("lut", [source], list(quant.outputs), {"fn": "identity", "params": {}, "onnx_op": "QuantizeLinear"},
                  name=quant.name, origin=quant.origin, display="LowLevelRequantize")
    graph.add_node(kernel, position)


def _fold_constant_dequantize(graph: Graph) -> None:
    """A dequantized constant no kernel absorbed (its reader stays a float operator) becomes a float
    constant: the dequantize kernel reads run-time inputs only."""
    for node in graph:
        source = graph.values.get(node.inputs[0]) if node.op == "dequantize" and node.inputs else None
        if source is None or not source.is_const or source.qparams is None:
            continue
        if not graph.consumers(node.outputs[0]) and node.outputs[0] not in graph.outputs:
            continue  # read by nothing any more (its reader was fused): eliminate_dead removes it
        array = np.ascontiguousarray(dequantize(source.const, source.qparams))
        out = node.outputs[0]
        graph.values[out] = Value(out, tuple(array.shape), "float32", None, array)
        graph.remove_node(node)


def fuse_qdq(graph: Graph, context: Context) -> None:
    for node in graph:
        if node.op == "onnx" and node in graph.nodes:
            _fuse(graph, node)
    for node in graph:
        if node.op == "quantize" and node in graph.nodes:
            _requantize(graph, node)
    _fold_constant_dequantize(graph)
    graph.eliminate_dead()
