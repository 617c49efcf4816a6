"""Calibration statistics kept once and read by every method: ranges and predicted int8 error.

One pass of the float model over the calibration samples fills a streaming histogram per float
tensor (the observer the histogram methods of :class:`~furiosa.quantizer.Calibrator` use, with
its exact running min / max). Every :class:`~furiosa.quantizer.CalibrationMethod` then reads
the same statistics through its objective, so the ranges equal what ``Calibrator(model,
method, percentage=p)`` computes on the same samples, and a sweep over ten methods and several
percentiles costs one pass. :meth:`CalibrationStats.predicted_sqnr_db` predicts the SQNR of a
tensor quantized with a candidate range from its histogram, with the closed-form error model
the MSE and SQNR methods optimize (:mod:`furiosa.quantizer.methods.error`).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import onnx

from ..calibrator import CalibrationMethod, method_spec
from ..collector import Collector, check_value_infos, float_tensors
from ..methods import OBJECTIVES
from ..methods.error import noise
from ..observers import StreamingHistogram

Range = tuple[float, float]


class CalibrationStats:
    """Histograms of every float tensor of ``model`` over ``samples``."""

    def __init__(self, model: onnx.ModelProto, samples: Sequence[Sequence[np.ndarray]], progress: bool = False) -> None:
        check_value_infos(model)
        self.tensors = float_tensors(model)
        self.histograms: dict[str, StreamingHistogram] = {}
        collector = Collector(model, self.tensors, extremes_only=False)
        data: Iterable[Any] = samples
        if progress:
            from tqdm.auto import tqdm

            data = tqdm(samples, desc="Calibrating", unit="sample", leave=False)
        self.samples = collector.run(data, self._consume)

    def _consume(self, name: str, values: Any) -> None:
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = StreamingHistogram()
        histogram.update(values)

    def ranges(self, method: "CalibrationMethod | int", percentage: float = 99.99,
               tensors: Iterable[str] | None = None) -> dict[str, Range]:
        """What ``Calibrator(model, method, percentage=percentage)`` returns for these samples
        (for ``tensors`` only, when given)."""
        spec = method_spec(int(method))
        objective = OBJECTIVES.lookup(spec.objective)
        out: dict[str, Range] = {}
        for name in self.tensors if tensors is None else [t for t in self.tensors if t in set(tensors)]:
            histogram = self.histograms.get(name)
            if histogram is None or histogram.empty:
                out[name] = (0.0, 0.0)
                continue
            low, high = objective(histogram, spec.symmetric, float(percentage))
            out[name] = (float(low), float(high))
        return out

    def observed(self, tensor: str) -> Range | None:
        """The exact (min, max) of ``tensor`` over the calibration samples."""
        histogram = self.histograms.get(tensor)
        if histogram is None or histogram.empty:
            return None
        return float(histogram.min), float(histogram.max)

    def predicted_sqnr_db(self, tensor: str, ranges: Sequence[Range]) -> list[float]:
        """Predicted SQNR of ``tensor`` quantized with each range, from its calibration histogram."""
        histogram = self.histograms.get(tensor)
        if histogram is None or histogram.empty or not ranges:
            return [math.nan] * len(ranges)
        edges, counts = histogram.signed()
        a, b = edges[:-1], edges[1:]
        signal = float(np.sum(counts * (a * a + a * b + b * b) / 3.0))
        lo = np.array([r[0] for r in ranges], dtype=np.float64)
        hi = np.array([r[1] for r in ranges], dtype=np.float64)
        rounding, clipping = noise(edges, counts, lo, hi)
        total = rounding + clipping
        out = []
        for value in total:
            if value <= 0:
                out.append(math.inf)
            elif signal <= 0:
                out.append(-math.inf)
            else:
                out.append(10.0 * math.log10(signal / float(value)))
        return out
