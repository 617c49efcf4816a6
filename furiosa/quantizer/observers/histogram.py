"""A histogram of bounded size over a stream of samples.

Bins are fixed in number (``2 * half_bins``) and span ``[-R, R]`` with ``0`` on a bin edge. The
first sample sets ``R`` to its largest magnitude; when a later sample holds a value beyond
``R``, ``R`` doubles as often as needed and each run of 2**k neighbouring bins merges into one,
which is exact because the old edges are edges of the new bins. Memory is the bins (and a work
buffer the size of the largest tensor), whatever the number of samples.

The exact running minimum and maximum are kept alongside, so the outermost bins can be clipped
to the data (:meth:`StreamingHistogram.signed`).
"""
from __future__ import annotations

import math
import threading

import numpy as np

from .minmax import MinMax

HALF_BINS = 2048
#: the index scale is shrunk by this factor so that ``x == R`` still falls in the last bin
_INSIDE = 1.0 - 2.0**-20

_local = threading.local()


def _buffers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Work buffers shared by every histogram of this thread, grown to the largest tensor seen."""
    work = getattr(_local, "work", None)
    if work is None or work.size < size:
        _local.work = np.empty(size, dtype=np.float32)
        _local.index = np.empty(size, dtype=np.intp)
    return _local.work[:size], _local.index[:size]


class StreamingHistogram:
    """Counts of a tensor's values in ``2 * half_bins`` equal bins over ``[-R, R]``."""

    needs = "values"

    def __init__(self, half_bins: int = HALF_BINS) -> None:
        if half_bins < 2 or half_bins & (half_bins - 1):
            raise ValueError(f"half_bins must be a power of two >= 2, got {half_bins}")
        self.half = half_bins
        self.counts = np.zeros(2 * half_bins, dtype=np.int64)
        self.radius = 0.0
        self.extremes = MinMax()

    # --- updating ---------------------------------------------------------------------------
    def _grow(self, magnitude: float) -> None:
        if self.radius == 0.0:
            self.radius = magnitude
            return
        factor = 1
        while self.radius * factor < magnitude:
            factor *= 2
        if factor == 1:
            return
        half = self.half
        counts = np.zeros_like(self.counts)
        if factor >= half:
            counts[half - 1] = self.counts[:half].sum()
            counts[half] = self.counts[half:].sum()
        else:
            merged = self.counts.reshape(-1, factor).sum(axis=1)
            start = half - half // factor
            counts[start:start + merged.size] = merged
        self.counts = counts
        self.radius *= factor

    def update(self, values: np.ndarray) -> None:
        """Add one sample's values (any shape; non-finite values are ignored)."""
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        if values.size == 0:
            return
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            values = values[np.isfinite(values)]
            if values.size == 0:
                return
            low, high = float(values.min()), float(values.max())
        self.extremes.update_extremes(low, high, values.size)
        magnitude = max(-low, high)
        if magnitude > self.radius:
            self._grow(magnitude)
        if self.radius == 0.0:  # only zeros so far
            self.counts[self.half] += values.size
            return
        half = self.half
        size = values.size
        work, index = _buffers(size)
        np.multiply(values, np.float32(half / self.radius * _INSIDE), out=work)
        np.add(work, np.float32(half), out=work)
        np.copyto(index, work, casting="unsafe")  # truncation is floor: every value is >= 0 here
        self.counts += np.bincount(index, minlength=2 * half)

    # --- views ------------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self.extremes.empty

    @property
    def min(self) -> float:
        return self.extremes.min

    @property
    def max(self) -> float:
        return self.extremes.max

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def signed(self) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, counts)`` of the non-empty span, outer edges clipped to the exact min / max."""
        if self.radius == 0.0:
            return np.array([0.0, 0.0]), np.array([self.total], dtype=np.float64)
        nonzero = np.flatnonzero(self.counts)
        first, last = int(nonzero[0]), int(nonzero[-1])
        width = self.radius / self.half
        edges = (np.arange(first, last + 2, dtype=np.float64) - self.half) * width
        edges[0] = min(self.min, edges[1])
        edges[-1] = max(self.max, edges[-2])
        return edges, self.counts[first:last + 1].astype(np.float64)

    def _outward(self, counts: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
        nonzero = np.flatnonzero(counts)
        if self.radius == 0.0 or nonzero.size == 0:
            return np.array([0.0, max(end, 0.0)]), np.array([counts.sum()], dtype=np.float64)
        last = int(nonzero[-1])
        edges = np.arange(last + 2, dtype=np.float64) * (self.radius / self.half)
        edges[-1] = max(end, edges[-2])
        return edges, counts[:last + 1].astype(np.float64)

    def magnitude(self) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, counts)`` of ``|x|`` from 0 to the largest magnitude (negative side folded)."""
        half = self.half
        return self._outward(self.counts[half:] + self.counts[:half][::-1], max(-self.min, self.max))

    def positive(self) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, counts)`` of the values >= 0, from 0 up to the maximum."""
        return self._outward(self.counts[self.half:], self.max)

    def negative(self) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, counts)`` of ``-x`` for the values < 0, from 0 up to ``-min``."""
        return self._outward(self.counts[:self.half][::-1], -self.min)
