"""``RecordFormat`` and ``Resource``: the vendor's enums, which behave like ints (spec/runtime-api.md §12.1).

The vendor's values compare equal to their ints (``Resource.All == 2``), are unhashable and
print as ``Resource.All``. They cannot be constructed; the values are class attributes. The
0.9 spellings ``Resource.ALL``, ``Resource.CPU`` and ``Resource.NPU`` are accepted as aliases.
"""
from __future__ import annotations

from typing import Any


class _Choice:
    """One value of an int-like vendor enum."""

    __slots__ = ("_name", "_value")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"No constructor defined for {type(self).__name__}")

    @classmethod
    def _make(cls, name: str, value: int) -> "_Choice":
        choice = object.__new__(cls)
        object.__setattr__(choice, "_name", name)
        object.__setattr__(choice, "_value", value)
        return choice

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} values are read-only")

    @property
    def name(self) -> str:
        return self._name

    @property
    def value(self) -> int:
        return self._value

    def __int__(self) -> int:
        return self._value

    def __index__(self) -> int:
        return self._value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self._value == other._value
        if isinstance(other, int) and not isinstance(other, bool):
            return self._value == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self._name}"

    __str__ = __repr__


class RecordFormat(_Choice):
    """How ``profile()`` records: a Chrome trace file, or a pandas DataFrame in memory."""

    __slots__ = ()
    ChromeTrace: "RecordFormat"
    PandasDataFrame: "RecordFormat"


class Resource(_Choice):
    """What ``profile()`` records: host-side spans (``Cpu``), device spans (``Npu``), or both (``All``).

    User spans (``profiler.record``) are recorded whatever the resource.
    """

    __slots__ = ()
    Cpu: "Resource"
    Npu: "Resource"
    All: "Resource"

    def valid_cats(self) -> list[str]:
        """The span categories this resource records (besides user spans)."""
        return {0: ["Runtime"], 1: ["NPU"], 2: ["NPU", "Runtime"]}[self._value]


RecordFormat.ChromeTrace = RecordFormat._make("ChromeTrace", 0)  # type: ignore[assignment]
RecordFormat.PandasDataFrame = RecordFormat._make("PandasDataFrame", 1)  # type: ignore[assignment]
Resource.Cpu = Resource._make("Cpu", 0)  # type: ignore[assignment]
Resource.Npu = Resource._make("Npu", 1)  # type: ignore[assignment]
Resource.All = Resource._make("All", 2)  # type: ignore[assignment]
Resource.CPU, Resource.NPU, Resource.ALL = Resource.Cpu, Resource.Npu, Resource.All  # type: ignore[attr-defined]
