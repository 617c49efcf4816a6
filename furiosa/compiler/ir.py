"""The compiler's working graph.

Frontends translate a model into a :class:`Graph`; passes rewrite it; :mod:`.emit` turns the
final graph into an ENF :class:`~furiosa.compiler.enf.Program`. The graph is a list of
:class:`Node` objects over named :class:`Value` objects. A value that holds int8 data has
``dtype == "int8"`` and :class:`~furiosa.common.qmath.QParams` giving its meaning; constants carry
their array.

Node ops are either kernel names of the emulated device (``conv``, ``quantize``...), or
``onnx`` for a float operator that runs on the host through onnxruntime (``attrs["node"]`` holds
the original ``onnx.NodeProto``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from furiosa.common.errors import InvalidModelError
from furiosa.common.qmath import QParams


def shape_text(shape) -> str:
    """A shape for messages: in full, or its first dimensions when a damaged file gives hundreds."""
    dims = [int(d) for d in shape]
    if len(dims) <= 8:
        return str(tuple(dims))
    return f"({', '.join(map(str, dims[:6]))}, ...) of {len(dims)} dimensions"


@dataclass(eq=False)
class Value:
    name: str
    shape: tuple[int, ...]
    dtype: str
    qparams: QParams | None = None
    const: np.ndarray | None = None
    source: str | None = None  # the model's float tensor a quantized value stands for

    @property
    def is_const(self) -> bool:
        return self.const is not None

    @property
    def quantized(self) -> bool:
        return self.qparams is not None


@dataclass(eq=False)
class Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    origin: tuple[str, ...] = ()
    unit: str | None = None
    reason: str = ""
    display: str = ""

    @property
    def onnx_type(self) -> str | None:
        """The ONNX op type of a host float node (``op == "onnx"``)."""
        node = self.attrs.get("node")
        return None if node is None else node.op_type

    def describe(self) -> str:
        kind = self.onnx_type or self.op
        return f"{kind} node {self.name!r}" if self.name else f"{kind} node"


class Graph:
    """A model being compiled."""

    def __init__(self, opset: int = 13) -> None:
        self.values: dict[str, Value] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.opset = opset
        self.metadata: dict[str, str] = {}
        self.warnings: list[str] = []
        self._counter = itertools.count()
        self._index: tuple[dict[str, Node], dict[str, list[Node]]] | None = None

    # --- values -----------------------------------------------------------------------------
    def add_value(self, value: Value) -> Value:
        self.values[value.name] = value
        return value

    def value(self, name: str) -> Value:
        return self.values[name]

    def fresh(self, base: str) -> str:
        """A value name not used yet, derived from ``base``."""
        while True:
            candidate = f"{base}__{next(self._counter)}"
            if candidate not in self.values:
                return candidate

    def const(self, name: str) -> np.ndarray | None:
        value = self.values.get(name)
        return None if value is None else value.const

    def add_const(self, base: str, array: np.ndarray, qparams: QParams | None = None) -> str:
        name = self.fresh(base)
        self.add_value(Value(name, tuple(array.shape), str(array.dtype), qparams, array))
        return name

    # --- nodes ------------------------------------------------------------------------------
    def touch(self) -> None:
        """Forget cached producer/consumer maps after a change."""
        self._index = None

    def add_node(self, node: Node, position: int | None = None) -> Node:
        if position is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(position, node)
        self.touch()
        return node

    def remove_node(self, node: Node) -> None:
        self.nodes.remove(node)
        self.touch()

    def _build_index(self) -> tuple[dict[str, Node], dict[str, list[Node]]]:
        if self._index is None:
            producers: dict[str, Node] = {}
            consumers: dict[str, list[Node]] = {}
            for node in self.nodes:
                for out in node.outputs:
                    producers[out] = node
                for name in node.inputs:
                    if name:
                        consumers.setdefault(name, []).append(node)
            self._index = (producers, consumers)
        return self._index

    def producer(self, name: str) -> Node | None:
        return self._build_index()[0].get(name)

    def consumers(self, name: str) -> list[Node]:
        return list(self._build_index()[1].get(name, ()))

    def only_consumer(self, name: str) -> Node | None:
        """The single node reading ``name``, if it is read once and is not a graph output."""
        users = self.consumers(name)
        if len(users) == 1 and name not in self.outputs:
            return users[0]
        return None

    def replace_uses(self, old: str, new: str) -> None:
        for node in self.nodes:
            node.inputs = [new if name == old else name for name in node.inputs]
        self.outputs = [new if name == old else name for name in self.outputs]
        self.touch()

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self.nodes))

    def eliminate_dead(self) -> None:
        """Drop nodes whose outputs nobody reads and values nobody references."""
        changed = True
        while changed:
            changed = False
            _, consumers = self._build_index()
            for node in list(self.nodes):
                if not any(out in self.outputs or consumers.get(out) for out in node.outputs):
                    self.nodes.remove(node)
                    self.touch()
                    changed = True
                    break
        used = set(self.inputs) | set(self.outputs)
        for node in self.nodes:
            used.update(n for n in node.inputs if n)
            used.update(node.outputs)
        for name in list(self.values):
            if name not in used:
                del self.values[name]

    def toposort(self) -> None:
        """Order nodes so that every value is produced before it is read."""
        ready = set(self.inputs) | {n for n, v in self.values.items() if v.is_const}
        pending = list(self.nodes)
        ordered: list[Node] = []
        while pending:
            progressed = False
            for node in list(pending):
                if all(not name or name in ready for name in node.inputs):
                    ordered.append(node)
                    ready.update(node.outputs)
                    pending.remove(node)
                    progressed = True
            if not progressed:
                stuck = ", ".join(n.describe() for n in pending[:3])
                raise InvalidModelError(f"the graph has a cycle or reads undefined values at {stuck}")
        self.nodes = ordered
        self.touch()

    def nodes_of(self, ops: Iterable[str]) -> list[Node]:
        wanted = set(ops)
        return [n for n in self.nodes if n.op in wanted]
