"""Running the float model and the int8 program side by side and measuring every tensor's error.

For every quantized tensor of the program that stands for a tensor of the float model
(``TensorSpec.source``), over the evaluation samples:

* **accumulated**: the program run end to end; the tensor carries every error made before it;
* **isolated**: its operator run alone on the float model's values of its inputs, quantized with
  the inputs' parameters (what the layer gives when everything before it is exact);
* **own**: the isolated output against the float model's own subgraph (the layer's ONNX nodes)
  applied to the same quantized inputs: the error the layer adds by itself, without the
  rounding of its inputs. A layer that only moves data and keeps its input's parameters
  (MaxPool, Reshape...) adds nothing, however bad its input is;
* **grid**: the float tensor quantized and dequantized with the tensor's parameters: what its
  range and step alone cost, the yardstick for range problems;

plus the share of values outside the representable range (clipped), the observed range and a
subsample of values for the charts; and for the program's outputs, the error and the top-1
agreement with float.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import onnx

from furiosa.common.qmath import QParams, dequantize, quantize
from furiosa.compiler.enf.program import Program, TensorSpec

from .capture import FloatReference, LocalReference, ProgramCapture
from .edits import Range, quantized_bytes
from .metrics import ErrorStats

log = logging.getLogger("furiosa.quantizer")

_KEEP_VALUES = 65536
_PER_SAMPLE = 2048


def representable(qp: QParams) -> Range:
    """The real values the lowest and highest integers of a per-tensor ``qp`` stand for."""
    lo, hi = qp.limits
    scale, zero_point = qp.scale[0], qp.zero_point[0]
    return (lo - zero_point) * scale, (hi - zero_point) * scale


@dataclass
class Probe:
    """Accumulators for one float tensor of the model and its counterpart in the program."""

    name: str
    program_tensor: str
    spec: TensorSpec
    operator: int | None
    accumulated: ErrorStats = field(default_factory=ErrorStats)
    isolated: ErrorStats = field(default_factory=ErrorStats)
    own: ErrorStats = field(default_factory=ErrorStats)
    grid: ErrorStats = field(default_factory=ErrorStats)
    low: float = np.inf
    high: float = -np.inf
    clipped: int = 0
    total: int = 0
    values: list[np.ndarray] = field(default_factory=list)
    kept: int = 0

    @property
    def quantized(self) -> bool:
        return self.spec.qparams is not None and self.spec.dtype != "float32"

    def observe(self, reference: np.ndarray) -> None:
        flat = reference.reshape(-1)
        if flat.size:
            self.low = min(self.low, float(flat.min()))
            self.high = max(self.high, float(flat.max()))
        self.total += flat.size
        if self.kept < _KEEP_VALUES and flat.size:
            step = max(1, flat.size // _PER_SAMPLE)
            part = flat[::step][: _KEEP_VALUES - self.kept].astype(np.float32)
            self.values.append(part)
            self.kept += part.size
        if self.quantized:
            qp = self.spec.qparams
            assert qp is not None
            lo, hi = representable(qp)
            half = qp.scale[0] / 2
            self.clipped += int(np.count_nonzero((flat < lo - half) | (flat > hi + half)))
            self.grid.update(reference, dequantize(quantize(reference, qp), qp))


@dataclass
class OutputProbe:
    """Accumulators for one output of the model."""

    name: str
    stats: ErrorStats = field(default_factory=ErrorStats)
    agree: int = 0
    rows: int = 0

    def update(self, reference: np.ndarray, test: np.ndarray) -> None:
        self.stats.update(reference, test)
        if reference.ndim >= 2 and reference.shape[-1] > 1:
            self.agree += int(np.count_nonzero(reference.argmax(-1) == test.argmax(-1)))
            self.rows += int(np.prod(reference.shape[:-1]))

    @property
    def agreement(self) -> float | None:
        return self.agree / self.rows if self.rows else None


@dataclass
class Measurement:
    """What one program measured against the float model."""

    program: Program
    probes: list[Probe]
    outputs: list[OutputProbe]
    samples: int

    def probe(self, name: str) -> Probe | None:
        return next((p for p in self.probes if p.name == name), None)


def _producers(program: Program) -> dict[str, int]:
    return {name: op.index for op in program.operators for name in op.outputs}


def select_probes(program: Program, float_values: dict[str, np.ndarray],
                  float_names: Iterable[str] = ()) -> list[Probe]:
    """One probe per float tensor: its first quantized stand-in in the program, in execution order.

    Tensors named in ``float_names`` are also probed when the program computes them in float (a
    layer kept on the host).
    """
    wanted = set(float_names)
    producers = _producers(program)
    inputs = {io.tensor for io in program.inputs}
    order = [io.tensor for io in program.inputs] + [n for op in program.operators for n in op.outputs]
    probes: list[Probe] = []
    seen: set[str] = set()

    def add(tensor: str, name: str | None) -> None:
        spec = program.tensors[tensor]
        if not name or name in seen or name not in float_values:
            return
        if tuple(float_values[name].shape) != tuple(spec.shape):
            log.info("tensor %s: the program holds %s, the float model %s; not compared", name, spec.shape,
                     float_values[name].shape)
            return
        seen.add(name)
        probes.append(Probe(name, tensor, spec, producers.get(tensor)))

    for tensor in order:  # quantized stand-ins first...
        spec = program.tensors[tensor]
        if not spec.constant and spec.qparams is not None and spec.dtype != "float32" and not spec.qparams.per_channel:
            add(tensor, spec.source)
    for tensor in order:  # ...then float tensors computed on the host, when asked for
        spec = program.tensors[tensor]
        if not spec.constant and tensor in wanted and spec.dtype == "float32" and tensor not in inputs:
            add(tensor, tensor)
    probes.sort(key=lambda p: order.index(p.program_tensor))
    return probes


def _isolated(probe: Probe, capture: ProgramCapture, local: LocalReference | None,
              values: dict[str, np.ndarray]) -> None:
    """Run the probe's operator alone on the float model's (quantized) inputs."""
    if probe.operator is None or not probe.quantized:
        return
    program = capture.program
    op = program.operators[probe.operator]
    args, names, reals = [], [], []
    for tensor in capture.data_inputs(op.index):
        spec = program.tensors[tensor]
        if spec.qparams is not None and spec.dtype != "float32" and spec.source in values:
            stored = quantize(values[spec.source], spec.qparams)
            if stored.shape != tuple(spec.shape):
                return
            args.append(stored)
            names.append(spec.source)
            reals.append(dequantize(stored, spec.qparams))
        elif spec.dtype == "float32" and tensor in values:
            args.append(values[tensor])
            names.append(tensor)
            reals.append(values[tensor])
        else:
            return
    output = capture.run_operator(op.index, args)[op.outputs.index(probe.program_tensor)]
    qp = probe.spec.qparams
    assert qp is not None
    result = dequantize(output, qp)
    reference = values[probe.name]
    probe.isolated.update(reference, result)
    if op.kernel == "quantize":
        probe.own.update(reference, result)
        return
    if local is None:
        return
    unique = dict(zip(names, reals))
    local_value = local.run(tuple(unique), list(unique.values()), probe.name)
    if local_value is not None and local_value.shape == result.shape:
        probe.own.update(local_value, result)


def measure(model: onnx.ModelProto, ranges: dict[str, Range], samples: Sequence[Sequence[np.ndarray]], *,
            target: str = "warboy-2pe", isolate: bool = True, float_names: Iterable[str] = (),
            progress: bool = False, description: str = "Measuring", program: Program | None = None) -> Measurement:
    """Compile ``model`` quantized with ``ranges`` (unless ``program`` is given) and measure it on ``samples``."""
    from furiosa.compiler.pipeline import compile_data

    if program is None:
        program = compile_data(quantized_bytes(model, ranges), target=target)
    capture = ProgramCapture(program)
    reference = FloatReference(model)
    local = LocalReference(model) if isolate else None
    output_names = [o.name for o in model.graph.output]
    outputs = [OutputProbe(name) for name in output_names]
    probes: list[Probe] | None = None
    data: Iterable[Any] = samples
    if progress:
        from tqdm.auto import tqdm

        data = tqdm(samples, desc=description, unit="sample", leave=False)
    for sample in data:
        values = reference.run(sample)
        env = capture.run(sample)
        if probes is None:
            probes = select_probes(program, values, float_names)
        for probe in probes:
            ref = values[probe.name]
            probe.observe(ref)
            spec = probe.spec
            got = env[probe.program_tensor]
            probe.accumulated.update(ref, dequantize(got, spec.qparams) if probe.quantized and spec.qparams
                                     else np.asarray(got, dtype=np.float32))
            if isolate:
                _isolated(probe, capture, local, values)
        for out, value in zip(outputs, capture.outputs(env)):
            if out.name in values:
                out.update(values[out.name], value)
    return Measurement(program, probes or [], outputs, len(samples))
