"""furiosa.runtime.profiler: where inference time goes (spec/runtime-api.md §12).

``profile()`` records, while its context is active, the spans of every inference of the process:

* ``Runtime`` spans, **measured** on the host: ``Inference`` (one per inference) and the host
  operators of the program (Quantize, Lower, Unlower, Dequantize, Pad, Slice, fallback
  operators), which carry an ``operator_index``;
* ``NPU`` spans, **modeled** by the Warboy timing model (the emulated NPU computes on the host;
  its time is what the real chip would take): ``Execution`` per run of NPU operators, with
  ``Load``, the operators (``LowLevelConv2d``...) and ``Store`` as children, and the PCIe
  transfers ``HostToDevice`` / ``DeviceToHost`` around it;
* user spans (category ``""``) of ``profiler.record(name)``.

With ``format=RecordFormat.ChromeTrace`` (the default) the spans go to a Chrome trace file
(``file=``, an open file, or a temporary file); with ``RecordFormat.PandasDataFrame`` they are
kept for ``get_pandas_dataframe()`` and the ``print_*`` reports (and written as CSV to
``file=`` if given). ``FURIOSA_PROFILER_OUTPUT_PATH`` traces a whole process without code
changes. docs/profiler.md explains the outputs.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import warnings
from typing import IO, Any

import pandas as pd

from furiosa.device.emulator.events import Span, new_id, now_ns, thread_number

from . import _tracing
from ._errors import FuriosaRuntimeWarning, ProfilerError
from ._profiler import chrome, frame, report
from ._profiler.choices import RecordFormat, Resource

__all__ = ["profile", "RecordFormat", "Resource", "ProfilerError", "ProfilerRecordObject"]

log = logging.getLogger("furiosa.runtime")

_CREATED, _RECORDING, _PAUSED, _DONE = "created", "recording", "paused", "done"
_WRITE_EVERY = 4096  # Chrome-trace spans buffered before a write


def _check_choice(argument: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"argument '{argument}': '{type(value).__name__}' object cannot be converted to "
                        f"'{kind.__name__}'")


class ProfilerRecordObject:
    """A user span: ``with profiler.record("name"):`` records the time spent inside the block.

    Records nest: a record opened inside another one on the same thread is its child (same
    ``trace_id``, ``parent_span_id`` of the outer record). A record opened while the profiler
    is paused is not recorded.
    """

    def __init__(self, profiler: "profile", name: str) -> None:
        self._profiler = profiler
        self.name = name
        self._open: tuple[int, int, int, int, bool] | None = None  # start, trace, span, parent, recording

    def __enter__(self) -> "ProfilerRecordObject":
        if self._open is not None:
            raise ProfilerError(f"ProfilerRecordObject {self.name!r} is entered twice")
        profiler = self._profiler
        profiler._check_active("record")
        stack = profiler._stack()
        if stack:
            trace_id, parent = stack[-1]._open[1], stack[-1]._open[2]  # type: ignore[index]
        else:
            trace_id, parent = new_id(128), 0
        self._open = (now_ns(), trace_id, new_id(), parent, profiler._state == _RECORDING)
        stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._open is None:
            raise ProfilerError("ProfilerRecordObject is exited without entered")
        start, trace_id, span_id, parent, recording = self._open
        self._open = None
        stack = self._profiler._stack()
        if self in stack:
            stack.remove(self)
        if recording:
            self._profiler._collect(Span(self.name, "", start, now_ns(), thread_number(), trace_id, span_id, parent))

    def __repr__(self) -> str:
        return f"ProfilerRecordObject({self.name!r})"


class profile:
    """Profile the inferences run inside the context: ``with profile(...) as profiler:``.

    ``resource`` chooses what is recorded (``Resource.All``, ``Resource.Cpu``: host spans,
    ``Resource.Npu``: device spans; user spans always), ``format`` how
    (``RecordFormat.ChromeTrace`` or ``RecordFormat.PandasDataFrame``). The keyword ``file`` is
    where the output goes: an open file (text or binary), or a path.
    """

    def __init__(self, resource: Resource = Resource.All, format: RecordFormat = RecordFormat.ChromeTrace,
                 **kwargs: Any) -> None:
        _check_choice("resource", resource, Resource)
        _check_choice("format", format, RecordFormat)
        self.resource = resource
        self.format = format
        self._file = kwargs.pop("file", None)
        if kwargs:
            warnings.warn(f"profile() ignores the unknown keyword arguments {', '.join(sorted(kwargs))}; "
                          "it takes resource, format and file", FuriosaRuntimeWarning, stacklevel=2)
        if self._file is not None and not isinstance(self._file, (str, os.PathLike)) and not hasattr(self._file, "write"):
            raise TypeError(f"argument 'file': expected an open file or a path, got {type(self._file).__name__}")
        self._cats = set(resource.valid_cats()) | {""}
        self._state = _CREATED
        self._lock = threading.Lock()
        self._spans: list[Span] = []
        self._local = threading.local()
        self._writer: chrome.StreamWriter | None = None
        self._owned: IO[Any] | None = None
        self._df: pd.DataFrame | None = None
        self.path: str | None = None  # where the Chrome trace went, when the profiler chose
        self._sink = self._collect  # one bound method, so that unregistering finds it

    # --- context ---------------------------------------------------------------------------
    def __enter__(self) -> "profile":
        if self._state != _CREATED:
            raise ProfilerError("this profile() has already been used; create a new one to profile again")
        if self.format == RecordFormat.ChromeTrace:
            target = self._file
            if target is None:
                handle = tempfile.NamedTemporaryFile("w", prefix="furiosa-trace-", suffix=".json", delete=False)
                self.path = handle.name
                log.info("profiler: writing the Chrome trace to %s", handle.name)
                self._owned = target = handle
            elif isinstance(target, (str, os.PathLike)):
                self.path = os.fspath(target)
                self._owned = target = open(target, "w")
            self._writer = chrome.StreamWriter(target, now_ns())
        self._state = _RECORDING
        _tracing.register(self._sink)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._state in (_CREATED, _DONE):
            raise ProfilerError("profile() exited without being entered")
        _tracing.unregister(self._sink)
        with self._lock:
            self._state = _DONE
            spans, self._spans = self._spans, []
        if self._writer is not None:
            self._writer.write(spans)
            self._writer.close()
            if self._owned is not None:
                self._owned.close()
            return
        self._df = frame.dataframe(spans)
        if self._file is not None:
            self._write_csv()

    def _write_csv(self) -> None:
        assert self._df is not None
        if isinstance(self._file, (str, os.PathLike)):
            self._df.to_csv(self._file, index=False)
            return
        text = self._df.to_csv(index=False)
        try:
            self._file.write(text)
        except TypeError:
            self._file.write(text.encode())
        self._file.flush()

    # --- recording -------------------------------------------------------------------------
    def _collect(self, span: Span) -> None:
        if span.cat not in self._cats:
            return
        with self._lock:
            if self._state == _DONE:
                return
            self._spans.append(span)
            if self._writer is None or len(self._spans) < _WRITE_EVERY:
                return
            spans, self._spans = self._spans, []
            try:
                self._writer.write(spans)
            except (OSError, ValueError) as error:  # a closed or full file must not fail the inference
                log.error("profiler: cannot write the Chrome trace: %s", error)

    def _stack(self) -> list[ProfilerRecordObject]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _check_active(self, what: str) -> None:
        if self._state == _CREATED:
            raise ProfilerError(f"Profiler is not enabled yet: call {what}() inside 'with profile() as profiler:'")
        if self._state == _DONE:
            raise ProfilerError(f"Profiler is already disabled: call {what}() inside the profile() context")

    def record(self, name: str) -> ProfilerRecordObject:
        """A span named ``name`` around a block: ``with profiler.record("name"):``."""
        if not isinstance(name, str):
            raise TypeError(f"argument 'name': '{type(name).__name__}' object cannot be converted to 'PyString'")
        return ProfilerRecordObject(self, name)

    def pause(self) -> None:
        """Stop recording until :meth:`resume` (idempotent); time keeps running."""
        self._check_active("pause")
        with self._lock:
            if self._state != _RECORDING:
                return
            self._state = _PAUSED
        _tracing.unregister(self._sink)

    def resume(self) -> None:
        """Record again after :meth:`pause` (idempotent)."""
        self._check_active("resume")
        with self._lock:
            if self._state != _PAUSED:
                return
            self._state = _RECORDING
        _tracing.register(self._sink)

    # --- data --------------------------------------------------------------------------------
    def _frame(self) -> pd.DataFrame:
        if self.format != RecordFormat.PandasDataFrame:
            raise ProfilerError("DataFrame is empty. (this profiler wrote a Chrome trace; use "
                                "profile(format=RecordFormat.PandasDataFrame) to get a DataFrame and reports)")
        if self._df is not None:
            return self._df
        with self._lock:
            return frame.dataframe(list(self._spans))

    def get_pandas_dataframe(self) -> pd.DataFrame:
        """Every recorded span, one row each, with the vendor's columns (a copy)."""
        return self._frame().copy()

    def get_pandas_dataframe_with_filter(self, column: str, value: Any) -> pd.DataFrame:
        """The rows whose ``column`` equals ``value``."""
        df = self._frame()
        if column not in df.columns:
            raise ProfilerError(f"Invalid column name: {column!r}; the columns are {', '.join(df.columns)}")
        return df[(df[column] == value).fillna(False).astype(bool)].reset_index(drop=True)

    def get_cpu_pandas_dataframe(self) -> pd.DataFrame:
        """The host-side rows (``cat == "Runtime"``: measured)."""
        return frame.by_category(self._frame(), ["Runtime"])

    def get_npu_pandas_dataframe(self) -> pd.DataFrame:
        """The device rows (``cat == "NPU"``: modeled)."""
        return frame.by_category(self._frame(), ["NPU"])

    def print_summary(self) -> None:
        """Print the inference count and latency statistics (ns) of the ``Inference`` spans."""
        print(report.summary(frame.inferences(self._frame())["dur"]))

    def print_inferences(self) -> None:
        """Print one row per inference: ``trace_id, span_id, thread.id, dur``."""
        print(report.table(frame.inferences(self._frame())))

    def print_npu_executions(self) -> None:
        """Print one row per NPU execution: NPU Total, NPU Run and NPU IoWait (modeled ns)."""
        print(report.table(frame.npu_executions(self._frame())))

    def print_npu_operators(self) -> None:
        """Print one row per NPU operator name: average elapsed time (modeled ns) and count."""
        print(report.table(frame.npu_operators(self._frame())))

    def print_external_operators(self) -> None:
        """Print one row per host operator run (measured ns)."""
        print(report.table(frame.external_operators(self._frame())))

    def export_chrome_trace(self, filename: "str | os.PathLike[str]") -> None:
        """Write the recorded spans as a Chrome trace JSON file."""
        df = self._frame()
        if df.empty:
            print("DataFrame is empty.")
            return
        spans = chrome.spans_of(df)
        encoder = chrome.Encoder(min(s.start for s in spans))
        with open(filename, "w") as out:
            json.dump(encoder.events(spans), out)
        print("Export trace event format completed.")

    def __repr__(self) -> str:
        return f"profile(resource={self.resource!r}, format={self.format!r}, state={self._state})"
