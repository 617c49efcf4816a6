"""Placement: which node runs on the NPU and which on the host, and why.

The Warboy operator table (spec/toolchain-api.md §12, spec/warboy-hardware.md §4) is data:
each ONNX operator type the NPU accelerates maps to a check that returns ``None`` when the
node qualifies or the constraint it breaks. Where the English and Korean vendor lists differ,
the table follows the English list, extended by the Korean version notes for Concat / Slice
(height and channel axes) and DepthToSpace (both modes). Conv's "group <= 128" applies to grouped
convolutions; depthwise convolutions (one input channel per group) run on the NPU at any width,
as the vendor's MobileNet v1 profile shows. Operators that are special cases of
listed ones are placed like them: GlobalAveragePool as AveragePool, GlobalMaxPool as MaxPool,
Squeeze as Reshape, Identity as a no-op.

Only int8 kernels can run on the NPU: a float operator (no calibration range, or no int8 kernel
for it) runs on the host, and so do Quantize and Dequantize, as on the card. Placement never
changes results: a kernel placed on the host computes exactly what it computes on the NPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import passes
from .ir import Graph, Node


@dataclass(frozen=True)
class Placement:
    unit: str
    reason: str


_AXES = {1: "C", 2: "NC", 3: "NCW", 4: "NCHW"}


def axis_name(rank: int, axis: int) -> str:
    letters = _AXES.get(rank)
    if letters is None or not 0 <= axis < rank:
        return f"axis {axis}"
    return {"N": "batch", "C": "channel", "H": "height", "W": "width"}[letters[axis]]


def _batch(graph: Graph, node: Node, batch_size: int) -> int:
    shape = graph.values[node.inputs[0]].shape
    return (shape[0] if shape else 1) * batch_size


Check = Callable[[Graph, Node, int], "str | None"]


def _always(graph: Graph, node: Node, batch: int) -> str | None:
    return None


def _depthwise(graph: Graph, node: Node) -> bool:
    """One input channel per group (a depthwise convolution, channel multiplier allowed)."""
    if node.op == "tflite_depthwise_conv2d":
        return True
    weights = graph.values.get(node.inputs[1]) if len(node.inputs) > 1 else None  # ONNX OIHW
    return node.op == "conv" and weights is not None and len(weights.shape) == 4 and weights.shape[1] == 1


def _conv(graph: Graph, node: Node, batch: int) -> str | None:
    group = node.attrs.get("group", 1)
    dilation = max(node.attrs.get("dilations", [1, 1]))
    # The table's group limit concerns grouped convolutions: the vendor's MobileNet v1 profile
    # runs 512- and 1024-channel depthwise convolutions on the NPU (LowLevelDepthwiseConv2d).
    if group > 128 and not _depthwise(graph, node):
        return f"Conv with group {group}: the NPU supports grouped convolutions with group <= 128"
    if dilation > 12:
        return f"Conv with dilation {dilation}: the NPU supports dilation <= 12"
    return None


def _concat(graph: Graph, node: Node, batch: int) -> str | None:
    rank = len(graph.values[node.outputs[0]].shape)
    name = axis_name(rank, node.attrs["axis"])
    if name not in ("height", "channel"):
        return f"Concat along the {name} axis: the NPU concatenates along the height or channel axis only"
    return None


def _slice(graph: Graph, node: Node, batch: int) -> str | None:
    shape = graph.values[node.inputs[0]].shape
    for axis, (start, stop, step) in enumerate(node.attrs["slices"]):
        full = (start in (None, 0)) and (stop is None or stop >= shape[axis]) and step == 1
        name = axis_name(len(shape), axis)
        if not full and name not in ("height", "channel"):
            return f"Slice along the {name} axis: the NPU slices along the height or channel axis only"
    return None


def _softmax(graph: Graph, node: Node, batch: int) -> str | None:
    b = _batch(graph, node, batch)
    if b > 2:
        return f"Softmax with batch {b}: the NPU supports Softmax with batch <= 2"
    return None


_TABLE: dict[str, Check] = {
    op: _always
    for op in (
        "Add", "AveragePool", "GlobalAveragePool", "Clip", "ConvTranspose", "Expand", "Flatten", "Gemm",
        "LeakyRelu", "MatMul", "MaxPool", "GlobalMaxPool", "Mean", "Mul", "Pow", "ReduceL2", "ReduceSum",
        "Relu", "Reshape", "Squeeze", "Sigmoid", "Softplus", "Split", "Sqrt", "Sub", "Unsqueeze", "Exp",
        "Transpose", "DepthToSpace", "SpaceToDepth", "Pad", "Identity", "QuantizeLinear",
    )
}
_TABLE.update({"Conv": _conv, "Concat": _concat, "Slice": _slice, "Softmax": _softmax})

# Nodes the compiler inserts; each is placed as the card places it.
_INTERNAL = {
    "quantize": Placement("host", "Quantize runs on the host (float input to int8)"),
    "dequantize": Placement("host", "Dequantize runs on the host (int8 to float output)"),
    "retag": Placement("npu", "reinterprets quantization parameters, no data movement"),
}


def place(graph: Graph, node: Node, batch_size: int) -> Placement:
    if node.op in _INTERNAL:
        return _INTERNAL[node.op]
    if node.op == "onnx":
        kind = node.onnx_type
        if kind in _TABLE or kind == "Conv":
            return Placement("host", f"float {kind}: no int8 form (its inputs or outputs have no quantization "
                                     "parameters); calibrate and quantize the model to run it on the NPU")
        return Placement("host", f"{kind} is not in the Warboy NPU operator table")
    kind = node.attrs.get("onnx_op", node.op)
    check = _TABLE.get(kind)
    if check is None:
        return Placement("host", f"{kind} is not in the Warboy NPU operator table (int8 kernel on the host)")
    problem = check(graph, node, batch_size)
    if problem is not None:
        return Placement("host", problem + " (int8 kernel on the host)")
    return Placement("npu", f"{kind} is accelerated by the NPU")


def partition(graph: Graph, context: "passes.Context") -> None:
    batch = getattr(context, "batch_size", 1)
    for node in graph.nodes:
        if node.unit is not None:
            continue
        placement = place(graph, node, batch)
        node.unit, node.reason = placement.unit, placement.reason
