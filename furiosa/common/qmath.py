"""Exact int8 arithmetic shared by the compiler and the emulated NPU.

This module is the single definition of how quantized values relate to real values and how
results are requantized. Every formula matches the ONNX reference evaluator (``onnx.reference``)
operation for operation, so that kernels built on it are bit-exact to the reference:

* quantize (QuantizeLinear): ``q = saturate(rint(float32(x) / float32(scale)) + zero_point)``
* dequantize (DequantizeLinear): ``x = (float32(q) - float32(zero_point)) * float32(scale)``
* requantize an integer accumulator (QLinearConv / QLinearMatMul):
  ``y = saturate(rint(float64(acc) * float64(M) + zero_point))`` with the float32 multiplier
  ``M = float32(float32(scale_in * scale_weight) / scale_out)``.

``rint`` rounds half to even. Tensors are *stored* as int8 whatever their declared type: a
uint8 value ``u`` is kept as ``u - 128``. Every formula is evaluated in the declared domain
(with the declared zero point and limits) and shifted afterwards, so a uint8 model gives
exactly the values the reference gives.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

_LIMITS = {"int8": (-128, 127), "uint8": (0, 255), "int32": (-(2**31), 2**31 - 1)}
_OFFSETS = {"int8": 0, "uint8": 128, "int32": 0}


@dataclass(frozen=True)
class QParams:
    """What the integers of one quantized tensor mean.

    ``scale`` and ``zero_point`` hold one value per tensor or one per channel along ``axis``.
    Scales are float32 values kept as Python floats (exactly representable). ``dtype`` is the
    declared integer type; see :attr:`offset` for how it is stored.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    dtype: str = "int8"
    axis: int | None = None

    def __post_init__(self) -> None:
        if self.dtype not in _LIMITS:
            raise ValueError(f"quantized dtype must be one of {sorted(_LIMITS)}, got {self.dtype!r}")
        if len(self.scale) != len(self.zero_point):
            raise ValueError(
                f"{len(self.scale)} scales but {len(self.zero_point)} zero points"
            )
        if not self.scale:
            raise ValueError("quantization parameters need at least one scale")
        lo, hi = _LIMITS[self.dtype]
        if not lo <= min(self.zero_point) <= max(self.zero_point) <= hi:
            zp = next(z for z in self.zero_point if not lo <= z <= hi)
            raise ValueError(f"zero point {zp} is outside the {self.dtype} range [{lo}, {hi}]")
        scales = np.asarray(self.scale, dtype=np.float64)
        if not bool(np.all((scales > 0.0) & (scales < math.inf))):  # False for NaN too
            s = next(s for s in self.scale if not 0.0 < s < math.inf)
            raise ValueError(f"scale must be finite and positive, got {s}")
        if len(self.scale) > 1 and self.axis is None:
            raise ValueError("per-channel quantization parameters need an axis")

    @classmethod
    def make(cls, scale, zero_point, dtype: str = "int8", axis: int | None = None) -> "QParams":
        """Build from scalars or arrays, rounding scales to float32 as ONNX stores them."""
        scales = np.atleast_1d(np.asarray(scale, dtype=np.float32)).ravel()
        zps = np.atleast_1d(np.asarray(zero_point)).ravel().astype(np.int64)
        if zps.size == 1 and scales.size > 1:
            zps = np.repeat(zps, scales.size)
        return cls(
            tuple(float(s) for s in scales),
            tuple(int(z) for z in zps),
            dtype,
            axis if scales.size > 1 else None,
        )

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1

    @property
    def offset(self) -> int:
        """Declared value minus stored int8 value (128 for uint8, 0 for int8)."""
        return _OFFSETS[self.dtype]

    @property
    def limits(self) -> tuple[int, int]:
        """Smallest and largest value of the declared type."""
        return _LIMITS[self.dtype]

    def scale_array(self, ndim: int = 0) -> np.ndarray:
        """Scales as float32, shaped to broadcast along ``axis`` of an ``ndim``-D tensor."""
        return _along_axis(np.asarray(self.scale, dtype=np.float32), self.axis, ndim)

    def zero_point_array(self, ndim: int = 0) -> np.ndarray:
        """Declared zero points as int64, shaped like :meth:`scale_array`."""
        return _along_axis(np.asarray(self.zero_point, dtype=np.int64), self.axis, ndim)

    def with_dtype(self, dtype: str) -> "QParams":
        """The same real-value mapping expressed in another 8-bit type (zero point shifted)."""
        shift = _OFFSETS[self.dtype] - _OFFSETS[dtype]
        return QParams(self.scale, tuple(z - shift for z in self.zero_point), dtype, self.axis)

    def to_json(self) -> dict:
        return {"scale": list(self.scale), "zero_point": list(self.zero_point),
                "dtype": self.dtype, "axis": self.axis}

    @classmethod
    def from_json(cls, data: dict) -> "QParams":
        return cls(tuple(map(float, data["scale"])), tuple(map(int, data["zero_point"])), data["dtype"], data["axis"])


def _along_axis(values: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    if values.size == 1:
        return values.reshape(())
    if axis is None:
        raise ValueError("per-channel values need an axis")
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


def quantize(x: np.ndarray, qp: QParams) -> np.ndarray:
    """Quantize real values to the stored int8 form (QuantizeLinear semantics).

    NaN quantizes to the zero point; infinities saturate.
    """
    x = np.asarray(x, dtype=np.float32)
    scaled = x / qp.scale_array(x.ndim)
    scaled = np.rint(scaled)
    if np.isnan(scaled).any():
        scaled = np.nan_to_num(scaled, nan=0.0)
    lo, hi = qp.limits
    zp = qp.zero_point_array(x.ndim)
    q = np.clip(scaled.astype(np.float64) + zp, lo, hi)
    return (q - qp.offset).astype(np.int8)


def dequantize(q: np.ndarray, qp: QParams) -> np.ndarray:
    """Real values of stored int8 values (DequantizeLinear semantics), as float32."""
    q = np.asarray(q)
    declared = q.astype(np.float32) + np.float32(qp.offset)
    zp = qp.zero_point_array(q.ndim).astype(np.float32)
    return (declared - zp) * qp.scale_array(q.ndim)


def to_declared(q: np.ndarray, qp: QParams) -> np.ndarray:
    """Stored int8 values as the declared type (uint8 or int8)."""
    if qp.offset == 0:
        return q.astype(np.dtype(qp.dtype), copy=False)
    return (q.astype(np.int16) + qp.offset).astype(np.dtype(qp.dtype))


def from_declared(values: np.ndarray, qp: QParams) -> np.ndarray:
    """Declared uint8/int8 values in the stored int8 form."""
    if qp.offset == 0:
        return np.asarray(values).astype(np.int8, copy=False)
    return (np.asarray(values).astype(np.int16) - qp.offset).astype(np.int8)


def multiplier(scale_in, scale_weight, scale_out) -> np.ndarray:
    """The float32 requantization multiplier of QLinearConv: ``(s_in * s_w) / s_out``."""
    s_in = np.asarray(scale_in, dtype=np.float32)
    s_w = np.asarray(scale_weight, dtype=np.float32)
    s_out = np.asarray(scale_out, dtype=np.float32)
    return (s_in * s_w) / s_out


def requantize(acc: np.ndarray, mult: np.ndarray, qp_out: QParams) -> np.ndarray:
    """Requantize integer accumulators to the stored int8 form of ``qp_out``.

    ``acc`` holds exact integers (any integer or float dtype); ``mult`` broadcasts against it.
    The product is formed in float64 directly from ``acc`` (no rounding: float32 and int32
    values convert exactly), then the zero point is added in float64, as the reference does.
    """
    r = np.multiply(acc, mult.astype(np.float64), dtype=np.float64)
    r += qp_out.zero_point_array(acc.ndim) if qp_out.per_channel else qp_out.zero_point[0]
    lo, hi = qp_out.limits
    np.clip(r, lo, hi, out=r)
    np.rint(r, out=r)
    if qp_out.offset:
        r -= qp_out.offset
    return r.astype(np.int8)


def table(qp_in: QParams, qp_out: QParams,
          fn: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """The 256-entry table of ``quantize(fn(dequantize(v)))`` over every stored int8 ``v``.

    ``fn`` receives and returns float32 arrays; it must act element by element. Indexing the
    table with ``q.view(np.uint8)`` applies the whole dequantize-op-quantize chain exactly.
    """
    stored = np.arange(-128, 128, dtype=np.int16).astype(np.int8)
    real = dequantize(stored, qp_in)
    if fn is not None:
        real = np.asarray(fn(real), dtype=np.float32)
    out = quantize(real, qp_out)
    # Arrange so that entry i is the result for the int8 value whose bit pattern is i.
    return np.roll(out, -128)


def apply_table(q: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Look every stored int8 value of ``q`` up in a table made by :func:`table`."""
    return lut.take(q.view(np.uint8))


def pair_table(qp_a: QParams, qp_b: QParams, qp_out: QParams,
               fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """The 256x256 table of ``quantize(fn(dequantize(a), dequantize(b)))``, flattened.

    Entry ``a_bits * 256 + b_bits`` holds the result for the int8 values with those bit patterns.
    """
    stored = np.roll(np.arange(-128, 128, dtype=np.int16).astype(np.int8), -128)
    real_a = dequantize(stored, qp_a)[:, None]
    real_b = dequantize(stored, qp_b)[None, :]
    out = quantize(np.asarray(fn(real_a, real_b), dtype=np.float32), qp_out)
    return np.ascontiguousarray(out).reshape(-1)


def apply_pair_table(a: np.ndarray, b: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Apply a :func:`pair_table` to two broadcastable stored int8 arrays."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    index = np.empty(shape, dtype=np.uint16)
    np.left_shift(a.view(np.uint8), 8, out=index, dtype=np.uint16)
    np.bitwise_or(index, b.view(np.uint8), out=index, dtype=np.uint16)
    return lut.take(index)


def per_tensor_sequence(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(np.float32(v)) for v in values)


# --- TFLite integer arithmetic ---------------------------------------------------------------------
# TFLite's quantized kernels (the reference kernels of the LiteRT interpreter) requantize with a
# fixed-point multiplier instead of a float one. A positive real multiplier ``m`` is represented
# as ``q * 2**(shift - 31)`` with ``q`` in [2**30, 2**31) (QuantizeMultiplier), and an int32
# value ``x`` is scaled by it in two rounding steps (MultiplyByQuantizedMultiplier): a
# "saturating rounding doubling high multiply" ``(x * 2**left) * q / 2**31`` rounded to nearest
# with ties toward +infinity, then a rounding arithmetic right shift by ``-shift`` (ties away
# from zero).
# Element-wise float steps of TFLite use ``round`` (half away from zero), not numpy's ``rint``.

def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: ``(q, shift)`` with ``real ≈ q * 2**(shift - 31)``.

    ``q`` is ``round(mantissa * 2**31)`` (half away from zero) of ``real``'s binary mantissa in
    [0.5, 1); a mantissa rounding up to 1.0 is renormalized; multipliers too small for the
    representation become 0 and too large ones saturate, as in TFLite.
    """
    import math

    real = float(real)
    if real == 0.0:
        return 0, 0
    if not (real > 0.0 and math.isfinite(real)):
        raise ValueError(f"a quantized multiplier must be finite and positive, got {real}")
    mantissa, shift = math.frexp(real)
    q = math.floor(mantissa * 2.0**31 + 0.5)
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return 2**31 - 1, 30
    return int(q), int(shift)


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantize_multiplier` of every value, as int64 arrays ``(q, shift)``."""
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, dtype=np.float64).reshape(-1)]
    return (np.asarray([p[0] for p in pairs], dtype=np.int64), np.asarray([p[1] for p in pairs], dtype=np.int64))


def _div_pow2_toward_zero(x: np.ndarray, bits: int) -> np.ndarray:
    return np.where(x >= 0, x >> bits, -((-x) >> bits))


def rounding_divide_by_pot(x: np.ndarray, exponent) -> np.ndarray:
    """``x / 2**exponent`` rounded to nearest, ties away from zero (gemmlowp RoundingDivideByPOT)."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b) -> np.ndarray:
    """``a * b / 2**31`` rounded to nearest, ties toward +infinity, for int32 ``a`` and ``b``
    (gemmlowp's SaturatingRoundingDoublingHighMul; only ``INT32_MIN * INT32_MIN`` saturates)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b
    nudge = np.where(product >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    result = _div_pow2_toward_zero(product + nudge, 31)
    overflow = (a == -(2**31)) & (b == -(2**31))
    return np.where(overflow, np.int64(2**31 - 1), result)


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (C++ int32 arithmetic)."""
    return ((np.asarray(x, dtype=np.int64) + 2**31) & 0xFFFFFFFF) - 2**31


def multiply_by_quantized_multiplier(x: np.ndarray, q, shift) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier on int32 values (int64 arrays in, out).

    ``q`` and ``shift`` broadcast against ``x`` (per-channel multipliers along the last axis of
    an NHWC tensor broadcast naturally).
    """
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(x << left) if np.any(left) else x
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, q), right)


def round_half_away(x: np.ndarray) -> np.ndarray:
    """C's ``round``: to nearest, ties away from zero, in the input's float type (exact)."""
    x = np.asarray(x)
    whole = np.trunc(x)
    with np.errstate(invalid="ignore"):  # inf - inf: infinities and NaN pass through unchanged
        frac = x - whole  # exact for binary floats
        return whole + np.where(np.abs(frac) >= 0.5, np.sign(x), 0).astype(x.dtype)


def tflite_activation_range(activation: str, qp: QParams) -> tuple[int, int]:
    """Declared-domain bounds of a fused activation on a quantized output (TFLite's
    CalculateActivationRangeQuantized): ``zero_point + round(float32(bound) / float32(scale))``,
    clipped to the type's limits. ``NONE`` gives the type's limits."""
    lo, hi = qp.limits
    scale = np.float32(qp.scale[0])
    zero = qp.zero_point[0]

    def q(value: float) -> int:
        return zero + int(round_half_away(np.float32(value) / scale))

    if activation == "NONE":
        return lo, hi
    if activation == "RELU":
        return max(lo, q(0.0)), hi
    if activation == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    if activation == "RELU_0_TO_1":
        return max(lo, q(0.0)), min(hi, q(1.0))
    raise ValueError(f"fused activation {activation} has no quantized form; supported: NONE, RELU, RELU6, "
                     "RELU_N1_TO_1, RELU_0_TO_1")


def multiply_by_quantized_multiplier_single_round(x: np.ndarray, q, shift) -> np.ndarray:
    """The single-rounding variant of :func:`multiply_by_quantized_multiplier`:
    ``(x * q + 2**(30 - shift)) >> (31 - shift)`` in exact 64-bit arithmetic (one rounding, ties
    toward +infinity). LiteRT's FULLY_CONNECTED kernels requantize this way (its GEMM backend)."""
    x = np.asarray(x, dtype=np.int64)
    total = 31 - np.asarray(shift, dtype=np.int64)
    return (x * np.asarray(q, dtype=np.int64) + (np.int64(1) << (total - 1))) >> total
