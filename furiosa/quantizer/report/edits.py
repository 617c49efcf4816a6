"""Model edits the reports apply: ranges, layers kept in float, and ModelEditor's I/O types.

Everything here returns new objects (the caller's model is never changed) and speaks the
vendor's contract: a float model plus metadata, which :func:`~furiosa.quantizer.quantize`
serializes and the compiler quantizes.

**Keeping layers in float.** The compiler quantizes a tensor when it has a calibrated range and
fuses every dequantize → operator → quantize chain into an int8 kernel. To run a layer (its ONNX
nodes) in float on the host with float weights while its neighbours stay int8,
:func:`keep_in_float` rewrites the model so that no chain around it can form:

* the ranges of the layer's outputs are removed (the layer writes float);
* each quantized input reaches the layer through ``Cast(to=FLOAT)``, a float operator without a
  range, so the layer reads a float tensor and its weights are not quantized;
* each output read by other nodes goes through ``Identity``, which gets the output's range, so
  the next layer still reads int8 quantized exactly as before.

The cast and the identity change no value; the compiler runs them with the layer in one host
ONNX subgraph, between a Dequantize and a Quantize.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import onnx
from onnx import helper

from ..editor import ModelEditor, TensorType, get_output_names, get_pure_input_names
from ..metadata import CALIBRATION_KEY, load_ranges
from ..quantize import quantize

Range = tuple[float, float]


def recorded_ranges(model: onnx.ModelProto) -> dict[str, Range] | None:
    """The ranges in the model's ``FurisoaAI.CalibrationResult`` metadata, or None."""
    for entry in model.metadata_props:
        if entry.key == CALIBRATION_KEY:
            return load_ranges(entry.value)
    return None


def quantized_bytes(model: onnx.ModelProto, ranges: Mapping[str, Range]) -> bytes:
    """``quantize(model, ranges)``: the bytes the compiler turns into an int8 program."""
    return quantize(model, dict(ranges))


def with_ranges(ranges: Mapping[str, Range], changes: Mapping[str, Range | None]) -> dict[str, Range]:
    """``ranges`` with ``changes`` applied (``None`` removes a tensor's range)."""
    out = dict(ranges)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = (float(value[0]), float(value[1]))
    return out


def _fresh(model: onnx.ModelProto, base: str) -> str:
    taken = {v.name for v in model.graph.input} | {v.name for v in model.graph.output}
    taken |= {o for n in model.graph.node for o in n.output} | {t.name for t in model.graph.initializer}
    name, count = base, 1
    while name in taken:
        count += 1
        name = f"{base}_{count}"
    return name


def _value_info(model: onnx.ModelProto, name: str) -> onnx.ValueInfoProto | None:
    for value in (*model.graph.value_info, *model.graph.input, *model.graph.output):
        if value.name == name:
            return value
    return None


def _copy_info(model: onnx.ModelProto, source: str, target: str) -> None:
    info = _value_info(model, source)
    if info is not None:
        copy = model.graph.value_info.add()
        copy.CopyFrom(info)
        copy.name = target


def keep_in_float(model: onnx.ModelProto, nodes: Sequence[str],
                  ranges: Mapping[str, Range]) -> tuple[onnx.ModelProto, dict[str, Range]]:
    """A copy of ``model`` and ranges in which the ONNX nodes ``nodes`` run in float on the host.

    Raises ``ValueError`` naming a node that is not in the graph.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    by_name = {n.name: n for n in graph.node if n.name}
    missing = [n for n in nodes if n not in by_name]
    if missing:
        raise ValueError(f"no node named {', '.join(repr(n) for n in missing)} in the model")
    chosen = set(nodes)
    produced = {o for name in nodes for o in by_name[name].output if o}
    new_ranges = {k: v for k, v in ranges.items() if k not in produced}
    initializers = {t.name for t in graph.initializer}
    inserted: list[tuple[int, onnx.NodeProto]] = []
    positions = {id(n): i for i, n in enumerate(graph.node)}
    # inputs arriving quantized: read them through a float Cast
    for name in nodes:
        node = by_name[name]
        for slot, tensor in enumerate(node.input):
            if not tensor or tensor in produced or tensor in initializers or tensor not in ranges:
                continue
            cast_name = _fresh(out, f"{tensor}/float_input")
            cast = helper.make_node("Cast", [tensor], [cast_name], name=cast_name, to=onnx.TensorProto.FLOAT)
            _copy_info(out, tensor, cast_name)
            node.input[slot] = cast_name
            inserted.append((positions[id(node)], cast))
    # outputs read by other nodes: hand them over through an Identity that keeps the range
    for name in nodes:
        node = by_name[name]
        for tensor in node.output:
            readers = [n for n in graph.node if n.name not in chosen and tensor in n.input]
            if not tensor or not readers:
                continue
            boundary = _fresh(out, f"{tensor}/float_output")
            identity = helper.make_node("Identity", [tensor], [boundary], name=boundary)
            _copy_info(out, tensor, boundary)
            for reader in readers:
                for slot, value in enumerate(reader.input):
                    if value == tensor:
                        reader.input[slot] = boundary
            if tensor in ranges:
                new_ranges[boundary] = ranges[tensor]
            inserted.append((positions[id(node)] + 1, identity))
    for position, node in sorted(inserted, key=lambda item: -item[0]):
        graph.node.insert(position, node)
    return out, new_ranges


IO_VARIANTS = ("float", "uint8-input", "int8-output", "uint8-input+int8-output")
"""ModelEditor conversions the sweep compares: none, uint8 inputs, int8 outputs, both."""


def with_io(model: onnx.ModelProto, variant: str) -> onnx.ModelProto:
    """A copy of ``model`` with ModelEditor's conversions of ``variant`` (one of :data:`IO_VARIANTS`)."""
    if variant not in IO_VARIANTS:
        raise ValueError(f"unknown I/O variant {variant!r}; known: {', '.join(IO_VARIANTS)}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    editor = ModelEditor(out)
    if variant.startswith("uint8-input"):
        for name in get_pure_input_names(out):
            editor.convert_input_type(name, TensorType.UINT8)
    if variant.endswith("int8-output"):
        for name in get_output_names(out):
            editor.convert_output_type(name, TensorType.INT8)
    return out
