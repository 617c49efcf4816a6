"""The VNNI product kernel (``_native.c``, ``product``): int8 weights times a patch matrix,
requantized as the sums are formed, against the definition computed in int64 by numpy.

Shapes are chosen around the kernel's own cuts (4 rows per byte group, 16 pixels per vector, 64
per tile, 6 channels per register block) and the accumulators pushed to the extremes that
vpdpbusd must sum without saturating.
"""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.common.qmath import QParams, requantize
from furiosa.device.emulator.kernels import native

pytestmark = pytest.mark.skipif(not native.vnni(), reason="this CPU has no AVX-512 VNNI (or no native loops)")


def _definition(weight, w_zero, x, x_zero, bias, mult, zero, limits, offset, clamp=None):
    """qmath.requantize of the exact int64 accumulators, clamped to the fused activation's bounds."""
    acc = (weight.astype(np.int64) - np.asarray(w_zero).reshape(-1, 1)) @ (x.astype(np.int64) - x_zero)
    dtype = "uint8" if offset else "int8"
    out = requantize(acc + bias.reshape(-1, 1), mult.reshape(-1, 1), QParams((1.0,), (zero,), dtype))
    lo, hi = limits
    if clamp is not None:
        lo, hi = max(lo, clamp[0] + offset), min(hi, clamp[1] + offset)
    return np.clip(out.astype(np.int16), lo - offset, hi - offset).astype(np.int8)


def _run(weight, w_zero, x, x_zero, bias, mult, zero=0, limits=(-128, 127), offset=0, clamp=None, parts=1,
         bound=True):
    abs_sum = np.abs(weight.astype(np.int64) - np.asarray(w_zero).reshape(-1, 1)).sum(axis=1).max()
    requant = native.Requant(bias, mult, zero, limits, offset, clamp,
                             int(abs_sum) * 255 + int(np.abs(bias).max()) if bound else None)
    out = np.empty((weight.shape[0], x.shape[1]), np.int8)
    native.Product(weight, w_zero, x_zero, requant)(x, out, parts)
    return out, requant


@pytest.mark.parametrize("o, k, p", [(1, 1, 1), (5, 3, 15), (6, 4, 16), (7, 5, 17), (13, 27, 63), (12, 16, 64),
                                     (3, 144, 65), (19, 33, 200), (64, 577, 49), (2, 1024, 130)])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_random_products_give_the_definition(o, k, p, parts):
    rng = np.random.default_rng(o * 1000 + k * 10 + p)
    w_zero = rng.integers(-20, 21, (o, 1))
    weight = np.clip(rng.integers(-128, 128, (o, k)), -128 + np.maximum(w_zero, 0),
                     127 + np.minimum(w_zero, 0)).astype(np.int8)  # declared weights fit in int8
    x = rng.integers(-128, 128, (k, p)).astype(np.int8)
    x_zero = int(rng.integers(-128, 128))
    bias = rng.integers(-30000, 30000, o).astype(np.int32)
    mult = np.float32(10 ** rng.uniform(-5, -2, o)).astype(np.float64)
    zero = int(rng.integers(-20, 20))
    out, requant = _run(weight, w_zero, x, x_zero, bias, mult, zero, parts=parts)
    np.testing.assert_array_equal(out, _definition(weight, w_zero, x, x_zero, bias, mult, zero, (-128, 127), 0))


@pytest.mark.parametrize("bound", [True, False])
def test_float32_and_float64_channels_and_bounds(bound):
    """Channels proven exact in float32 and the others (float64) side by side, a fused activation's
    bounds and a uint8 output."""
    rng = np.random.default_rng(7)
    o, k, p = 23, 70, 150
    weight = rng.integers(-128, 128, (o, k)).astype(np.int8)
    x = rng.integers(-128, 128, (k, p)).astype(np.int8)
    bias = rng.integers(-10000, 10000, o).astype(np.int32)
    mult = np.float32(10 ** rng.uniform(-4.5, -2.5, o)).astype(np.float64)
    out, requant = _run(weight, 0, x, 3, bias, mult, 130, (0, 255), 128, clamp=(-100, 90), bound=bound)
    if bound:
        assert 0 < requant.exact.sum() < o or requant.exact.all(), "expected float32 channels to be proven"
    else:
        assert not requant.exact.any()
    np.testing.assert_array_equal(out, _definition(weight, 0, x, 3, bias, mult, 130, (0, 255), 128, (-100, 90)))


def test_extreme_accumulators_do_not_saturate():
    """255 x -128 summed over 4096 rows (about -1.3e8) and 255 x 127: no step may saturate."""
    k, p = 4096, 80
    weight = np.array([[-128] * k, [127] * k, [-128, 127] * (k // 2)], np.int8)
    x = np.full((k, p), 127, np.int8)
    x[:, 1::2] = -128
    mult = np.array([2.0**-20, 2.0**-20, 2.0**-12])
    bias = np.array([5, -5, 0], np.int32)
    out, _ = _run(weight, 0, x, -128, bias, mult)
    np.testing.assert_array_equal(out, _definition(weight, 0, x, -128, bias, mult, 0, (-128, 127), 0))
    assert out[0, 0] <= -127 and out[1, 0] >= 126  # the sums are that large (about +-1.3e8 x 2**-20)


def test_weights_that_do_not_fit_in_int8_are_refused():
    weight = np.array([[-128, 5]], np.int8)
    assert native.Product.fits(weight, 0)
    assert not native.Product.fits(weight, 1)  # -129
    requant = native.Requant(np.zeros(1, np.int32), np.ones(1), 0, (-128, 127), 0)
    with pytest.raises(ValueError, match="int8"):
        native.Product(weight, 1, 0, requant)


def test_mismatched_shapes_are_refused():
    requant = native.Requant(np.zeros(2, np.int32), np.ones(2), 0, (-128, 127), 0)
    product = native.Product(np.ones((2, 8), np.int8), 0, 0, requant)
    with pytest.raises(ValueError, match="do not match"):
        product(np.ones((7, 5), np.int8), np.empty((2, 5), np.int8))
    with pytest.raises(ValueError, match="do not match"):
        product(np.ones((8, 5), np.int8), np.empty((3, 5), np.int8))


def test_the_vnni_setting_turns_the_kernels_off_and_refuses_other_values(monkeypatch):
    from furiosa.common.errors import InvalidSettingError

    monkeypatch.setenv("FURIOSA_EMU_VNNI", "off")
    assert not native.vnni()
    monkeypatch.setenv("FURIOSA_EMU_VNNI", "Auto ")
    assert native.vnni()
    monkeypatch.setenv("FURIOSA_EMU_VNNI", "on")
    with pytest.raises(InvalidSettingError, match="auto or off"):
        native.vnni()
