"""The expected error of Warboy int8 fake quantization of a histogram, for many ranges at once.

For a calibrated range ``(lo, hi)`` the compiler widens it to contain 0 and uses
``s = (hi' - lo') / 255`` and an integer zero point (spec/toolchain-api.md §3.7), so the
representable values are the multiples of ``s`` in ``[gmin, gmax]``. Values inside round to the
nearest multiple; values outside clip to the nearer end. Assuming values spread evenly inside
each histogram bin, both errors integrate in closed form:

* rounding: ``∫ (x - s·round(x/s))² dx = s³ [H(x/s)]``, ``H(y) = m/12 + ((y-m)³ + 1/8)/3``,
  ``m = round(y)``;
* clipping: ``∫ (x - g)² dx = (x - g)³ / 3`` beyond the end ``g``.

:func:`noise` returns the two sums (count-weighted) for every candidate range.
"""
from __future__ import annotations

import numpy as np

from furiosa.quantizer.qparams import MIN_SCALE


def grid(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scale, gmin, gmax)`` of the Warboy int8 grid for each range (arrays)."""
    lo = np.minimum(np.asarray(lo, dtype=np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, dtype=np.float64), 0.0)
    span = hi - lo
    scale = np.where(span > 0, span / 255.0, 1.0).astype(np.float32).astype(np.float64)
    scale = np.maximum(scale, MIN_SCALE)
    zero_point = np.clip(np.rint(-128.0 - lo / scale), -128, 127)
    return scale, scale * (-128.0 - zero_point), scale * (127.0 - zero_point)


def _integral(y: np.ndarray) -> np.ndarray:
    m = np.floor(y + 0.5)
    r = y - m
    return m / 12.0 + (r * r * r + 0.125) / 3.0


def _cube(x: np.ndarray) -> np.ndarray:
    return x * x * x


def noise(edges: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Summed squared rounding and clipping error of the histogram under each range ``(lo[c], hi[c])``."""
    a = edges[:-1].astype(np.float64)
    b = edges[1:].astype(np.float64)
    pad = np.maximum(np.abs(a), np.abs(b)) * 1e-7 + 1e-30
    narrow = b - a <= 0
    a = np.where(narrow, a - pad, a)[None, :]
    b = np.where(narrow, b + pad, b)[None, :]
    width = b - a
    n = counts.astype(np.float64)[None, :]
    scale, gmin, gmax = (v.reshape(-1, 1) for v in grid(lo, hi))
    below = _cube(np.maximum(gmin - a, 0.0)) - _cube(np.maximum(gmin - b, 0.0))
    above = _cube(np.maximum(b - gmax, 0.0)) - _cube(np.maximum(a - gmax, 0.0))
    lower = np.clip(a, gmin, gmax)
    upper = np.clip(b, gmin, gmax)
    inside = scale ** 3 * (_integral(upper / scale) - _integral(lower / scale))
    rounding = (n * np.maximum(inside, 0.0) / width).sum(axis=1)
    clipping = (n * (below + above) / (3.0 * width)).sum(axis=1)
    return rounding, clipping


def coarsen(edges: np.ndarray, counts: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge neighbouring bins so that at most ``limit`` remain (outer edges unchanged)."""
    factor = -(-counts.size // limit)
    if factor <= 1:
        return edges, counts
    pad = (-counts.size) % factor
    merged = np.concatenate([counts, np.zeros(pad)]).reshape(-1, factor).sum(axis=1)
    new_edges = edges[::factor]
    if new_edges.size < merged.size + 1:
        new_edges = np.append(new_edges, edges[-1])
    new_edges[-1] = edges[-1]
    return new_edges, merged
