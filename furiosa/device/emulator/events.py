"""Profiler events: the only thing the device tells the runtime and the profiler about timing.

A :class:`Span` is one interval on one lane. Host work (``cat="Runtime"``) is measured on the
wall clock; NPU work (``cat="NPU"``: executions, their operators, the PCIe transfers around them)
is modeled by the timing model and says so (``modeled``).
The runtime's profiler turns spans into Chrome traces, DataFrames and printed reports.
"""
from __future__ import annotations

import itertools
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

_random = random.Random(os.getpid() ^ time.time_ns())
_lock = threading.Lock()


def new_id(bits: int = 64) -> int:
    with _lock:
        return _random.getrandbits(bits) or 1


_thread_numbers = itertools.count(1)
_local = threading.local()


def thread_number() -> int:
    """A small, stable number for the calling thread (the trace's ``thread.id``)."""
    number = getattr(_local, "number", None)
    if number is None:
        number = _local.number = next(_thread_numbers)
    return number


def now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True)
class Span:
    name: str
    cat: str
    start: int
    end: int
    thread_id: int
    trace_id: int
    span_id: int
    parent_span_id: int = 0
    pe_index: Optional[int] = None
    execution_index: Optional[int] = None
    instruction_index: Optional[int] = None
    operator_index: Optional[int] = None
    dram_base: Optional[int] = None
    modeled: bool = False
    device: Optional[str] = None  # the device file of device spans (``npu0pe0-1``), for trace lanes

    @property
    def dur(self) -> int:
        return self.end - self.start


Sink = Callable[[Span], None]
