"""Exact integer matrix products computed with float32 BLAS.

Products of int8 values summed in float32 are exact as long as every partial sum stays below
2**24. With stored activations bounded by 128 in magnitude, a reduction over weights ``w`` is
exact when ``128 * sum(|w|) <= 2**24`` for every output row, whatever order BLAS adds the terms
in. :class:`ExactMatmul` splits the reduction axis into the fewest contiguous chunks that keep
that bound for every row, multiplies each chunk in float32 and sums the exact chunk results in
float64. No output bit depends on how BLAS schedules its work.
"""
from __future__ import annotations

import numpy as np

LIMIT = 2**24
MAX_STORED = 128


def chunk_bounds(weight_abs: np.ndarray, bound: int = MAX_STORED) -> list[tuple[int, int]]:
    """Contiguous ``[k0, k1)`` ranges of the last axis keeping ``bound * sum|w|`` within 2**24."""
    rows = weight_abs.reshape(-1, weight_abs.shape[-1]).astype(np.int64) * bound
    k = rows.shape[1]
    if k == 0:
        return [(0, 0)]
    cumulative = np.concatenate([np.zeros((rows.shape[0], 1), np.int64), np.cumsum(rows, axis=1)], axis=1)
    bounds = []
    start = 0
    while start < k:
        targets = cumulative[:, start] + LIMIT
        ends = [int(np.searchsorted(row, t, side="right")) - 1 for row, t in zip(cumulative, targets)]
        end = max(min(ends), start + 1)
        end = min(end, k)
        bounds.append((start, end))
        start = end
    return bounds


class ExactMatmul:
    """``weight @ x`` for an int-valued ``weight`` (rows, K) and stored int8 values ``x`` (K, P)."""

    def __init__(self, weight: np.ndarray, bound: int = MAX_STORED) -> None:
        weight = np.asarray(weight)
        self.bounds = chunk_bounds(np.abs(weight), bound)
        self.parts = [np.ascontiguousarray(weight[..., k0:k1], dtype=np.float32) for k0, k1 in self.bounds]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x`` float32 with the reduction axis second to last; returns float64."""
        if len(self.parts) == 1:
            return np.matmul(self.parts[0], x).astype(np.float64)
        total = None
        for (k0, k1), part in zip(self.bounds, self.parts):
            partial = np.matmul(part, x[..., k0:k1, :])
            total = partial.astype(np.float64) if total is None else total + partial
        return total

    def right(self, x: np.ndarray) -> np.ndarray:
        """``x @ weight.T`` for ``x`` (M, K): the reduction axis last."""
        if len(self.parts) == 1:
            return np.matmul(x, self.parts[0].T).astype(np.float64)
        total = None
        for (k0, k1), part in zip(self.bounds, self.parts):
            partial = np.matmul(x[:, k0:k1], part.T)
            total = partial.astype(np.float64) if total is None else total + partial
        return total
