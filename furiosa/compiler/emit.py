"""From the final graph to an ENF :class:`~furiosa.compiler.enf.Program`.

Nodes are scheduled so that operators of the same unit run back to back (fewer NPU
executions), consecutive float host operators are grouped into one ONNX subgraph run by
onnxruntime, every NPU operator gets its cost and its program size (:mod:`.program_size`), every
host operator its modeled cost on the host and on the NPU if it were supported (``attrs["estimate"]``,
:mod:`.host_cost`), and the memory plan is attached.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from furiosa.common.errors import UnsupportedModelError
from furiosa.common.version import emulator_version

from . import cost, host_cost, memory, program_size
from .edges import IOPlan
from .enf import layout
from .enf.program import IOSpec, Operator, Program, TensorSpec, freeze
from .ir import Graph, Node

_AXES_BY_RANK = {4: ("N", "C", "H", "W")}
_AXES_BY_LAYOUT = {"NCHW": ("N", "C", "H", "W"), "NHWC": ("N", "H", "W", "C")}  # 4-D tensors
DISPLAY = {"quantize": "Quantize", "dequantize": "Dequantize", "retag": "Retag", "transpose": "Transpose"}


def schedule(graph: Graph) -> list[Node]:
    """A topological order that keeps runs of same-unit nodes together."""
    available = set(graph.inputs) | {n for n, v in graph.values.items() if v.is_const}
    pending = list(graph.nodes)
    ordered: list[Node] = []
    unit = "host"
    while pending:
        ready = [n for n in pending if all(not i or i in available for i in n.inputs)]
        if not ready:
            stuck = ", ".join(n.describe() for n in pending[:3])
            raise UnsupportedModelError(f"the graph has a cycle or reads undefined tensors at {stuck}")
        same = [n for n in ready if n.unit == unit]
        pick = same[0] if same else ready[0]
        unit = pick.unit or "host"
        ordered.append(pick)
        pending.remove(pick)
        available.update(pick.outputs)
    return ordered


def _groups(order: list[Node]) -> list[list[Node]]:
    groups: list[list[Node]] = []
    for node in order:
        if node.op == "onnx" and groups and groups[-1][0].op == "onnx":
            groups[-1].append(node)
        else:
            groups.append([node])
    return groups


def _value_info(graph: Graph, name: str) -> onnx.ValueInfoProto:
    value = graph.values[name]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(value.dtype)), value.shape)


def host_subgraph(graph: Graph, nodes: list[Node], outputs: list[str]) -> tuple[bytes, list[str]]:
    """An ONNX model running ``nodes`` on the host; returns its bytes and its run-time inputs."""
    produced = {o for n in nodes for o in n.outputs}
    inputs: list[str] = []
    for node in nodes:
        for name in node.inputs:
            if name and name not in produced and name not in inputs:
                inputs.append(name)
    for name in inputs:
        if graph.values[name].qparams is not None and not graph.values[name].is_const:
            raise UnsupportedModelError(
                f"float operator {nodes[0].describe()} reads the quantized tensor {name!r} directly"
            )
    constants = [n for n in inputs if graph.values[n].is_const]
    runtime = [n for n in inputs if not graph.values[n].is_const]
    protos = []
    domains = {""}
    for node in nodes:
        proto = onnx.NodeProto()
        proto.CopyFrom(node.attrs["node"])
        del proto.input[:]
        del proto.output[:]
        proto.input.extend(node.inputs)
        proto.output.extend(node.outputs)
        domains.add(proto.domain)
        protos.append(proto)
    initializers = [numpy_helper.from_array(graph.values[n].const, n) for n in constants]
    model = helper.make_model(
        helper.make_graph(protos, "host", [_value_info(graph, n) for n in runtime],
                          [_value_info(graph, n) for n in outputs], initializers),
        opset_imports=[helper.make_opsetid(d, graph.opset if d in ("", "ai.onnx") else 1) for d in sorted(domains)],
    )
    model.ir_version = min(model.ir_version, 10)
    return model.SerializeToString(), runtime


def _json_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        if key == "node":
            continue
        if isinstance(value, np.ndarray):
            value = value.tolist()
        out[key] = value
    json.dumps(out)  # fail here, not when writing, if something is not serializable
    return out


def _axes(rank: int, perm: tuple[int, ...] | None, layout_name: str = "NCHW") -> tuple[str, ...]:
    axes = _AXES_BY_LAYOUT[layout_name] if rank == 4 else _AXES_BY_RANK.get(rank, ("?",) * rank)
    return axes if perm is None else tuple(axes[p] for p in perm)


def _io(graph: Graph, name: str, tensor: str, target: str, lowered: bool,
        perm: tuple[int, ...] | None, layout_name: str = "NCHW") -> IOSpec:
    value = graph.values[tensor]
    qp = value.qparams
    dtype = qp.dtype if qp is not None else value.dtype
    if lowered:
        lay = layout.lowered(value.shape, target)
        return IOSpec(name, tensor, lay.shape, dtype, layout.AXES, "lowered", lay.strides,
                      lay.size_items * np.dtype(dtype).itemsize, qp)
    return IOSpec(name, tensor, value.shape, dtype, _axes(len(value.shape), perm, layout_name), qparams=qp)


def emit(graph: Graph, plan: IOPlan, target: str, batch_size: int, config: dict[str, Any],
         source_format: str) -> Program:
    order = schedule(graph)
    readers: dict[str, int] = {}
    for node in order:
        for name in node.inputs:
            readers[name] = readers.get(name, 0) + 1
    operators: list[Operator] = []
    blobs: dict[str, bytes] = {}
    used: set[str] = set()
    for group in _groups(order):
        index = len(operators)
        if group[0].op == "onnx":
            inside = {o for n in group for o in n.outputs}
            outside_reads = {i for n in order if n not in group for i in n.inputs}
            outs = [o for o in inside if o in outside_reads or o in graph.outputs]
            outs.sort(key=lambda o: [o in n.outputs for n in group].index(True))
            key = f"host_model_{index}"
            blobs[key], runtime_inputs = host_subgraph(graph, group, outs)
            kinds = [n.onnx_type for n in group]
            name = kinds[0] if len(kinds) == 1 else "HostSubgraph"
            estimates = [host_cost.estimate(graph, n, target, batch_size) for n in group]
            attrs = {"model": key, "nodes": [{"name": n.name, "op_type": n.onnx_type, "reason": n.reason,
                                              "estimate": e.to_json()} for n, e in zip(group, estimates)],
                     "estimate": host_cost.operator_estimate(estimates).to_json()}
            operators.append(Operator(index, "onnx", "host", name, tuple(runtime_inputs), tuple(outs),
                                      freeze(attrs), tuple(n.name for n in group), group[0].reason))
            used.update(runtime_inputs)
            used.update(outs)
            continue
        node = group[0]
        op_cost = cost.op_cost(graph, node) if node.unit == "npu" else None
        program_bytes = 0 if op_cost is None else program_size.operator_bytes(
            op_cost, graph.values[node.outputs[0]].shape, target, batch_size)
        attrs = _json_attrs(node.attrs)
        if node.unit != "npu":  # the placement report: this operator's cost here and on the NPU
            attrs["estimate"] = host_cost.operator_estimate(
                [host_cost.estimate(graph, node, target, batch_size)]).to_json()
        operators.append(Operator(
            index, node.op, node.unit or "host", node.display or DISPLAY.get(node.op, node.op), tuple(node.inputs), tuple(node.outputs),
            freeze(attrs), tuple(node.origin) or (node.name,), node.reason, op_cost,
            program_bytes,
        ))
        used.update(n for n in node.inputs if n)
        used.update(node.outputs)
    used.update(graph.inputs)
    used.update(graph.outputs)
    tensors = {}
    for name in sorted(used):
        value = graph.values[name]
        tensors[name] = TensorSpec(name, tuple(int(d) for d in value.shape), value.dtype, value.qparams,
                                   value.is_const, value.source)
        if value.is_const:
            blobs[name] = np.ascontiguousarray(value.const).tobytes()
    inputs = tuple(
        _io(graph, graph.input_names[i], t, target, t in plan.lowered, plan.permutations.get(t), plan.layout)
        for i, t in enumerate(graph.inputs)
    )
    outputs = tuple(
        _io(graph, graph.output_names[i], t, target, i in plan.lowered_outputs, None, plan.layout)
        for i, t in enumerate(graph.outputs)
    )
    return Program(
        target=target, batch_size=batch_size, compiler_version=emulator_version(),
        source_format=source_format, inputs=inputs, outputs=outputs, tensors=freeze(tensors),
        operators=tuple(operators), blobs=freeze(blobs), config=freeze(config),
        memory=freeze(memory.plan(operators, target, batch_size)), warnings=tuple(graph.warnings),
    )
