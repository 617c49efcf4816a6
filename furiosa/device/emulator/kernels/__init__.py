"""The emulated device's kernels: the one executable definition of int8 semantics.

Every kernel is a *preparer*: given an ENF operator and the program, it does the one-time work
(weight preprocessing, lookup tables, index arithmetic) and returns a function from the
operator's run-time inputs to its outputs. Prepared functions hold only read-only state, so
several workers may call them at once. The same kernel runs whether the compiler placed the
operator on the NPU or on the host; placement changes timing, never results.

Kernels register in :data:`KERNELS`; the module list at the bottom is the table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from furiosa.common.qmath import QParams
from furiosa.common.registry import Registry
from furiosa.compiler.enf.program import Operator, Program, TensorSpec

Run = Callable[[Sequence[np.ndarray]], list[np.ndarray]]
Preparer = Callable[["KernelContext"], Run]

KERNELS: Registry[Preparer] = Registry("kernel")


def kernel(name: str) -> Callable[[Preparer], Preparer]:
    return KERNELS.register(name)


@dataclass(frozen=True)
class KernelContext:
    """What a preparer may read: its operator and the program's tensors and constants."""

    op: Operator
    program: Program

    def spec(self, name: str) -> TensorSpec:
        return self.program.tensors[name]

    def qp(self, name: str) -> QParams:
        qp = self.program.tensors[name].qparams
        if qp is None:
            raise ValueError(f"operator {self.op.index} ({self.op.name}): tensor {name!r} has no quantization parameters")
        return qp

    def is_const(self, name: str) -> bool:
        return bool(name) and self.program.tensors[name].constant

    def const(self, name: str) -> np.ndarray:
        return self.program.constant(name)

    @property
    def attrs(self):
        return self.op.attrs

    def input(self, index: int) -> str:
        return self.op.inputs[index] if index < len(self.op.inputs) else ""

    def data_inputs(self) -> list[str]:
        """Inputs supplied at run time (not constants), in order."""
        return [n for n in self.op.inputs if n and not self.is_const(n)]


def prepare(op: Operator, program: Program) -> Run:
    preparer = KERNELS.lookup(op.kernel)
    return preparer(KernelContext(op, program))


def with_constants(ctx: KernelContext, run: Callable[..., list[np.ndarray]]) -> Run:
    """Adapt a function of *all* inputs to one of the run-time inputs, filling in constants."""
    slots: list[np.ndarray | None] = [ctx.const(n) if ctx.is_const(n) else None for n in ctx.op.inputs if n]
    runtime_positions = [i for i, slot in enumerate(slots) if slot is None]

    def call(args: Sequence[np.ndarray]) -> list[np.ndarray]:
        full = list(slots)
        for position, array in zip(runtime_positions, args):
            full[position] = array
        return run(*full)

    return call


from . import conv, gemm, tables, pool, movement, softmax, edges, onnx_host  # noqa: E402,F401
from . import (tflite_conv, tflite_fully_connected, tflite_pool, tflite_arithmetic, tflite_lut,  # noqa: E402,F401
               tflite_softmax, tflite_movement, tflite_quantize, tflite_reduce, tflite_resize)
