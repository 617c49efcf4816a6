"""A checked reader of FlatBuffers binary data, enough for the TFLite schema.

A FlatBuffer is a tree of *tables*. A table starts with a signed 32-bit offset back to its
*vtable*; the vtable holds its own size, the table's size and one 16-bit offset per field
(0: the field is absent and takes its default). Scalars are stored inline; strings, vectors
and sub-tables are reached through unsigned 32-bit offsets relative to where the offset is
stored. Vectors start with a 32-bit element count. Everything is little-endian.

Every read here is bounds-checked: a truncated or damaged file raises
:class:`~furiosa.common.errors.InvalidModelError` naming what could not be read, never an
``IndexError`` or ``struct.error`` from deep inside.
"""
from __future__ import annotations

import struct
from typing import Callable, TypeVar

import numpy as np

from furiosa.common.errors import InvalidModelError

T = TypeVar("T")

_SCALARS = {
    "bool": "<?", "int8": "<b", "uint8": "<B", "int16": "<h", "uint16": "<H", "int32": "<i",
    "uint32": "<I", "int64": "<q", "uint64": "<Q", "float32": "<f", "float64": "<d",
}


class Buffer:
    """The bytes of a FlatBuffer file and checked primitive reads on them."""

    def __init__(self, data: bytes, origin: str) -> None:
        self.data = memoryview(data)
        self.origin = origin

    def fail(self, what: str) -> InvalidModelError:
        return InvalidModelError(f"{self.origin} is not a valid TFLite file: {what}")

    def read(self, kind: str, pos: int, what: str = "a value") -> int | float | bool:
        fmt = _SCALARS[kind]
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise self.fail(f"{what} lies outside the file (byte {pos}, file has {len(self.data)} bytes)")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def span(self, pos: int, size: int, what: str) -> memoryview:
        if pos < 0 or size < 0 or pos + size > len(self.data):
            raise self.fail(f"{what} lies outside the file (bytes {pos}..{pos + size}, file has {len(self.data)})")
        return self.data[pos:pos + size]

    def follow(self, pos: int, what: str) -> int:
        """The position an unsigned offset stored at ``pos`` points to."""
        return pos + int(self.read("uint32", pos, what))

    def root(self) -> "Table":
        return Table(self, self.follow(0, "the root table offset"), "the model")


class Table:
    """One table of a FlatBuffer, with typed access to its fields by slot number."""

    def __init__(self, buf: Buffer, pos: int, what: str) -> None:
        self.buf = buf
        self.pos = pos
        self.what = what
        vtable = pos - int(buf.read("int32", pos, f"the vtable offset of {what}"))
        self.vtable = vtable
        self.vtable_size = int(buf.read("uint16", vtable, f"the vtable of {what}"))
        if self.vtable_size < 4 or self.vtable_size % 2:
            raise buf.fail(f"the vtable of {what} has an impossible size {self.vtable_size}")

    def _field(self, slot: int) -> int:
        """Position of field ``slot`` in the table, or 0 when the field is absent."""
        entry = 4 + 2 * slot
        if entry >= self.vtable_size:
            return 0
        offset = int(self.buf.read("uint16", self.vtable + entry, f"the vtable of {self.what}"))
        return self.pos + offset if offset else 0

    def has(self, slot: int) -> bool:
        return self._field(slot) != 0

    def scalar(self, slot: int, kind: str, default: T, name: str = "field") -> T:
        pos = self._field(slot)
        if not pos:
            return default
        return self.buf.read(kind, pos, f"{name} of {self.what}")  # type: ignore[return-value]

    def table(self, slot: int, name: str) -> "Table | None":
        pos = self._field(slot)
        if not pos:
            return None
        return Table(self.buf, self.buf.follow(pos, f"{name} of {self.what}"), f"{name} of {self.what}")

    def _vector(self, slot: int, name: str) -> tuple[int, int] | None:
        pos = self._field(slot)
        if not pos:
            return None
        start = self.buf.follow(pos, f"{name} of {self.what}")
        length = int(self.buf.read("uint32", start, f"the length of {name} of {self.what}"))
        return start + 4, length

    def string(self, slot: int, name: str) -> str | None:
        vector = self._vector(slot, name)
        if vector is None:
            return None
        start, length = vector
        raw = bytes(self.buf.span(start, length, f"{name} of {self.what}"))
        return raw.decode("utf-8", errors="replace")

    def array(self, slot: int, kind: str, name: str) -> np.ndarray | None:
        """A vector of scalars as a read-only numpy array (``None`` when absent)."""
        vector = self._vector(slot, name)
        if vector is None:
            return None
        start, length = vector
        dtype = np.dtype(_SCALARS[kind])
        raw = self.buf.span(start, length * dtype.itemsize, f"{name} of {self.what}")
        return np.frombuffer(raw, dtype=dtype)

    def bytes(self, slot: int, name: str) -> memoryview | None:
        vector = self._vector(slot, name)
        if vector is None:
            return None
        start, length = vector
        return self.buf.span(start, length, f"{name} of {self.what}")

    def tables(self, slot: int, name: str) -> list["Table"]:
        """A vector of tables (empty when absent)."""
        vector = self._vector(slot, name)
        if vector is None:
            return []
        start, length = vector
        self.buf.span(start, 4 * length, f"{name} of {self.what}")
        return [Table(self.buf, self.buf.follow(start + 4 * i, f"{name}[{i}] of {self.what}"),
                      f"{name}[{i}] of {self.what}") for i in range(length)]

    def decode(self, decoder: Callable[["Table"], T]) -> T:
        return decoder(self)
