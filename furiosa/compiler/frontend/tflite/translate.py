"""TFLite operators into the compiler's graph.

A quantized TFLite model is already an integer program, so every operator becomes one kernel
node of the emulated device directly (``tflite_conv2d``, ``tflite_add``...), computing TFLite's
own arithmetic (see ``docs/tflite.md``). Values keep TFLite's shapes and layout (NHWC for 4-D
tensors); quantized values are stored as int8 with :class:`~furiosa.common.qmath.QParams`
giving their declared type (uint8 or int8) and parameters, as for ONNX models.

Every node carries ``attrs["onnx_op"]``, the ONNX operator the Warboy operator table knows it
by, so placement works as for ONNX models. Attributes that table reads (``axis``, ``group``,
``slices``...) are given in its NCHW view of 4-D tensors; the kernels read their own
attributes in TFLite's layout (``data_axis``, ``data_slices``...).

Translators register per TFLite operator in :data:`OPERATORS`; the modules listed at the end
of :mod:`furiosa.compiler.frontend.tflite` are the table.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from furiosa.common.errors import InvalidModelError, UnsupportedModelError
from furiosa.common.qmath import QParams, from_declared
from furiosa.common.registry import Registry

from ...ir import Graph, Node, Value
from . import schema
from .model import OperatorInfo, TensorInfo, TFLiteModel

log = logging.getLogger(__name__)

LAYOUT = "NHWC"
QUANTIZED_TYPES = ("uint8", "int8")

Translate = Callable[["Translator", OperatorInfo], None]
OPERATORS: Registry[Translate] = Registry("TFLite operator")


def operator(*names: str) -> Callable[[Translate], Translate]:
    """Register the decorated function as the translator of the TFLite operators ``names``."""

    def decorate(fn: Translate) -> Translate:
        for name in names:
            OPERATORS.add(name, fn)
        return fn

    return decorate


_NCHW_OF_NHWC = (0, 2, 3, 1)


def nchw_axis(axis: int, rank: int) -> int:
    """The axis of the Warboy table's NCHW view that NHWC ``axis`` of a rank-``rank`` tensor is."""
    return _NCHW_OF_NHWC[axis] if rank == 4 else axis


def nchw_order(values: list[Any]) -> list[Any]:
    """Per-axis values of a 4-D NHWC tensor in NCHW order (other ranks unchanged)."""
    if len(values) != 4:
        return list(values)
    return [values[0], values[3], values[1], values[2]]


def normalize_axis(axis: int, rank: int, op: OperatorInfo, what: str = "axis") -> int:
    value = axis + rank if axis < 0 else axis
    if not 0 <= value < max(rank, 1):
        raise InvalidModelError(f"{op.describe()}: {what} {axis} is out of range for rank {rank}")
    return value


class Translator:
    """Builds the graph of one TFLite model, operator by operator."""

    def __init__(self, model: TFLiteModel, origin: str) -> None:
        self.model = model
        self.origin = origin
        self.graph = Graph()
        self.graph.layout = LAYOUT  # type: ignore[attr-defined]
        self._names: dict[int, str] = {}

    # --- errors ---------------------------------------------------------------------------------
    def unsupported(self, op: OperatorInfo, why: str) -> UnsupportedModelError:
        return UnsupportedModelError(f"{self.origin}: {op.describe()} {why}")

    def invalid(self, op: OperatorInfo, why: str) -> InvalidModelError:
        return InvalidModelError(f"{self.origin}: {op.describe()} {why}")

    # --- tensors --------------------------------------------------------------------------------
    def tensor(self, index: int) -> TensorInfo:
        return self.model.tensors[index]

    def qparams(self, t: TensorInfo) -> QParams | None:
        """The parameters of an 8-bit quantized tensor (None for other types)."""
        if t.type not in QUANTIZED_TYPES:
            return None
        if t.quantization is None:
            raise UnsupportedModelError(
                f"{self.origin}: {t.describe()} is {t.type} but has no quantization parameters; "
                "quantized tensors need a scale and a zero point"
            )
        q = t.quantization
        try:
            return QParams.make(np.asarray(q.scale, np.float32), np.asarray(q.zero_point, np.int64), t.type,
                                q.axis if len(q.scale) > 1 else None)
        except ValueError as error:
            raise InvalidModelError(f"{self.origin}: {t.describe()} has invalid quantization parameters: {error}") from None

    def name(self, index: int) -> str:
        """The graph value of TFLite tensor ``index`` (created on first use)."""
        if index in self._names:
            return self._names[index]
        t = self.tensor(index)
        base = t.name or f"tensor_{index}"
        name = base if base not in self.graph.values else self.graph.fresh(base)
        qp = self.qparams(t)
        if t.is_const:
            array = t.data
            if qp is not None:
                array = from_declared(array, qp)
            array = np.ascontiguousarray(array)
            self.graph.add_value(Value(name, tuple(array.shape), str(array.dtype), qp, array))
        else:
            dtype = "int8" if qp is not None else t.type
            self.graph.add_value(Value(name, t.shape, dtype, qp))
        self._names[index] = name
        return name

    def _float_model(self, op: OperatorInfo, t: TensorInfo) -> UnsupportedModelError:
        return UnsupportedModelError(
            f"{self.origin}: {op.describe()} computes in {t.type} ({t.describe()}); only quantized TFLite models "
            "are supported (uint8 or int8 tensors): convert the model with full-integer post-training "
            "quantization (TFLiteConverter with a representative dataset)"
        )

    def input_index(self, op: OperatorInfo, position: int, required: bool = True) -> int:
        if position >= len(op.inputs) or op.inputs[position] < 0:
            if required:
                raise self.invalid(op, f"has no input {position}")
            return -1
        return op.inputs[position]

    def data(self, op: OperatorInfo, position: int) -> str:
        """A quantized (uint8 / int8, per-tensor) operand of ``op``; constants are allowed."""
        index = self.input_index(op, position)
        t = self.tensor(index)
        if t.type not in QUANTIZED_TYPES:
            raise self._float_model(op, t) if t.type.startswith("float") else self.unsupported(
                op, f"reads {t.describe()} of type {t.type}; uint8 and int8 operands are supported")
        name = self.name(index)
        qp = self.graph.values[name].qparams
        if qp is not None and qp.per_channel and not t.is_const:
            raise self.unsupported(op, f"reads {t.describe()} quantized per channel; activations must be "
                                       "quantized per tensor")
        return name

    def weights(self, op: OperatorInfo, position: int) -> str:
        """A constant quantized filter of ``op``."""
        index = self.input_index(op, position)
        t = self.tensor(index)
        if not t.is_const:
            raise self.unsupported(op, f"has a filter {t.describe()} computed at run time; constant filters are supported")
        return self.data(op, position)

    def bias(self, op: OperatorInfo, position: int) -> str:
        """The optional int32 bias of ``op`` ('' when absent)."""
        index = self.input_index(op, position, required=False)
        if index < 0:
            return ""
        t = self.tensor(index)
        if t.type != "int32" or not t.is_const:
            kind = "computed at run time" if not t.is_const else f"of type {t.type}"
            raise self.unsupported(op, f"has a bias {t.describe()} {kind}; a constant int32 bias is supported")
        return self.name(index)

    def constant(self, op: OperatorInfo, position: int, what: str) -> np.ndarray:
        """A plain constant input (shape, axes, paddings...)."""
        index = self.input_index(op, position)
        t = self.tensor(index)
        if not t.is_const:
            raise self.unsupported(op, f"takes its {what} ({t.describe()}) at run time; only constant {what} is supported")
        return np.asarray(t.data)

    def output(self, op: OperatorInfo, position: int = 0, quantized: bool = True) -> str:
        if position >= len(op.outputs) or op.outputs[position] < 0:
            raise self.invalid(op, f"has no output {position}")
        t = self.tensor(op.outputs[position])
        if quantized and t.type not in QUANTIZED_TYPES:
            raise self._float_model(op, t) if t.type.startswith("float") else self.unsupported(
                op, f"writes {t.describe()} of type {t.type}; uint8 and int8 results are supported")
        return self.name(op.outputs[position])

    def shape(self, name: str) -> tuple[int, ...]:
        return self.graph.values[name].shape

    def qp(self, name: str) -> QParams:
        qp = self.graph.values[name].qparams
        assert qp is not None
        return qp

    def expect_shape(self, op: OperatorInfo, name: str, expected: tuple[int, ...]) -> None:
        """Check the shape the file declares for ``name`` against the one the operator computes."""
        if tuple(expected) != self.shape(name):
            raise self.invalid(op, f"declares {list(self.shape(name))} for {name!r}, the operator computes "
                                   f"{list(expected)}")

    def same_type(self, op: OperatorInfo, *names: str) -> None:
        kinds = {self.qp(n).dtype for n in names}
        if len(kinds) > 1:
            raise self.unsupported(op, f"mixes {' and '.join(sorted(kinds))} tensors; TFLite requires one type")

    # --- nodes ----------------------------------------------------------------------------------
    def add(self, op: OperatorInfo, kernel: str, inputs: list[str], outputs: list[str], attrs: dict[str, Any],
            display: str, **extra: Any) -> Node:
        label = self.tensor(op.outputs[0]).name if op.outputs and op.outputs[0] >= 0 else ""
        name = label or f"{op.name.lower()}_{op.index}"
        node = Node(kernel, inputs, outputs, attrs, name=name, origin=(name,), display=display, **extra)
        return self.graph.add_node(node)

    def activation(self, op: OperatorInfo) -> str:
        code = int(op.options.get("fused_activation_function", 0))
        name = schema.ACTIVATIONS.get(code, f"activation {code}")
        if name not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
            raise self.unsupported(op, f"has the fused activation {name}; quantized operators support NONE, RELU, "
                                       "RELU6 and RELU_N1_TO_1")
        return name

    # --- the model ------------------------------------------------------------------------------
    def translate(self) -> Graph:
        model = self.model
        for index in model.inputs:
            self.graph.inputs.append(self.name(index))
            self.graph.input_names.append(None)  # type: ignore[arg-type]  # the vendor names no TFLite tensor
        for op in model.operators:
            if op.custom:
                raise UnsupportedModelError(
                    f"{self.origin}: {op.describe()} is a custom operator; only builtin TFLite operators are "
                    f"supported: {', '.join(OPERATORS.names())}"
                )
            translate = OPERATORS.get(op.name)
            if translate is None:
                raise UnsupportedModelError(
                    f"{self.origin}: {op.describe()} is not supported; supported TFLite operators: "
                    f"{', '.join(OPERATORS.names())}"
                )
            translate(self, op)
        for index in model.outputs:
            self.graph.outputs.append(self.name(index))
            self.graph.output_names.append(None)  # type: ignore[arg-type]
        for name in self.graph.inputs:
            if self.graph.values[name].is_const:
                raise InvalidModelError(f"{self.origin}: model input {name!r} is a constant")
        produced = set(self.graph.inputs) | {o for n in self.graph.nodes for o in n.outputs}
        for name in self.graph.outputs:
            if name not in produced and not self.graph.values[name].is_const:
                raise InvalidModelError(f"{self.origin}: model output {name!r} is never computed")
        self.graph.toposort()
        log.debug("%s: %d TFLite operators translated into %d nodes", self.origin, len(model.operators),
                  len(self.graph.nodes))
        return self.graph
