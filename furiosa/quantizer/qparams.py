"""The Warboy int8 scheme: quantization parameters from calibrated ranges and weights.

spec/toolchain-api.md §3.7, in formulas:

* activation with calibrated range ``(m, M)``: the range is first widened to contain 0,
  ``m' = min(m, 0)``, ``M' = max(M, 0)``; ``s = (M' - m') / 255`` (1 when the range is empty,
  never below 2**-149); int8 ``zp = round(-128 - m'/s)`` (uint8: ``round(-m'/s)``), clipped to the
  type's range;
* weights of Conv / ConvTranspose / Gemm / MatMul: int8, symmetric, one scale per output channel,
  ``s_c = max|w_c| / 127`` (1 for an all-zero channel), ``q = rint(w / s_c)``;
* bias: int32 with scale ``s_in * s_w`` (built by the Conv / Gemm rules);
* other constant operands: int8 per tensor, like an activation whose range is the constant's own.

``round`` is round-half-to-even everywhere (numpy ``rint``). Scales are float32.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import QParams, quantize

MIN_SCALE = float(np.float32(2.0**-149))


def activation_qparams(rmin: float, rmax: float, dtype: str = "int8") -> QParams:
    """Per-tensor parameters of an activation calibrated to ``[rmin, rmax]``."""
    rmin, rmax = float(rmin), float(rmax)
    if not (np.isfinite(rmin) and np.isfinite(rmax)):
        raise ValueError(f"calibrated range ({rmin}, {rmax}) is not finite")
    if rmin > rmax:
        raise ValueError(f"calibrated range ({rmin}, {rmax}) has its minimum above its maximum")
    lo, hi = min(rmin, 0.0), max(rmax, 0.0)
    scale = 1.0 if hi == lo else (hi - lo) / 255.0
    scale = max(float(np.float32(scale)), MIN_SCALE)
    base = -128.0 if dtype == "int8" else 0.0
    limit = (-128, 127) if dtype == "int8" else (0, 255)
    zero_point = int(np.clip(np.rint(base - lo / scale), *limit))
    return QParams.make(scale, zero_point, dtype)


def weight_qparams(weight: np.ndarray, axis: int) -> tuple[np.ndarray, QParams]:
    """Quantize a float weight symmetrically per output channel along ``axis``."""
    weight = np.asarray(weight, dtype=np.float32)
    reduce_axes = tuple(i for i in range(weight.ndim) if i != axis)
    max_abs = np.abs(weight).max(axis=reduce_axes) if weight.ndim > 1 else np.abs(weight)
    scales = np.where(max_abs > 0, max_abs.astype(np.float32) / np.float32(127), np.float32(1.0))
    scales = np.maximum(scales.astype(np.float32), np.float32(MIN_SCALE))
    qp = QParams.make(scales, np.zeros(scales.size, dtype=np.int64), "int8", axis if scales.size > 1 else None)
    return quantize(weight, qp), qp


def constant_qparams(value: np.ndarray) -> tuple[np.ndarray, QParams]:
    """Quantize a constant operand per tensor over its own range (widened to contain 0)."""
    value = np.asarray(value, dtype=np.float32)
    qp = activation_qparams(float(value.min(initial=0.0)), float(value.max(initial=0.0)))
    return quantize(value, qp), qp
