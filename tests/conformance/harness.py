"""Running one conformance case: compile, check the kernels, run, compare with the reference.

The exact-product backend is read from ``FURIOSA_EMU_KERNELS`` when the program's kernels are
prepared; callers select it with :func:`use_backend` before calling :func:`check_case`.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from furiosa.compiler.pipeline import compile_program
from furiosa.device.emulator.executor import Executor
from tests.reference import run_reference

from .builders import Built, Case

# "native-novnni": the native backend as CPUs without AVX-512 VNNI run it (onnxruntime's
# MatMulInteger and the int32 depthwise loops instead of the VNNI kernels)
BACKENDS = ("native", "native-novnni", "integer", "blas")
# Kernels that only carry data across the host/NPU boundary or relabel it: not computations.
BOOKKEEPING = {"layout", "retag"}
# Kernels that are not int8 computations of the NPU: the host's float fallback.
NOT_NPU = {"onnx"}

_built: dict[str, Built] = {}
_expected: dict[str, list[np.ndarray]] = {}


def built(case: Case) -> Built:
    """The case's model and feeds (built once per session)."""
    if case.id not in _built:
        _built[case.id] = case.build(case.rng())
    return _built[case.id]


def expected(case: Case) -> list[np.ndarray]:
    """What ``onnx.reference`` computes for the case (once per session)."""
    if case.id not in _expected:
        b = built(case)
        _expected[case.id] = [np.asarray(v) for v in run_reference(b.oracle, b.feeds)]
    return _expected[case.id]


def use_backend(monkeypatch, backend: str) -> None:
    """Select ``backend`` (one of :data:`BACKENDS`) for the kernels prepared from now on."""
    from furiosa.device.emulator.kernels import native

    if backend.startswith("native") and not native.available():
        import pytest

        pytest.skip("the native loops are not built in this installation")
    monkeypatch.setenv("FURIOSA_EMU_KERNELS", backend.split("-")[0])
    monkeypatch.setenv("FURIOSA_EMU_VNNI", "off" if backend == "native-novnni" else "auto")


def compute_kernels(program) -> Counter:
    return Counter(op.kernel for op in program.operators if op.kernel not in BOOKKEEPING)


def describe_mismatch(ours: np.ndarray, ref: np.ndarray) -> str:
    wrong = np.argwhere(ours != ref)
    first = "; ".join(f"{tuple(int(i) for i in idx)}: ours {ours[tuple(idx)]} reference {ref[tuple(idx)]}"
                      for idx in wrong[:5])
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    return f"{len(wrong)} of {ref.size} values differ (largest difference {diff.max()}); {first}"


def check_case(case: Case) -> None:
    """Compile the case's model, check its kernels, run it and compare bit for bit."""
    b = built(case)
    program = compile_program(b.model.SerializeToString())
    assert compute_kernels(program) == Counter(case.kernels), (
        f"{case.id}: expected the program to be exactly {case.kernels}, got "
        f"{[(op.kernel, op.unit, op.reason) for op in program.operators if op.kernel not in BOOKKEEPING]}"
    )
    outputs = Executor(program).run([b.feeds[io.name] for io in program.inputs])
    reference = expected(case)
    assert [io.name for io in program.outputs] == [o.name for o in b.model.graph.output]
    assert len(outputs) == len(reference)
    for io, ours, ref in zip(program.outputs, outputs, reference):
        assert ours.dtype == ref.dtype and ours.shape == ref.shape, (
            f"{case.id}, output {io.name}: ours {ours.dtype}{ours.shape}, reference {ref.dtype}{ref.shape}"
        )
        # Float outputs (Dequantize) are compared bit for bit too (-0.0 is not 0.0).
        same = np.array_equal(ours.view(np.uint32), ref.view(np.uint32)) if ref.dtype == np.float32 else \
            np.array_equal(ours, ref)
        assert same, f"{case.id}, output {io.name}: {describe_mismatch(ours, ref)}"
