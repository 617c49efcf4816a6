"""MIN_MAX: the exact extremes (ASYM) or the largest magnitude (SYM)."""
from __future__ import annotations

from . import OBJECTIVES, Statistics, symmetric_range


@OBJECTIVES.register("min_max")
def min_max(stats: Statistics, symmetric: bool, percentage: float) -> tuple[float, float]:
    if stats.empty:
        return 0.0, 0.0
    if symmetric:
        return symmetric_range(stats, max(-stats.min, stats.max))
    return float(stats.min), float(stats.max)
