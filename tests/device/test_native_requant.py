"""Requantization in float32 only where it is proven to give the float64 definition's values.

The native loops compute ``round(clamp((acc + bias) * M + zp))`` in float32 (twice the values per
vector) for the channels where ``requant_f32_exact`` has checked every accumulator close enough to
a rounding boundary to be at risk. These tests feed exactly those accumulators (and the ones
around them, the extremes, random ones), with multipliers built so that float32 rounds some
products onto a tie that float64 does not see, and compare every value with
:func:`furiosa.common.qmath.requantize`.
"""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.common.qmath import QParams, requantize
from furiosa.device.emulator.kernels import native

pytestmark = pytest.mark.skipif(not native.available(), reason="the native loops are not built")


def _at_risk(mult: np.ndarray, zero: int, lo: int, hi: int, bound: int) -> np.ndarray:
    """Every accumulator within 3 of a value that lands on a rounding boundary, for each multiplier."""
    halves = np.arange(lo - 1, hi + 1) + 0.5
    centres = (halves[None, :] - zero) / mult[:, None]
    near = np.rint(centres).astype(np.int64)[..., None] + np.arange(-3, 4)
    return np.clip(near.reshape(-1), -bound, bound)


def _definition(total: np.ndarray, mult: np.ndarray, zero: int, lo: int, hi: int, dtype: str) -> np.ndarray:
    """qmath.requantize of (channels, values) accumulators (bias included), clamped to [lo, hi] declared."""
    qp = QParams((1.0,), (zero,), dtype)
    out = requantize(total, mult.reshape(-1, 1), qp)
    offset = 128 if dtype == "uint8" else 0
    return np.clip(out.astype(np.int16), lo - offset, hi - offset).astype(np.int8)


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("seed", range(6))
def test_float32_channels_give_the_definition(dtype, seed):
    rng = np.random.default_rng(seed)
    channels = 24
    mult = np.float32(10 ** rng.uniform(-3.5, -1, channels)).astype(np.float64)
    zero = int(rng.integers(-128, 128)) if dtype == "int8" else int(rng.integers(0, 256))
    limits = (-128, 127) if dtype == "int8" else (0, 255)
    bound = int(rng.integers(2**12, 2**20))
    bias = rng.integers(-1000, 1000, channels).astype(np.int32)
    requant = native.Requant(bias, mult, zero, limits, 128 if dtype == "uint8" else 0, bound=bound)
    # float32 holds for many channels (not all: with many accumulators near rounding boundaries,
    # some land where float32 rounds differently, and the channel stays in float64)
    assert requant.exact.sum() >= channels // 4, "the float32 form was proven for too few channels to test it"
    risky = _at_risk(mult, zero, *limits, bound)
    extremes = np.array([-bound, -bound + 1, -1, 0, 1, bound - 1, bound])
    totals = np.concatenate([risky, extremes, rng.integers(-bound, bound + 1, 4096)])
    totals = np.broadcast_to(totals, (channels, totals.size))
    acc = (totals - bias[:, None]).astype(np.int32)
    expected = _definition(totals, mult, zero, *limits, dtype)
    np.testing.assert_array_equal(requant.planes(acc), expected)
    rows = native.Requant(bias, mult, zero, limits, 128 if dtype == "uint8" else 0, bound=bound)
    np.testing.assert_array_equal(rows.rows(np.ascontiguousarray(acc.T)), expected.T)


def _tie_multipliers(rng, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers M (float32) and accumulators t for which float32 rounds t * M to k + 1/2 exactly
    while the exact product is not a tie, so that the two forms round differently."""
    found_m, found_t = [], []
    while len(found_m) < count:
        t = rng.integers(2**12, 2**22, 20000)
        k = rng.integers(-100, 100, t.size)
        m = ((k + 0.5) / t).astype(np.float32)
        exact = t * m.astype(np.float64)  # exact: 24-bit t times a 24-bit significand
        single = (t.astype(np.float32) * m).astype(np.float64)
        differ = (np.rint(exact) != np.rint(single)) & (m > 0)
        found_m += list(m[differ].astype(np.float64))
        found_t += list(t[differ])
    return np.array(found_m[:count]), np.array(found_t[:count])


def test_multipliers_where_float32_would_differ_stay_in_float64():
    rng = np.random.default_rng(7)
    mult, ties = _tie_multipliers(rng, 16)
    bound = int(ties.max()) + 10
    bias = np.zeros(mult.size, np.int32)
    requant = native.Requant(bias, mult, 0, (-128, 127), 0, bound=bound)
    assert not requant.exact.any(), "a multiplier for which float32 rounds differently was taken as exact"
    totals = np.stack([np.arange(t - 5, t + 6) for t in ties]).astype(np.int32)
    np.testing.assert_array_equal(requant.planes(totals), _definition(totals, mult, 0, -128, 127, "int8"))


def test_no_bound_or_a_bound_beyond_float32_means_float64():
    mult = np.full(4, 2.0**-10)  # float32 products exact: the proof holds whenever float32 holds the sums
    assert not native.Requant(np.zeros(4, np.int32), mult, 0, (-128, 127), 0).exact.any()
    assert not native.Requant(np.zeros(4, np.int32), mult, 0, (-128, 127), 0, bound=2**24).exact.any()
    assert native.Requant(np.zeros(4, np.int32), mult, 0, (-128, 127), 0, bound=2**24 - 1).exact.all()
