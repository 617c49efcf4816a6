"""Conformance: every int8 kernel of the emulated NPU, bit-exact to ``onnx.reference``.

Each case of :data:`tests.conformance.cases.CASES` is a tiny generated ONNX model (seeded random
data and quantization parameters). The model is compiled, the program is checked to consist of
the kernel under test (so a fallback to the host's float path or a missed fusion cannot pass
vacuously), it runs on the emulator with every exact-product backend
(``FURIOSA_EMU_KERNELS=native`` with and without its AVX-512 VNNI kernels, ``integer`` and
``blas``), and its outputs must equal, with ``np.array_equal`` and the same dtype and shape, what
``onnx.reference`` computes.

What the reference evaluates, and why it is our semantics (docs/architecture.md, "Integer
semantics"):

* **QOperator models** (QLinearConv, QLinearMatMul) are their own reference: QLinearConv's
  exact integer sum and ``float64(acc) * float64(float32(float32(sx * sw) / sy)) + zy``, rounded
  half to even and saturated, *is* the MAC definition.
* **QDQ chains around a MAC** (``DequantizeLinear -> Conv / Gemm (-> Relu / Clip) ->
  QuantizeLinear``) are not: a float Conv or Gemm rounds its float32 sums. The reference is the
  same data in QOperator form, ``QLinearConv -> DequantizeLinear -> Relu / Clip ->
  QuantizeLinear`` (a Gemm as a 1x1 QLinearConv on reshaped tensors, which also carries the
  int32 bias). The activation part is exact because re-quantizing an output-grid value returns
  it and quantization is monotone, so ``quantize(act(dequantize(q)))`` equals our clamp of the
  stored value to ``[quantize(lo), quantize(hi)]``.
* **Element-wise, data movement and softmax chains** are their own reference:
  ``quantize(f(dequantize(x)))`` evaluated by the reference in float32 is the definition, and the
  tables / moves of our kernels must reproduce it for every input fed. Unary and binary
  operators are fed every stored value (every pair), minus the inputs whose result the
  reference's QuantizeLinear cannot quantize (NaN, infinities, beyond int32: it casts to int32
  before clipping, which is undefined there); "anchored" cases put one result exactly on a
  rounding boundary so that an ulp of difference in ``f`` shows.
* **Max pooling** is compared with ``Pad(-inf) -> MaxPool`` without padding (the spec's pads
  spelled out), because ``onnx.reference``'s padded MaxPool misreads some pads (see
  :func:`tests.conformance.cases.maxpool_case`).
* **Average pooling** is compared with a depthwise QLinearConv of all-one weights and weight
  scale ``float32(1/count)`` when every window has the same count, else with the standard-op
  expression ``ConvInteger -> Cast(double) -> Mul(per-position multiplier) -> Add(zy) -> Round
  -> Clip -> Cast`` (see :func:`tests.conformance.cases.avgpool_case`).
* **Softmax before opset 13**: ``onnx.reference`` has only the opset-13 Softmax, so the
  reference spells the legacy 2-D coercion out with Reshape -> Softmax(axis=1) -> Reshape.
* **Quantize / Dequantize** at the model edges are their own reference (ties of the grid
  included; saturating values stay within int32 after division).

MAC cases draw their operands in several ways (:data:`tests.conformance.cases.DATA_MODES`):
random over the whole range, narrow (output step = one accumulator unit, so any error in a sum
shows), power-of-two scales (exact .5 ties), exhaustive (every product of two stored values)
and boundary (for every output channel, the sums whose requantized value lies nearest
``k + 1/2``, where a multiplier or product of another precision rounds differently).
:mod:`tests.conformance.test_fuzz` adds hypothesis-drawn geometries through the same check.
"""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.device.emulator.kernels import KERNELS

from .builders import Case
from .cases import CASES, COVERED_BINARY, COVERED_UNARY
from .harness import BACKENDS, BOOKKEEPING, NOT_NPU, built, check_case, expected, use_backend

# TFLite models' kernels follow TFLite's integer arithmetic (fixed-point multipliers), not the
# ONNX operators': their oracle is TFLite's interpreter, not onnx.reference.
FOREIGN_PREFIX = "tflite_"


# An operator the Warboy table places on the host (Div, Concat along the width...) still runs its
# int8 kernel; the compiler then warns that nothing runs on the NPU, which is not under test.
@pytest.mark.filterwarnings("ignore::furiosa.common.errors.CompilerWarning")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kernel_is_bit_exact(case: Case, backend: str, monkeypatch) -> None:
    use_backend(monkeypatch, backend)
    check_case(case)


# --- the table itself -------------------------------------------------------------------------
def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_npu_kernel_is_covered() -> None:
    """Every registered int8 kernel has cases (a new kernel needs a conformance generator)."""
    tested = {k for c in CASES for k in c.kernels}
    onnx_kernels = {k for k in KERNELS.names() if not k.startswith(FOREIGN_PREFIX)}
    assert onnx_kernels - BOOKKEEPING - NOT_NPU <= tested


def test_every_elementwise_function_is_covered() -> None:
    """Every function of furiosa.common.functions has a case, through its ONNX operator."""
    ops = {n.op_type for c in CASES if c.family in ("lut", "binary") for n in built(c).model.graph.node}
    assert COVERED_UNARY <= ops
    assert COVERED_BINARY <= ops


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_is_not_degenerate(case: Case) -> None:
    """Each expected output takes several values, so a kernel returning a constant (all zero
    points, all saturated) cannot match."""
    for ref in expected(case):
        if ref.size > 1:
            assert len(np.unique(ref)) > 1, f"{case.id}: the reference output is constant"
