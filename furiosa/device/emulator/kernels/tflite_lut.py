"""``tflite_lut``: TFLite's quantized element-wise functions, applied through exact tables.

Each function maps one 8-bit value to one 8-bit value, so the kernel evaluates TFLite's formula
once for all 256 inputs and looks results up. The formulas (``attrs["fn"]``):

* ``logistic`` / ``tanh`` (TFLite's PopulateLookupTable, float32 throughout):
  ``q = clamp(int(round(f(sx * (v - zx)) * (1 / sy)) + zy))`` with ``f`` evaluated in float32
  (``1 / (1 + exp(-x))``, ``tanh(x)``; ``exp`` / ``tanh`` correctly rounded to float32, as
  glibc's ``expf`` / ``tanhf`` give them); ``round`` is half away from zero.
* ``relu`` (RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1 by ``params`` ``min`` / ``max``):
  ``clamp(zy + MBQM(v - zx, QuantizeMultiplier(float32(sx / sy))), act_min, act_max)`` with
  ``act_min = max(type_min, zy + round(min / sy))`` (and likewise ``act_max``; no upper bound
  when ``max`` is None).
* ``leaky_relu`` (``params["alpha"]``): ``zy + MBQM(v - zx, M)`` with ``M = float32(sx / sy)``
  for ``v >= zx`` and ``M = float32(float32(sx * alpha) / sy)`` below, clamped to the type.
* ``requantize`` (QUANTIZE between 8-bit types):
  ``clamp(MBQM(v - zx, QuantizeMultiplier(double(sx) / double(sy))) + zy)``.

``MBQM`` is :func:`~furiosa.common.qmath.multiply_by_quantized_multiplier`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from furiosa.common.qmath import (QParams, apply_table, multiply_by_quantized_multiplier, quantize_multiplier,
                                  round_half_away)

from . import KernelContext, Run, kernel
from .tflite_common import declared, stored

_STORED = np.roll(np.arange(-128, 128, dtype=np.int16).astype(np.int8), -128)  # entry i: bit pattern i


def expf(x: np.ndarray) -> np.ndarray:
    """float32 ``exp``, correctly rounded (computed in float64, rounded once)."""
    return np.exp(np.asarray(x, dtype=np.float32).astype(np.float64)).astype(np.float32)


def tanhf(x: np.ndarray) -> np.ndarray:
    """float32 ``tanh``, correctly rounded (computed in float64, rounded once)."""
    return np.tanh(np.asarray(x, dtype=np.float32).astype(np.float64)).astype(np.float32)


def _logistic(x: np.ndarray) -> np.ndarray:
    one = np.float32(1)
    return (one / (one + expf(-x))).astype(np.float32)


FLOAT_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"logistic": _logistic, "tanh": tanhf}


def _float_table(fn: Callable[[np.ndarray], np.ndarray], qp_in: QParams, qp_out: QParams) -> np.ndarray:
    values = declared(_STORED, qp_in)
    real = np.float32(qp_in.scale[0]) * (values - qp_in.zero_point[0]).astype(np.float32)
    transformed = fn(real.astype(np.float32))
    inverse = np.float32(1) / np.float32(qp_out.scale[0])
    rescaled = round_half_away((transformed * inverse).astype(np.float32))
    quantized = np.trunc(rescaled + np.float32(qp_out.zero_point[0])).astype(np.int64)
    lo, hi = qp_out.limits
    return stored(np.clip(quantized, lo, hi), qp_out)


def _float32_ratio(a: float, b: float) -> float:
    return float(np.float32(np.float32(a) / np.float32(b)))


def _relu_table(params: dict, qp_in: QParams, qp_out: QParams) -> np.ndarray:
    s_out = np.float32(qp_out.scale[0])
    z_out = qp_out.zero_point[0]
    lo, hi = qp_out.limits
    act_min = max(lo, z_out + int(round_half_away(np.float32(params.get("min", 0.0)) / s_out)))
    maximum = params.get("max")
    act_max = hi if maximum is None else min(hi, z_out + int(round_half_away(np.float32(maximum) / s_out)))
    q, shift = quantize_multiplier(_float32_ratio(qp_in.scale[0], qp_out.scale[0]))
    values = declared(_STORED, qp_in) - qp_in.zero_point[0]
    y = z_out + multiply_by_quantized_multiplier(values, q, shift)
    return stored(np.clip(y, act_min, act_max), qp_out)


def _leaky_relu_table(params: dict, qp_in: QParams, qp_out: QParams) -> np.ndarray:
    alpha_scale = float(np.float32(np.float32(qp_in.scale[0]) * np.float32(params["alpha"])))
    q_alpha, sh_alpha = quantize_multiplier(_float32_ratio(alpha_scale, qp_out.scale[0]))
    q_id, sh_id = quantize_multiplier(_float32_ratio(qp_in.scale[0], qp_out.scale[0]))
    values = declared(_STORED, qp_in) - qp_in.zero_point[0]
    y = np.where(values >= 0, multiply_by_quantized_multiplier(values, q_id, sh_id),
                 multiply_by_quantized_multiplier(values, q_alpha, sh_alpha)) + qp_out.zero_point[0]
    return stored(np.clip(y, *qp_out.limits), qp_out)


def _requantize_table(params: dict, qp_in: QParams, qp_out: QParams) -> np.ndarray:
    q, shift = quantize_multiplier(np.float64(np.float32(qp_in.scale[0])) / np.float64(np.float32(qp_out.scale[0])))
    values = declared(_STORED, qp_in) - qp_in.zero_point[0]
    y = multiply_by_quantized_multiplier(values, q, shift) + qp_out.zero_point[0]
    return stored(np.clip(y, *qp_out.limits), qp_out)


TABLES: dict[str, Callable[[dict, QParams, QParams], np.ndarray]] = {
    "relu": _relu_table, "leaky_relu": _leaky_relu_table, "requantize": _requantize_table,
}


def lookup_table(fn: str, params: dict, qp_in: QParams, qp_out: QParams) -> np.ndarray:
    """The 256-entry table of ``fn`` (indexed by the stored value's bit pattern)."""
    if fn in FLOAT_FUNCTIONS:
        return _float_table(FLOAT_FUNCTIONS[fn], qp_in, qp_out)
    if fn in TABLES:
        return TABLES[fn](params, qp_in, qp_out)
    raise ValueError(f"tflite_lut has no function {fn!r}; known: {', '.join(sorted([*FLOAT_FUNCTIONS, *TABLES]))}")


@kernel("tflite_lut")
def prepare_lut(ctx: KernelContext) -> Run:
    lut = lookup_table(str(ctx.attrs["fn"]), dict(ctx.attrs.get("params") or {}), ctx.qp(ctx.op.inputs[0]),
                       ctx.qp(ctx.op.outputs[0]))
    return lambda args: [apply_table(args[0], lut)]
