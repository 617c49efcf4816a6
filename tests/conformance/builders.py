"""Building blocks of the conformance cases: tiny ONNX graphs, random quantization parameters.

Nothing here knows our kernels: models are plain ONNX written with :mod:`onnx.helper`,
quantization parameters are drawn at random (seeded per case), and expected values always come
from ``onnx.reference`` (:mod:`tests.reference`). A :class:`Case` is one row of the table in
:mod:`tests.conformance.cases`; it builds its model, feeds and reference model lazily.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.reference import run_reference

LIMITS = {"int8": (-128, 127), "uint8": (0, 255)}
ELEM = {"int8": TensorProto.INT8, "uint8": TensorProto.UINT8, "int32": TensorProto.INT32,
        "float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "int64": TensorProto.INT64}
INT32_SAFE = 2**31 - 512  # |x / scale| below this: the reference's float -> int32 cast is defined


# --- the table row ---------------------------------------------------------------------------
@dataclass
class Built:
    """A generated model, what to feed it, and the model ``onnx.reference`` evaluates.

    ``reference`` is ``model`` itself unless the case needs a different standard-op expression
    of our semantics (see the module docstring of :mod:`tests.conformance.test_kernels`).
    """

    model: onnx.ModelProto
    feeds: dict[str, np.ndarray]
    reference: onnx.ModelProto | None = None

    @property
    def oracle(self) -> onnx.ModelProto:
        return self.model if self.reference is None else self.reference


@dataclass(frozen=True)
class Case:
    """One conformance case.

    ``kernels``: the compute kernels (multiset, in any order) the compiled program must consist
    of, besides layout bookkeeping; so a fallback to the host float path (kernel ``onnx``) or an
    unfused chain fails the case instead of passing it vacuously. ``build`` receives a
    generator seeded from the case id, so every case is reproducible on its own.
    """

    id: str
    family: str
    kernels: tuple[str, ...]
    build: Callable[[np.random.Generator], Built] = field(repr=False)

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(zlib.crc32(self.id.encode()))


# --- quantization parameters -----------------------------------------------------------------
@dataclass(frozen=True)
class QP:
    """Scale(s) and zero point(s) as the ONNX initializers hold them."""

    scale: np.ndarray       # float32, 0-d or 1-d
    zero_point: np.ndarray  # int8 / uint8 (int32 for biases), same shape as scale

    @property
    def dtype(self) -> str:
        return str(self.zero_point.dtype)

    @property
    def limits(self) -> tuple[int, int]:
        return LIMITS[self.dtype]

    def names(self, prefix: str, inits: list[onnx.TensorProto]) -> list[str]:
        inits.append(numpy_helper.from_array(self.scale, prefix + "_scale"))
        inits.append(numpy_helper.from_array(self.zero_point, prefix + "_zero_point"))
        return [prefix + "_scale", prefix + "_zero_point"]


def qp(scale, zero_point, dtype: str) -> QP:
    return QP(np.asarray(scale, dtype=np.float32), np.asarray(zero_point).astype(dtype))


def log_uniform(rng: np.random.Generator, lo_exp: float, hi_exp: float, size=None) -> np.ndarray:
    return np.asarray(np.float32(10.0) ** np.asarray(rng.uniform(lo_exp, hi_exp, size), np.float32))


def zero_point(rng: np.random.Generator, dtype: str, size=None) -> np.ndarray:
    """A zero point anywhere in the range, with the extremes and the middle well represented."""
    lo, hi = LIMITS[dtype]
    middle = (lo + hi + 1) // 2
    values = rng.integers(lo, hi + 1, size)
    pick = rng.uniform(size=size)
    values = np.where(pick < 0.15, lo, np.where(pick < 0.3, hi, np.where(pick < 0.45, middle, values)))
    return np.asarray(values).astype(dtype)


def activation_qp(rng: np.random.Generator, dtype: str | None = None, *, scale: float | None = None,
                  lo_exp: float = -3.0, hi_exp: float = 0.0, inner: bool = False) -> QP:
    """Random activation parameters: type, log-uniform scale, zero point anywhere (``inner``: in
    the middle half of the range, so that both signs are represented)."""
    dtype = dtype or str(rng.choice(["int8", "uint8"]))
    s = np.float32(scale) if scale is not None else log_uniform(rng, lo_exp, hi_exp)
    if inner:
        lo, hi = LIMITS[dtype]
        return qp(s, rng.integers(lo + 64, hi - 63), dtype)
    return qp(s, zero_point(rng, dtype), dtype)


def requantized_qp(rng: np.random.Generator, source: QP, dtype: str | None = None,
                   spread: tuple[float, float] = (0.4, 2.5)) -> QP:
    """Other parameters for the real values ``source`` represents: a scale from 0.4x (the ends
    saturate) to 2.5x (coarser steps) of the range, zero point placed to overlap it."""
    lo, hi = (float(v) for v in dequantized(np.array(source.limits), source))
    return qp_for_range(rng, lo, hi, dtype, spread)


def qp_for_range(rng: np.random.Generator, lo: float, hi: float, dtype: str | None = None,
                 spread: tuple[float, float] = (0.7, 1.1)) -> QP:
    """Parameters covering about ``[lo, hi]``; a random factor makes the ends saturate at times."""
    dtype = dtype or str(rng.choice(["int8", "uint8"]))
    qlo, qhi = LIMITS[dtype]
    width = max(hi - lo, 1e-6 * max(abs(lo), abs(hi), 1e-3))
    s = np.float32(width / 255.0 * rng.uniform(*spread))
    z = int(np.clip(np.rint(qlo - lo / s + rng.integers(-8, 9)), qlo, qhi))
    return qp(s, z, dtype)


def stored(rng: np.random.Generator, shape: Sequence[int], dtype: str) -> np.ndarray:
    lo, hi = LIMITS[dtype]
    return rng.integers(lo, hi + 1, size=tuple(shape)).astype(dtype)


def every_value(dtype: str) -> np.ndarray:
    lo, hi = LIMITS[dtype]
    return np.arange(lo, hi + 1).astype(dtype)


def dequantized(q: np.ndarray, p: QP) -> np.ndarray:
    """Real values (float64) of quantized values, to size other parameters; not an oracle."""
    return (q.astype(np.float64) - p.zero_point.astype(np.float64)) * p.scale.astype(np.float64)


# --- graphs ----------------------------------------------------------------------------------
def value_info(name: str, dtype: str, shape: Sequence[int] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, ELEM[dtype], None if shape is None else list(shape))


def model(nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray], outputs: dict[str, str],
          inits: list[onnx.TensorProto], opset: int = 13, ms: bool = False) -> onnx.ModelProto:
    """A model whose graph inputs are shaped and typed like ``inputs`` (name -> example array)."""
    graph = helper.make_graph(
        nodes, "conformance",
        [value_info(n, str(a.dtype), a.shape) for n, a in inputs.items()],
        [value_info(n, dtype, None) for n, dtype in outputs.items()],
        inits,
    )
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8 if opset < 19 else 9
    # Strict inference validates the nodes and fills in the outputs' shapes; then the checker.
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    onnx.checker.check_model(m)
    return m


def const(inits: list[onnx.TensorProto], name: str, array) -> str:
    inits.append(numpy_helper.from_array(np.asarray(array), name))
    return name


def dq(nodes: list, inits: list, source: str, p: QP, name: str, axis: int | None = None) -> str:
    """``DequantizeLinear(source)`` with ``p``; returns the float output's name."""
    attrs = {} if axis is None else {"axis": axis}
    nodes.append(helper.make_node("DequantizeLinear", [source, *p.names(name, inits)], [name], **attrs))
    return name


def q(nodes: list, inits: list, source: str, p: QP, name: str, axis: int | None = None) -> str:
    attrs = {} if axis is None else {"axis": axis}
    nodes.append(helper.make_node("QuantizeLinear", [source, *p.names(name, inits)], [name], **attrs))
    return name


def float_outputs(nodes: list, inits: list, inputs: dict[str, np.ndarray], outputs: Sequence[str],
                  opset: int) -> list[np.ndarray]:
    """Evaluate the float part of a chain with the reference, to size the output parameters."""
    probe = model(nodes, inputs, {o: "float32" for o in outputs}, inits, opset)
    with np.errstate(all="ignore"):
        return [np.asarray(v) for v in run_reference(probe, inputs)]


def output_qp_for(rng: np.random.Generator, y: np.ndarray, dtype: str | None = None) -> QP:
    """Output parameters for float results ``y``: the central 96 % of finite values, so the
    tails saturate."""
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return activation_qp(rng, dtype)
    lo, hi = np.percentile(finite.astype(np.float64), [2, 98])
    if hi - lo <= 1e-30:
        lo, hi = float(finite.min()) - 1.0, float(finite.max()) + 1.0
    return qp_for_range(rng, float(lo), float(hi), dtype)


def anchored_qp(rng: np.random.Generator, y: np.ndarray, dtype: str | None = None, quantile: float = 0.75) -> QP:
    """Output parameters putting one result exactly on a rounding boundary: the scale is
    ``float32(|f| / 100.5)`` for a finite result ``f`` (at ``quantile`` of the magnitudes),
    so ``f / scale`` is 100.5 or an ulp away and any ulp of difference in ``f`` can flip it.
    The zero point is the middle of the range, so that result does not saturate."""
    dtype = dtype or str(rng.choice(["int8", "uint8"]))
    finite = np.abs(y[np.isfinite(y) & (y != 0)].astype(np.float32))
    if finite.size == 0:
        return activation_qp(rng, dtype)
    anchor = np.sort(finite)[int(quantile * (finite.size - 1))]
    lo, hi = LIMITS[dtype]
    return qp(np.float32(anchor / np.float32(100.5)), (lo + hi + 1) // 2, dtype)


def quantizable(y: np.ndarray, p: QP) -> np.ndarray:
    """Where the reference's QuantizeLinear is defined: finite ``y`` with ``|y / s|`` within int32.

    (It casts ``rint(y / s)`` to int32 before clipping, so NaN, infinities and huge values give
    platform-dependent results; our kernels define NaN -> zero point and saturation.)
    """
    with np.errstate(all="ignore"):
        ratio = np.asarray(y, dtype=np.float32) / p.scale
    return np.isfinite(ratio) & (np.abs(ratio) < INT32_SAFE)
