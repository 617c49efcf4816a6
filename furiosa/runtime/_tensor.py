"""Tensor helpers of ``furiosa.runtime.tensor``: ``zeros``, ``rand``, ``numpy_dtype``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._aliases import Tensor, TensorArray
from ._types import Axis, DataType, TensorDesc

__all__ = ["Axis", "DataType", "Tensor", "TensorArray", "TensorDesc", "numpy_dtype", "rand", "zeros"]


def _desc(value: Any) -> TensorDesc:
    if not isinstance(value, TensorDesc):
        raise TypeError(f"argument 'value': '{type(value).__name__}' object cannot be converted to 'TensorDesc'")
    return value


def zeros(desc: TensorDesc) -> np.ndarray:
    """A zero-filled array of the shape and dtype of ``desc``."""
    desc = _desc(desc)
    return np.zeros(desc.shape, desc.dtype.numpy)


def rand(desc: TensorDesc) -> np.ndarray:
    """A random array for ``desc``: uniform in [0, 1) for floats, the whole range for integers."""
    desc = _desc(desc)
    dtype = desc.dtype.numpy
    if dtype.kind == "f":
        return np.random.random_sample(desc.shape).astype(dtype)
    info = np.iinfo(dtype)
    return np.random.default_rng().integers(info.min, info.max, size=desc.shape, dtype=dtype, endpoint=True)


def numpy_dtype(value: Any) -> Any:
    """The numpy type of an array, a ``DataType`` or a ``TensorDesc``."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if isinstance(value, DataType):
        return value.numpy_dtype
    if isinstance(value, TensorDesc):
        return value.dtype.numpy.type
    raise TypeError()
