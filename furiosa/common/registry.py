"""One generic registry for every pluggable table (kernels, rules, passes).

Entries are keyed by name and hold versions as data (``since``); lookup returns the newest
entry whose ``since`` is not above the requested version. Registering the same (name, since)
twice is an error raised at import time, so tables cannot silently shadow each other.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    since: int
    value: T


class Registry(Generic[T]):
    """A named table of entries, each valid from a version on."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, list[Entry[T]]] = {}

    def add(self, name: str, value: T, *, since: int = 1) -> T:
        versions = self._entries.setdefault(name, [])
        if any(entry.since == since for entry in versions):
            raise ValueError(f"{self.kind} {name!r} (since {since}) is registered twice")
        versions.append(Entry(name, since, value))
        versions.sort(key=lambda entry: entry.since)
        return value

    def register(self, name: str, *, since: int = 1) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(value: T) -> T:
            return self.add(name, value, since=since)

        return decorate

    def get(self, name: str, version: int | None = None) -> T | None:
        """The newest entry for ``name`` valid at ``version`` (any version when None)."""
        versions = self._entries.get(name)
        if not versions:
            return None
        if version is None:
            return versions[-1].value
        valid = [entry for entry in versions if entry.since <= version]
        return valid[-1].value if valid else None

    def lookup(self, name: str, version: int | None = None) -> T:
        """Like :meth:`get`, raising ``KeyError`` that lists the closest known names."""
        value = self.get(name, version)
        if value is None:
            close = difflib.get_close_matches(name, list(self._entries), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"no {self.kind} named {name!r}{hint}")
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
