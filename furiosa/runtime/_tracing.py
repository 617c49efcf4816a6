"""Where the engine sends profiler events: the sinks of the profilers that are recording.

Profilers (``profile()`` contexts, the ``FURIOSA_PROFILER_OUTPUT_PATH`` trace) register a sink
while they record; the engine asks for the combined sink once per inference, and pays nothing
when nobody records.
"""
from __future__ import annotations

import threading
from furiosa.device.emulator.events import Sink, Span

_lock = threading.Lock()
_sinks: tuple[Sink, ...] = ()


def register(sink: Sink) -> None:
    global _sinks
    with _lock:
        _sinks = _sinks + (sink,)


def unregister(sink: Sink) -> None:
    global _sinks
    with _lock:
        _sinks = tuple(s for s in _sinks if s != sink)  # bound methods compare equal, not identical


def active() -> Sink | None:
    sinks = _sinks
    if not sinks:
        return None
    if len(sinks) == 1:
        return sinks[0]

    def fan_out(span: Span) -> None:
        for sink in sinks:
            sink(span)

    return fan_out

