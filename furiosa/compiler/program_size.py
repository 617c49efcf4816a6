"""Instruction memory: how large each NPU operator's program is, and whether a PE can hold it.

A Warboy PE runs its program from a 256 KiB instruction memory (``size_instruction_memory:
262144`` in the vendor's compiler configuration, spec/warboy-hardware.md §1). Since SDK 0.9 the
compiler can load a larger program in parts at run time (``use_program_loading``), at the cost
of fetching the instructions from DRAM at every execution. The vendor publishes no instruction
counts, so the size of an operator's program is an estimate [E] with three parts:

* **setup**: configuring the 64 slices of a PE for the operator: :data:`SETUP_BYTES` by timing
  class (a convolution configures MAC arrays and operand networks; a vector operator the
  vector engine; a metadata-only operator such as Reshape almost nothing);
* **weight descriptors**: one :data:`DESCRIPTOR_BYTES` DMA descriptor per
  :data:`WEIGHT_CHUNK_BYTES` of weights the operator loads into the slices;
* **passes**: one :data:`PASS_BYTES` command per pass over the output, a pass covering up to
  :data:`CHANNELS_PER_PASS` output channels of one row on each slice of the PE
  (``ceil(C / 32) * ceil(b * H / (64 * PEs))`` passes; fused PEs split the rows between them).

Each PE of a fused pair runs its own copy of the program, so the limit is 256 KiB in both
modes. With these constants the models the vendor ran before program loading existed (MNIST,
MobileNet v1, ResNet-50 at batch 1 and 8, SSD-MobileNet in MLPerf) fit, while YOLOv5l and
YOLOv5x at 640x640, which the vendor's own benchmarks compile with ``use_program_loading``, do
not (tests/device/test_program_size.py, docs/timing-accuracy.md).
"""
from __future__ import annotations

import math
from typing import Iterable

from furiosa.common.errors import UnsupportedModelError

from .enf.program import Cost, Operator

KIB = 1024
INSTRUCTION_MEMORY_BYTES = 256 * KIB
SETUP_BYTES = {"dense": 1024, "depthwise": 768, "vector": 512, "layout": 64}
DESCRIPTOR_BYTES = 16
WEIGHT_CHUNK_BYTES = 16 * KIB
PASS_BYTES = 32
CHANNELS_PER_PASS = 32
SLICES_PER_PE = 64
PES = {"warboy": 1, "warboy-2pe": 2}


class InsufficientInstructionMemoryError(UnsupportedModelError):
    """The compiled program of a PE does not fit its instruction memory."""


def _channels_rows(shape: tuple[int, ...]) -> tuple[int, int]:
    """Output channels and rows of a tensor read as N, C, H, W (lower ranks as N, C, 1, W)."""
    if len(shape) >= 4:
        return int(shape[1]), int(shape[2])
    if len(shape) >= 2:
        return int(shape[1]), 1
    return 1, 1


def operator_bytes(cost: Cost, output_shape: tuple[int, ...], target: str, batch: int = 1) -> int:
    """Estimated instruction bytes of one NPU operator in the program of one PE."""
    if cost.kind == "layout":
        return SETUP_BYTES["layout"]
    channels, rows = _channels_rows(output_shape)
    passes = math.ceil(channels / CHANNELS_PER_PASS) * math.ceil(batch * rows / (SLICES_PER_PE * PES[target]))
    descriptors = math.ceil(cost.weight_bytes / WEIGHT_CHUNK_BYTES)
    return SETUP_BYTES.get(cost.kind, SETUP_BYTES["vector"]) + descriptors * DESCRIPTOR_BYTES + passes * PASS_BYTES


def total_bytes(operators: Iterable[Operator]) -> int:
    """Instruction bytes of the program of one PE: the sum over its NPU operators."""
    return sum(op.program_bytes for op in operators if op.unit == "npu")


def check(operators: Iterable[Operator], target: str, use_program_loading: bool) -> int:
    """The program size of one PE; raise when it does not fit and program loading is off."""
    npu = [op for op in operators if op.unit == "npu"]
    size = total_bytes(npu)
    if size > INSTRUCTION_MEMORY_BYTES and not use_program_loading:
        raise InsufficientInstructionMemoryError(
            f"Insufficient Instruction Memory: the program of each PE needs {size / KIB:.1f} KiB for "
            f"{len(npu)} NPU operators but a Warboy PE's instruction memory holds "
            f"{INSTRUCTION_MEMORY_BYTES // KIB} KiB (target {target}); compile with "
            "compiler_config={\"use_program_loading\": True} to load the program in parts at run time "
            "(each NPU execution then fetches its instructions from DRAM), or make the model smaller "
            "(fewer operators, a smaller input)"
        )
    return size
