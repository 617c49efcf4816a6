"""Model metadata: ``DataType``, ``Axis``, ``TensorDesc`` and ``Model`` (spec/runtime-api.md §9).

``DataType`` and ``Axis`` behave like the vendor's: members print as their bare name (or axis
letter), compare equal to their integer values and refuse ordering. Unlike the vendor's they
are hashable, and ``DataType`` also takes numpy scalar types, dtype strings and arrays (the
forms the vendor's documentation shows).
"""
from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from furiosa.compiler.enf.program import IOSpec, Program


class _Constant:
    """An enumeration member comparing equal to its integer value."""

    _members: ClassVar[dict[str, "_Constant"]]
    __slots__ = ("name", "value")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._members = {}

    @classmethod
    def _define(cls, name: str, value: int) -> "_Constant":
        member = object.__new__(cls)
        object.__setattr__(member, "name", name)
        object.__setattr__(member, "value", value)
        cls._members[name] = member
        setattr(cls, name, member)
        return member

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} members are read-only")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self is other
        if isinstance(other, int) and not isinstance(other, bool):
            return self.value == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __lt__(self, other: object) -> bool:
        raise TypeError(f"'<' not supported between instances of '{type(self).__name__}'")

    __le__ = __gt__ = __ge__ = __lt__

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.value))

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __reduce__(self):
        return (getattr, (type(self), self.name))

    @classmethod
    def members(cls) -> list["_Constant"]:
        return list(cls._members.values())


_NUMPY = {
    "FLOAT32": np.float32, "UINT8": np.uint8, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
    "INT16": np.int16, "FLOAT64": np.float64,
}
_NOT_YET = {np.dtype(np.float16), np.dtype(np.bool_), np.dtype(np.uint16), np.dtype(np.uint32),
            np.dtype(np.uint64), np.dtype(np.complex64), np.dtype(np.complex128)}


class DataType(_Constant):
    """The element type of a tensor."""

    def __new__(cls, value: Any) -> "DataType":
        if isinstance(value, DataType):
            return value
        if isinstance(value, np.ndarray):
            dtype = value.dtype
        else:
            try:
                dtype = np.dtype(value)
            except TypeError:
                raise TypeError(f"'{type(value).__name__}' object cannot be converted to 'PyArrayDescr'") from None
        for name, scalar in _NUMPY.items():
            if np.dtype(scalar) == dtype:
                return cls._members[name]  # type: ignore[return-value]
        if dtype in _NOT_YET:
            raise NotImplementedError("This type is not yet supported by Furiosa SDK")
        raise NotImplementedError(f"This type is not yet supported by Furiosa SDK: {dtype}")

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype (``ValueError`` for types without one)."""
        scalar = _NUMPY.get(self.name)
        if scalar is None:
            raise ValueError("This type has no Numpy equivalent")
        return np.dtype(scalar)

    @property
    def numpy_dtype(self) -> type:
        warnings.warn(
            "`DataType.numpy_dtype` is misleading (returns a scalar type object) and thus deprecated. "
            "Use `DataType.numpy` instead.", FutureWarning, stacklevel=2,
        )
        return self.numpy.type


for _name, _value in [("FLOAT32", 0), ("UINT8", 1), ("INT8", 2), ("INT32", 3), ("INT64", 4), ("BFLOAT16", 5),
                      ("BOOL", 6), ("INT4", 7), ("INT4_DECODED", 8), ("FLOAT8E4M3", 9), ("FLOAT8E5M2", 10),
                      ("DOUBLE_INT4", 11), ("INT16", 12), ("FLOAT16", 13), ("FLOAT64", 14)]:
    DataType._define(_name, _value)


class Axis(_Constant):
    """The role of a tensor dimension."""

    __slots__ = ()
    _letters: ClassVar[dict[str, "Axis"]] = {}

    def __new__(cls, value: Any) -> "Axis":
        for member in cls._members.values():
            if member.value == value or member is value:
                return member  # type: ignore[return-value]
        raise ValueError(f"{value!r} is not an Axis")

    def __repr__(self) -> str:
        return _AXIS_LETTERS[self.name]

    __str__ = __repr__

    @classmethod
    def from_letter(cls, letter: str) -> "Axis":
        return cls._letters.get(letter, cls._members["UNKNOWN"])  # type: ignore[return-value]


_AXIS_LETTERS = {"WIDTH": "W", "HEIGHT": "H", "CHANNEL": "C", "BATCH": "N", "WIDTH_OUTER": "Wo",
                 "HEIGHT_OUTER": "Ho", "CHANNEL_OUTER": "Co", "BATCH_OUTER": "No", "GROUP": "G",
                 "GROUP_OUTER": "Go", "UNKNOWN": "?"}
for _name, _value in [("WIDTH", 0), ("HEIGHT", 1), ("CHANNEL", 2), ("BATCH", 3), ("WIDTH_OUTER", 4),
                      ("HEIGHT_OUTER", 5), ("CHANNEL_OUTER", 6), ("BATCH_OUTER", 7), ("GROUP", 8),
                      ("GROUP_OUTER", 9), ("UNKNOWN", -1)]:
    Axis._letters[_AXIS_LETTERS[_name]] = Axis._define(_name, _value)  # type: ignore[assignment]


class TensorDesc:
    """Shape, type and layout of one model input or output."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("No constructor defined")

    @classmethod
    def _make(cls, io: IOSpec, batch: int) -> "TensorDesc":
        desc = object.__new__(cls)
        shape = list(io.shape)
        if shape:
            shape[0] *= batch
        desc._io = io
        desc._shape = tuple(shape)
        desc._dtype = DataType(io.dtype)
        itemsize = np.dtype(io.dtype).itemsize
        if io.strides is not None:
            desc._strides = tuple(io.strides)
            desc._size = (io.size or 0) * batch
        else:
            strides, step = [], 1
            for dim in reversed(shape):
                strides.append(step)
                step *= dim
            desc._strides = tuple(reversed(strides))
            desc._size = int(np.prod(shape, dtype=np.int64)) * itemsize
        desc._axes = tuple(Axis.from_letter(a) for a in io.axes)
        return desc

    @property
    def name(self) -> str | None:
        return self._io.name

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def dim(self, idx: int) -> int:
        self._check(idx)
        return self._shape[idx]

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    def axis(self, idx: int) -> Axis:
        self._check(idx)
        return self._axes[idx]

    @property
    def size(self) -> int:
        return self._size

    def stride(self, idx: int) -> int:
        self._check(idx)
        return self._strides[idx]

    @property
    def length(self) -> int:
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def format(self) -> str:
        return "".join(repr(a) for a in self._axes)

    @property
    def dtype(self) -> DataType:
        return self._dtype

    @property
    def numpy_dtype(self) -> type:
        warnings.warn(
            "`TensorDesc.numpy_dtype` is misleading (returns a scalar type object) and thus deprecated. "
            "Use `TensorDesc.dtype.numpy` instead.", FutureWarning, stacklevel=2,
        )
        return self._dtype.numpy.type

    @property
    def lowered(self) -> bool:
        return self._io.layout == "lowered"

    def _check(self, idx: int) -> None:
        if not -self.ndim <= idx < self.ndim:
            raise IndexError("dimension out of range")

    def __repr__(self) -> str:
        name = f'name="{self.name}", ' if self.name is not None else ""
        return (f"TensorDesc({name}shape={self._shape!r}, dtype={self._dtype}, format={self.format}, "
                f"size={self._size}, len={self.length})")


class Model:
    """The inputs and outputs of a loaded model."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("No constructor defined")

    @classmethod
    def _make(cls, program: Program) -> "Model":
        model = object.__new__(cls)
        model._program = program
        model._inputs = [TensorDesc._make(io, program.batch_size) for io in program.inputs]
        model._outputs = [TensorDesc._make(io, program.batch_size) for io in program.outputs]
        return model

    @property
    def input_num(self) -> int:
        return len(self._inputs)

    @property
    def output_num(self) -> int:
        return len(self._outputs)

    num_inputs = input_num
    num_outputs = output_num

    def input(self, idx: int) -> TensorDesc:
        if not isinstance(idx, int) or not 0 <= idx < len(self._inputs):
            raise IndexError("list index out of input tensors")
        return self._inputs[idx]

    def output(self, idx: int) -> TensorDesc:
        if not isinstance(idx, int) or not 0 <= idx < len(self._outputs):
            raise IndexError("list index out of output tensors")
        return self._outputs[idx]

    def inputs(self) -> list[TensorDesc]:
        return list(self._inputs)

    def outputs(self) -> list[TensorDesc]:
        return list(self._outputs)

    def summary(self) -> str:
        ins = repr({i: d for i, d in enumerate(self._inputs)})
        outs = repr({i: d for i, d in enumerate(self._outputs)})
        return f"Inputs:\n{ins}\nOutputs:\n{outs}"

    def print_summary(self) -> None:
        print(self.summary())

    def __repr__(self) -> str:
        return f"Model(inputs={self.input_num}, outputs={self.output_num}, target={self._program.target})"


__all__ = ["Axis", "DataType", "Model", "TensorDesc"]
