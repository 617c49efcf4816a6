"""A small TFLite model writer for the tests (TensorFlow is not needed).

Models are built tensor by tensor and operator by operator, then serialized with the
``flatbuffers`` package following the schema facts in
:mod:`furiosa.compiler.frontend.tflite.schema` (the reader uses the same tables, and LiteRT
reads what this writes, which checks both against the real schema).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np

from furiosa.compiler.frontend.tflite import schema


@dataclass
class Quant:
    scale: list[float]
    zero_point: list[int]
    axis: int = 0


@dataclass
class TensorDef:
    name: str
    shape: tuple[int, ...]
    type: str
    data: np.ndarray | None = None
    quant: Quant | None = None


@dataclass
class OpDef:
    name: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    custom: str | None = None


_PREPEND = {
    "int8": "PrependInt8Slot", "uint8": "PrependUint8Slot", "bool": "PrependBoolSlot", "int32": "PrependInt32Slot",
    "uint32": "PrependUint32Slot", "float32": "PrependFloat32Slot", "int64": "PrependInt64Slot",
}
_NUMPY = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "int8": np.int8, "int64": np.int64,
          "int16": np.int16, "float16": np.float16, "bool": np.bool_}


class ModelBuilder:
    """Collects tensors and operators of one subgraph and writes the ``.tflite`` bytes."""

    def __init__(self) -> None:
        self.tensors: list[TensorDef] = []
        self.ops: list[OpDef] = []

    def tensor(self, name: str, shape, type: str, data: np.ndarray | None = None,
               scale=None, zero_point=None, axis: int = 0) -> int:
        quant = None
        if scale is not None:
            scales = [float(s) for s in np.atleast_1d(np.asarray(scale, dtype=np.float32))]
            zeros = [int(z) for z in np.atleast_1d(zero_point if zero_point is not None else 0)]
            quant = Quant(scales, zeros, axis)
        if data is not None:
            data = np.ascontiguousarray(np.asarray(data, dtype=_NUMPY[type]).reshape(shape))
        self.tensors.append(TensorDef(name, tuple(int(d) for d in shape), type, data, quant))
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], custom: str | None = None, **options: Any) -> None:
        self.ops.append(OpDef(name, list(inputs), list(outputs), options, custom))

    # --- serialization --------------------------------------------------------------------------
    def build(self, inputs: list[int], outputs: list[int], description: str = "furiosa tests") -> bytes:
        b = flatbuffers.Builder(1024)
        codes: list[tuple[str, str | None]] = []
        for op in self.ops:
            key = (op.name, op.custom)
            if key not in codes:
                codes.append(key)
        buffers = [None] + [t.data for t in self.tensors if t.data is not None]
        buffer_of, next_buffer = {}, 1
        for i, t in enumerate(self.tensors):
            if t.data is not None:
                buffer_of[i] = next_buffer
                next_buffer += 1

        buffer_offsets = [self._buffer(b, data) for data in buffers]
        tensor_offsets = [self._tensor(b, t, buffer_of.get(i, 0)) for i, t in enumerate(self.tensors)]
        op_offsets = [self._operator(b, op, codes.index((op.name, op.custom))) for op in self.ops]
        code_offsets = [self._opcode(b, name, custom) for name, custom in codes]

        sub_tensors = self._offsets(b, tensor_offsets)
        sub_inputs = b.CreateNumpyVector(np.asarray(inputs, dtype=np.int32))
        sub_outputs = b.CreateNumpyVector(np.asarray(outputs, dtype=np.int32))
        sub_ops = self._offsets(b, op_offsets)
        sub_name = b.CreateString("main")
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(schema.SubGraph.TENSORS, sub_tensors, 0)
        b.PrependUOffsetTRelativeSlot(schema.SubGraph.INPUTS, sub_inputs, 0)
        b.PrependUOffsetTRelativeSlot(schema.SubGraph.OUTPUTS, sub_outputs, 0)
        b.PrependUOffsetTRelativeSlot(schema.SubGraph.OPERATORS, sub_ops, 0)
        b.PrependUOffsetTRelativeSlot(schema.SubGraph.NAME, sub_name, 0)
        subgraph = b.EndObject()

        codes_vec = self._offsets(b, code_offsets)
        subgraphs_vec = self._offsets(b, [subgraph])
        buffers_vec = self._offsets(b, buffer_offsets)
        desc = b.CreateString(description)
        b.StartObject(5)
        b.PrependUint32Slot(schema.Model.VERSION, 3, 0)
        b.PrependUOffsetTRelativeSlot(schema.Model.OPERATOR_CODES, codes_vec, 0)
        b.PrependUOffsetTRelativeSlot(schema.Model.SUBGRAPHS, subgraphs_vec, 0)
        b.PrependUOffsetTRelativeSlot(schema.Model.DESCRIPTION, desc, 0)
        b.PrependUOffsetTRelativeSlot(schema.Model.BUFFERS, buffers_vec, 0)
        model = b.EndObject()
        b.Finish(model, file_identifier=schema.FILE_IDENTIFIER)
        return bytes(b.Output())

    @staticmethod
    def _offsets(b: flatbuffers.Builder, offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    @staticmethod
    def _buffer(b: flatbuffers.Builder, data: np.ndarray | None) -> int:
        vec = None
        if data is not None:
            raw = np.frombuffer(np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes(), np.uint8)
            b.StartVector(1, len(raw), 16)
            for byte in reversed(raw.tolist()):
                b.PrependUint8(byte)
            vec = b.EndVector()
        b.StartObject(3)
        if vec is not None:
            b.PrependUOffsetTRelativeSlot(schema.Buffer.DATA, vec, 0)
        return b.EndObject()

    @staticmethod
    def _tensor(b: flatbuffers.Builder, t: TensorDef, buffer: int) -> int:
        name = b.CreateString(t.name)
        shape = b.CreateNumpyVector(np.asarray(t.shape, dtype=np.int32))
        quant = None
        if t.quant is not None:
            scale = b.CreateNumpyVector(np.asarray(t.quant.scale, dtype=np.float32))
            zero = b.CreateNumpyVector(np.asarray(t.quant.zero_point, dtype=np.int64))
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(schema.Quantization.SCALE, scale, 0)
            b.PrependUOffsetTRelativeSlot(schema.Quantization.ZERO_POINT, zero, 0)
            b.PrependInt32Slot(schema.Quantization.QUANTIZED_DIMENSION, t.quant.axis, 0)
            quant = b.EndObject()
        b.StartObject(8)
        b.PrependUOffsetTRelativeSlot(schema.Tensor.SHAPE, shape, 0)
        b.PrependInt8Slot(schema.Tensor.TYPE, schema.TENSOR_TYPE_CODES[t.type], -1)
        b.PrependUint32Slot(schema.Tensor.BUFFER, buffer, 0)
        b.PrependUOffsetTRelativeSlot(schema.Tensor.NAME, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(schema.Tensor.QUANTIZATION, quant, 0)
        return b.EndObject()

    @staticmethod
    def _opcode(b: flatbuffers.Builder, name: str, custom: str | None) -> int:
        code = schema.OPERATOR_CODES[name]
        custom_off = b.CreateString(custom) if custom is not None else None
        b.StartObject(4)
        b.PrependInt8Slot(schema.OperatorCode.DEPRECATED_BUILTIN_CODE,
                          min(code, schema.PLACEHOLDER_FOR_GREATER_OP_CODES), -1)
        if custom_off is not None:
            b.PrependUOffsetTRelativeSlot(schema.OperatorCode.CUSTOM_CODE, custom_off, 0)
        b.PrependInt32Slot(schema.OperatorCode.VERSION, 1, 0)
        b.PrependInt32Slot(schema.OperatorCode.BUILTIN_CODE, code, -1)
        return b.EndObject()

    @staticmethod
    def _options(b: flatbuffers.Builder, op: OpDef) -> tuple[int, int] | None:
        layout = schema.OPTIONS.get(op.name)
        if layout is None:
            return None
        vectors = {}
        for f in layout.fields:
            if f.kind == "[int32]" and op.options.get(f.name) is not None:
                vectors[f.name] = b.CreateNumpyVector(np.asarray(op.options[f.name], dtype=np.int32))
        b.StartObject(max((f.slot for f in layout.fields), default=-1) + 1)
        for f in layout.fields:
            value = op.options.get(f.name, f.default)
            if f.kind == "[int32]":
                if f.name in vectors:
                    b.PrependUOffsetTRelativeSlot(f.slot, vectors[f.name], 0)
                continue
            if isinstance(value, str):
                value = {**{v: k for k, v in schema.ACTIVATIONS.items()}, **{v: k for k, v in schema.PADDINGS.items()}}[value]
            getattr(b, _PREPEND[f.kind])(f.slot, value, None)
        return layout.union_type, b.EndObject()

    def _operator(self, b: flatbuffers.Builder, op: OpDef, code: int) -> int:
        options = self._options(b, op)
        inputs = b.CreateNumpyVector(np.asarray(op.inputs, dtype=np.int32))
        outputs = b.CreateNumpyVector(np.asarray(op.outputs, dtype=np.int32))
        b.StartObject(5)
        b.PrependUint32Slot(schema.Operator.OPCODE_INDEX, code, 0)
        b.PrependUOffsetTRelativeSlot(schema.Operator.INPUTS, inputs, 0)
        b.PrependUOffsetTRelativeSlot(schema.Operator.OUTPUTS, outputs, 0)
        if options is not None:
            b.PrependUint8Slot(schema.Operator.BUILTIN_OPTIONS_TYPE, options[0], 0)
            b.PrependUOffsetTRelativeSlot(schema.Operator.BUILTIN_OPTIONS, options[1], 0)
        return b.EndObject()
