"""How far a quantized tensor is from its float counterpart: SQNR, cosine similarity, max error.

For a float tensor ``x`` and its dequantized int8 counterpart ``y`` over every element of every
evaluation sample (sums in float64):

* **SQNR** ``= 10 log10(Σx² / Σ(x - y)²)`` dB: signal power over error power. Identical tensors
  have an infinite SQNR; int8 with a well-chosen range typically gives 30-45 dB per tensor, and
  every 6 dB is one bit of precision.
* **cosine similarity** ``= Σxy / sqrt(Σx² Σy²)``: 1 when ``y`` points the way ``x`` does.
* **max absolute error** ``= max |x - y|``.

:class:`ErrorStats` accumulates the sums sample after sample (memory does not grow);
:class:`Metrics` is the frozen result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Error of one tensor (or output) against float, over the evaluation samples."""

    sqnr_db: float
    cosine: float
    max_abs_error: float
    elements: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form; an infinite SQNR (no error at all) is written as ``null`` with ``exact: true``."""
        return {"sqnr_db": None if math.isinf(self.sqnr_db) else round(self.sqnr_db, 4),
                "exact": self.sqnr_db == math.inf, "cosine": round(self.cosine, 8),
                "max_abs_error": float(self.max_abs_error), "elements": self.elements}


class ErrorStats:
    """Running sums for :class:`Metrics`."""

    def __init__(self) -> None:
        self.signal = 0.0
        self.noise = 0.0
        self.test = 0.0
        self.cross = 0.0
        self.max_abs = 0.0
        self.count = 0

    def update(self, reference: np.ndarray, test: np.ndarray) -> None:
        """Add one sample: ``reference`` (float) against ``test`` (dequantized), same shape."""
        x = np.asarray(reference, dtype=np.float64).reshape(-1)
        y = np.asarray(test, dtype=np.float64).reshape(-1)
        if x.shape != y.shape:
            raise ValueError(f"cannot compare a tensor of {x.size} elements with one of {y.size}")
        if x.size == 0:
            return
        error = x - y
        self.signal += float(x @ x)
        self.noise += float(error @ error)
        self.test += float(y @ y)
        self.cross += float(x @ y)
        self.max_abs = max(self.max_abs, float(np.max(np.abs(error))))
        self.count += x.size

    def merge(self, other: "ErrorStats") -> None:
        """Add the sums of ``other`` (several tensors measured as one)."""
        self.signal += other.signal
        self.noise += other.noise
        self.test += other.test
        self.cross += other.cross
        self.max_abs = max(self.max_abs, other.max_abs)
        self.count += other.count

    @property
    def empty(self) -> bool:
        return self.count == 0

    def result(self) -> Metrics:
        if self.noise == 0.0:
            sqnr = math.inf
        elif self.signal == 0.0:
            sqnr = -math.inf
        else:
            sqnr = 10.0 * math.log10(self.signal / self.noise)
        if self.signal == 0.0 and self.test == 0.0:
            cosine = 1.0
        elif self.signal == 0.0 or self.test == 0.0:
            cosine = 0.0
        else:
            cosine = self.cross / math.sqrt(self.signal * self.test)
        return Metrics(sqnr, min(1.0, cosine), self.max_abs, self.count)


def format_db(value: float | None) -> str:
    """An SQNR for people: ``34.2 dB``, ``exact``, ``-``."""
    if value is None:
        return "-"
    if value == math.inf:
        return "exact"
    if value == -math.inf:
        return "-inf dB"
    return f"{value:.1f} dB"
