"""Python face of the native loops (``_native.c``): argument checks and array allocation.

The extension is optional (built when the package is installed with a C compiler present);
:func:`available` says whether it loaded. Each function here computes exactly what the numpy
definitions of :mod:`furiosa.common.qmath` and :mod:`.conv` compute; the tests run both and
compare every bit.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from furiosa.common.errors import InvalidSettingError

ABI = 10  # must equal NATIVE_ABI in _native.c

try:
    from . import _native
except ImportError:  # built without a C compiler: the numpy definitions are used instead
    _native = None
if _native is not None and getattr(_native, "ABI", None) != ABI:
    logging.getLogger("furiosa.device").warning(
        "the native kernel loops (%s) are from another version of the SDK; using the numpy kernels "
        "(reinstall the package to rebuild them)", getattr(_native, "__file__", "_native"))
    _native = None


def available() -> bool:
    return _native is not None


def _contiguous(array: np.ndarray, dtype) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=dtype)


class Geometry:
    """Where each tap of a 2-D window reads: one sample (C, H, W), output width ``ow``."""

    def __init__(self, c: int, h: int, w: int, kh: int, kw: int, strides, dilations, pads, oh: int,
                 ow: int) -> None:
        """``pads`` holds the top and left padding (bottom and right follow from ``oh``, ``ow``)."""
        self.c, self.h, self.w, self.kh, self.kw = c, h, w, kh, kw
        self.sh, self.sw = strides
        self.dh, self.dw = dilations
        self.pt, self.pl = pads[0], pads[1]
        self.oh, self.ow = oh, ow

    @property
    def patch(self) -> int:
        return self.c * self.kh * self.kw

    @property
    def pixels(self) -> int:
        return self.oh * self.ow


def im2col(x: np.ndarray, g: Geometry, out: np.ndarray, c0: int, c1: int, flip: bool, pad: int,
           parts: int = 1) -> None:
    """Rows of channels ``c0:c1`` of one sample's patch matrix (C * kh * kw, oh * ow) into ``out``.

    Row ``(c * kh + ky) * kw + kx`` holds the stored int8 input seen through tap (ky, kx) of
    channel c, each byte XORed with 0x80 when ``flip`` (uint8 = stored + 128), ``pad`` where
    the tap falls outside the input. ``parts`` > 1 cuts the rows over that many threads (see
    :func:`furiosa.device.emulator.kernels.parallel.native_parts`); results do not change.
    """
    if not (out.flags.c_contiguous and out.dtype.itemsize == 1):
        raise ValueError("im2col: the output must be a C-contiguous array of bytes")
    _native.im2col(_contiguous(x, np.int8), out, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl,
                   g.oh, g.ow, c0, c1, 0x80 if flip else 0, pad & 0xFF, parts)


class Requant:
    """Requantization of int32 accumulators to one output's stored int8 values.

    ``bias`` (int32) and ``mult`` (float32 multipliers, as float64) are per channel; ``limits``
    are the declared output type's bounds, narrowed by a fused activation's stored bounds
    ``clamp``; ``zero_point`` and ``offset`` are the output's declared zero point and storage
    offset (see :func:`furiosa.common.qmath.requantize`).

    ``bound``, when given, bounds ``|acc + bias|`` for every accumulator the kernel can produce:
    channels for which the native loops prove the float32 form of the expression equal to the
    float64 one on every such value (``_native.c``, ``requant_f32_exact``) are then computed in
    float32, twice as many values per vector (:attr:`exact` says which); ``parts`` cuts that proof
    over threads.
    """

    def __init__(self, bias: np.ndarray, mult: np.ndarray, zero_point: int, limits: tuple[int, int], offset: int,
                 clamp: tuple[int, int] | None = None, bound: int | None = None, parts: int = 1) -> None:
        channels = max(np.size(bias), np.size(mult))
        self.bias = _contiguous(np.broadcast_to(np.asarray(bias, np.int32).reshape(-1), (channels,)), np.int32)
        self.mult = _contiguous(np.broadcast_to(np.asarray(mult, np.float32).reshape(-1).astype(np.float64),
                                                (channels,)), np.float64)
        lo, hi = limits
        if clamp is not None:
            # rint and clipping to integer bounds commute, so the activation's bounds (stored
            # domain) fold into the declared limits; disjoint ranges leave a single value.
            c_lo, c_hi = clamp[0] + offset, clamp[1] + offset
            if c_lo > hi:
                lo = hi = c_lo
            elif c_hi < lo:
                lo = hi = c_hi
            else:
                lo, hi = max(lo, c_lo), min(hi, c_hi)
        self.zero_point, self.lo, self.hi, self.offset = float(zero_point), float(lo), float(hi), int(offset)
        self.channels = channels
        self.mult32 = self.mult.astype(np.float32)
        if bound is None:
            self.exact = np.zeros(channels, np.uint8)
        else:
            self.exact = np.frombuffer(_native.requant_exact(self.mult, self.zero_point, self.lo, self.hi,
                                                             self.offset, int(bound), parts), np.uint8).copy()

    def rows(self, acc: np.ndarray, out: np.ndarray | None = None, parts: int = 1) -> np.ndarray:
        """``acc`` (rows, channels) to int8 of the same layout (rows cut into ``parts``)."""
        acc = _contiguous(acc, np.int32)
        out = np.empty(acc.shape, np.int8) if out is None else out
        _native.requant(acc, self.bias, self.mult, self.mult32, self.exact, out, acc.shape[0], self.channels, 0,
                        self.zero_point, self.lo, self.hi, self.offset, parts)
        return out

    def planes(self, acc: np.ndarray, out: np.ndarray | None = None, parts: int = 1) -> np.ndarray:
        """``acc`` (channels, pixels) to int8 of the same layout (channels cut into ``parts``)."""
        acc = _contiguous(acc, np.int32)
        out = np.empty(acc.shape, np.int8) if out is None else out
        if not (out.flags.c_contiguous and out.dtype == np.int8):
            raise ValueError("requant: the output must be a C-contiguous int8 array")
        _native.requant(acc, self.bias, self.mult, self.mult32, self.exact, out, acc.shape[1], self.channels, 1,
                        self.zero_point, self.lo, self.hi, self.offset, parts)
        return out

    def part(self, start: int, end: int) -> "Requant":
        """The same requantization for channels ``start:end`` only."""
        part = object.__new__(Requant)
        part.__dict__.update(self.__dict__)
        part.bias, part.mult = self.bias[start:end].copy(), self.mult[start:end].copy()
        part.mult32, part.exact = self.mult32[start:end].copy(), self.exact[start:end].copy()
        part.channels = end - start
        return part


def depthwise(x: np.ndarray, taps: np.ndarray, g: Geometry, zero: int, requant: "Requant", c0: int, c1: int,
              out: np.ndarray, parts: int = 1) -> None:
    """Channels ``c0:c1`` of one sample's depthwise convolution, requantized, into ``out`` (c1 - c0, oh * ow).

    ``taps`` (C, kh * kw) int32 holds the declared weights minus their zero point, ``zero`` the
    input's stored zero point; the exact sums of ``(x - zero) * taps`` are requantized by
    ``requant`` (whose channels are ``c0:c1``); ``parts`` cuts the channels over threads.
    """
    _depthwise(x, taps, requant.bias, g, zero, requant, c0, c1, out, parts, False)


def _depthwise(x: np.ndarray, taps: np.ndarray, bias: np.ndarray, g: Geometry, zero: int, requant: "Requant",
               c0: int, c1: int, out: np.ndarray, parts: int, taps8: bool) -> None:
    """The native depthwise call: int32 taps and the requantization's bias, or (``taps8``) the
    VNNI kernel's int8 taps and shifted bias (:class:`Depthwise8`)."""
    if not (out.flags.c_contiguous and out.dtype == np.int8):
        raise ValueError("depthwise: the output must be a C-contiguous int8 array")
    _native.depthwise(_contiguous(x, np.int8), taps, bias, requant.mult, requant.exact, out, g.c, g.h, g.w,
                      g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.oh, g.ow, zero, c0, c1,
                      requant.zero_point, requant.lo, requant.hi, requant.offset, parts, int(taps8))


def _fits_int8(values: np.ndarray) -> bool:
    return bool(values.size == 0 or (values.min() >= -128 and values.max() <= 127))


def _declared(weight: np.ndarray, weight_zero) -> np.ndarray:
    """Stored weights (O, K) minus their stored zero point per row (or one for all), int32."""
    return weight.astype(np.int32) - np.asarray(weight_zero, np.int32).reshape(-1, 1)


def _shifted_bias(requant: "Requant", zero: int, declared: np.ndarray, kernel: str) -> np.ndarray:
    """The VNNI kernels multiply stored + 128 (padding holding zero + 128): the bias takes out
    the shift's share, ``(zero + 128) * sum(declared)`` per channel (row of ``declared``)."""
    bias = requant.bias.astype(np.int64) - (int(zero) + 128) * declared.sum(axis=1, dtype=np.int64)
    if np.abs(bias).max(initial=0) >= 2**31:
        raise ValueError(f"{kernel}: the bias does not fit in int32")
    return bias.astype(np.int32)


def short_polls() -> None:
    """From now on the native worker threads poll 0.2 ms for their next call, not 5 ms:
    onnxruntime's pool computes the process's matrix products on every core (CPUs without the
    VNNI kernels), and a worker polling through a product would slow it down."""
    if _native is not None:
        _native.short_polls()


def vnni() -> bool:
    """Whether convolutions use the VNNI kernels (:class:`Product`, :class:`Depthwise8`): the CPU
    has AVX-512 with VNNI and ``FURIOSA_EMU_VNNI`` is not ``off`` (read when a kernel is prepared;
    ``off`` gives the same results through onnxruntime's ``MatMulInteger`` and the int32
    depthwise loops, the path of CPUs without VNNI)."""
    value = os.environ.get("FURIOSA_EMU_VNNI", "auto").strip().lower()
    if value not in ("auto", "off"):
        raise InvalidSettingError(f"FURIOSA_EMU_VNNI must be auto or off, got {value!r}")
    return value == "auto" and _native is not None and _native.vnni()


class Product:
    """Constant int8 weights (O, K) times a patch matrix (K, P) of stored int8 activations,
    requantized by ``requant`` into (O, P): a convolution without onnxruntime and without int32
    accumulators in memory (``_native.c``, ``product``). Only where :func:`vnni` holds.

    ``weight`` holds the stored weights and ``weight_zero`` their stored zero point per output
    channel (or one for all); ``x_zero`` is the activations' stored zero point. The declared
    weights ``weight - weight_zero`` must fit in int8 (:meth:`fits` says whether they do) and
    ``requant``'s bias is the exact int32 bias of each channel, before the input zero point's share.
    """

    def __init__(self, weight: np.ndarray, weight_zero, x_zero: int, requant: "Requant") -> None:
        o, k = weight.shape
        declared = _declared(weight, weight_zero)
        if not _fits_int8(declared):
            raise ValueError("Product: the declared weights do not fit in int8")
        self.o, self.k = o, k
        self._w = np.zeros((o, -(-k // 4) * 4), np.int8)
        self._w[:, :k] = declared
        self._bias = _shifted_bias(requant, x_zero, declared, "Product")
        self._requant = requant

    @staticmethod
    def fits(weight: np.ndarray, weight_zero) -> bool:
        return _fits_int8(_declared(weight, weight_zero))

    def __call__(self, x: np.ndarray, out: np.ndarray, parts: int = 1) -> np.ndarray:
        """``x`` (K, P) stored int8 into ``out`` (O, P) int8; ``parts`` cuts the work over threads."""
        if x.ndim != 2 or x.shape[0] != self.k or out.shape != (self.o, x.shape[1]):
            raise ValueError(f"Product: patches {x.shape} and output {out.shape} do not match weights "
                             f"({self.o}, {self.k})")
        if not (out.flags.c_contiguous and out.dtype == np.int8):
            raise ValueError("Product: the output must be a C-contiguous int8 array")
        r = self._requant
        _native.product(self._w, _contiguous(x, np.int8), self._bias, r.mult, r.exact, out, self.o, self.k,
                        x.shape[1], r.zero_point, r.lo, r.hi, r.offset, parts)
        return out


class Depthwise8:
    """A depthwise convolution whose declared taps fit in int8, on AVX-512 VNNI (``_native.c``,
    ``depthwise8_part``): the same results as :func:`depthwise`, four taps per instruction.

    ``taps`` (C, kh * kw) holds the declared weights minus their zero point, ``zero`` the input's
    stored zero point, ``requant`` the requantization of all C channels. Only where :func:`vnni`
    holds and :meth:`fits` says the taps fit.
    """

    def __init__(self, taps: np.ndarray, zero: int, requant: "Requant") -> None:
        if not self.fits(taps):
            raise ValueError("Depthwise8: the declared taps do not fit in int8")
        self._taps = _contiguous(taps, np.int8)
        self._bias = _shifted_bias(requant, zero, taps, "Depthwise8")
        self._zero = int(zero)
        self._requant = requant

    @staticmethod
    def fits(taps: np.ndarray) -> bool:
        return _fits_int8(taps)

    def __call__(self, x: np.ndarray, g: Geometry, out: np.ndarray, parts: int = 1) -> None:
        """One sample (C, H, W) into ``out`` (C, oh * ow) int8; ``parts`` cuts the channels over threads."""
        _depthwise(x, self._taps, self._bias, g, self._zero, self._requant, 0, g.c, out, parts, True)


def quantize(x: np.ndarray, qp, parts: int = 1) -> np.ndarray:
    """:func:`furiosa.common.qmath.quantize` of float32 values with one scale (per-tensor ``qp``),
    cut over ``parts`` threads."""
    out = np.empty(x.shape, np.int8)
    lo, hi = qp.limits
    _native.quantize(_contiguous(x, np.float32), out, float(np.float32(qp.scale[0])), float(qp.zero_point[0]),
                     float(lo), float(hi), int(qp.offset), parts)
    return out


def pair_lut(a: np.ndarray, b: np.ndarray, lut: np.ndarray, out: np.ndarray | None = None,
             parts: int = 1) -> np.ndarray:
    """``lut[(a_bits << 8) | b_bits]`` for two stored int8 arrays of the same shape."""
    out = np.empty(a.shape, np.int8) if out is None else out
    _native.pair_lut(_contiguous(a, np.int8), _contiguous(b, np.int8), lut, out, parts)
    return out


ARITH_OPS = {"add": 0, "sub": 1, "mul": 2}


class Arithmetic:
    """``quantize(act(dequantize(a) op dequantize(b)))`` computed, not looked up.

    Built only for add / sub / mul with no activation, Relu or Clip, per-tensor parameters;
    :meth:`matches` compares it with the pair table on all 65,536 operand pairs, and kernels use
    it only when it matches, so it never changes a result.
    """

    def __init__(self, op: str, activation: dict | None, qp_a, qp_b, qp_out) -> None:
        if op not in ARITH_OPS or any(q.per_channel for q in (qp_a, qp_b, qp_out)):
            raise ValueError(f"no arithmetic form for {op!r}")
        bounds = (0.0, 0.0)
        if activation is not None:
            params = activation.get("params") or {}
            if activation.get("fn") == "relu":
                bounds = (0.0, float("inf"))
            elif activation.get("fn") == "clip":
                lo, hi = params.get("min"), params.get("max")
                bounds = (-float("inf") if lo is None else float(np.float32(lo)),
                          float("inf") if hi is None else float(np.float32(hi)))
            else:
                raise ValueError(f"no arithmetic form for activation {activation.get('fn')!r}")
        lo, hi = qp_out.limits
        zp_out = qp_out.zero_point[0]
        self._args = (ARITH_OPS[op], int(activation is not None),
                      qp_a.offset - qp_a.zero_point[0], qp_b.offset - qp_b.zero_point[0],
                      qp_a.scale[0], qp_b.scale[0], qp_out.scale[0], bounds[0], bounds[1],
                      float(lo - zp_out), float(hi - zp_out), zp_out - qp_out.offset)

    def __call__(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, parts: int = 1) -> np.ndarray:
        out = np.empty(a.shape, np.int8) if out is None else out
        _native.arith(_contiguous(a, np.int8), _contiguous(b, np.int8), out, *self._args, parts)
        return out

    def matches(self, table: np.ndarray) -> bool:
        """Whether every one of the 65,536 operand pairs gives the table's value."""
        bits = np.arange(65536, dtype=np.uint16)
        a = (bits >> 8).astype(np.uint8).view(np.int8)
        b = (bits & 0xFF).astype(np.uint8).view(np.int8)
        return bool(np.array_equal(self(a, b), table))
