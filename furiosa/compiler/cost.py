"""Static work of each NPU operator: the input of the device's timing model.

Costs depend only on shapes and kernels, so the compiler computes them once and records them in
the ENF file; the emulated device turns them into modeled time (design contract 5).
"""
from __future__ import annotations

import numpy as np

from .enf.program import Cost
from .ir import Graph, Node

LAYOUT_ONLY = {"reshape", "retag", "tflite_reshape"}


def _size(graph: Graph, name: str) -> int:
    return int(np.prod(graph.values[name].shape, dtype=np.int64))


def _bytes(graph: Graph, names: list[str]) -> int:
    return sum(_size(graph, n) * np.dtype(graph.values[n].dtype).itemsize for n in names if n)


def op_cost(graph: Graph, node: Node) -> Cost:
    data_inputs = [n for n in node.inputs if n and not graph.values[n].is_const]
    weights = [n for n in node.inputs if n and graph.values[n].is_const]
    in_bytes, out_bytes = _bytes(graph, data_inputs), _bytes(graph, node.outputs)
    weight_bytes = _bytes(graph, weights)
    if node.op == "conv":
        out = graph.values[node.outputs[0]].shape
        w = graph.values[node.inputs[1]].shape
        macs = int(np.prod(out, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
        depthwise = node.attrs.get("group", 1) > 1 and w[1] == 1
        return Cost("depthwise" if depthwise else "dense", macs, 0, weight_bytes, in_bytes, out_bytes)
    if node.op == "tflite_conv2d":  # NHWC, filters (O, KH, KW, I)
        _, kh, kw, i = graph.values[node.inputs[1]].shape
        return Cost("dense", _size(graph, node.outputs[0]) * kh * kw * i, 0, weight_bytes, in_bytes, out_bytes)
    if node.op == "tflite_depthwise_conv2d":  # filters (1, KH, KW, C * multiplier)
        _, kh, kw, _ = graph.values[node.inputs[1]].shape
        return Cost("depthwise", _size(graph, node.outputs[0]) * kh * kw, 0, weight_bytes, in_bytes, out_bytes)
    if node.op == "tflite_fully_connected":  # weights (N, K)
        k = graph.values[node.inputs[1]].shape[-1]
        return Cost("dense", _size(graph, node.outputs[0]) * k, 0, weight_bytes, in_bytes, out_bytes)
    if node.op == "gemm":
        rows = _size(graph, node.inputs[0]) // graph.values[node.inputs[0]].shape[-1]
        n, k = graph.values[node.inputs[1]].shape
        return Cost("dense", rows * n * k, 0, weight_bytes, in_bytes, out_bytes)
    if node.op == "matmul":
        k = graph.values[node.inputs[0]].shape[-1]
        return Cost("dense", _size(graph, node.outputs[0]) * k, 0, weight_bytes, in_bytes, out_bytes)
    if node.op in LAYOUT_ONLY:
        return Cost("layout", 0, 0, 0, in_bytes, out_bytes)
    return Cost("vector", 0, out_bytes, weight_bytes, in_bytes, out_bytes)
