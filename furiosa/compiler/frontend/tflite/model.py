"""A TFLite file decoded into plain, frozen data: tensors, operators, options, buffers.

Only the main subgraph (subgraph 0, the one the interpreter runs) is decoded into operators;
the file's other subgraphs exist for control-flow operators, which are not supported.
Constant data is copied out of the file as numpy arrays of the tensor's type (little-endian,
row-major, as the schema defines).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from furiosa.common.errors import InvalidModelError, UnsupportedModelError

from ...ir import shape_text
from . import schema
from .flatbuffer import Buffer, Table

_NUMPY_TYPES = {
    "float32": "<f4", "float16": "<f2", "int32": "<i4", "uint8": "u1", "int64": "<i8", "bool": "?",
    "int16": "<i2", "int8": "i1", "float64": "<f8", "uint64": "<u8", "uint32": "<u4", "uint16": "<u2",
}


@dataclass(frozen=True)
class TensorQuantization:
    """A tensor's affine quantization: ``real = scale * (q - zero_point)``, per tensor or per
    channel along ``axis``."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int


@dataclass(frozen=True, eq=False)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    type: str
    quantization: TensorQuantization | None
    data: np.ndarray | None = None
    dynamic: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None

    def describe(self) -> str:
        return f"tensor {self.index} ({self.name!r})" if self.name else f"tensor {self.index}"


@dataclass(frozen=True)
class OperatorInfo:
    index: int
    name: str          # builtin operator name, or the custom code of a custom operator
    custom: bool
    version: int
    inputs: tuple[int, ...]   # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        kind = f"custom operator {self.name!r}" if self.custom else self.name
        return f"operator {self.index} ({kind})"


@dataclass(frozen=True)
class TFLiteModel:
    version: int
    description: str
    tensors: tuple[TensorInfo, ...]
    operators: tuple[OperatorInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int


def _quantization(table: Table | None, shape: tuple[int, ...]) -> TensorQuantization | None:
    if table is None:
        return None
    scale = table.array(schema.Quantization.SCALE, "float32", "scale")
    if table.has(schema.Quantization.DETAILS_TYPE) and table.scalar(schema.Quantization.DETAILS_TYPE, "uint8", 0):
        raise UnsupportedModelError(f"{table.what} uses custom quantization details; only affine "
                                    "(scale / zero point) quantization is supported")
    if scale is None or scale.size == 0:
        return None
    zero = table.array(schema.Quantization.ZERO_POINT, "int64", "zero_point")
    zero = np.zeros(scale.size, np.int64) if zero is None or zero.size == 0 else zero
    if zero.size == 1 and scale.size > 1:
        zero = np.repeat(zero, scale.size)
    if zero.size != scale.size:
        raise InvalidModelError(f"{table.what} has {scale.size} scales but {zero.size} zero points")
    axis = int(table.scalar(schema.Quantization.QUANTIZED_DIMENSION, "int32", 0))
    if scale.size > 1 and not (0 <= axis < len(shape) and shape[axis] == scale.size):
        raise InvalidModelError(f"{table.what} has {scale.size} scales along axis {axis} of shape {list(shape)}")
    return TensorQuantization(tuple(float(s) for s in scale), tuple(int(z) for z in zero), axis)


def _buffer_data(buf: Buffer, buffers: list[Table], index: int, what: str) -> memoryview | None:
    if index == 0:
        return None
    if not 0 <= index < len(buffers):
        raise buf.fail(f"{what} refers to buffer {index}, the model has {len(buffers)}")
    table = buffers[index]
    data = table.bytes(schema.Buffer.DATA, "data")
    if data is not None and len(data):
        return data
    offset = int(table.scalar(schema.Buffer.OFFSET, "uint64", 0))
    size = int(table.scalar(schema.Buffer.SIZE, "uint64", 0))
    if offset > 1 and size:
        return buf.span(offset, size, f"the data of buffer {index}")
    return None


def _tensor(buf: Buffer, table: Table, index: int, buffers: list[Table]) -> TensorInfo:
    name = table.string(schema.Tensor.NAME, "name") or ""
    raw_shape = table.array(schema.Tensor.SHAPE, "int32", "shape")
    shape = tuple(int(d) for d in raw_shape) if raw_shape is not None else ()
    signature = table.array(schema.Tensor.SHAPE_SIGNATURE, "int32", "shape_signature")
    dynamic = signature is not None and bool((signature < 0).any())
    code = int(table.scalar(schema.Tensor.TYPE, "int8", 0))
    kind = schema.TENSOR_TYPES.get(code, f"type {code}")
    what = f"tensor {index} ({name!r})"
    if any(d < 0 for d in shape):
        raise UnsupportedModelError(f"{what} has an unknown dimension in its shape {shape_text(shape)}")
    if table.has(schema.Tensor.SPARSITY):
        raise UnsupportedModelError(f"{what} is stored sparse; dense tensors are supported")
    quant = _quantization(table.table(schema.Tensor.QUANTIZATION, "quantization"), shape)
    data = None
    raw = _buffer_data(buf, buffers, int(table.scalar(schema.Tensor.BUFFER, "uint32", 0)), what)
    if raw is not None:
        dtype = _NUMPY_TYPES.get(kind)
        if dtype is None:
            raise UnsupportedModelError(f"{what} holds constant data of type {kind}")
        count = int(np.prod(shape, dtype=np.int64))
        expected = count * np.dtype(dtype).itemsize
        if len(raw) != expected:
            raise InvalidModelError(f"{what} of shape {list(shape)} and type {kind} needs {expected} bytes "
                                    f"of data, its buffer holds {len(raw)}")
        data = np.frombuffer(raw, dtype=dtype).astype(np.dtype(dtype).newbyteorder("="), copy=True).reshape(shape)
    return TensorInfo(index, name, shape, kind, quant, data, dynamic)


def _options(op_table: Table, op_name: str, what: str) -> dict[str, Any]:
    layout = schema.OPTIONS.get(op_name)
    if layout is None:
        return {}
    kind = int(op_table.scalar(schema.Operator.BUILTIN_OPTIONS_TYPE, "uint8", 0))
    options_table = op_table.table(schema.Operator.BUILTIN_OPTIONS, "builtin_options")
    if options_table is not None and kind not in (0, layout.union_type):
        raise InvalidModelError(f"{what} carries options of union type {kind}, expected {layout.name}")
    out: dict[str, Any] = {}
    for spec in layout.fields:
        if spec.kind == "[int32]":
            value = None if options_table is None else options_table.array(spec.slot, "int32", spec.name)
            out[spec.name] = None if value is None else [int(v) for v in value]
        else:
            value = spec.default if options_table is None else options_table.scalar(spec.slot, spec.kind, spec.default,
                                                                                     spec.name)
            out[spec.name] = value
    return out


def _opcode(table: Table) -> tuple[str, bool, int]:
    deprecated = int(table.scalar(schema.OperatorCode.DEPRECATED_BUILTIN_CODE, "int8", 0))
    code = int(table.scalar(schema.OperatorCode.BUILTIN_CODE, "int32", 0))
    code = max(code, deprecated)
    version = int(table.scalar(schema.OperatorCode.VERSION, "int32", 1))
    if code == schema.OPERATOR_CODES["CUSTOM"]:
        return table.string(schema.OperatorCode.CUSTOM_CODE, "custom_code") or "", True, version
    return schema.operator_name(code), False, version


def _indexes(array: np.ndarray | None) -> tuple[int, ...]:
    return () if array is None else tuple(int(i) for i in array)


def decode(data: bytes, origin: str) -> TFLiteModel:
    """Decode a TFLite file; raise :class:`InvalidModelError` for damaged bytes."""
    if len(data) < 8 or bytes(data[4:8]) != schema.FILE_IDENTIFIER:
        raise InvalidModelError(f"{origin} is not a TFLite file (no 'TFL3' identifier at byte 4)")
    buf = Buffer(data, origin)
    root = buf.root()
    version = int(root.scalar(schema.Model.VERSION, "uint32", 0))
    if version != 3:
        raise UnsupportedModelError(f"{origin} has TFLite schema version {version}; version 3 is supported")
    codes = [_opcode(t) for t in root.tables(schema.Model.OPERATOR_CODES, "operator_codes")]
    subgraphs = root.tables(schema.Model.SUBGRAPHS, "subgraphs")
    if not subgraphs:
        raise InvalidModelError(f"{origin} has no subgraph")
    buffers = root.tables(schema.Model.BUFFERS, "buffers")
    main = subgraphs[0]
    tensors = tuple(_tensor(buf, t, i, buffers) for i, t in enumerate(main.tables(schema.SubGraph.TENSORS, "tensors")))
    operators = []
    for index, table in enumerate(main.tables(schema.SubGraph.OPERATORS, "operators")):
        opcode = int(table.scalar(schema.Operator.OPCODE_INDEX, "uint32", 0))
        if not 0 <= opcode < len(codes):
            raise buf.fail(f"operator {index} uses operator code {opcode}, the model has {len(codes)}")
        name, custom, op_version = codes[opcode]
        what = f"operator {index} ({name})"
        inputs = _indexes(table.array(schema.Operator.INPUTS, "int32", "inputs"))
        outputs = _indexes(table.array(schema.Operator.OUTPUTS, "int32", "outputs"))
        for t in inputs + outputs:
            if not -1 <= t < len(tensors):
                raise buf.fail(f"{what} refers to tensor {t}, the subgraph has {len(tensors)}")
        options = {} if custom else _options(table, name, what)
        operators.append(OperatorInfo(index, name, custom, op_version, inputs, outputs, options))
    inputs = _indexes(main.array(schema.SubGraph.INPUTS, "int32", "inputs"))
    outputs = _indexes(main.array(schema.SubGraph.OUTPUTS, "int32", "outputs"))
    for t in inputs + outputs:
        if not 0 <= t < len(tensors):
            raise buf.fail(f"the subgraph's inputs or outputs refer to tensor {t}, it has {len(tensors)}")
    description = root.string(schema.Model.DESCRIPTION, "description") or ""
    return TFLiteModel(version, description, tensors, tuple(operators), inputs, outputs, len(subgraphs))
