"""Placement costs: what a host operator costs on the host CPU, and what it would cost on the NPU.

The placement report (``furiosa-compiler -v``, the ENF manifest, the HTML reports) puts two
modeled figures next to every operator the compiler leaves on the host:

* **host**: a FLOP / byte model of one CPU core running the operator (onnxruntime for float
  operators, the same int8 kernel for int8 ones, whose tensors are 1 byte per item)::

      t_host = t_call + t_node · (nodes − 1) + batch · Σ_nodes max(flops / F, items · c_op, bytes / B)

  ``F`` is the dense throughput of Conv / Gemm / MatMul, ``B`` the memory throughput of
  element-wise and data-movement operators, ``c_op`` a per-item cost of operators bound by
  arithmetic rather than memory (transcendental functions, interpolation). The constants of
  :data:`HOST_CPU` come from ``docs/scripts/measure_host_cpu.py`` (onnxruntime, one thread, best
  of repeats) on the development machine, a shared 2-core AMD EPYC VM: Conv 3x3 ≈ 110 GFLOP/s,
  MatMul ≈ 30 GFLOP/s (``F`` = 60), Relu / Concat on cache-resident tensors 70–80 GB/s (``B`` =
  20, for tensors that stream from DRAM), Sigmoid and Softmax ≈ 0.3 ns and linear Resize ≈ 1.4 ns
  per item, ≈ 4.4 µs per call and ≈ 0.5 µs per further node (rounded up to 5 and 1 µs for a
  runtime that also converts and copies). Per-item costs of the operators not measured are set
  relative to those. It is an order-of-magnitude model: it tells whether a fallback costs
  microseconds or milliseconds, not its exact time (docs/placement.md).
* **NPU, if it were supported**: the static :class:`~.enf.program.Cost` of the operator's int8
  form (:mod:`.cost`, the same work model as every NPU operator) turned into time by the
  emulated device's timing model (``furiosa.device.emulator.timing.operator_ns``, weights
  assumed resident in SRAM). Float operators are costed as their int8 counterpart would be
  (Conv / Gemm / MatMul by their MACs, the rest by the bytes they write). Operators with no
  tensor form on an accelerator (shape computations, control flow, non-float outputs) and
  Quantize / Dequantize (host-only on Warboy) get no NPU figure, with the reason.

This module reads the timing model of :mod:`furiosa.device.emulator` lazily, the one place the
compiler looks at the device package: the NPU figure must be the one the emulated device
would report.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from . import cost
from .enf.program import Cost
from .ir import Graph, Node


def _items(**values: float) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class HostCPU:
    """Constants of the host CPU model (one core; see the module docstring for their basis)."""

    call_ns: int = 5_000                 # one host operator called by the runtime
    node_ns: int = 1_000                 # each further ONNX node of a host subgraph
    dense_flops_per_s: float = 60e9      # Conv, ConvTranspose, Gemm, MatMul (2 FLOPs per MAC)
    bytes_per_s: float = 20e9            # memory-bound operators: bytes read + written
    item_ns: Mapping[str, float] = field(default_factory=lambda: _items(
        Sigmoid=0.3, Tanh=0.3, Exp=0.3, Log=0.3, Erf=0.4, Softmax=0.3, LogSoftmax=0.35, Softplus=0.4,
        HardSigmoid=0.1, HardSwish=0.1, Gelu=0.5, Pow=0.5, Sqrt=0.2, Reciprocal=0.1, Div=0.1,
        Resize=1.4, Upsample=1.4, LpNormalization=0.5, ReduceL2=0.3, InstanceNormalization=0.5,
        LayerNormalization=0.5, GridSample=2.0, RoiAlign=4.0,
    ))


HOST_CPU = HostCPU()
"""The host CPU the placement report models."""

#: operators that have no tensor form on an accelerator (shape arithmetic, control flow, sorting,
#: detection post-processing): no NPU figure
NO_NPU_FORM = frozenset({
    "Shape", "Size", "NonZero", "TopK", "NonMaxSuppression", "Loop", "If", "Scan", "Range",
    "ConstantOfShape", "Unique", "Where", "ArgMax", "ArgMin", "RandomNormal", "RandomUniform",
    "Multinomial", "StringNormalizer", "TfIdfVectorizer", "SequenceConstruct", "SplitToSequence",
    "ConcatFromSequence", "Cast", "CastLike", "Equal", "Greater", "Less", "Not", "And", "Or",
})
#: operators that only reinterpret a tensor (no data written on the NPU)
LAYOUT_ONLY = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
#: matrix operators, costed by their multiply-accumulates
DENSE = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
_HOST_ONLY_KERNELS = {
    "quantize": "Quantize is host-only on Warboy",
    "dequantize": "Dequantize is host-only on Warboy",
}


@dataclass(frozen=True)
class PlacementCost:
    """Modeled cost of one host node on the host and, if it were supported, on the NPU.

    Times are for one run of the program (its batch included), in nanoseconds. ``npu_ns`` is
    ``None`` when the operator has no NPU form; ``npu_note`` then says why.
    """

    host_ns: int
    host_flops: int
    host_bytes: int
    npu_ns: int | None
    npu_cost: Cost | None
    npu_note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The manifest form (``attrs["estimate"]`` of a host operator)."""
        return {"host_ns": self.host_ns, "host_flops": self.host_flops, "host_bytes": self.host_bytes,
                "npu_ns": self.npu_ns, "npu_cost": None if self.npu_cost is None else vars(self.npu_cost).copy(),
                "npu_note": self.npu_note}


# --- shapes ---------------------------------------------------------------------------------
def _size(graph: Graph, name: str) -> int:
    value = graph.values.get(name)
    return 0 if value is None else int(np.prod(value.shape, dtype=np.int64))


def _nbytes(graph: Graph, name: str) -> int:
    value = graph.values.get(name)
    return 0 if value is None else _size(graph, name) * np.dtype(value.dtype).itemsize


def _data_inputs(graph: Graph, node: Node) -> list[str]:
    return [n for n in node.inputs if n and n in graph.values and not graph.values[n].is_const]


def _kind(node: Node) -> str:
    """The ONNX operator type a node stands for (float node, or the int8 kernel's source op)."""
    return node.onnx_type or str(node.attrs.get("onnx_op", node.op))


def _macs(graph: Graph, node: Node) -> int | None:
    """Multiply-accumulates of a Conv / ConvTranspose / Gemm / MatMul node (float or int8)."""
    kind = _kind(node)
    out = graph.values.get(node.outputs[0]) if node.outputs else None
    if out is None or len(node.inputs) < 2 or node.inputs[1] not in graph.values:
        return None
    other = graph.values[node.inputs[1]].shape
    if kind == "Conv" and len(other) >= 2:
        return _size(graph, node.outputs[0]) * int(np.prod(other[1:], dtype=np.int64))
    if kind == "ConvTranspose" and len(other) >= 2:
        return _size(graph, node.inputs[0]) * int(np.prod(other[1:], dtype=np.int64))
    first = graph.values.get(node.inputs[0])
    if kind in ("Gemm", "MatMul") and first is not None and first.shape:
        return _size(graph, node.outputs[0]) * int(first.shape[-1])
    return None


# --- host -----------------------------------------------------------------------------------
def host_work(graph: Graph, node: Node, cpu: HostCPU = HOST_CPU) -> tuple[int, int, float]:
    """``(flops, bytes, arithmetic ns)`` of one node for one sample on the host."""
    kind = _kind(node)
    nbytes = sum(_nbytes(graph, n) for n in _data_inputs(graph, node)) + sum(_nbytes(graph, n) for n in node.outputs)
    items = sum(_size(graph, n) for n in node.outputs)
    flops = 0
    if kind in DENSE:
        flops = 2 * (_macs(graph, node) or 0)
    if kind in LAYOUT_ONLY:
        nbytes = 0
    return flops, nbytes, items * cpu.item_ns.get(kind, 0.0)


def host_node_ns(graph: Graph, node: Node, batch: int, cpu: HostCPU = HOST_CPU) -> tuple[int, int, int]:
    """``(ns, flops, bytes)`` of one node on the host for a run of ``batch`` samples, without call overhead."""
    flops, nbytes, arithmetic = host_work(graph, node, cpu)
    seconds = max(flops / cpu.dense_flops_per_s, nbytes / cpu.bytes_per_s, arithmetic * 1e-9)
    return round(seconds * 1e9 * batch), flops * batch, nbytes * batch


# --- NPU ------------------------------------------------------------------------------------
def npu_cost_if_supported(graph: Graph, node: Node) -> tuple[Cost | None, str]:
    """The static cost of the node's int8 form on the NPU, or ``(None, why not)``."""
    if node.op in _HOST_ONLY_KERNELS:
        return None, _HOST_ONLY_KERNELS[node.op]
    if node.op != "onnx":
        return cost.op_cost(graph, node), ""
    kind = _kind(node)
    if kind in NO_NPU_FORM:
        return None, f"{kind} has no tensor form on the NPU"
    outputs = [graph.values.get(n) for n in node.outputs if n]
    if not outputs or any(v is None or v.dtype != "float32" for v in outputs):
        return None, f"{kind} has non-float outputs"
    items_in = sum(_size(graph, n) for n in _data_inputs(graph, node))
    items_out = sum(_size(graph, n) for n in node.outputs)
    weights = sum(_size(graph, n) for n in node.inputs if n in graph.values and graph.values[n].is_const)
    if kind in LAYOUT_ONLY:
        return Cost("layout", input_bytes=items_in, output_bytes=items_out), ""
    if kind in DENSE:
        macs = _macs(graph, node)
        if macs is None:
            return None, f"{kind} with unknown shapes"
        weight_shape = graph.values[node.inputs[1]].shape
        group = _group(node)
        depthwise = kind == "Conv" and group > 1 and len(weight_shape) > 1 and weight_shape[1] == 1
        return Cost("depthwise" if depthwise else "dense", macs, 0, weights, items_in, items_out), ""
    return Cost("vector", 0, items_out, weights, items_in, items_out), ""


def _group(node: Node) -> int:
    proto = node.attrs.get("node")
    if proto is None:
        return int(node.attrs.get("group", 1))
    for attribute in proto.attribute:
        if attribute.name == "group":
            return int(attribute.i)
    return 1


def npu_ns(npu_cost: Cost, target: str, batch: int) -> int:
    """Modeled NPU time of one operator of static cost ``npu_cost`` (weights in SRAM)."""
    from furiosa.device.emulator import timing

    return timing.operator_ns(npu_cost, timing.model_for(target), batch)


# --- both -----------------------------------------------------------------------------------
def estimate(graph: Graph, node: Node, target: str, batch: int, cpu: HostCPU = HOST_CPU) -> PlacementCost:
    """Host and NPU costs of one node (host time without the runtime's call overhead)."""
    ns, flops, nbytes = host_node_ns(graph, node, batch, cpu)
    npu_cost, note = npu_cost_if_supported(graph, node)
    return PlacementCost(ns, flops, nbytes, None if npu_cost is None else npu_ns(npu_cost, target, batch),
                         npu_cost, note)


def operator_estimate(parts: list[PlacementCost], cpu: HostCPU = HOST_CPU) -> PlacementCost:
    """The cost of one host operator running ``parts`` (its nodes, in order), call overheads included."""
    host = cpu.call_ns + cpu.node_ns * max(len(parts) - 1, 0) + sum(p.host_ns for p in parts)
    missing = [p.npu_note for p in parts if p.npu_ns is None]
    npu = None if missing else sum(p.npu_ns or 0 for p in parts)
    single = parts[0].npu_cost if len(parts) == 1 else None
    return PlacementCost(host, sum(p.host_flops for p in parts), sum(p.host_bytes for p in parts), npu, single,
                         "; ".join(dict.fromkeys(missing)))


def host_ns_of(npu_cost: Cost, batch: int = 1, *, float32: bool = True, cpu: HostCPU = HOST_CPU) -> int:
    """Modeled host time of an NPU operator of static cost ``npu_cost`` run on the host instead.

    ``float32``: the operator runs in float (4 bytes per item) rather than int8; call overhead
    included. Used to price "keep this layer on the host in float".
    """
    width = 4 if float32 else 1
    nbytes = (npu_cost.input_bytes + npu_cost.output_bytes) * width
    seconds = max(2 * npu_cost.macs / cpu.dense_flops_per_s, nbytes / cpu.bytes_per_s)
    return cpu.call_ns + round(seconds * 1e9 * batch)
