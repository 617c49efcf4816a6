"""The compiled program: the one contract between the compiler and the emulated device.

A :class:`Program` is a list of operators in execution order over named tensors. Each
operator runs on the NPU (an int8 kernel of the emulated device) or on the host (Quantize,
Dequantize, Lower, Unlower, layout helpers, or a float ONNX subgraph run by onnxruntime), and
carries the reason for that placement and, for the NPU, its modeled cost. Constants live in a
separate blob table keyed by name. Everything here is plain data: the ENF container
(:mod:`.container`) stores it as a JSON manifest plus a binary blob.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from furiosa.common.qmath import QParams

FORMAT_NAME = "furiosa-emulator-enf"
FORMAT_VERSION = (1, 0)
TARGETS = ("warboy", "warboy-2pe")
UNITS = ("npu", "host")
LAYOUTS = ("plain", "lowered")


def freeze(value: Any) -> Any:
    """Make JSON-like data immutable (dicts become read-only mappings, lists tuples)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`, for serialization."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of the program: its stored shape and dtype, and its quantized meaning.

    ``source`` names the source model's float tensor a quantized tensor stands for (the input of
    the QuantizeLinear it came from), for tools comparing the int8 program with the float model.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    qparams: QParams | None = None
    constant: bool = False
    source: str | None = None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Cost:
    """Static work of one NPU operator, the input of the timing model.

    ``macs``: multiply-accumulates; ``vector_bytes``: bytes a vector/data-movement op writes;
    ``weight_bytes``: int8 weights it reads; ``kind``: the timing class (``dense``,
    ``depthwise``, ``vector``, ``layout``).
    """

    kind: str
    macs: int = 0
    vector_bytes: int = 0
    weight_bytes: int = 0
    input_bytes: int = 0
    output_bytes: int = 0


@dataclass(frozen=True)
class Operator:
    """One step of the program."""

    index: int
    kernel: str
    unit: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    origin: tuple[str, ...] = ()
    reason: str = ""
    cost: Cost | None = None
    program_bytes: int = 0


@dataclass(frozen=True)
class IOSpec:
    """An input or output as the user sees it.

    ``shape`` and ``dtype`` are what the user passes or receives (before any runtime batch
    multiplication); ``axes`` holds one axis letter group per dimension (``N``, ``C``, ``H``,
    ``W``, ``Ho``...). For a lowered tensor, ``strides`` (in items) and ``size`` (in bytes)
    describe the padded device buffer.
    """

    name: str
    tensor: str
    shape: tuple[int, ...]
    dtype: str
    axes: tuple[str, ...]
    layout: str = "plain"
    strides: tuple[int, ...] | None = None
    size: int | None = None
    qparams: QParams | None = None

    @property
    def length(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        if self.size is not None:
            return self.size
        return self.length * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Program:
    """A compiled model for one target."""

    target: str
    batch_size: int
    compiler_version: str
    source_format: str
    inputs: tuple[IOSpec, ...]
    outputs: tuple[IOSpec, ...]
    tensors: Mapping[str, TensorSpec]
    operators: tuple[Operator, ...]
    blobs: Mapping[str, "bytes | memoryview"]  # read back from a file: read-only views of its bytes
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    memory: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[str, ...] = ()
    format_version: tuple[int, int] = FORMAT_VERSION

    def constant(self, name: str) -> np.ndarray:
        """The value of a constant tensor, as a read-only array."""
        spec = self.tensors[name]
        if not spec.constant:
            raise KeyError(f"tensor {name!r} is not a constant")
        array = np.frombuffer(self.blobs[name], dtype=np.dtype(spec.dtype))
        return array.reshape(spec.shape)

    @property
    def npu_operators(self) -> tuple[Operator, ...]:
        return tuple(op for op in self.operators if op.unit == "npu")

    @property
    def host_operators(self) -> tuple[Operator, ...]:
        return tuple(op for op in self.operators if op.unit == "host")
