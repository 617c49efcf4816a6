"""The legacy session API's tensors (spec/runtime-api.md §8.1).

``Tensor`` is a ``numpy.ndarray`` subclass whose ``dtype`` is a :class:`DataType`, whose ``==``
is ``numpy.array_equal`` and which keeps an optional name; ``view()`` gives a plain ndarray
sharing memory (strided for lowered outputs), ``numpy()`` a contiguous copy. numpy functions
and ufuncs applied to a ``Tensor`` see, and return, plain arrays. ``TensorArray`` is a list that
converts whatever it holds to ``Tensor``.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ._types import DataType


_NDARRAY_DTYPE = np.ndarray.dtype  # the base class's descriptor, which Tensor.dtype shadows


def _plain(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.view(np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


class Tensor(np.ndarray):
    """A tensor of the legacy session API."""

    def __new__(cls, array: Any, name: str | None = None) -> "Tensor":
        obj = np.asarray(array).view(cls)
        obj._name = name
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self._name = getattr(obj, "_name", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(_plain(i) for i in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return func(*_plain(list(args)), **{k: _plain(v) for k, v in kwargs.items()})

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def dtype(self) -> DataType:  # type: ignore[override]
        return DataType(_NDARRAY_DTYPE.__get__(self))

    @property
    def numpy_dtype(self) -> type:
        return _NDARRAY_DTYPE.__get__(self).type

    def copy_from(self, data: Any) -> None:
        """Replace the whole content with ``data`` (same shape)."""
        np.copyto(self.view(np.ndarray), np.asarray(data), casting="same_kind")

    def view(self, *args: Any, **kwargs: Any) -> np.ndarray:  # type: ignore[override]
        if args or kwargs:
            return super().view(*args, **kwargs)
        return super().view(np.ndarray)

    def numpy(self) -> np.ndarray:
        return np.ascontiguousarray(self.view(np.ndarray)).copy()

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        return bool(np.array_equal(self.view(np.ndarray), _plain(other)))

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = f'name="{self._name}", ' if self._name is not None else ""
        return f"Tensor({name}shape={self.shape!r}, dtype={self.dtype})"

    def __str__(self) -> str:
        return str(self.view(np.ndarray))

    def __reduce__(self):
        return (Tensor, (self.numpy(), self._name))


def _tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


class TensorArray(list):
    """A list of :class:`Tensor`; whatever is stored in it becomes a ``Tensor``."""

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(_tensor(i) for i in items)

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            super().__setitem__(index, [_tensor(v) for v in value])
        else:
            super().__setitem__(index, _tensor(value))

    def __getitem__(self, index: Any) -> Any:
        result = super().__getitem__(index)
        return TensorArray(result) if isinstance(index, slice) else result

    def append(self, value: Any) -> None:
        super().append(_tensor(value))

    def extend(self, values: Iterable[Any]) -> None:
        super().extend(_tensor(v) for v in values)

    def insert(self, index: int, value: Any) -> None:
        super().insert(index, _tensor(value))

    def __iadd__(self, values: Iterable[Any]) -> "TensorArray":
        self.extend(values)
        return self

    def is_empty(self) -> bool:
        return len(self) == 0

    def view(self) -> list[np.ndarray]:
        return [t.view() for t in self]

    def numpy(self) -> list[np.ndarray]:
        return [t.numpy() for t in self]
