"""MSE and SQNR: ranges minimizing Warboy int8 fake-quantization error (spec/toolchain-api.md §3.4).

* ``mse`` minimizes the expected squared error ``E[(x - x̂)²]`` (rounding + clipping).
* ``sqnr`` maximizes ``Σx² / noise``. For one tensor ``Σx²`` does not depend on the range, so
  with plain squared error SQNR's optimum would be MSE's; like AIMET's SQNR-based analyzer, the
  noise counts clipping ``GAMMA`` times, as saturation damages a network more than rounding.
  The result keeps more of the tails than MSE, as the vendor's SQNR does (§3.4's table).

SYM searches one magnitude ``a`` (range ``(-a, a)``, or ``(0, a)`` for non-negative data); ASYM
searches ``(lo, hi)`` by coordinate descent, each end over a coarse grid then a fine one, the
empty side of one-signed data held at 0. The error is evaluated on the histogram
(:mod:`.error`), coarsened to at most ``BINS`` bins.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import OBJECTIVES, one_signed_range, symmetric_range
from .error import coarsen, noise

BINS = 512
STEPS = 32
ROUNDS = 3
GAMMA = 3.0

Cost = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _search(cost: Callable[[np.ndarray], np.ndarray], low: float, high: float) -> float:
    """The value in ``[low, high]`` with the smallest cost: a coarse grid, then a finer one."""
    if high <= low:
        return high
    grid = np.linspace(low, high, STEPS + 1)
    best = int(np.argmin(cost(grid)))
    step = grid[1] - grid[0]
    fine = np.clip(np.linspace(grid[best] - step, grid[best] + step, STEPS + 1), low, high)
    return float(fine[int(np.argmin(cost(fine)))])


def _optimize(stats, symmetric: bool, objective: Cost) -> tuple[float, float]:
    edges, counts = coarsen(*stats.signed(), BINS)
    lo_data, hi_data = float(stats.min), float(stats.max)
    if lo_data == hi_data:
        return (symmetric_range(stats, abs(hi_data)) if symmetric else (lo_data, hi_data))

    def error(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return objective(*noise(edges, counts, lo, hi))

    if symmetric:
        top = max(-lo_data, hi_data)
        if lo_data >= 0:
            a = _search(lambda c: error(np.zeros_like(c), c), top / STEPS, top)
        else:
            a = _search(lambda c: error(-c, c), top / STEPS, top)
        return symmetric_range(stats, a)
    if lo_data >= 0:
        return one_signed_range(stats, _search(lambda c: error(np.zeros_like(c), c), hi_data / STEPS, hi_data))
    if hi_data <= 0:
        return one_signed_range(stats, _search(lambda c: error(-c, np.zeros_like(c)), -lo_data / STEPS, -lo_data))
    lo, hi = lo_data, hi_data
    for _ in range(ROUNDS):
        before = (lo, hi)
        hi = _search(lambda c: error(np.full_like(c, lo), c), hi_data / STEPS, hi_data)
        lo = -_search(lambda c: error(-c, np.full_like(c, hi)), -lo_data / STEPS, -lo_data)
        if (lo, hi) == before:
            break
    return lo, hi


@OBJECTIVES.register("mse")
def mse(stats, symmetric: bool, percentage: float) -> tuple[float, float]:
    if stats.empty:
        return 0.0, 0.0
    return _optimize(stats, symmetric, lambda rounding, clipping: rounding + clipping)


@OBJECTIVES.register("sqnr")
def sqnr(stats, symmetric: bool, percentage: float) -> tuple[float, float]:
    if stats.empty:
        return 0.0, 0.0
    edges, counts = stats.signed()
    centers = (edges[:-1] + edges[1:]) / 2
    signal = float((counts * centers ** 2).sum()) + 1e-30
    return _optimize(stats, symmetric, lambda rounding, clipping: (rounding + GAMMA * clipping) / signal)
