"""The calibration objectives on known distributions (spec/toolchain-api.md §3.4) and the
streaming histogram they read."""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.quantizer.methods import OBJECTIVES
from furiosa.quantizer.observers import StreamingHistogram

rng = np.random.default_rng(0)
NORMAL = rng.standard_normal(10**6).astype(np.float32)


def observe(values: np.ndarray, parts: int = 10) -> StreamingHistogram:
    histogram = StreamingHistogram()
    for part in np.array_split(values, parts):
        histogram.update(part)
    return histogram


@pytest.fixture(scope="module")
def normal() -> StreamingHistogram:
    return observe(NORMAL)


def compute(name, stats, symmetric, percentage=99.99):
    return OBJECTIVES.lookup(name)(stats, symmetric, percentage)


@pytest.mark.parametrize("percentage, expected", [(99, 2.576), (90, 1.645)])
def test_percentile_sym_on_a_million_normal_samples(normal, percentage, expected):
    low, high = compute("percentile", normal, True, percentage)
    assert low == -high
    assert high == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("percentage", [99, 90])
def test_percentile_asym_cuts_equal_tails(normal, percentage):
    low, high = compute("percentile", normal, False, percentage)
    tail = (100 - percentage) / 2
    assert low == pytest.approx(np.percentile(NORMAL, tail), rel=0.01)
    assert high == pytest.approx(np.percentile(NORMAL, 100 - tail), rel=0.01)


def test_percentile_asym_on_uniform_data_matches_the_vendor_example():
    low, high = compute("percentile", observe(rng.uniform(-1, 3, 10**5).astype(np.float32)), False, 90)
    assert low == pytest.approx(-0.8, abs=0.02) and high == pytest.approx(2.8, abs=0.02)


def test_one_signed_data_conventions():
    relu = observe(np.maximum(rng.standard_normal(10**5), 0).astype(np.float32))
    for name in ("percentile", "entropy", "mse", "sqnr"):
        low, high = compute(name, relu, False)
        assert low == 0.0 and np.signbit(low), name  # -0.0 below non-negative data
        assert 0 < high <= relu.max
        assert compute(name, relu, True)[0] == 0.0
    assert compute("min_max", relu, False) == (relu.min, relu.max)
    negative = observe(-np.abs(rng.standard_normal(1000)).astype(np.float32))
    low, high = compute("min_max", negative, True)
    assert low == -high > 0 or low == -high  # (-a, a) even for all-negative data
    assert low < 0


@pytest.mark.parametrize("name", ["entropy", "mse", "sqnr"])
@pytest.mark.parametrize("symmetric", [False, True])
def test_search_methods_stay_inside_min_max(normal, name, symmetric):
    low, high = compute(name, normal, symmetric)
    limit_low, limit_high = compute("min_max", normal, symmetric)
    assert limit_low <= low < 0 < high <= limit_high
    assert high > 3.0 and low < -3.0  # 8-bit optima of a normal distribution lie near its extremes


def test_a_single_far_outlier_is_dropped_by_entropy_and_percentile_but_kept_by_mse_and_sqnr():
    data = np.append(rng.standard_normal(32767), 40.0).astype(np.float32)
    stats = observe(data, 1)
    for name in ("entropy", "percentile"):
        assert compute(name, stats, False, 99)[1] < 10, name
        assert compute(name, stats, True, 99)[1] < 10, name
    for name in ("mse", "sqnr"):
        assert compute(name, stats, False)[1] > 30, name
        assert compute(name, stats, True)[1] > 30, name
    assert compute("sqnr", stats, True)[1] >= compute("mse", stats, True)[1]


def test_sqnr_keeps_more_of_the_tails_than_mse(normal):
    mse_low, mse_high = compute("mse", normal, False)
    sqnr_low, sqnr_high = compute("sqnr", normal, False)
    assert sqnr_high - sqnr_low > mse_high - mse_low


def test_histogram_rebinning_is_exact():
    small = rng.uniform(-1, 1, 5000).astype(np.float32)
    large = rng.uniform(-9, 9, 5000).astype(np.float32)
    histogram = StreamingHistogram(half_bins=64)
    histogram.update(small)
    first_radius = histogram.radius
    histogram.update(large)
    assert histogram.radius == pytest.approx(first_radius * 16)  # doubled 4 times to reach 9
    expected, _ = np.histogram(np.concatenate([small, large]), bins=128,
                               range=(-histogram.radius, histogram.radius))
    assert np.abs(histogram.counts - expected).sum() <= 2  # float32 rounding at bin edges only
    assert histogram.total == 10000
    assert (histogram.min, histogram.max) == (float(min(small.min(), large.min())), float(large.max()))


def test_histogram_size_does_not_grow_with_samples():
    histogram = StreamingHistogram()
    size = histogram.counts.nbytes
    for scale in (1, 10, 1000, 0.001):
        histogram.update(rng.standard_normal(1000).astype(np.float32) * scale)
    assert histogram.counts.nbytes == size


def test_never_observed_and_constant_tensors():
    empty = StreamingHistogram()
    assert compute("entropy", empty, False) == (0.0, 0.0)
    zeros = observe(np.zeros(100, np.float32), 1)
    for name in ("min_max", "percentile", "entropy", "mse", "sqnr"):
        low, high = compute(name, zeros, False)
        assert low == 0 and high == 0, name
