"""ENTROPY: the clipping threshold minimizing the KL divergence between a tensor's histogram
clipped at the threshold and the same histogram quantized to the 8-bit levels available there
(TensorRT's calibration; spec/toolchain-api.md §3.4).

For a threshold at bin ``i``, ``P`` is the histogram's first ``i`` bins with every value beyond
added to the last; ``Q`` merges those ``i`` bins into ``levels`` equal groups and spreads each
group's count evenly over its non-empty bins. Every candidate is evaluated at once on a
``candidates × bins`` matrix, first on a coarse grid of thresholds, then bin by bin around the
best one. SYM searches ``|x|`` with 128 levels (255 for non-negative data); ASYM searches each
side on its own, 128 levels per side for data on both sides of 0, 255 for one-signed data.
"""
from __future__ import annotations

import numpy as np

from . import OBJECTIVES, one_signed_range, symmetric_range

COARSE = 64
EPSILON = 1e-12


def divergences(counts: np.ndarray, levels: int, candidates: np.ndarray) -> np.ndarray:
    """KL(P || Q) for each candidate number of kept bins (each >= ``levels``)."""
    h = counts.astype(np.float64)
    nb = h.size
    cs = np.concatenate([[0.0], np.cumsum(h)])
    cnz = np.concatenate([[0], np.cumsum(h > 0)])
    total = cs[-1]
    i = candidates.astype(np.int64)[:, None]
    rows = np.arange(candidates.size)[:, None]
    merged = i // levels
    k = np.arange(levels)[None, :]
    start = k * merged
    end = np.where(k == levels - 1, i, (k + 1) * merged)
    sums = cs[end] - cs[start]
    outliers = total - cs[i]
    nonzero = (cnz[end] - cnz[start]).astype(np.float64)
    nonzero[:, -1:] += ((h[i - 1] == 0) & (outliers > 0))
    j = np.arange(nb)[None, :]
    valid = j < i
    p = np.where(valid, h[None, :], 0.0)
    p[rows[:, 0], (i - 1)[:, 0]] += outliers[:, 0]
    chunk = np.minimum(j // merged, levels - 1)
    chunk = np.where(valid, chunk, 0)
    q = np.where(valid & (p > 0), sums[rows, chunk] / np.maximum(nonzero[rows, chunk], 1.0), 0.0)
    p_norm = p / np.maximum(p.sum(axis=1, keepdims=True), EPSILON)
    q_norm = q / np.maximum(q.sum(axis=1, keepdims=True), EPSILON)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p_norm > 0, p_norm * np.log(p_norm / np.maximum(q_norm, EPSILON)), 0.0)
    return terms.sum(axis=1)


def best_bins(counts: np.ndarray, levels: int) -> int:
    """How many bins (from 0 outward) to keep: the KL-optimal threshold's bin."""
    nb = counts.size
    if nb <= levels:
        return nb
    candidates = np.arange(levels, nb + 1)
    stride = max(1, -(-candidates.size // COARSE))
    coarse = np.unique(np.append(candidates[::stride], nb))
    best = int(coarse[np.argmin(divergences(counts, levels, coarse))])
    fine = candidates[(candidates >= best - stride) & (candidates <= best + stride)]
    return int(fine[np.argmin(divergences(counts, levels, fine))])


def threshold(edges: np.ndarray, counts: np.ndarray, levels: int) -> float:
    """The KL-optimal clipping point of a histogram starting at 0.

    The first bin's count is replaced by its neighbour's, as NVIDIA's entropy calibrator does:
    exact zeros (half of a ReLU's outputs) would otherwise dominate both distributions and pull
    the threshold down.
    """
    counts = counts.copy()
    if counts.size > 1:
        counts[0] = counts[1]
    return float(edges[best_bins(counts, levels)])


@OBJECTIVES.register("entropy")
def entropy(stats, symmetric: bool, percentage: float) -> tuple[float, float]:
    if stats.empty:
        return 0.0, 0.0
    one_signed = stats.min >= 0 or stats.max <= 0
    if symmetric:
        levels = 255 if stats.min >= 0 else 128
        return symmetric_range(stats, threshold(*stats.magnitude(), levels))
    if one_signed:
        return one_signed_range(stats, threshold(*stats.magnitude(), 255))
    return -threshold(*stats.negative(), 128), threshold(*stats.positive(), 128)
