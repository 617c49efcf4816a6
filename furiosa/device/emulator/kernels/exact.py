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
    """``weight @ x`` for an int-valued ``weight`` (rows, K) and stored int8 values ``x`` (K, P).

    With an int-valued ``offset`` per row (the bias), results come back as float32 when the
    whole sum provably stays within 2**24 (one chunk, small offsets), else as float64; either
    way every value is the exact integer.
    """

    def __init__(self, weight: np.ndarray, offset: np.ndarray | None = None, bound: int = MAX_STORED) -> None:
        weight = np.asarray(weight)
        self.bounds = chunk_bounds(np.abs(weight), bound)
        self.parts = [np.ascontiguousarray(weight[..., k0:k1], dtype=np.float32) for k0, k1 in self.bounds]
        rows = np.abs(weight.reshape(-1, weight.shape[-1]).astype(np.int64)).sum(axis=1) * bound
        offset = np.zeros(rows.shape, np.int64) if offset is None else np.asarray(offset, np.int64).reshape(-1)
        self.single = len(self.parts) == 1 and int((rows + np.abs(offset)).max(initial=0)) <= LIMIT
        self.offset = offset.astype(np.float32 if self.single else np.float64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``weight @ x + offset`` for ``x`` float32 with the reduction axis second to last."""
        shape = self.offset.shape + (1,)
        if self.single:
            out = np.matmul(self.parts[0], x)
            out += self.offset.reshape(self._rows_shape(out)) if out.ndim > 2 else self.offset.reshape(shape)
            return out
        total = None
        for (k0, k1), part in zip(self.bounds, self.parts):
            partial = np.matmul(part, x[..., k0:k1, :])
            total = partial.astype(np.float64) if total is None else np.add(total, partial, out=total)
        total += self.offset.reshape(self._rows_shape(total)) if total.ndim > 2 else self.offset.reshape(shape)
        return total

    def _rows_shape(self, out: np.ndarray) -> tuple[int, ...]:
        """Broadcast shape of the per-row offsets against a stacked (..., groups, rows, P) result."""
        groups_rows = self.parts[0].shape[:-1]
        return (1,) * (out.ndim - len(groups_rows) - 1) + groups_rows + (1,)

    def right(self, x: np.ndarray) -> np.ndarray:
        """``x @ weight.T + offset`` for ``x`` (M, K): the reduction axis last."""
        if self.single:
            out = np.matmul(x, self.parts[0].T)
            out += self.offset
            return out
        total = None
        for (k0, k1), part in zip(self.bounds, self.parts):
            partial = np.matmul(x[:, k0:k1], part.T)
            total = partial.astype(np.float64) if total is None else np.add(total, partial, out=total)
        total += self.offset
        return total
