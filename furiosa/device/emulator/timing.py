"""The Warboy timing model: how long the real chip would take to run a compiled program.

Design contract 5: the kernels compute, this module times. The compiler records a static
:class:`~furiosa.compiler.enf.program.Cost` for every NPU operator and the memory plan (which
weights stay in SRAM); :func:`plan` turns them into modeled nanoseconds for one PE (``warboy``)
or two fused PEs (``warboy-2pe``). Every constant is in the two tables at the top
(:data:`MODELS`, :data:`HOST`); their basis is spec/warboy-hardware.md §8 and
docs/timing-accuracy.md.

The model (level L0 of the spec, plus weight streaming through a prefetch buffer):

* Consecutive NPU operators form one **NPU execution**, as on the card. An execution is
  ``Load`` (inputs DRAM → SRAM), [``LoadProgram``], the operators, ``Store`` (outputs SRAM →
  DRAM). ``Run`` is the sum of the operator times, ``IoWait`` the rest, ``Total = Run + IoWait``,
  all in whole nanoseconds, so the profiler's invariants hold exactly.
* **Operator time** ``t_op = t0 + max(t_compute, t_spill)`` with ``t_compute`` =
  ``b·MACs / (MAC/cycle · f · η · g(b))`` for dense convolutions and matrix products
  (``g(b) = 1 + 0.29 (1 − 1/b)``), ``b·MACs / (MAC/cycle · f · η_dw)`` for depthwise
  convolutions, ``b·output bytes / B_vec`` for vector and data-movement operators; metadata-only
  operators (Reshape, Flatten...) take 2 ns. ``t_spill`` charges activations larger than the
  SRAM a round trip to DRAM.
* **Weights** not resident in SRAM (the compiler's memory plan) stream from DRAM at every
  execution, in operator order, into a prefetch buffer: the SRAM the memory plan keeps free of
  resident weights (the reserve plus the space set aside for the largest activations). An
  operator whose weights have not arrived waits, and the wait is part of its time.
* **PCIe**: tensors crossing between host and device take ``5 µs + bytes / 12.5 GB/s`` each way,
  outside the NPU execution (separate transfer spans).
* **Program loading**: a program larger than the 256 KiB instruction memory, compiled with
  ``use_program_loading``, loads the instructions of each execution from DRAM every time.
* **Host**: host operators are *measured* by the emulator; :data:`HOST` only serves the
  reference projection of a native (C++) harness, :meth:`ProgramTiming.native_latency_ns`.

:class:`Timeline` places modeled work on a device: one NPU and one PCIe link per direction,
each doing one thing at a time, so concurrent requests queue as they would on the card.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from furiosa.compiler.enf.program import Cost, Operator, Program

KIB = 1024


@dataclass(frozen=True)
class DeviceModel:
    """The parameters of one device configuration (a single PE, or two fused PEs)."""

    target: str
    pes: int
    clock_hz: float                  # 2.0 GHz [P]
    macs_per_cycle_per_pe: int       # 64 slices x 32 x 4 MACs [D]
    eta_dense: float                 # MAC-array efficiency of dense layers [E, fitted]
    eta_depthwise: float             # ... of depthwise convolutions [E, fitted]
    batch_gain: float                # g(b) = 1 + batch_gain (1 - 1/b) for dense layers [E]
    vector_bytes_per_s: float        # vector / data-movement throughput B_vec [E]
    layout_ns: int                   # metadata-only operators (Reshape...) [P: 2-3 ns]
    op_overhead_ns: int              # t0, per remaining operator [E]
    sram_bytes: int                  # 16 MiB per PE [D]
    sram_reserve: float              # share of SRAM kept for instructions and buffers [E]
    dram_bytes_per_s: float          # LPDDR4X, 66 GB/s [P]
    iowait_base_ns: int              # fixed I/O wait of one execution [E, fitted on MNIST]
    narrow_input_factor: float       # lowered size of an image with <= 4 channels / raw size [E]
    narrow_input_channels: int
    pcie_bytes_per_s: float          # PCIe Gen4 x8, about 12.5 GB/s effective [D/E]
    pcie_latency_ns: int             # per transfer [E]
    instruction_memory_bytes: int    # 256 KiB per PE [P]
    program_part_ns: int             # fixed cost of loading one part of a program [E]

    @property
    def macs_per_cycle(self) -> int:
        return self.macs_per_cycle_per_pe * self.pes

    @property
    def sram_usable_bytes(self) -> int:
        return int(self.sram_bytes * (1 - self.sram_reserve))

    @property
    def reserve_bytes(self) -> int:
        """SRAM the memory plan never gives to resident weights (part of the prefetch buffer)."""
        return int(self.sram_bytes * self.sram_reserve)


@dataclass(frozen=True)
class HostModel:
    """Host-side costs of a native harness, for reference projections only.

    The emulator measures its host operators; these constants project what a C++ harness on a
    server CPU would pay (spec/warboy-hardware.md §8.4): Quantize 60.639 ms from float32 and
    0.277 ms from uint8 over a 640x640x3 input, CPU Lower 1-2 ns per item, Unlower and
    Dequantize 15-75 µs, mostly fixed.
    """

    runtime_ns: int = 50_000
    quantize_float_ns_per_item: float = 60.639e6 / (640 * 640 * 3)
    quantize_uint8_ns_per_item: float = 0.277e6 / (640 * 640 * 3)
    lower_ns_per_item: float = 1.5
    unlower_ns: int = 30_000
    unlower_ns_per_item: float = 1.0
    dequantize_ns: int = 15_000
    dequantize_ns_per_item: float = 1.0
    pad_slice_ns_per_item: float = 0.5


_COMMON = dict(
    clock_hz=2.0e9, macs_per_cycle_per_pe=8192, batch_gain=0.29, layout_ns=2, op_overhead_ns=100,
    sram_bytes=16 << 20, sram_reserve=0.10, dram_bytes_per_s=66e9, iowait_base_ns=2000,
    narrow_input_factor=4.0, narrow_input_channels=4, pcie_bytes_per_s=12.5e9, pcie_latency_ns=5000,
    instruction_memory_bytes=256 * KIB, program_part_ns=1000,
)

MODELS: Mapping[str, DeviceModel] = {
    "warboy": DeviceModel("warboy", 1, eta_dense=0.275, eta_depthwise=0.04, vector_bytes_per_s=200e9, **_COMMON),
    "warboy-2pe": DeviceModel("warboy-2pe", 2, eta_dense=0.21, eta_depthwise=0.03, vector_bytes_per_s=400e9,
                              **{**_COMMON, "sram_bytes": 32 << 20}),
}
"""Device models by compiler target: the one table of device constants."""

HOST = HostModel()
"""Host-side constants of the native-harness projection."""


def model_for(target: str) -> DeviceModel:
    """The device model of a compiler target (``warboy`` or ``warboy-2pe``)."""
    try:
        return MODELS[target]
    except KeyError:
        raise ValueError(f"no timing model for target {target!r}; known targets: {', '.join(MODELS)}") from None


# --- operators -------------------------------------------------------------------------------
def compute_ns(cost: Cost, model: DeviceModel, batch: int = 1) -> float:
    """Time the compute units need for one operator, in ns (no fixed overhead)."""
    if cost.kind == "dense":
        gain = 1 + model.batch_gain * (1 - 1 / batch)
        return batch * cost.macs / (model.macs_per_cycle * model.clock_hz * model.eta_dense * gain) * 1e9
    if cost.kind == "depthwise":
        return batch * cost.macs / (model.macs_per_cycle * model.clock_hz * model.eta_depthwise) * 1e9
    if cost.kind == "layout":
        return 0.0
    return batch * cost.vector_bytes / model.vector_bytes_per_s * 1e9


def spill_ns(cost: Cost, model: DeviceModel, batch: int = 1) -> float:
    """DRAM round trip of the activations of one operator that do not fit the SRAM, in ns."""
    excess = batch * (cost.input_bytes + cost.output_bytes) - model.sram_usable_bytes
    return 2 * excess / model.dram_bytes_per_s * 1e9 if excess > 0 else 0.0


def operator_ns(cost: Cost, model: DeviceModel, batch: int = 1) -> int:
    """Modeled time of one NPU operator whose weights are in SRAM, in whole ns."""
    if cost.kind == "layout":
        return model.layout_ns
    return model.op_overhead_ns + int(round(max(compute_ns(cost, model, batch), spill_ns(cost, model, batch))))


def stream_ns(weight_bytes: int, model: DeviceModel) -> float:
    """Time to stream ``weight_bytes`` of weights from DRAM, in ns."""
    return weight_bytes / model.dram_bytes_per_s * 1e9


def pcie_ns(nbytes: int, model: DeviceModel) -> int:
    """Modeled host-device transfer time of ``nbytes`` in ns (0 when nothing moves)."""
    if nbytes <= 0:
        return 0
    return model.pcie_latency_ns + int(round(nbytes / model.pcie_bytes_per_s * 1e9))


def _streamed_run(costs: list[Cost], streamed: list[bool], model: DeviceModel, batch: int,
                  buffer_bytes: int) -> tuple[list[int], list[int]]:
    """Operator times with weight streaming: (elapsed, of which waiting for weights), in ns.

    Streamed weights arrive in execution order at DRAM bandwidth into a prefetch buffer of
    ``buffer_bytes``; the weights of an operator may start to arrive once the buffer
    holds them next to the weights of the earlier operators that have not finished (an
    operator with more weights than the buffer streams into an empty buffer).
    """
    elapsed: list[int] = []
    waited: list[int] = []
    now = 0
    stream_free = 0
    in_buffer: list[tuple[int, int]] = []  # (end of the operator, its weight bytes), in order
    for cost, is_streamed in zip(costs, streamed):
        own = operator_ns(cost, model, batch)
        ready = now
        weights = cost.weight_bytes if is_streamed else 0
        if weights:
            buffer_free, held = 0, weights
            for end, size in reversed(in_buffer):
                held += size
                if held > buffer_bytes:
                    buffer_free = end
                    break
            start = max(stream_free, buffer_free)
            stream_free = start + int(round(stream_ns(weights, model)))
            ready = max(now, stream_free)
        end = ready + own
        if weights:
            in_buffer.append((end, weights))
        elapsed.append(end - now)
        waited.append(ready - now)
        now = end
    return elapsed, waited


# --- executions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecutionTiming:
    """Modeled times of one NPU execution (a run of consecutive NPU operators)."""

    index: int
    operators: tuple[int, ...]
    operator_ns: tuple[int, ...]
    weight_wait_ns: tuple[int, ...]
    load_ns: int
    program_load_ns: int
    store_ns: int
    h2d_bytes: int
    d2h_bytes: int
    h2d_ns: int
    d2h_ns: int
    streamed_weight_bytes: int

    @property
    def run_ns(self) -> int:
        """NPU Run: the sum of the operator times."""
        return sum(self.operator_ns)

    @property
    def iowait_ns(self) -> int:
        """NPU IoWait: everything in the execution that is not an operator."""
        return self.load_ns + self.program_load_ns + self.store_ns

    @property
    def total_ns(self) -> int:
        """NPU Total = Run + IoWait."""
        return self.run_ns + self.iowait_ns


@dataclass(frozen=True)
class HostEstimate:
    """The native-harness projection of one host operator (reference only; the emulator measures)."""

    operator: int
    name: str
    ns: int | None


@dataclass(frozen=True)
class ProgramTiming:
    """Everything the timing model says about one program."""

    target: str
    batch: int
    executions: tuple[ExecutionTiming, ...]
    program_bytes: int
    program_loading: bool
    host: tuple[HostEstimate, ...] = field(default=())
    input_cast_ns: int = 0
    runtime_ns: int = HOST.runtime_ns

    @property
    def npu_ns(self) -> int:
        """Modeled NPU time of one run: the sum of its executions' totals."""
        return sum(e.total_ns for e in self.executions)

    @property
    def transfer_ns(self) -> int:
        """Modeled PCIe time of one run, both directions."""
        return sum(e.h2d_ns + e.d2h_ns for e in self.executions)

    @property
    def device_ns(self) -> int:
        """Modeled device-side time of one run at one request at a time: transfers plus NPU."""
        return self.npu_ns + self.transfer_ns

    def host_projection_ns(self, prequantized_inputs: bool = False) -> int | None:
        """Projected host-operator time of a native harness (None if an operator has no projection).

        ``prequantized_inputs``: uint8 inputs arrive already in the device's int8 form (as in the
        MLPerf harness, which quantizes samples when it loads them), so they cost no cast.
        """
        if any(h.ns is None for h in self.host):
            return None
        cast = 0 if prequantized_inputs else self.input_cast_ns
        return cast + sum(h.ns or 0 for h in self.host)

    def native_latency_ns(self, prequantized_inputs: bool = False) -> int | None:
        """Projected single-stream latency of a native harness: runtime + host ops + transfers + NPU.

        ``None`` when a host operator (a fallback operator) has no projection.
        """
        projected = self.host_projection_ns(prequantized_inputs)
        if projected is None:
            return None
        return self.runtime_ns + projected + self.device_ns


def _rank4_channels(shape: tuple[int, ...]) -> int | None:
    return shape[1] if len(shape) == 4 else None


def _load_bytes(program: Program, name: str, model: DeviceModel) -> float:
    spec = program.tensors[name]
    channels = _rank4_channels(spec.shape)
    factor = model.narrow_input_factor if channels is not None and channels <= model.narrow_input_channels else 1.0
    return spec.nbytes * factor


def groups(program: Program) -> list[list[Operator]]:
    """The program's NPU executions: maximal runs of consecutive NPU operators with a cost."""
    runs: list[list[Operator]] = []
    current: list[Operator] = []
    for op in program.operators:
        if op.unit == "npu" and op.cost is not None:
            current.append(op)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def program_bytes(program: Program) -> int:
    """Instruction bytes of the program of one PE: the sum of its NPU operators' programs."""
    return sum(op.program_bytes for op in program.operators if op.unit == "npu")


def _host_estimate(op: Operator, program: Program, host: HostModel) -> HostEstimate:
    def items(names: Iterable[str]) -> int:
        return sum(int(np.prod(program.tensors[n].shape, dtype=np.int64)) for n in names if n)

    batch = program.batch_size
    name = op.name
    if op.kernel == "quantize":
        ns: float | None = batch * items(op.inputs[:1]) * host.quantize_float_ns_per_item
    elif op.kernel == "dequantize":
        ns = host.dequantize_ns + batch * items(op.outputs) * host.dequantize_ns_per_item
    elif name == "Lower":
        ns = batch * items(op.outputs) * host.lower_ns_per_item
    elif name == "Unlower":
        ns = host.unlower_ns + batch * items(op.outputs) * host.unlower_ns_per_item
    elif name in ("Pad", "Slice"):
        ns = batch * items(op.outputs) * host.pad_slice_ns_per_item
    else:
        ns = None  # fallback operators: only the emulator's measurement says something
    return HostEstimate(op.index, name, None if ns is None else int(round(ns)))


def plan(program: Program, model: DeviceModel | None = None, host: HostModel = HOST) -> ProgramTiming:
    """The modeled times of ``program`` on its target (or on ``model``)."""
    model = model or model_for(program.target)
    batch = program.batch_size
    streamed_ops = set(program.memory.get("streamed_weights", ()))
    buffer_bytes = model.reserve_bytes + int(program.memory.get("peak_activation_bytes", 0))
    producer: dict[str, Operator] = {}
    for op in program.operators:
        for name in op.outputs:
            producer[name] = op
    graph_inputs = {io.tensor: io for io in program.inputs}
    graph_outputs = {io.tensor: io for io in program.outputs}
    total_program = program_bytes(program)
    loading = bool(program.config.get("use_program_loading")) and total_program > model.instruction_memory_bytes
    runs = groups(program)
    in_run = {op.index: i for i, run in enumerate(runs) for op in run}
    readers: dict[str, set[int]] = {}
    for op in program.operators:
        for name in op.inputs:
            if name:
                readers.setdefault(name, set()).add(op.index)

    executions = []
    for index, run in enumerate(runs):
        inside = {name for op in run for name in op.outputs}
        inputs: list[str] = []
        for op in run:
            for name in op.inputs:
                if name and name not in inside and name not in inputs and not program.tensors[name].constant:
                    inputs.append(name)
        outputs = [name for op in run for name in op.outputs
                   if name in graph_outputs or any(in_run.get(r) != index for r in readers.get(name, ()))]

        def from_host(name: str) -> bool:
            source = producer.get(name)
            return source is None or source.unit != "npu" or source.cost is None

        def to_host(name: str) -> bool:
            return name in graph_outputs or any(
                in_run.get(r) is None for r in readers.get(name, ()))

        def wire_bytes(name: str) -> int:
            io = graph_inputs.get(name) or graph_outputs.get(name)
            return io.nbytes if io is not None else program.tensors[name].nbytes

        h2d = batch * sum(wire_bytes(n) for n in inputs if from_host(n))
        d2h = batch * sum(wire_bytes(n) for n in outputs if to_host(n))
        load = batch * sum(_load_bytes(program, n, model) for n in inputs)
        store = batch * sum(program.tensors[n].nbytes for n in outputs)
        costs = [op.cost for op in run]
        elapsed, waited = _streamed_run(costs, [op.index in streamed_ops for op in run], model, batch,  # type: ignore[arg-type]
                                        buffer_bytes)
        program_load = 0
        if loading:
            run_bytes = sum(op.program_bytes for op in run)
            parts = max(1, math.ceil(run_bytes / model.instruction_memory_bytes))
            program_load = int(round(run_bytes / model.dram_bytes_per_s * 1e9)) + parts * model.program_part_ns
        half = model.iowait_base_ns // 2
        executions.append(ExecutionTiming(
            index=index,
            operators=tuple(op.index for op in run),
            operator_ns=tuple(elapsed),
            weight_wait_ns=tuple(waited),
            load_ns=half + int(round(load / model.dram_bytes_per_s * 1e9)),
            program_load_ns=program_load,
            store_ns=model.iowait_base_ns - half + int(round(store / model.dram_bytes_per_s * 1e9)),
            h2d_bytes=h2d, d2h_bytes=d2h, h2d_ns=pcie_ns(h2d, model), d2h_ns=pcie_ns(d2h, model),
            streamed_weight_bytes=sum(op.cost.weight_bytes for op in run if op.index in streamed_ops),  # type: ignore[union-attr]
        ))

    cast_items = sum(io.length for io in program.inputs
                     if io.dtype == "uint8" and (producer.get(io.tensor) is None)
                     and any(in_run.get(r) is not None for r in readers.get(io.tensor, ())))
    return ProgramTiming(
        target=program.target, batch=batch, executions=tuple(executions), program_bytes=total_program,
        program_loading=loading,
        host=tuple(_host_estimate(op, program, host) for op in program.operators if op.unit == "host"),
        input_cast_ns=int(round(batch * cast_items * host.quantize_uint8_ns_per_item)),
        runtime_ns=host.runtime_ns,
    )


# --- placing modeled work on a device --------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """Where one NPU execution and its transfers sit on a device's modeled timeline (ns)."""

    h2d_start: int
    h2d_end: int
    start: int
    end: int
    d2h_start: int
    d2h_end: int


class Timeline:
    """The modeled occupancy of one device: its NPU and its two PCIe directions.

    Each resource does one thing at a time; :meth:`schedule` puts an execution (with its input
    and output transfers) at the earliest time its data is ready and the resources are free.
    Thread-safe: several workers share a device.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._h2d_free = 0
        self._npu_free = 0
        self._d2h_free = 0

    def schedule(self, ready: int, execution: ExecutionTiming) -> Slot:
        """Reserve the device for ``execution``, whose inputs are ready at ``ready`` (ns)."""
        with self._lock:
            h2d_start = max(ready, self._h2d_free) if execution.h2d_ns else ready
            h2d_end = h2d_start + execution.h2d_ns
            if execution.h2d_ns:
                self._h2d_free = h2d_end
            start = max(h2d_end, self._npu_free)
            end = start + execution.total_ns
            self._npu_free = end
            d2h_start = max(end, self._d2h_free) if execution.d2h_ns else end
            d2h_end = d2h_start + execution.d2h_ns
            if execution.d2h_ns:
                self._d2h_free = d2h_end
            return Slot(h2d_start, h2d_end, start, end, d2h_start, d2h_end)


_timelines: dict[str, Timeline] = {}
_timelines_lock = threading.Lock()


def timeline(device: str) -> Timeline:
    """The process-wide timeline of the device named ``device`` (``npu0pe0-1``...)."""
    with _timelines_lock:
        found = _timelines.get(device)
        if found is None:
            found = _timelines[device] = Timeline()
        return found
