"""Between KServe v2 tensors (JSON numbers) and the numpy arrays a model takes.

Decoding one request input, in order (each failure is an :class:`InvalidRequest` naming the
input and what was expected):

1. ``datatype`` is a KServe v2 datatype (``FP32``, ``UINT8``...; the numpy spellings the
   server uses in its answers, ``FLOAT32``..., are accepted too). ``BYTES`` is refused: no model
   of this SDK takes strings.
2. ``shape`` lists non-negative integers and ``data`` (flat or nested, row-major) holds exactly
   as many elements, each a value of ``datatype`` (an integer in range for integer types, a
   number for float types, ``true``/``false`` for ``BOOL``).
3. The values convert exactly to the model input's element type: integer data feeds integer
   inputs when every value is in the input type's range (so the vendor's sample request, INT32
   pixels for a UINT8 model, works) and float32 inputs when every value is exact in float32
   (``|v| <= 2**24``, the runtime's rule); FP16/FP32 data feeds float32 inputs. Float data for
   an integer input, FP64 data for a float32 input and BOOL data for a number input are refused.
4. The element count equals the model input's. A request ``shape`` with the right count but
   another layout is accepted and the data reshaped to the model's shape, as the vendor's server
   does (its Python client sample sends ``(1, 1, 28, 28)`` for an NHWC ``(1, 28, 28, 1)`` model).

Encoding an output keeps the vendor's format: ``name`` is the output's position (``"0"``...),
``datatype`` the numpy name in capitals (``FLOAT32``, ``UINT8``), ``data`` flat.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .errors import InvalidRequest
from .types import MetadataTensor, RequestInput, ResponseOutput

#: KServe v2 datatypes → numpy (``BYTES`` has no numeric equivalent).
KSERVE_TO_NUMPY: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16), "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8), "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
}
#: The numpy-style spellings (what ``str(dtype).upper()`` gives) accepted as aliases.
ALIASES = {"FLOAT16": "FP16", "FLOAT32": "FP32", "FLOAT64": "FP64"}
FLOAT32_EXACT_LIMIT = 2**24


def kserve_datatype(dtype: Any) -> str:
    """The KServe v2 name of a numpy dtype (``float32`` → ``FP32``)."""
    dtype = np.dtype(dtype)
    for name, candidate in KSERVE_TO_NUMPY.items():
        if candidate == dtype:
            return name
    return "BYTES"


def response_datatype(dtype: Any) -> str:
    """The datatype the vendor's server writes in answers: numpy's name in capitals."""
    return str(np.dtype(dtype)).upper()


def describe(desc: Any, index: int) -> str:
    """How messages name a model input (``input 0 ('Input3')``)."""
    name = getattr(desc, "name", None)
    return f"input {index} ({name!r})" if name else f"input {index}"


def tensor_metadata(desc: Any, fallback_name: str) -> MetadataTensor:
    """Model metadata for one runtime ``TensorDesc``."""
    return MetadataTensor(name=desc.name or fallback_name, datatype=kserve_datatype(desc.dtype.numpy),
                          shape=[int(d) for d in desc.shape])


def encode(name: str, array: np.ndarray) -> ResponseOutput:
    """One output array as a response tensor."""
    array = np.asarray(array)
    return ResponseOutput(name=name, datatype=response_datatype(array.dtype), shape=[int(d) for d in array.shape],
                          data=array.reshape(-1).tolist())


def match_inputs(request_inputs: Sequence[RequestInput], descs: Sequence[Any], model: str) -> list[RequestInput]:
    """The request's inputs in the model's order: by name when the names are the model's, else by position."""
    expected = ", ".join(repr(d.name) for d in descs)
    if len(request_inputs) != len(descs):
        raise InvalidRequest(f"model {model} takes {len(descs)} input(s) ({expected}); the request has "
                             f"{len(request_inputs)}")
    names = [r.name for r in request_inputs]
    if len(set(names)) != len(names):
        raise InvalidRequest(f"the request names input {_first_duplicate(names)!r} more than once")
    model_names = [d.name for d in descs]
    if set(names) == set(model_names):
        by_name = {r.name: r for r in request_inputs}
        return [by_name[name] for name in model_names]
    return list(request_inputs)


def _first_duplicate(names: Sequence[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return ""


def decode(request_input: RequestInput, desc: Any, index: int) -> np.ndarray:
    """One request input as the array the model input ``desc`` takes (see the module docstring)."""
    where = f"{describe(desc, index)}, sent as {request_input.name!r}"
    declared = _declared_dtype(request_input.datatype, where)
    values = _values(request_input, declared, where)
    target = desc.dtype.numpy
    converted = _to_model_dtype(values, declared, target, where)
    expected_shape = tuple(int(d) for d in desc.shape)
    count = math.prod(expected_shape)
    if converted.size != count:
        raise InvalidRequest(f"{where}: the model takes shape {list(expected_shape)} ({count} elements), "
                             f"the request has shape {list(request_input.shape)} ({converted.size} elements)")
    return np.ascontiguousarray(converted.reshape(expected_shape))


def _declared_dtype(datatype: str, where: str) -> np.dtype:
    name = ALIASES.get(datatype.upper(), datatype.upper())
    if name == "BYTES":
        raise InvalidRequest(f"{where}: BYTES tensors are not supported; send numbers with a numeric datatype")
    if name not in KSERVE_TO_NUMPY:
        raise InvalidRequest(f"{where}: unknown datatype {datatype!r}; KServe v2 datatypes are "
                             f"{', '.join(KSERVE_TO_NUMPY)} (and BYTES)")
    return KSERVE_TO_NUMPY[name]


def _values(request_input: RequestInput, declared: np.dtype, where: str) -> np.ndarray:
    """The flat data, checked against ``shape`` and ``datatype``."""
    shape = request_input.shape
    if any(d < 0 for d in shape):
        raise InvalidRequest(f"{where}: shape {list(shape)} has a negative dimension")
    data = request_input.data
    if not isinstance(data, list):
        data = [data] if isinstance(data, (int, float)) else data
        if not isinstance(data, list):
            raise InvalidRequest(f"{where}: 'data' must be a list of numbers, got {type(data).__name__}")
    flat = _flatten(data, where)
    count = math.prod(shape)
    if len(flat) != count:
        raise InvalidRequest(f"{where}: shape {list(shape)} holds {count} elements but 'data' has {len(flat)}")
    if declared.kind == "b":
        bad = next((i for i, v in enumerate(flat) if not isinstance(v, bool)), None)
        if bad is not None:
            raise InvalidRequest(f"{where}: BOOL data must be true or false; element {bad} is {flat[bad]!r}")
        return np.array(flat, dtype=np.bool_)
    bad = next((i for i, v in enumerate(flat) if isinstance(v, bool) or not isinstance(v, (int, float))), None)
    if bad is not None:
        raise InvalidRequest(f"{where}: {_kserve_name(declared)} data must be numbers; element {bad} is {flat[bad]!r}")
    if declared.kind in "iu":
        return _integers(flat, declared, where)
    try:
        array = np.array(flat, dtype=np.float64)
    except OverflowError:
        raise InvalidRequest(f"{where}: a value is too large for {_kserve_name(declared)}") from None
    with np.errstate(over="ignore"):
        return array.astype(declared)


def _flatten(data: list, where: str) -> list:
    """Row-major elements of a flat or nested list (nested lists must be rectangular)."""
    if not any(isinstance(v, list) for v in data):
        return data
    try:
        array = np.array(data, dtype=object)
    except ValueError:
        array = None
    if array is None or any(isinstance(v, list) for v in array.reshape(-1)):
        raise InvalidRequest(f"{where}: nested 'data' lists must be rectangular (all rows of equal length)")
    return array.reshape(-1).tolist()


def _integers(flat: list, declared: np.dtype, where: str) -> np.ndarray:
    info = np.iinfo(declared)
    for i, v in enumerate(flat):
        if isinstance(v, float):
            if not v.is_integer():
                raise InvalidRequest(f"{where}: {_kserve_name(declared)} data must be integers; element {i} is {v!r}")
            v = int(v)
        if not info.min <= v <= info.max:
            raise InvalidRequest(f"{where}: element {i} ({v}) is out of the {_kserve_name(declared)} range "
                                 f"[{info.min}, {info.max}]")
    return np.array([int(v) for v in flat], dtype=declared)


def _kserve_name(dtype: np.dtype) -> str:
    return kserve_datatype(dtype)


def _to_model_dtype(values: np.ndarray, declared: np.dtype, target: np.dtype, where: str) -> np.ndarray:
    if declared == target:
        return values
    takes = f"{where}: the model input takes {_kserve_name(target)}"
    if declared.kind == "b" or target.kind == "b":
        raise InvalidRequest(f"{takes}; {_kserve_name(declared)} data cannot feed it")
    if declared.kind in "iu":
        wide = values.astype(np.int64) if declared != np.uint64 else values
        if target.kind in "iu":
            info = np.iinfo(target)
            outside = np.flatnonzero((wide < info.min) | (wide > info.max)) if wide.size else []
            if len(outside):
                i = int(outside[0])
                raise InvalidRequest(f"{takes} values in [{info.min}, {info.max}]; element {i} is {int(wide[i])}")
            return wide.astype(target)
        if target == np.float32:
            outside = np.flatnonzero(np.abs(wide.astype(np.float64)) > FLOAT32_EXACT_LIMIT) if wide.size else []
            if len(outside):
                i = int(outside[0])
                raise InvalidRequest(f"{takes}; element {i} ({int(wide[i])}) is not exact in float32 "
                                     f"(integers must be within +-2**24)")
            return wide.astype(np.float32)
        if target == np.float64:
            return wide.astype(np.float64)
    if declared.kind == "f":
        if target.kind in "iu":
            raise InvalidRequest(f"{takes} (integers); {_kserve_name(declared)} data cannot feed it: send "
                                 f"integers with datatype {_kserve_name(target)}")
        if target == np.float32 and declared == np.float16:
            return values.astype(np.float32)
        if target == np.float32:
            raise InvalidRequest(f"{takes}; send FP32 data ({_kserve_name(declared)} would be rounded)")
        if target == np.float64:
            return values.astype(np.float64)
    raise InvalidRequest(f"{takes}; {_kserve_name(declared)} data cannot feed it")


__all__ = ["decode", "encode", "kserve_datatype", "match_inputs", "response_datatype", "tensor_metadata"]
