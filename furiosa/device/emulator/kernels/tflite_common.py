"""What the TFLite kernels share: declared values, fused-activation bounds, fixed-point output.

TFLite kernels compute on the declared integers (uint8 0..255 or int8 -128..127) with the
tensor's zero points; the emulator stores both as int8 (uint8 ``u`` as ``u - 128``). These
helpers convert at the kernel's edges so every formula inside reads as TFLite defines it.
Nothing here registers a kernel.
"""
from __future__ import annotations

import numpy as np

from furiosa.common.qmath import QParams, multiply_by_quantized_multiplier, tflite_activation_range

from . import KernelContext


def declared(stored: np.ndarray, qp: QParams) -> np.ndarray:
    """Stored int8 values as the declared integers, int64."""
    return stored.astype(np.int64) + qp.offset


def stored(values: np.ndarray, qp: QParams) -> np.ndarray:
    """Declared integers (already within the type's limits) in the stored int8 form."""
    return (np.asarray(values, dtype=np.int64) - qp.offset).astype(np.int8)


def output_bounds(ctx: KernelContext, name: str | None = None) -> tuple[int, int]:
    """Declared bounds of the output after the operator's fused activation (``activation``)."""
    qp = ctx.qp(name or ctx.op.outputs[0])
    return tflite_activation_range(str(ctx.attrs.get("activation", "NONE")), qp)


def requantize_output(acc: np.ndarray, q, shift, zero_point: int, bounds: tuple[int, int],
                      qp_out: QParams) -> np.ndarray:
    """``clamp(MultiplyByQuantizedMultiplier(acc, q, shift) + zero_point)`` in stored form."""
    y = multiply_by_quantized_multiplier(acc, q, shift)
    y += zero_point
    np.clip(y, bounds[0], bounds[1], out=y)
    return stored(y, qp_out)


def float32_product(a: float, b: float) -> float:
    """``float(a * b)`` as C++ computes the product of two floats (rounded to float32)."""
    return float(np.float32(np.float32(a) * np.float32(b)))
