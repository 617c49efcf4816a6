"""Data-movement operators: Concat, Split, Slice, Transpose, Reshape and friends, Pad, Expand,
DepthToSpace, SpaceToDepth.

They move stored int8 values without arithmetic; where an input and the output have different
quantization parameters, the kernel requantizes element by element through an exact table
(``quantize_out(dequantize_in(v))``). Pad writes ``quantize_out(value)`` into the border.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import Match, normalize_axis, onnx_attrs, rule
from ..ir import Node

INT_MAX = 2**63 - 1


def _data_only(m: Match, x: str | None) -> bool:
    return x is not None and not m.value(x).is_const and not m.qp(x).per_channel


def _per_tensor_outputs(m: Match) -> bool:
    return not any(m.qp(o).per_channel for o in m.outputs)


def _movement(m: Match, op: str, attrs: dict[str, Any], display: str, inputs: list[str] | None = None) -> Node | None:
    inputs = inputs if inputs is not None else [m.inputs[0]]  # type: ignore[list-item]
    if not all(_data_only(m, x) for x in inputs) or not _per_tensor_outputs(m):
        return None
    attrs["onnx_op"] = m.node.onnx_type
    return m.kernel(op, inputs, attrs, display)


@rule("Concat", operands=None, output="calibrated")
def build_concat(m: Match) -> Node | None:
    if any(x is None for x in m.inputs):
        return None
    rank = len(m.out_shape(0))
    axis = normalize_axis(onnx_attrs(m.node)["axis"], rank)
    inputs = [x for x in m.inputs if x is not None]
    if any(m.value(x).is_const for x in inputs):
        # Constant parts are fine: the kernel reads them like any other input.
        if not all(not m.qp(x).per_channel for x in inputs) or not _per_tensor_outputs(m):
            return None
        attrs = {"axis": axis, "onnx_op": "Concat"}
        return m.kernel("concat", inputs, attrs, "LowLevelConcat")
    return _movement(m, "concat", {"axis": axis}, "LowLevelConcat", inputs)


def split_sizes(m: Match, axis: int) -> list[int] | None:
    attrs = onnx_attrs(m.node)
    dim = m.float_shape(0)[axis]
    count = len(m.node.outputs)
    if "split" in attrs:
        sizes = list(attrs["split"])
    elif m.raw(1) is not None:
        sizes = [int(v) for v in m.raw(1)]
    elif len(m.node.inputs) > 1 and m.node.inputs[1]:
        return None
    else:
        count = int(attrs.get("num_outputs", count))
        if dim % count == 0:
            sizes = [dim // count] * count
        else:
            sizes = [dim // count + 1] * count
            sizes[-1] += dim - sum(sizes)
    return sizes if sum(sizes) == dim else None


@rule("Split", output="input")
def build_split(m: Match) -> Node | None:
    rank = len(m.float_shape(0))
    axis = normalize_axis(onnx_attrs(m.node).get("axis", 0), rank)
    sizes = split_sizes(m, axis)
    if sizes is None or len(sizes) != len(m.outputs):
        return None
    return _movement(m, "split", {"axis": axis, "sizes": sizes}, "LowLevelSplit")


def slice_spec(m: Match) -> list[list[int | None]] | None:
    """Per-axis python slice triples ``[start, stop, step]`` for a Slice node."""
    attrs = onnx_attrs(m.node)
    shape = m.float_shape(0)
    if m.opset < 10 or "starts" in attrs:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        arrays = [m.raw(i) for i in range(1, 5)]
        if arrays[0] is None or arrays[1] is None:
            return None
        if any(len(m.node.inputs) > i and m.node.inputs[i] and arrays[i - 1] is None for i in (3, 4)):
            return None
        starts, ends = arrays[0].tolist(), arrays[1].tolist()
        axes = arrays[2].tolist() if arrays[2] is not None else list(range(len(starts)))
        steps = arrays[3].tolist() if arrays[3] is not None else [1] * len(starts)
    spec: list[list[int | None]] = [[None, None, 1] for _ in shape]
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = normalize_axis(int(axis), len(shape))
        dim = shape[axis]
        start, end, step = int(start), int(end), int(step)
        if step == 0:
            return None
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
            spec[axis] = [start, end, step]
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
            spec[axis] = [start, None if end < 0 else end, step]
    return spec


@rule("Slice", output="input")
def build_slice(m: Match) -> Node | None:
    spec = slice_spec(m)
    if spec is None:
        return None
    return _movement(m, "slice", {"slices": spec}, "LowLevelSlice")


@rule("Transpose", output="input")
def build_transpose(m: Match) -> Node | None:
    rank = len(m.float_shape(0))
    perm = onnx_attrs(m.node).get("perm", list(reversed(range(rank))))
    return _movement(m, "transpose", {"perm": list(perm)}, "LowLevelTranspose")


def _reshape(op_type: str) -> None:
    @rule(op_type, output="input")
    def build(m: Match) -> Node | None:
        return _movement(m, "reshape", {"shape": list(m.out_shape(0))}, "LowLevelReshape")


for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
    _reshape(_op)


@rule("Expand", output="input")
def build_expand(m: Match) -> Node | None:
    return _movement(m, "expand", {"shape": list(m.out_shape(0))}, "LowLevelExpand")


@rule("Pad", output="input")
def build_pad(m: Match) -> Node | None:
    attrs = onnx_attrs(m.node)
    if attrs.get("mode", "constant") != "constant":
        return None
    rank = len(m.float_shape(0))
    if "pads" in attrs or "paddings" in attrs:
        pads = list(attrs.get("pads", attrs.get("paddings")))
        value = float(attrs.get("value", 0.0))
    else:
        raw = m.raw(1)
        if raw is None:
            return None
        pads = [int(p) for p in raw]
        value_array = m.raw(2)
        if len(m.node.inputs) > 2 and m.node.inputs[2] and value_array is None:
            return None
        value = 0.0 if value_array is None else float(np.asarray(value_array).reshape(()))
        axes_array = m.raw(3)
        if len(m.node.inputs) > 3 and m.node.inputs[3]:
            if axes_array is None:
                return None
            axes = [normalize_axis(int(a), rank) for a in axes_array]
            full = [0] * (2 * rank)
            for i, axis in enumerate(axes):
                full[axis], full[rank + axis] = pads[i], pads[len(axes) + i]
            pads = full
    if len(pads) != 2 * rank or min(pads) < 0:
        return None
    return _movement(m, "pad", {"pads": pads, "value": value}, "LowLevelPad")


@rule("DepthToSpace", output="input")
def build_depth_to_space(m: Match) -> Node | None:
    attrs = onnx_attrs(m.node)
    if len(m.float_shape(0)) != 4:
        return None
    spec = {"blocksize": int(attrs["blocksize"]), "mode": attrs.get("mode", "DCR")}
    return _movement(m, "depth_to_space", spec, "LowLevelDepthToSpace")


@rule("SpaceToDepth", output="input")
def build_space_to_depth(m: Match) -> Node | None:
    if len(m.float_shape(0)) != 4:
        return None
    spec = {"blocksize": int(onnx_attrs(m.node)["blocksize"])}
    return _movement(m, "space_to_depth", spec, "LowLevelSpaceToDepth")
