"""TFLite's fixed-point arithmetic in furiosa.common.qmath, against definitions in exact rationals."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from furiosa.common.qmath import (QParams, multiply_by_quantized_multiplier,
                                  multiply_by_quantized_multiplier_single_round, quantize_multiplier, round_half_away,
                                  tflite_activation_range)

INT32 = st.integers(-(2**31) + 1, 2**31 - 1)


def _floor_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _half_away(value: Fraction) -> int:
    return int(math.copysign(math.floor(abs(value) + Fraction(1, 2)), value)) if value else 0


def reference_mbqm(x: int, q: int, shift: int) -> int:
    """gemmlowp: doubling high multiply rounding ties up, then a shift rounding ties away from zero."""
    high = _floor_half_up(Fraction(x * 2 ** max(shift, 0) * q, 2**31))
    return _half_away(Fraction(high, 2 ** max(-shift, 0)))


@settings(max_examples=400, deadline=None)
@given(st.floats(min_value=1e-9, max_value=1e3, allow_nan=False), INT32.map(lambda v: v // 2**8))
def test_multiplier_and_multiply_match_the_rational_definitions(real, x):
    q, shift = quantize_multiplier(real)
    assert 2**30 <= q < 2**31
    assert abs(Fraction(q) * Fraction(2) ** (shift - 31) - Fraction(real)) <= Fraction(2) ** (shift - 32)
    if shift > 0 and abs(x) * 2**shift >= 2**31:
        return  # outside the int32 domain TFLite's kernels work in
    assert int(multiply_by_quantized_multiplier(np.asarray([x]), q, shift)[0]) == reference_mbqm(x, q, shift)
    single = int(multiply_by_quantized_multiplier_single_round(np.asarray([x]), q, shift)[0])
    assert single == _floor_half_up(Fraction(x * q, 2 ** (31 - shift)))


def test_ties_of_the_two_roundings():
    q, shift = 2**30, -1  # a multiplier of exactly 0.25
    values = np.asarray([2, -2, 6, -6, 1, -1])  # x / 4: 0.5, -0.5, 1.5, -1.5, 0.25, -0.25
    # Two roundings: 1 * 0.25 first becomes 0.5 (ties up), which the shift rounds away to 1.
    assert multiply_by_quantized_multiplier(values, q, shift).tolist() == [1, -1, 2, -2, 1, 0]
    assert multiply_by_quantized_multiplier_single_round(values, q, shift).tolist() == [1, 0, 2, -1, 0, 0]


def test_mantissa_rounding_up_to_one_renormalizes():
    q, shift = quantize_multiplier(1.0 - 2.0**-40)
    assert (q, shift) == (2**30, 1)
    assert quantize_multiplier(2.0**-40) == (0, 0)


def test_round_half_away():
    values = np.asarray([0.5, -0.5, 1.5, -2.5, 0.49999997, np.inf, -np.inf], dtype=np.float32)
    assert round_half_away(values).tolist() == [1.0, -1.0, 2.0, -3.0, 0.0, np.inf, -np.inf]


def test_fused_activation_ranges():
    qp = QParams.make(0.05, 10, "uint8")
    assert tflite_activation_range("NONE", qp) == (0, 255)
    assert tflite_activation_range("RELU", qp) == (10, 255)
    assert tflite_activation_range("RELU6", qp) == (10, 130)
    assert tflite_activation_range("RELU_N1_TO_1", qp) == (0, 30)
    small = QParams.make(0.1, -128, "int8")
    assert tflite_activation_range("RELU6", small) == (-128, -68)
