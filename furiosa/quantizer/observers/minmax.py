"""Running minimum and maximum of a tensor over every sample (exact)."""
from __future__ import annotations

import math

import numpy as np


class MinMax:
    """The exact running ``(min, max)`` of the finite values seen, and how many there were."""

    #: what the collector hands to :meth:`update`: the extremes of one sample, computed in the graph
    needs = "extremes"

    def __init__(self) -> None:
        self.min = math.inf
        self.max = -math.inf
        self.count = 0

    def update_extremes(self, low: float, high: float, count: int) -> None:
        """Merge the extremes of one sample of ``count`` values."""
        if count <= 0 or not (math.isfinite(low) and math.isfinite(high)):
            return
        self.min = min(self.min, float(low))
        self.max = max(self.max, float(high))
        self.count += int(count)

    def update(self, values: np.ndarray) -> None:
        """Merge the finite values of one sample."""
        values = np.asarray(values)
        if values.size == 0:
            return
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                return
            low, high = float(finite.min()), float(finite.max())
        self.update_extremes(low, high, values.size)

    @property
    def empty(self) -> bool:
        return self.count == 0
