"""Modeled latency and throughput of a compiled program, for the sweep and the accuracy report.

Nothing here is measured: the NPU, PCIe and native-runtime figures come from the Warboy timing
model (:mod:`furiosa.device.emulator.timing`, docs/timing-accuracy.md), host operators from two
projections of a native (C++) harness:

* Quantize, Dequantize, Lower, Unlower, Pad, Slice: the timing model's ``HOST`` constants
  (fitted on the vendor's published numbers);
* operators the compiler leaves on the host (fallbacks): the host cost the compiler records in
  each operator's ``attrs["estimate"]["host_ns"]`` (:mod:`furiosa.compiler.host_cost`).

**Latency** of one query (one program batch): native runtime overhead + host operators +
PCIe transfers + NPU executions, one query alone on the device.
**Throughput** (samples/s): queries pipelined on one device, where the host (runtime and host
operators, one thread), PCIe to the device, the NPU and PCIe back each serve one query at a
time; the slowest of the four sets the pace, ``batch / max(stage)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from furiosa.compiler.enf.program import Program


@dataclass(frozen=True)
class ModeledLatency:
    """Modeled time of one query of ``batch`` samples on ``target`` (ns), and the throughput it allows."""

    target: str
    batch: int
    npu_ns: int
    h2d_ns: int
    d2h_ns: int
    runtime_ns: int
    host_ns: int | None
    fallback_operators: int
    unmodeled_operators: tuple[str, ...] = ()

    @property
    def latency_ns(self) -> int | None:
        if self.host_ns is None:
            return None
        return self.runtime_ns + self.host_ns + self.h2d_ns + self.d2h_ns + self.npu_ns

    @property
    def throughput(self) -> float | None:
        """Samples per second with queries pipelined on one device (see the module docstring)."""
        if self.host_ns is None:
            return None
        slowest = max(self.runtime_ns + self.host_ns, self.h2d_ns, self.npu_ns, self.d2h_ns, 1)
        return self.batch * 1e9 / slowest

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["unmodeled_operators"] = list(self.unmodeled_operators)
        out["latency_ns"] = self.latency_ns
        out["throughput"] = None if self.throughput is None else round(self.throughput, 3)
        return out


def _estimate_ns(attrs: Mapping[str, Any] | None) -> int | None:
    estimate = attrs.get("estimate") if attrs else None
    if isinstance(estimate, Mapping) and estimate.get("host_ns") is not None:
        return int(estimate["host_ns"])
    return None


def modeled(program: Program) -> ModeledLatency:
    """The modeled latency and throughput of ``program`` on its target, batch included."""
    from furiosa.device.emulator import timing

    plan = timing.plan(program)
    native = {h.operator: h.ns for h in plan.host}
    host = plan.input_cast_ns
    missing: list[str] = []
    fallbacks = 0
    for op in program.host_operators:
        ns = native.get(op.index)
        if ns is None:
            fallbacks += 1
            ns = _estimate_ns(op.attrs)
        if ns is None:
            missing.append(f"{op.index} {op.name}")
            continue
        host += ns
    return ModeledLatency(
        target=program.target, batch=program.batch_size, npu_ns=plan.npu_ns,
        h2d_ns=sum(e.h2d_ns for e in plan.executions), d2h_ns=sum(e.d2h_ns for e in plan.executions),
        runtime_ns=plan.runtime_ns, host_ns=None if missing else host, fallback_operators=fallbacks,
        unmodeled_operators=tuple(missing))
