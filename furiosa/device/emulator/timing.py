"""The Warboy timing model: modeled NPU time from the compiler's static costs.

First-order model of spec/warboy-hardware.md §8 (level L0), with its constants in one table
(:data:`MODELS`). For each NPU operator::

    t_op = t0 + max(t_compute, t_dram)          (layout-only operators: 2 ns)
    dense (Conv, Gemm, MatMul):  b * MACs / (MAC/cycle * f * eta * g(b)),  g(b) = 1 + 0.29 (1 - 1/b)
    depthwise:                   b * MACs / (MAC/cycle * f * eta_dw)
    vector / data movement:      b * output bytes / B_vec
    t_dram:                      weights streamed from DRAM (not resident in SRAM) / DRAM bandwidth

and per NPU execution ``IoWait = 2 us + b * (input + output bytes) / DRAM bandwidth``,
``Total = Run + IoWait`` with ``Run`` the sum of its operators. Times are whole nanoseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

from furiosa.compiler.enf.program import Cost


@dataclass(frozen=True)
class DeviceModel:
    target: str
    pes: int
    clock_hz: float = 2.0e9
    macs_per_cycle_per_pe: int = 8192
    eta_dense: float = 0.21
    eta_depthwise: float = 0.03
    vector_bytes_per_s: float = 400e9
    layout_ns: int = 2
    op_overhead_ns: int = 100
    dram_bytes_per_s: float = 66e9
    pcie_bytes_per_s: float = 12.5e9
    pcie_latency_ns: int = 5000
    iowait_base_ns: int = 2000
    batch_gain: float = 0.29

    @property
    def macs_per_cycle(self) -> int:
        return self.macs_per_cycle_per_pe * self.pes


MODELS = {
    "warboy": DeviceModel("warboy", 1, eta_dense=0.275, eta_depthwise=0.04, vector_bytes_per_s=200e9),
    "warboy-2pe": DeviceModel("warboy-2pe", 2),
}


def operator_ns(cost: Cost, model: DeviceModel, batch: int = 1, streamed: bool = False) -> int:
    """Modeled time of one NPU operator in ns."""
    if cost.kind == "layout":
        return model.layout_ns
    if cost.kind in ("dense", "depthwise"):
        eta = model.eta_dense if cost.kind == "dense" else model.eta_depthwise
        gain = 1 + model.batch_gain * (1 - 1 / batch) if cost.kind == "dense" else 1.0
        compute = batch * cost.macs / (model.macs_per_cycle * model.clock_hz * eta * gain)
    else:
        compute = batch * cost.vector_bytes / model.vector_bytes_per_s
    dram = cost.weight_bytes / model.dram_bytes_per_s if streamed else 0.0
    return model.op_overhead_ns + int(round(max(compute, dram) * 1e9))


def iowait_ns(input_bytes: int, output_bytes: int, model: DeviceModel, batch: int = 1) -> int:
    """Modeled I/O wait of one NPU execution in ns."""
    return model.iowait_base_ns + int(round(batch * (input_bytes + output_bytes) / model.dram_bytes_per_s * 1e9))


def pcie_ns(nbytes: int, model: DeviceModel) -> int:
    """Modeled host-device transfer time of ``nbytes`` in ns."""
    return model.pcie_latency_ns + int(round(nbytes / model.pcie_bytes_per_s * 1e9))
