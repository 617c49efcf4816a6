"""Negative ``Pad`` amounts become a ``Slice`` (spec/toolchain-api.md §2.2 step 3, ``ConvertNegativePadsToSlice``).

A constant ``Pad`` with negative amounts crops with ``Slice`` (tensors ``<out>_starts``,
``<out>_ends``, ``<out>_axes``, result ``<out>_slice_out``) and pads the non-negative part
(``<out>_pads``); a constant all-zero ``Pad`` is removed.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ..graph import ModelGraph
from ..manager import Context
from . import register


def _pads(graph: ModelGraph, node: onnx.NodeProto, rank: int) -> np.ndarray | None:
    """The full ``[begin..., end...]`` pads of a Pad node, or None when not constant."""
    if graph.opset < 11:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        pads = attrs.get("pads")
        return None if pads is None else np.asarray(pads, dtype=np.int64)
    pads = graph.constant(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    if pads is None:
        return None
    pads = pads.astype(np.int64).reshape(-1)
    if len(node.input) > 3 and node.input[3]:
        axes = graph.constant(node.input[3])
        if axes is None:
            return None
        full = np.zeros(2 * rank, dtype=np.int64)
        for i, axis in enumerate(axes.reshape(-1)):
            axis = int(axis) % rank
            full[axis], full[axis + rank] = pads[i], pads[i + len(axes)]
        return full
    return pads


@register("convert_negative_pads")
def convert_negative_pads(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = ModelGraph(model)
    for node in graph:
        if node.op_type != "Pad" or graph.opset < 11:
            continue
        shape = graph.shape(node.input[0])
        if shape is None:
            continue
        rank = len(shape)
        pads = _pads(graph, node, rank)
        if pads is None or pads.size != 2 * rank:
            continue
        if not pads.any():
            if graph.bypass(node, node.input[0]):
                continue
        if (pads >= 0).all():
            continue
        out = node.output[0]
        begin, end = pads[:rank], pads[rank:]
        axes = [i for i in range(rank) if begin[i] < 0 or end[i] < 0]
        starts = [int(-min(begin[i], 0)) for i in axes]
        ends = [int(shape[i] + min(end[i], 0)) for i in axes]
        s_name = graph.add_initializer(out + "_starts", np.array(starts, dtype=np.int64))
        e_name = graph.add_initializer(out + "_ends", np.array(ends, dtype=np.int64))
        a_name = graph.add_initializer(out + "_axes", np.array(axes, dtype=np.int64))
        rest = np.maximum(pads, 0)
        sliced = out if not rest.any() else graph.fresh(out + "_slice_out")
        nodes = [graph.node("Slice", [node.input[0], s_name, e_name, a_name], [sliced], name=node.name + "_slice")]
        if rest.any():
            p_name = graph.add_initializer(out + "_pads", rest)
            extra = list(node.input[2:3])
            nodes.append(helper.make_node("Pad", [sliced, p_name] + extra, [out], name=node.name,
                                          **{a.name: helper.get_attribute_value(a) for a in node.attribute}))
        graph.replace([node], nodes)
    return graph.commit()
