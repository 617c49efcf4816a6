"""Spans as Chrome trace events (chrome://tracing, Perfetto), one lane per kind of work.

Every span becomes a complete (``"ph": "X"``) event with the vendor's ``args`` (ids, start and
end in ns, ``thread.id``, and the device indexes when present) plus ``time``: ``"measured"``
for host spans, ``"modeled"`` for device spans. ``ts`` and ``dur`` are microseconds with
nanosecond decimals, ``ts`` counted from the start of the trace. Lanes (trace threads) keep
different kinds of time apart, each named by a ``thread_name`` metadata event:

=============================  ==============================  =========================
lane                           spans                           tid
=============================  ==============================  =========================
``Thread n: user records``     ``profiler.record`` spans        ``n``
``Thread n: host (measured)``  ``Inference``, host operators    ``1000000 + n``
``PCIe <device> to device``    ``HostToDevice`` transfers       ``20000000 + k``
``NPU <device> (modeled)``     ``Execution`` and its children   ``10000000 + k``
``PCIe <device> to host``      ``DeviceToHost`` transfers       ``30000000 + k``
=============================  ==============================  =========================

``n`` is the runtime's thread number, ``k`` the device's number in the trace (its PE index when
the device name is not known, as in a DataFrame). Spans of one lane nest or follow each other,
which both viewers require: the device's modeled timeline never overlaps itself.

:class:`StreamWriter` writes a trace to a file the user opened (valid JSON once closed);
:class:`TraceFile` keeps a file valid JSON after every write (the environment-variable trace,
which a process may leave at any time).
"""
from __future__ import annotations

import json
import os
import threading
from typing import IO, TYPE_CHECKING, Any, Iterable

from furiosa.device.emulator.events import Span

from .schema import INDEXES, span_hex, trace_hex

if TYPE_CHECKING:
    import pandas as pd

RUNTIME_TID = 1_000_000
NPU_TID = 10_000_000
H2D_TID = 20_000_000
D2H_TID = 30_000_000
TRANSFERS = {"HostToDevice": (H2D_TID, "to device", 0), "DeviceToHost": (D2H_TID, "to host", 2)}


def _us(ns: int) -> float:
    return round(ns / 1000, 3)


class Encoder:
    """Turns spans into JSON-encoded trace events, announcing each lane the first time it is used."""

    def __init__(self, origin_ns: int, pid: int | None = None) -> None:
        self.origin_ns = origin_ns
        self.pid = os.getpid() if pid is None else pid
        self._lanes: set[int] = set()
        self._devices: dict[str, int] = {}
        self._started = False

    def _device(self, span: Span) -> tuple[int, str]:
        if span.device is None:
            number = span.pe_index or 0
            return number, f"pe {number}"
        number = self._devices.get(span.device)
        if number is None:
            number = self._devices[span.device] = len(self._devices)
        return number, span.device

    def lane(self, span: Span) -> tuple[int, str, int]:
        """The lane of ``span``: its tid, name and sort index."""
        if span.cat == "NPU":
            number, label = self._device(span)
            if span.name in TRANSFERS:
                base, direction, order = TRANSFERS[span.name]
                return base + number, f"PCIe {label} {direction} (modeled)", 100_000 + 10 * number + order
            return NPU_TID + number, f"NPU {label} (modeled)", 100_000 + 10 * number + 1
        if span.cat == "":
            return span.thread_id, f"Thread {span.thread_id}: user records", span.thread_id
        return RUNTIME_TID + span.thread_id, f"Thread {span.thread_id}: host (measured)", 1000 + span.thread_id

    def _metadata(self, tid: int, name: str, order: int) -> list[dict[str, Any]]:
        return [
            {"args": {"name": name}, "name": "thread_name", "ph": "M", "pid": self.pid, "tid": tid},
            {"args": {"sort_index": order}, "name": "thread_sort_index", "ph": "M", "pid": self.pid, "tid": tid},
        ]

    def events(self, spans: Iterable[Span]) -> list[dict[str, Any]]:
        """Trace events of ``spans``, preceded by the metadata of lanes not seen before."""
        out: list[dict[str, Any]] = []
        spans = list(spans)
        if spans and not self._started:
            self._started = True
            out.append({"args": {"name": f"furiosa.runtime (pid {self.pid})"}, "name": "process_name", "ph": "M",
                        "pid": self.pid, "tid": 0})
        for span in spans:
            tid, name, order = self.lane(span)
            if tid not in self._lanes:
                self._lanes.add(tid)
                out.extend(self._metadata(tid, name, order))
            args: dict[str, Any] = {
                "end_ts": str(span.end), "parent_span_id": span_hex(span.parent_span_id),
                "span_id": span_hex(span.span_id), "start_ts": str(span.start), "thread.id": str(span.thread_id),
                "trace_id": trace_hex(span.trace_id),
            }
            for field in INDEXES:
                value = getattr(span, field)
                if value is not None:
                    args[field] = str(value)
            if span.device is not None:
                args["device"] = span.device
            args["time"] = "modeled" if span.modeled else "measured"
            out.append({"args": args, "cat": span.cat, "dur": _us(span.end - span.start), "name": span.name,
                        "ph": "X", "pid": self.pid, "tid": tid, "ts": _us(span.start - self.origin_ns)})
        return out

    def encode(self, spans: Iterable[Span]) -> list[str]:
        return [json.dumps(event, separators=(",", ":")) for event in self.events(spans)]


def spans_of(df: "pd.DataFrame") -> list[Span]:
    """The spans a vendor DataFrame holds (what ``export_chrome_trace`` draws)."""
    import pandas as pd

    spans = []
    for row in df.to_dict("records"):
        indexes = {name: (None if pd.isna(row[name]) else int(row[name])) for name in INDEXES}
        cat = "" if pd.isna(row["cat"]) else str(row["cat"])
        spans.append(Span(str(row["name"]), cat, int(row["start"]), int(row["end"]), int(row["thread.id"]),
                          int(row["trace_id"], 16), int(row["span_id"], 16), int(row["parent_span_id"], 16),
                          modeled=cat == "NPU", **indexes))
    return spans


class StreamWriter:
    """A trace written to a file object the caller owns: ``[``, events, then ``\\n]`` at :meth:`close`."""

    def __init__(self, file: IO[Any], origin_ns: int) -> None:
        self._file = file
        self._encoder = Encoder(origin_ns)
        self._first = True
        self._lock = threading.Lock()
        self._closed = False
        self._put("[")

    def _put(self, text: str) -> None:
        try:
            self._file.write(text)
        except TypeError:  # a binary file
            self._file.write(text.encode())

    def write(self, spans: Iterable[Span]) -> None:
        with self._lock:
            if self._closed:
                return
            for event in self._encoder.encode(spans):
                self._put(event if self._first else "\n," + event)
                self._first = False

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._put("\n]")
            self._file.flush()


class TraceFile:
    """A trace file that is valid JSON after every :meth:`write`: new events go before the final ``]``."""

    TAIL = b"\n]"

    def __init__(self, path: str, origin_ns: int) -> None:
        self.path = path
        self._file = open(path, "w+b")
        self._encoder = Encoder(origin_ns)
        self._lock = threading.Lock()
        self._first = True
        self._file.write(b"[" + self.TAIL)
        self._file.flush()
        self._end = 1  # where the next event goes: right before the tail
        self.closed = False

    def write(self, spans: Iterable[Span]) -> None:
        with self._lock:
            if self.closed:
                return
            encoded = self._encoder.encode(spans)
            if not encoded:
                return
            text = "\n,".join(encoded) if self._first else "\n," + "\n,".join(encoded)
            self._first = False
            data = text.encode()
            self._file.seek(self._end)
            self._file.write(data + self.TAIL)
            self._file.flush()
            self._end += len(data)

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                self._file.close()
