"""Quantize a float model by its calibration metadata (the Warboy scheme).

For every float tensor with a calibrated range the pass inserts a quantize / dequantize pair
after its producer, with parameters chosen by the tensor's rule: its own range, its input's
parameters for pass-through operators (MaxPool, Reshape...), or a fixed range (Softmax,
Sigmoid). A tensor that a Relu / Clip folds into its producer (Conv, Gemm, MatMul, Add) is not
quantized itself: the producer is quantized with the activation's range. Weights of operators
whose data inputs are all quantized are quantized per output channel; their other constant
operands per tensor. The fusion pass then turns each dequantize → operator → quantize chain
into an NPU kernel, exactly as for a QDQ model.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.errors import InvalidModelError
from furiosa.common.qmath import QParams
from furiosa.quantizer.qparams import activation_qparams, constant_qparams, weight_qparams

from . import Context
from ..ir import Graph, Node, Value
from ..rules import RULES, activation_range


def _is_float(graph: Graph, name: str) -> bool:
    value = graph.values.get(name)
    return value is not None and not value.is_const and value.dtype == "float32"


def _absorbed_by_activation(graph: Graph, node: Node, out: str) -> bool:
    rule = RULES.get(node.onnx_type or "")
    if rule is None or not rule.fuses_activation or len(node.outputs) != 1:
        return False
    act = graph.only_consumer(out)
    return act is not None and act.op == "onnx" and activation_range(graph, act) is not None


def _range_qparams(name: str, bounds: tuple[float, float]) -> QParams:
    try:
        return activation_qparams(*bounds)
    except ValueError as error:
        raise InvalidModelError(
            f"the calibration range of tensor {name!r} is unusable: {error}; calibrate the model again "
            "(with finite calibration data)"
        ) from None


def choose_qparams(graph: Graph, ranges: dict[str, tuple[float, float]]) -> dict[str, QParams]:
    """Parameters of every float tensor the scheme quantizes."""
    chosen: dict[str, QParams] = {}
    for name in graph.inputs:
        if _is_float(graph, name) and name in ranges:
            chosen[name] = _range_qparams(name, ranges[name])
    for node in graph.nodes:
        if node.op != "onnx":
            continue
        rule = RULES.get(node.onnx_type or "")
        for out in node.outputs:
            if not out or not _is_float(graph, out) or _absorbed_by_activation(graph, node, out):
                continue
            qp = None
            if rule is not None and rule.output == "input" and node.inputs:
                qp = chosen.get(node.inputs[0])
            elif rule is not None and rule.output == "fixed" and rule.fixed_range is not None:
                qp = activation_qparams(*rule.fixed_range)
            if qp is None and out in ranges:
                qp = _range_qparams(out, ranges[out])
            if qp is not None:
                chosen[out] = qp
    return chosen


def _insert_pair(graph: Graph, name: str, qp: QParams) -> str:
    """Quantize and dequantize ``name`` right after it is produced; return the dequantized name."""
    value = graph.values[name]
    q_name = graph.fresh(name + "_quantized")
    dq_name = graph.fresh(name + "_dequantized")
    graph.add_value(Value(q_name, value.shape, "int8", qp, source=name))
    graph.add_value(Value(dq_name, value.shape, "float32"))
    users = graph.consumers(name)
    producer = graph.producer(name)
    position = 0 if producer is None else graph.nodes.index(producer) + 1
    quant = Node("quantize", [name], [q_name], name=f"{name}/quantize", origin=(name,))
    dequant = Node("dequantize", [q_name], [dq_name], name=f"{name}/dequantize", origin=(name,))
    graph.add_node(quant, position)
    graph.add_node(dequant, position + 1)
    for user in users:
        user.inputs = [dq_name if n == name else n for n in user.inputs]
    graph.outputs = [dq_name if n == name else n for n in graph.outputs]
    graph.touch()
    return dq_name


def _quantize_constant(graph: Graph, node: Node, index: int, array: np.ndarray, qp: QParams) -> None:
    source = node.inputs[index]
    q_name = graph.add_const(source + "_quantized", array, qp)
    dq_name = graph.fresh(source + "_dequantized")
    graph.add_value(Value(dq_name, tuple(array.shape), "float32"))
    graph.add_node(Node("dequantize", [q_name], [dq_name], name=f"{source}/dequantize", origin=(source,)),
                   graph.nodes.index(node))
    node.inputs = node.inputs[:index] + [dq_name] + node.inputs[index + 1:]
    graph.touch()


def _quantize_operands(graph: Graph, node: Node, quantized: set[str]) -> None:
    rule = RULES.get(node.onnx_type or "")
    if rule is None:
        return
    operands = [i for i in rule.operand_indexes(node) if i < len(node.inputs) and node.inputs[i]]
    weights = rule.weight_axes(node)
    data = [i for i in operands if graph.const(node.inputs[i]) is None]
    if not data or not all(node.inputs[i] in quantized for i in data):
        return
    for index in operands:
        array = graph.const(node.inputs[index])
        if array is not None and array.dtype.kind == "f" and not np.isfinite(array).all():
            raise InvalidModelError(
                f"constant {node.inputs[index]!r} of {node.describe()} holds NaN or infinite values; "
                "the constants of a quantized operator must be finite"
            )
    for index in operands:
        if index in data or index == rule.bias:
            continue
        array = graph.const(node.inputs[index])
        if array is None or array.dtype != np.float32:
            continue
        if index in weights:
            axis = weights[index] % max(array.ndim, 1)
            q, qp = weight_qparams(array, axis)
        else:
            q, qp = constant_qparams(array)
        _quantize_constant(graph, node, index, q, qp)


def apply_calibration(graph: Graph, context: Context) -> None:
    calibration = context.calibration
    if calibration is None or not calibration.ranges:
        return
    chosen = choose_qparams(graph, dict(calibration.ranges))
    dequantized = {name: _insert_pair(graph, name, qp) for name, qp in chosen.items()}
    quantized = set(dequantized.values())
    for node in graph:
        if node.op == "onnx":
            _quantize_operands(graph, node, quantized)
