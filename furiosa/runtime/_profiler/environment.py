"""Tracing through ``FURIOSA_PROFILER_OUTPUT_PATH`` with no code change (spec/runtime-api.md §12.5).

When the variable (or the deprecated ``NUX_PROFILER_PATH``) names a file, every engine a
process opens (runners, queues, sessions) traces into that one file: the first engine of the
process creates (truncates) it, the others join. Events are buffered and written after every
inference, each write leaving the file valid JSON (a Chrome trace array), so the trace is
readable while the process runs and after it exits, even without a clean shutdown (runners never
closed, a killed process). While no engine is open the trace records nothing; an engine opened
later in the same process appends to it.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, field

from furiosa.common import settings
from furiosa.common.errors import warn_user
from furiosa.device.emulator.events import Span, now_ns

from .. import _tracing
from .._errors import FuriosaRuntimeWarning
from .chrome import TraceFile

log = logging.getLogger("furiosa.runtime")

FLUSH_EVERY = 4096  # spans buffered at most before a write, whatever the inferences


@dataclass(eq=False)
class EnvironmentTrace:
    """The trace file of this process, and the engines writing to it."""

    file: TraceFile
    users: int = 0
    pending: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sink = self._collect  # one bound method, so that unregistering finds it

    def _collect(self, span: Span) -> None:
        with self.lock:
            self.pending.append(span)
            due = (span.name == "Inference" and span.cat == "Runtime") or len(self.pending) >= FLUSH_EVERY
            if not due:
                return
            spans, self.pending = self.pending, []
            self._write(spans)

    def flush(self) -> None:
        with self.lock:
            spans, self.pending = self.pending, []
            self._write(spans)

    def _write(self, spans: list[Span]) -> None:
        if not spans:
            return
        try:
            self.file.write(spans)
        except OSError as error:  # a full disk must not break inference
            log.error("cannot write the profiler trace %s: %s", self.file.path, error)


_lock = threading.Lock()
_trace: EnvironmentTrace | None = None
_warned = False


def attach() -> EnvironmentTrace | None:
    """Join (or start) the environment's trace for one engine; ``None`` when none is asked for."""
    global _trace, _warned
    path, variable = settings.profiler_output_path()
    if path is None:
        return None
    if variable == "NUX_PROFILER_PATH" and not _warned:
        _warned = True
        warn_user("NUX_PROFILER_PATH is deprecated, use FURIOSA_PROFILER_OUTPUT_PATH instead", UserWarning)
    resolved = os.path.abspath(path)
    with _lock:
        if _trace is not None and _trace.file.path != resolved:
            _trace.flush()
            _tracing.unregister(_trace.sink)
            _trace.file.close()
            _trace = None
        if _trace is None:
            try:
                _trace = EnvironmentTrace(TraceFile(resolved, now_ns()))
            except OSError as error:
                warn_user(f"{variable}={path!r}: cannot write the profiler trace there "
                          f"({error.strerror or error}); running without tracing", FuriosaRuntimeWarning)
                return None
            log.info("tracing every inference of this process to %s (%s)", resolved, variable)
        trace = _trace
        trace.users += 1
        if trace.users == 1:
            _tracing.register(trace.sink)
        return trace


def detach(trace: EnvironmentTrace) -> None:
    """One engine closed: write what it traced; stop recording when no engine is left."""
    with _lock:
        trace.users -= 1
        if trace.users <= 0:
            trace.users = 0
            _tracing.unregister(trace.sink)
    trace.flush()


def close() -> None:
    """Write everything and close the file (at interpreter exit; tests call it to start afresh)."""
    global _trace
    with _lock:
        trace, _trace = _trace, None
    if trace is not None:
        _tracing.unregister(trace.sink)
        trace.flush()
        with trace.lock:
            trace.file.close()


atexit.register(close)
