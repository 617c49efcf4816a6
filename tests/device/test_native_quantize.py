"""The native Quantize computes exactly what furiosa.common.qmath.quantize computes.

Ordinary values are covered by the conformance suite (every model with a float input); here the
values where a shortcut would show: exact ties of the rounding, NaN, infinities, values beyond
the float32 rounding trick's range, subnormals, both storage types, scales over eight decades.
"""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.common.qmath import QParams, quantize
from furiosa.device.emulator.kernels import native

pytestmark = pytest.mark.skipif(not native.available(), reason="the native loops are not built")


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("seed", range(8))
def test_native_quantize_equals_the_definition(dtype, seed):
    rng = np.random.default_rng(seed)
    scale = float(np.float32(10 ** rng.uniform(-5, 3)))
    zero = int(rng.integers(-128, 128)) if dtype == "int8" else int(rng.integers(0, 256))
    qp = QParams((scale,), (zero,), dtype)
    spread = (rng.standard_normal(4096) * scale * rng.uniform(1, 400)).astype(np.float32)
    ties = ((rng.integers(-400, 400, 1024) + 0.5) * np.float32(scale)).astype(np.float32)
    beyond = (np.float32(2 ** 22) * np.float32(scale) * rng.uniform(-4, 4, 64)).astype(np.float32)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 3e38, -3e38, 1e-45, -1e-45],
                       dtype=np.float32)
    x = np.concatenate([spread, ties, beyond, special]).reshape(1, -1)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = quantize(x, qp)
    np.testing.assert_array_equal(native.quantize(x, qp), expected)


def test_native_quantize_takes_non_contiguous_input():
    qp = QParams((0.05,), (-3,), "int8")
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)[:, :, ::2, ::2]
    np.testing.assert_array_equal(native.quantize(x, qp), quantize(x, qp))
