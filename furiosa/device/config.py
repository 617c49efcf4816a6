"""Device specifications: the vendor's device-string grammar (spec/runtime-api.md §4.1).

::

    spec     := element ("," element)*
    element  := "warboy" ["(" N ")"] "*" N      any free devices, N PEs each
              | "npu:" N [":" cores]            device N, optionally PE(s)
              | "npu" N ["pe" cores]            raw device-file name (deprecated)
    cores    := N | N "-" N                     a range needs first < second; N in 0..255

No spaces, no empty element, case-sensitive. Parsing checks the grammar only; whether the
devices exist and are free is decided when they are opened (:mod:`.inventory`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from furiosa.common.errors import InvalidDeviceConfigError

_NUMBER = r"(0|[1-9][0-9]{0,2})"
_IMPLICIT = re.compile(rf"warboy(?:\({_NUMBER}\))?\*{_NUMBER}")
_COLON = re.compile(rf"npu:{_NUMBER}(?::{_NUMBER}(?:-{_NUMBER})?)?")
_RAW = re.compile(rf"npu{_NUMBER}(?:pe{_NUMBER}(?:-{_NUMBER})?)?")


@dataclass(frozen=True)
class Implicit:
    """``warboy(pes)*count``: any ``count`` free devices of ``pes`` PEs each."""

    pes: int
    count: int

    def __str__(self) -> str:
        return f"warboy({self.pes})*{self.count}"


@dataclass(frozen=True)
class Explicit:
    """A named device, optionally restricted to one PE or a fused range of PEs."""

    device: int
    first: int | None = None
    last: int | None = None

    @property
    def cores(self) -> tuple[int, ...] | None:
        if self.first is None:
            return None
        return tuple(range(self.first, (self.last if self.last is not None else self.first) + 1))

    def __str__(self) -> str:
        if self.first is None:
            return f"npu:{self.device}"
        if self.last is None:
            return f"npu:{self.device}:{self.first}"
        return f"npu:{self.device}:{self.first}-{self.last}"


Element = Implicit | Explicit


def _byte(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    return value if value <= 255 else -1


def _element(text: str) -> Element | None:
    match = _IMPLICIT.fullmatch(text)
    if match:
        pes, count = _byte(match.group(1)) if match.group(1) else 1, _byte(match.group(2))
        if pes is None or pes < 0 or count is None or count < 0:
            return None
        return Implicit(pes, count)
    match = _COLON.fullmatch(text) or _RAW.fullmatch(text)
    if match:
        device, first, last = (_byte(g) for g in match.groups())
        if device is None or device < 0 or (first is not None and first < 0) or (last is not None and last < 0):
            return None
        if last is not None and (first is None or first >= last):
            return None
        return Explicit(device, first, last)
    return None


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed device specification: its text and its elements."""

    text: str
    elements: tuple[Element, ...]

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> DeviceSpec:
    """Parse a device string; raise :class:`InvalidDeviceConfigError` if it breaks the grammar."""
    if not isinstance(text, str):
        raise TypeError(f"a device specification is a str, not {type(text).__name__}")
    parts = text.split(",")
    elements = []
    for part in parts:
        element = _element(part)
        if element is None:
            raise InvalidDeviceConfigError(f"invalid device configuration: {text}")
        elements.append(element)
    return DeviceSpec(text, tuple(elements))
