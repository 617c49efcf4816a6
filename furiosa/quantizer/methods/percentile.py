"""PERCENTILE: keep ``percentage`` % of the values (spec/toolchain-api.md §3.4).

SYM: ``a`` is the ``percentage``-th percentile of ``|x|``. ASYM: for data on both sides of 0,
``(100 - percentage) / 2`` % of the values is cut from each tail; for one-signed data the
``percentage``-th percentile of ``|x|`` bounds the occupied side. Percentiles interpolate
linearly inside a histogram bin.
"""
from __future__ import annotations

import numpy as np

from . import OBJECTIVES, one_signed_range, symmetric_range


def quantile(edges: np.ndarray, counts: np.ndarray, q: float) -> float:
    """The ``q``-quantile (0..1) of the histogram, interpolating inside the bin."""
    total = counts.sum()
    if total <= 0:
        return float(edges[0])
    cumulative = np.cumsum(counts)
    target = min(max(q, 0.0), 1.0) * total
    j = int(np.searchsorted(cumulative, target, side="left"))
    j = min(j, counts.size - 1)
    before = cumulative[j - 1] if j > 0 else 0.0
    fraction = 0.0 if counts[j] == 0 else (target - before) / counts[j]
    return float(edges[j] + min(max(fraction, 0.0), 1.0) * (edges[j + 1] - edges[j]))


@OBJECTIVES.register("percentile")
def percentile(stats, symmetric: bool, percentage: float) -> tuple[float, float]:
    if stats.empty:
        return 0.0, 0.0
    keep = percentage / 100.0
    if symmetric:
        return symmetric_range(stats, quantile(*stats.magnitude(), keep))
    if stats.min >= 0 or stats.max <= 0:
        return one_signed_range(stats, quantile(*stats.magnitude(), keep))
    edges, counts = stats.signed()
    tail = (1.0 - keep) / 2.0
    return quantile(edges, counts, tail), quantile(edges, counts, 1.0 - tail)
