"""Checking and converting user inputs (spec/runtime-api.md §6.1–6.3, §8).

Order of checks, as the vendor's runtime: the number of tensors, then each tensor's dtype, then
its shape. Errors: wrong count, shape or name → ``ValueError`` (unknown names:
``TensorNameNotFound``); wrong dtype → ``TypeError``. The legacy session raises ``InvalidInput``
instead (``TensorNameNotFound`` for names), as 0.9 did.

Dtype rule (documented in docs/runtime.md): a tensor must have its input's dtype, except that
an integer array may feed a float32 input when every value converts exactly (uint8, int8,
int16 and uint16 always do; wider integers when their values are within 2**24); the array is
converted. float16, float64 and other float types are refused. Non-contiguous, read-only and
non-native byte-order arrays are accepted (copied when needed).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from ._errors import InvalidInput, TensorNameNotFound
from ._types import TensorDesc

_EXACT_IN_FLOAT32 = {np.dtype(t) for t in (np.uint8, np.int8, np.int16, np.uint16)}
_FLOAT32_EXACT_LIMIT = 2**24


def _is_tensor(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.generic, memoryview)) or hasattr(value, "__array_interface__") \
        or hasattr(value, "__array__") and not isinstance(value, (list, tuple))


def as_list(inputs: Any, count: int, legacy: bool = False) -> list[Any]:
    """The tensors of ``inputs`` (one tensor, or a sequence of them) as a list."""
    if _is_tensor(inputs):
        return [inputs]
    if isinstance(inputs, (str, bytes, dict)) or inputs is None or not isinstance(inputs, Iterable):
        message = f"inputs must be a numpy.ndarray or a sequence of them, not {type(inputs).__name__}"
        if legacy:
            raise InvalidInput(message)
        raise TypeError(message)
    return list(inputs)


def _describe(desc: TensorDesc, index: int) -> str:
    return f"input {index} ({desc.name!r})" if desc.name is not None else f"input {index}"


def _fail(legacy: bool, kind: type[Exception], message: str) -> Exception:
    return InvalidInput(message) if legacy else kind(message)


def check_tensor(value: Any, desc: TensorDesc, index: int, legacy: bool = False) -> np.ndarray:
    """One tensor, checked against ``desc`` and converted to a native contiguous array."""
    array = np.asarray(value)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    expected = desc.dtype.numpy
    if array.dtype != expected:
        converted = _convert(array, expected)
        if converted is None:
            hint = ""
            if array.dtype.kind == "f" and expected.kind == "f":
                hint = f"; convert it with .astype(numpy.{expected.name})"
            elif array.dtype.kind == "f" and expected.kind in "iu":
                hint = "; this input takes quantized integers (see ModelEditor.convert_input_type)"
            raise _fail(legacy, TypeError,
                        f"bad array type for {_describe(desc, index)}: got {array.dtype}, expected "
                        f"{expected.name} or its array{hint}")
        array = converted
    if array.shape != desc.shape:
        raise _fail(legacy, ValueError,
                    f"bad shape for {_describe(desc, index)}: got {array.shape}, expected {desc.shape}")
    return np.ascontiguousarray(array)


def _convert(array: np.ndarray, expected: np.dtype) -> np.ndarray | None:
    """``array`` as ``expected`` when that keeps every value exactly, else None."""
    if expected != np.float32 or array.dtype.kind not in "iu":
        return None
    if array.dtype in _EXACT_IN_FLOAT32:
        return array.astype(np.float32)
    # Compared in the array's own type: a cast to int64 would wrap uint64 values (2**64 - 1 -> -1)
    # and abs() overflows on int64's minimum.
    if array.size and (int(array.min()) < -_FLOAT32_EXACT_LIMIT or int(array.max()) > _FLOAT32_EXACT_LIMIT):
        return None
    return array.astype(np.float32)


def check_inputs(inputs: Any, descs: Sequence[TensorDesc], legacy: bool = False) -> list[np.ndarray]:
    tensors = as_list(inputs, len(descs), legacy)
    if len(tensors) != len(descs):
        raise _fail(legacy, ValueError,
                    f"{len(tensors)} input tensor(s) are given, expected {len(descs)}")
    return [check_tensor(t, d, i, legacy) for i, (t, d) in enumerate(zip(tensors, descs))]


def check_named_inputs(inputs: Any, descs: Sequence[TensorDesc], legacy: bool = False) -> list[np.ndarray]:
    """``run_with`` inputs: a mapping from every input name to its tensor."""
    if not isinstance(inputs, dict):
        raise _fail(legacy, TypeError, f"inputs must be a dict of input names to tensors, not {type(inputs).__name__}")
    names = [d.name for d in descs]
    unknown = [n for n in inputs if n not in names]
    if unknown:
        raise TensorNameNotFound(f"tensor name not found: {unknown[0]!r} is not an input of this model "
                                 f"(inputs: {', '.join(map(repr, names))})")
    missing = [n for n in names if n not in inputs]
    if missing:
        raise _fail(legacy, ValueError, f"missing input(s) {', '.join(map(repr, missing))}: run_with needs every input")
    return [check_tensor(inputs[n], d, i, legacy) for i, (n, d) in enumerate(zip(names, descs))]


def output_indexes(output_names: Any, descs: Sequence[TensorDesc], legacy: bool = False) -> list[int]:
    """Positions of the requested outputs, in the order asked."""
    if output_names is None or isinstance(output_names, (str, bytes)) or not isinstance(output_names, (list, tuple)):
        raise _fail(legacy, TypeError, f"output_names must be a list of output names, not {type(output_names).__name__}")
    if not output_names:
        raise _fail(legacy, ValueError, "output_names must name at least one output")
    names = [d.name for d in descs]
    positions = []
    for name in output_names:
        if not isinstance(name, str):
            raise _fail(legacy, TypeError, f"output names must be str, got {type(name).__name__}")
        if name not in names:
            raise TensorNameNotFound(f"tensor name not found: {name!r} is not an output of this model "
                                     f"(outputs: {', '.join(map(repr, names))})")
        positions.append(names.index(name))
    return positions
