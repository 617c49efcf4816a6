"""The memory plan: which weights stay in the NPU's SRAM and how much activation space is needed.

Weights are pinned in SRAM in execution order until the budget is spent (the PE's SRAM minus a
10 % reserve for instructions and buffers, minus room for the largest operator's activations);
the rest are streamed from DRAM at every execution (spec/warboy-hardware.md §8.2).
"""
from __future__ import annotations

from .enf.program import Cost, Operator

MIB = 1 << 20
SRAM_BYTES = {"warboy": 16 * MIB, "warboy-2pe": 32 * MIB}
DRAM_BYTES = 16 * 1024 * MIB
RESERVE = 0.10


def plan(operators: list[Operator], target: str, batch_size: int = 1) -> dict:
    """The plan for ``operators`` run ``batch_size`` samples at a time on ``target``."""
    npu = [op for op in operators if op.unit == "npu" and op.cost is not None]
    peak_activation = batch_size * max((op.cost.input_bytes + op.cost.output_bytes for op in npu), default=0)
    budget = int(SRAM_BYTES[target] * (1 - RESERVE)) - peak_activation
    resident, streamed, used = [], [], 0
    per_op = []
    for op in npu:
        cost: Cost = op.cost
        where = "none"
        if cost.weight_bytes:
            if used + cost.weight_bytes <= budget:
                used += cost.weight_bytes
                resident.append(op.index)
                where = "sram"
            else:
                streamed.append(op.index)
                where = "dram"
        per_op.append({"operator": op.index, "name": op.name, "weights": where,
                       "weight_bytes": cost.weight_bytes,
                       "activation_bytes": batch_size * (cost.input_bytes + cost.output_bytes)})
    return {
        "sram_bytes": SRAM_BYTES[target],
        "dram_bytes": DRAM_BYTES,
        "sram_weight_bytes": used,
        "dram_weight_bytes": sum(op.cost.weight_bytes for op in npu if op.index in streamed),
        "peak_activation_bytes": peak_activation,
        "resident_weights": resident,
        "streamed_weights": streamed,
        "operators": per_op,
    }
