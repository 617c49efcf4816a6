"""Fold batch normalization (spec/toolchain-api.md §2.2 step 3, ``FuseBatchNorm``).

* ``Conv → BatchNormalization`` and ``ConvTranspose → BatchNormalization``: the conv's weight
  becomes ``w·γ/√(var+ε)`` and its bias ``(b−mean)·γ/√(var+ε)+β`` (initializers suffixed
  ``_bn_fused``; a missing bias becomes ``<out>_bias_bn_fused``);
* ``Conv → Mul → Add`` with a constant per-channel (or scalar) operand each folds the same way;
* any other inference-mode ``BatchNormalization`` becomes ``Mul`` (``<out>_bn_multiplier``) and
  ``Add`` (``<out>_bn_shifter``), which the NPU runs as element-wise operators.

The folded conv writes the batch norm's output tensor, so downstream names do not change.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ..graph import ModelGraph
from ..manager import Context
from . import register

CONVS = ("Conv", "ConvTranspose")


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _bn_params(graph: ModelGraph, bn: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel (multiplier, shifter) of an inference-mode BatchNormalization, or None."""
    attrs = _attrs(bn)
    if attrs.get("training_mode", 0) or len([o for o in bn.output if o]) != 1 or len(bn.input) < 5:
        return None
    values = [graph.constant(name) for name in bn.input[1:5]]
    if any(v is None for v in values):
        return None
    scale, bias, mean, var = (np.asarray(v, dtype=np.float64) for v in values)
    epsilon = float(attrs.get("epsilon", 1e-5))
    multiplier = scale / np.sqrt(var + epsilon)
    return multiplier, bias - mean * multiplier


def _channel_vector(value: np.ndarray | None, channels: int, rank: int) -> np.ndarray | None:
    """``value`` as one number per channel of an NC... tensor of ``rank``, if it broadcasts so."""
    if value is None or value.dtype != np.float32:
        return None
    if value.size == 1:
        return np.full(channels, float(value.reshape(-1)[0]))
    shape = list(value.shape)
    if len(shape) > rank:
        return None
    shape = [1] * (rank - len(shape)) + shape
    if rank < 2 or shape[1] != channels or any(d != 1 for i, d in enumerate(shape) if i != 1):
        return None
    return value.reshape(-1).astype(np.float64)


def _fold_into_conv(graph: ModelGraph, conv: onnx.NodeProto, multiplier: np.ndarray, shifter: np.ndarray,
                    last: onnx.NodeProto, removed: list[onnx.NodeProto]) -> bool:
    weight = graph.constant(conv.input[1]) if len(conv.input) > 1 else None
    if weight is None or weight.dtype != np.float32:
        return False
    bias = graph.constant(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
    if len(conv.input) > 2 and conv.input[2] and bias is None:
        return False
    group = int(_attrs(conv).get("group", 1))
    if conv.op_type == "Conv":
        channels = weight.shape[0]
        scaled = weight.astype(np.float64) * multiplier.reshape((-1,) + (1,) * (weight.ndim - 1))
    else:
        per_group = weight.shape[1]
        channels = per_group * group
        w = weight.astype(np.float64).reshape((group, weight.shape[0] // group) + weight.shape[1:])
        scaled = (w * multiplier.reshape((group, 1, per_group) + (1,) * (weight.ndim - 2))).reshape(weight.shape)
    if multiplier.shape != (channels,) or shifter.shape != (channels,):
        return False
    old_bias = np.zeros(channels) if bias is None else bias.astype(np.float64)
    new_bias = old_bias * multiplier + shifter
    out = last.output[0]
    w_name = graph.add_initializer(conv.input[1] + "_bn_fused", scaled.astype(np.float32))
    b_base = (conv.input[2] if bias is not None else out + "_bias") + "_bn_fused"
    b_name = graph.add_initializer(b_base, new_bias.astype(np.float32))
    inputs = [conv.input[0], w_name, b_name]
    conv.ClearField("input")
    conv.input.extend(inputs)
    conv.output[0] = out
    graph.replace([conv] + removed, [conv])
    return True


def _fold_conv_bn(graph: ModelGraph) -> bool:
    for bn in graph:
        if bn.op_type != "BatchNormalization":
            continue
        conv = graph.producer(bn.input[0])
        if conv is None or conv.op_type not in CONVS or len(graph.consumers(conv.output[0])) != 1:
            continue
        if graph.is_output(conv.output[0]):
            continue
        params = _bn_params(graph, bn)
        if params is not None and _fold_into_conv(graph, conv, params[0], params[1], bn, [bn]):
            return True
    return False


def _fold_conv_mul_add(graph: ModelGraph) -> bool:
    for conv in graph:
        if conv.op_type != "Conv" or graph.is_output(conv.output[0]):
            continue
        users = graph.consumers(conv.output[0])
        if len(users) != 1 or users[0].op_type != "Mul":
            continue
        mul = users[0]
        adds = graph.consumers(mul.output[0])
        if len(adds) != 1 or adds[0].op_type != "Add" or graph.is_output(mul.output[0]):
            continue
        add = adds[0]
        weight = graph.constant(conv.input[1])
        shape = graph.shape(conv.output[0])
        if weight is None or shape is None:
            continue
        channels, rank = weight.shape[0], len(shape)
        m_in = [n for n in mul.input if n != conv.output[0]]
        a_in = [n for n in add.input if n != mul.output[0]]
        if len(m_in) != 1 or len(a_in) != 1:
            continue
        m = _channel_vector(graph.constant(m_in[0]), channels, rank)
        a = _channel_vector(graph.constant(a_in[0]), channels, rank)
        if m is None or a is None:
            continue
        if _fold_into_conv(graph, conv, m, a, add, [mul, add]):
            return True
    return False


def _bn_to_mul_add(graph: ModelGraph) -> bool:
    for bn in graph:
        if bn.op_type != "BatchNormalization":
            continue
        shape = graph.shape(bn.input[0])
        params = _bn_params(graph, bn)
        if params is None or shape is None or len(shape) < 2:
            continue
        multiplier, shifter = params
        out = bn.output[0]
        broadcast = (-1,) + (1,) * (len(shape) - 2)
        m_name = graph.add_initializer(out + "_bn_multiplier", multiplier.reshape(broadcast).astype(np.float32))
        s_name = graph.add_initializer(out + "_bn_shifter", shifter.reshape(broadcast).astype(np.float32))
        scaled = graph.fresh(out + "_bn_scaled")
        nodes = [
            graph.node("Mul", [bn.input[0], m_name], [scaled], name=bn.name + "_mul"),
            graph.node("Add", [scaled, s_name], [out], name=bn.name + "_add"),
        ]
        graph.replace([bn], nodes)
        return True
    return False


@register("fuse_batchnorm")
def fuse_batchnorm(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = ModelGraph(model)
    for rewrite in (_fold_conv_bn, _fold_conv_mul_add, _bn_to_mul_add):
        while rewrite(graph):
            pass
    return graph.commit()
