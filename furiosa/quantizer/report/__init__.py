"""Reports beyond the vendor's SDK: per-layer accuracy and what-if sweeps.

* :func:`accuracy_report` (:mod:`.accuracy`): every quantized tensor of a model's int8 program
  against the float model, worst layers first, with suggestions that are applied and measured;
* :func:`sweep` (:mod:`.sweep`): one model compiled and evaluated across calibration methods,
  percentiles, batch sizes, targets and I/O types, with the Pareto front of accuracy against
  modeled latency and throughput.

Unlike the rest of :mod:`furiosa.quantizer`, these tools compile models and run them on the
emulated NPU, so this package imports the compiler and the device emulator (it is a tool layer,
like :mod:`furiosa.cli`); nothing in the quantizer's core imports it. docs/reports.md explains
the numbers.
"""
from __future__ import annotations

from .accuracy import (
    DEFAULT_BAD_SQNR_DB,
    AccuracyReport,
    Histogram,
    LayerResult,
    Outcome,
    OutputResult,
    Suggestion,
    accuracy_report,
)
from .calibration import CalibrationStats
from .data import InputInfo, check_samples, load, model_inputs, synthetic
from .edits import IO_VARIANTS, keep_in_float, with_io
from .latency import ModeledLatency, modeled
from .metrics import ErrorStats, Metrics
from .sweep import SweepPoint, SweepResult, sweep

__all__ = [
    "DEFAULT_BAD_SQNR_DB", "IO_VARIANTS", "AccuracyReport", "CalibrationStats", "ErrorStats", "Histogram",
    "InputInfo", "LayerResult", "Metrics", "ModeledLatency", "Outcome", "OutputResult", "Suggestion", "SweepPoint",
    "SweepResult", "accuracy_report", "check_samples", "keep_in_float", "load", "model_inputs", "modeled", "sweep",
    "synthetic", "with_io",
]
