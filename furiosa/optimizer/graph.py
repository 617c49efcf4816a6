"""A thin, mutable view over an ``onnx.ModelProto`` that the optimizer's passes share.

It indexes producers, consumers, initializers and value infos so a pattern rewrite reads like
the pattern; after a pass changes the node list it calls :meth:`ModelGraph.refresh` (or uses the
helpers here, which keep the indexes current).
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import onnx
from onnx import helper, numpy_helper

ONNX_DOMAINS = ("", "ai.onnx")


def opset_of(model: onnx.ModelProto) -> int:
    """The version of the default ONNX domain the model imports (0 when it imports none)."""
    for entry in model.opset_import:
        if entry.domain in ONNX_DOMAINS:
            return int(entry.version)
    return 0


def static_shape(value: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    """The shape of a tensor value info when every dimension is a known positive number or 0."""
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return None
    dims = []
    for dim in value.type.tensor_type.shape.dim:
        if not dim.HasField("dim_value") or dim.dim_value < 0:
            return None
        dims.append(int(dim.dim_value))
    return tuple(dims)


class ModelGraph:
    """Indexes over ``model.graph``; every helper keeps them current."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.opset = opset_of(model)
        self.nodes: list[onnx.NodeProto] = list(model.graph.node)
        self._counter = 0
        self.refresh()

    # --- indexes ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the indexes after the node, initializer or value-info lists changed."""
        self.initializers: dict[str, onnx.TensorProto] = {t.name: t for t in self.graph.initializer}
        self.producers: dict[str, onnx.NodeProto] = {}
        self.users: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes:
            for name in node.output:
                if name:
                    self.producers[name] = node
            for name in node.input:
                if name:
                    self.users.setdefault(name, []).append(node)
        self.infos: dict[str, onnx.ValueInfoProto] = {}
        for value in list(self.graph.value_info) + list(self.graph.input) + list(self.graph.output):
            self.infos[value.name] = value
        self.output_names = [o.name for o in self.graph.output]
        self._names = set(self.initializers) | set(self.producers) | {i.name for i in self.graph.input}
        self._names |= {n.name for n in self.nodes}

    def consumers(self, name: str) -> list[onnx.NodeProto]:
        return self.users.get(name, [])

    def producer(self, name: str) -> onnx.NodeProto | None:
        return self.producers.get(name)

    def is_output(self, name: str) -> bool:
        return name in self.output_names

    def pure_inputs(self) -> list[onnx.ValueInfoProto]:
        """Graph inputs that are not backed by an initializer, in order."""
        return [value for value in self.graph.input if value.name not in self.initializers]

    # --- constants --------------------------------------------------------------------------
    def constant(self, name: str) -> np.ndarray | None:
        """The value of an initializer, or None when ``name`` is computed or fed."""
        tensor = self.initializers.get(name)
        if tensor is None:
            return None
        return numpy_helper.to_array(tensor)

    def fresh(self, base: str) -> str:
        """A tensor or node name not used anywhere in the graph yet."""
        name = base
        while name in self._names:
            self._counter += 1
            name = f"{base}_{self._counter}"
        self._names.add(name)
        return name

    def add_initializer(self, base: str, array: np.ndarray, exact: bool = False) -> str:
        """Store ``array`` as a new initializer and return its (possibly uniquified) name."""
        name = base if exact else self.fresh(base)
        self._names.add(name)
        tensor = numpy_helper.from_array(np.asarray(array), name)
        self.graph.initializer.append(tensor)
        self.initializers[name] = tensor
        return name

    def commit(self) -> onnx.ModelProto:
        """Write the edited node list back into the model and drop unused initializers."""
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)
        self.nodes = list(self.graph.node)
        self.remove_unused_initializers()
        return self.model

    def remove_unused_initializers(self) -> None:
        used = {name for node in self.nodes for name in node.input} | set(self.output_names)
        keep = [t for t in self.graph.initializer if t.name in used]
        if len(keep) != len(self.graph.initializer):
            del self.graph.initializer[:]
            self.graph.initializer.extend(keep)
            inputs = [v for v in self.graph.input if v.name in used or v.name not in self.initializers]
            del self.graph.input[:]
            self.graph.input.extend(inputs)
        self.refresh()

    # --- shapes -----------------------------------------------------------------------------
    def shape(self, name: str) -> tuple[int, ...] | None:
        if name in self.initializers:
            return tuple(int(d) for d in self.initializers[name].dims)
        info = self.infos.get(name)
        return None if info is None else static_shape(info)

    def elem_type(self, name: str) -> int | None:
        if name in self.initializers:
            return int(self.initializers[name].data_type)
        info = self.infos.get(name)
        if info is None or not info.type.HasField("tensor_type"):
            return None
        return int(info.type.tensor_type.elem_type) or None

    # --- editing ----------------------------------------------------------------------------
    def replace_uses(self, old: str, new: str) -> None:
        """Every reader of ``old`` reads ``new`` (graph outputs are not renamed)."""
        for node in self.consumers(old):
            for i, name in enumerate(node.input):
                if name == old:
                    node.input[i] = new

    def bypass(self, node: onnx.NodeProto, source: str) -> bool:
        """Remove a single-output node whose result equals ``source``; False when it is a graph output."""
        out = node.output[0]
        if self.is_output(out):
            return False
        self.replace_uses(out, source)
        self.remove(node)
        return True

    def contains(self, node: onnx.NodeProto) -> bool:
        return any(other is node for other in self.nodes)

    def remove(self, node: onnx.NodeProto) -> None:
        self.nodes = [other for other in self.nodes if other is not node]
        self.refresh()

    def replace(self, old: Iterable[onnx.NodeProto], new: list[onnx.NodeProto]) -> None:
        """Put ``new`` where the first of ``old`` was and drop ``old``."""
        ids = {id(node) for node in old}
        index = min(i for i, node in enumerate(self.nodes) if id(node) in ids)
        before = [node for node in self.nodes[:index] if id(node) not in ids]
        after = [node for node in self.nodes[index:] if id(node) not in ids]
        self.nodes = before + list(new) + after
        self.refresh()

    def node(self, op_type: str, inputs: list[str], outputs: list[str], name: str | None = None,
             **attrs) -> onnx.NodeProto:
        node_name = self.fresh(name or f"{op_type}_{outputs[0]}")
        return helper.make_node(op_type, inputs, outputs, name=node_name, **attrs)

    def __iter__(self) -> Iterator[onnx.NodeProto]:
        """The nodes as they are now; nodes a rewrite removed meanwhile are skipped."""
        for node in list(self.nodes):
            if self.contains(node):
                yield node


def topological_order(model: onnx.ModelProto) -> None:
    """Sort ``model.graph.node`` so every node comes after the producers of its inputs."""
    graph = model.graph
    available = {v.name for v in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        progress = []
        rest = []
        for node in pending:
            if all(name in available for name in node.input):
                progress.append(node)
                available.update(node.output)
            else:
                rest.append(node)
        if not progress:
            missing = sorted({n for node in rest for n in node.input if n not in available})
            raise ValueError(f"the graph has a cycle or reads undefined tensors: {', '.join(missing[:5])}")
        ordered.extend(progress)
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)
