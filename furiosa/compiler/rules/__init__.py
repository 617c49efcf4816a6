"""Per-operator rules: how each ONNX operator becomes an int8 kernel of the emulated NPU.

One :class:`Rule` per ONNX operator type (modules group operators that share everything, such
as the element-wise table operators). A rule says

* how a calibrated float model quantizes the operator (the Warboy scheme of
  spec/toolchain-api.md §3.7): which inputs are weights (quantized per output channel), which is
  the bias (int32), and how the output is quantized (its calibrated range, the input's
  parameters for pass-through operators, or a fixed range for Softmax / Sigmoid);
* how a dequantize → operator → quantize chain is fused into a kernel node (:meth:`Rule.build`).

Rules register through :data:`RULES`; the list of rule modules at the bottom is the table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from furiosa.common.errors import InvalidModelError
from furiosa.common.qmath import QParams, quantize
from furiosa.common.registry import Registry

from ..frontend.onnx import attributes
from ..ir import Graph, Node, Value

RULES: Registry["Rule"] = Registry("operator rule")


@dataclass
class Match:
    """A dequantize → ``node`` (→ activation) → quantize chain found in the graph.

    ``inputs[i]`` is the quantized value feeding ONNX input ``i`` through a dequantize node,
    or ``None`` when that input is a plain constant (shape, axes...) or absent.
    ``outputs[j]`` is the quantized value the j-th output is quantized into.
    """

    graph: Graph
    node: Node
    inputs: list[str | None]
    outputs: list[str]
    activation: Node | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def opset(self) -> int:
        return self.graph.opset

    def value(self, name: str) -> Value:
        return self.graph.values[name]

    def qp(self, name: str) -> QParams:
        qp = self.graph.values[name].qparams
        assert qp is not None
        return qp

    def raw(self, index: int) -> np.ndarray | None:
        """The plain constant at ONNX input ``index`` (None if absent or not constant)."""
        names = self.node.inputs
        if index >= len(names) or not names[index]:
            return None
        return self.graph.const(names[index])

    def float_shape(self, index: int) -> tuple[int, ...]:
        return self.graph.values[self.node.inputs[index]].shape

    def out_shape(self, index: int = 0) -> tuple[int, ...]:
        return self.graph.values[self.outputs[index]].shape

    def kernel(self, op: str, inputs: list[str], attrs: dict[str, Any], display: str) -> Node:
        origin = tuple(self.node.origin) + ((self.activation.name,) if self.activation else ())
        return Node(op, inputs, list(self.outputs), attrs, name=self.node.name, origin=origin,
                    display=display)


@dataclass(frozen=True)
class Rule:
    """How one ONNX operator type is quantized and fused.

    ``weights``: input index -> axis of its output channels, for constant weights quantized
    symmetrically per channel. ``bias``: input index of an int32 bias. ``output``:
    ``"calibrated"`` (the tensor's own range), ``"input"`` (reuse the first input's parameters:
    pass-through operators) or ``"fixed"`` (``fixed_range``). ``fuses_activation``: a following
    Relu / Clip is folded in. ``operands``: input indexes that carry data (quantized); the rest
    are plain constants such as shapes and axes.
    """

    op_type: str
    build: Callable[[Match], Node | None]
    operands: tuple[int, ...] | None = (0,)
    weights: dict[int, int] = field(default_factory=dict)
    bias: int | None = None
    output: str = "calibrated"
    fixed_range: tuple[float, float] | None = None
    fuses_activation: bool = False
    weight_axis: Callable[[dict[str, Any]], dict[int, int]] | None = None

    def weight_axes(self, node: Node) -> dict[int, int]:
        if self.weight_axis is not None:
            return self.weight_axis(onnx_attrs(node))
        return self.weights

    def operand_indexes(self, node: Node) -> tuple[int, ...]:
        if self.operands is None:
            return tuple(range(len(node.inputs)))
        return self.operands


def rule(op_type: str, **kwargs: Any) -> Callable[[Callable[[Match], Node | None]], Callable[[Match], Node | None]]:
    """Register the decorated builder as the rule of ``op_type``."""

    def decorate(build: Callable[[Match], Node | None]) -> Callable[[Match], Node | None]:
        RULES.add(op_type, Rule(op_type, build, **kwargs))
        return build

    return decorate


def onnx_attrs(node: Node) -> dict[str, Any]:
    proto = node.attrs.get("node")
    return attributes(proto) if proto is not None else {}


def quantized_scalar(value: float, qp: QParams) -> int:
    """The stored int8 value of ``value`` under per-tensor ``qp``."""
    return int(quantize(np.asarray([value], dtype=np.float32), qp)[0])


def activation_bounds(m: Match, qp_out: QParams) -> list[int] | None:
    """Stored int8 bounds a fused Relu / Clip imposes on the output, or None."""
    act = m.activation
    if act is None:
        return None
    lo_hi = activation_range(m.graph, act)
    if lo_hi is None:
        return None
    lo, hi = lo_hi
    qlo = -128 if lo is None else quantized_scalar(lo, qp_out)
    qhi = 127 if hi is None else quantized_scalar(hi, qp_out)
    return [qlo, qhi]


def activation_range(graph: Graph, act: Node) -> tuple[float | None, float | None] | None:
    """The (min, max) a Relu or constant-bound Clip node clamps to; None if it is neither."""
    kind = act.onnx_type
    if kind == "Relu":
        return (0.0, None)
    if kind == "Clip":
        attrs = onnx_attrs(act)
        if graph.opset < 11 or "min" in attrs or "max" in attrs:
            return (attrs.get("min"), attrs.get("max"))
        bounds: list[float | None] = []
        for index in (1, 2):
            name = act.inputs[index] if index < len(act.inputs) else ""
            if not name:
                bounds.append(None)
                continue
            array = graph.const(name)
            if array is None:
                return None
            bounds.append(float(np.asarray(array).reshape(())))
        return (bounds[0], bounds[1])
    return None


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise InvalidModelError(
            f"axis {axis} is out of range for a tensor of rank {rank} (valid: {-rank} to {rank - 1})"
        )
    return axis + rank if axis < 0 else axis


# Rule modules, in the order they register. Adding an operator: write its module, add it here.
from . import conv, gemm, elementwise, pool, movement, softmax  # noqa: E402,F401
