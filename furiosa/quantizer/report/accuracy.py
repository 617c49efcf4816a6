"""The per-layer accuracy report: which layers lose accuracy in int8, why, and what fixes them.

:func:`accuracy_report` quantizes a float model (with the ranges recorded in it, or by
calibrating it), compiles it, and measures every quantized tensor against the float model on
the evaluation samples (:mod:`.measure`: accumulated, isolated, own and grid errors). Layers are
ranked by the error they add themselves (their *own* SQNR; the isolated one when the float
model cannot be cut around the layer), worst first, so that a layer that only inherits a bad
input is not blamed for it.

A layer whose score is below ``bad_sqnr_db`` gets a diagnosis and suggestions:

* **another calibration method** or **a wider range** for the tensor whose range sets the
  layer's parameters: every method's range (and the calibration min/max) is scored by the SQNR
  its int8 grid would give on the calibration histogram, and the best is proposed when it beats
  the current range by at least 1 dB;
* **keeping the layer in float on the host** (:func:`.edits.keep_in_float`).

Each suggestion is *applied*: the model is recompiled with it and measured again, and the report
shows what changed (the layer's tensor, the outputs, top-1 agreement, modeled latency). The
recommended one repairs the layer (its tensor back above ``bad_sqnr_db``, better outputs)
without adding host operators; when no suggestion does, the one with the best outputs is
recommended, if it improves them at all.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import onnx

from furiosa.compiler.enf.program import Program

from .. import _model
from ..calibrator import CalibrationMethod
from .calibration import CalibrationStats
from .data import check_samples, model_inputs
from .edits import Range, keep_in_float, quantized_bytes, recorded_ranges, with_ranges
from .latency import ModeledLatency, modeled
from .measure import Measurement, Probe, measure, representable
from .metrics import ErrorStats, Metrics, format_db

log = logging.getLogger("furiosa.quantizer")

DEFAULT_BAD_SQNR_DB = 25.0
"""Layers adding more error than this (own SQNR below it) are reported as bad."""

MIN_GAIN_DB = 1.0
HISTOGRAM_BINS = 48


@dataclass(frozen=True)
class Histogram:
    """Counts of a tensor's float values (a subsample of every evaluation sample) in equal bins."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    """What applying a suggestion changed, measured on the evaluation samples."""

    tensor_sqnr_db: tuple[float | None, float | None]
    output_sqnr_db: tuple[float, float]
    top1_agreement: tuple[float | None, float | None]
    latency_ns: tuple[int | None, int | None]
    host_operators: tuple[int, int]

    @property
    def output_gain_db(self) -> float:
        before, after = self.output_sqnr_db
        if math.isinf(after) and math.isinf(before):
            return 0.0
        return after - before

    def to_dict(self) -> dict[str, Any]:
        def db(pair: tuple[float | None, float | None]) -> list[Any]:
            return [None if v is None or not math.isfinite(v) else round(v, 4) for v in pair]

        return {"tensor_sqnr_db": db(self.tensor_sqnr_db), "output_sqnr_db": db(self.output_sqnr_db),
                "top1_agreement": list(self.top1_agreement), "latency_ns": list(self.latency_ns),
                "host_operators": list(self.host_operators)}


@dataclass(frozen=True)
class Suggestion:
    """One way to fix a bad layer: new ranges, or ONNX nodes kept in float on the host."""

    kind: str
    tensor: str
    summary: str
    changes: Mapping[str, Range | None] = field(default_factory=dict)
    float_nodes: tuple[str, ...] = ()
    method: str | None = None
    predicted_sqnr_db: float | None = None
    outcome: Outcome | None = None
    recommended: bool = False

    def apply(self, model: onnx.ModelProto, ranges: Mapping[str, Range]) -> tuple[onnx.ModelProto, dict[str, Range]]:
        """The model and ranges with this suggestion applied (pass them to ``quantize``)."""
        new_ranges = with_ranges(ranges, self.changes)
        if self.float_nodes:
            return keep_in_float(model, self.float_nodes, new_ranges)
        return model, new_ranges

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tensor": self.tensor, "summary": self.summary,
                "changes": {k: None if v is None else list(v) for k, v in self.changes.items()},
                "float_nodes": list(self.float_nodes), "method": self.method,
                "predicted_sqnr_db": None if self.predicted_sqnr_db is None or not math.isfinite(self.predicted_sqnr_db)
                else round(self.predicted_sqnr_db, 4),
                "outcome": None if self.outcome is None else self.outcome.to_dict(), "recommended": self.recommended}


@dataclass(frozen=True)
class LayerResult:
    """One quantized tensor of the program and the layer (operator) that produces it."""

    tensor: str
    program_tensor: str
    operator: int | None
    operator_name: str
    kernel: str
    unit: str
    nodes: tuple[str, ...]
    scale: float
    zero_point: int
    quantized_range: Range
    calibrated_range: Range | None
    range_owner: str | None
    observed_range: Range
    clipped: float
    accumulated: Metrics
    isolated: Metrics | None
    own: Metrics | None
    grid: Metrics
    histogram: Histogram
    bad: bool = False
    diagnosis: str = ""
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def score_db(self) -> float:
        """The ranking key: own SQNR, else isolated, else accumulated (lower is worse)."""
        for metrics in (self.own, self.isolated, self.accumulated):
            if metrics is not None and metrics.elements:
                return metrics.sqnr_db
        return math.inf

    @property
    def recommended(self) -> Suggestion | None:
        return next((s for s in self.suggestions if s.recommended), None)

    def to_dict(self) -> dict[str, Any]:
        def metrics(m: Metrics | None) -> Any:
            return None if m is None else m.to_dict()

        return {
            "tensor": self.tensor, "program_tensor": self.program_tensor, "operator": self.operator,
            "operator_name": self.operator_name, "kernel": self.kernel, "unit": self.unit, "nodes": list(self.nodes),
            "scale": self.scale, "zero_point": self.zero_point, "quantized_range": list(self.quantized_range),
            "calibrated_range": None if self.calibrated_range is None else list(self.calibrated_range),
            "range_owner": self.range_owner, "observed_range": list(self.observed_range),
            "clipped": self.clipped, "score_db": None if math.isinf(self.score_db) else round(self.score_db, 4),
            "accumulated": metrics(self.accumulated), "isolated": metrics(self.isolated), "own": metrics(self.own),
            "grid": metrics(self.grid), "bad": self.bad, "diagnosis": self.diagnosis,
            "histogram": {"edges": list(self.histogram.edges), "counts": list(self.histogram.counts)},
            "suggestions": [s.to_dict() for s in self.suggestions],
        }


@dataclass(frozen=True)
class OutputResult:
    """One output of the model: the program's (dequantized) values against float."""

    name: str
    metrics: Metrics
    top1_agreement: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "metrics": self.metrics.to_dict(), "top1_agreement": self.top1_agreement}


@dataclass(frozen=True)
class AccuracyReport:
    """The per-layer accuracy report of one model (see the module docstring)."""

    model_name: str
    target: str
    ranges_source: str
    calibration_samples: int
    evaluation_samples: int
    bad_sqnr_db: float
    layers: tuple[LayerResult, ...]
    outputs: tuple[OutputResult, ...]
    latency: ModeledLatency | None
    notes: tuple[str, ...] = ()
    ranges: Mapping[str, Range] = field(default_factory=dict, repr=False)
    model: onnx.ModelProto | None = field(default=None, repr=False, compare=False)
    program: Program | None = field(default=None, repr=False, compare=False)

    def worst(self, n: int | None = None) -> list[LayerResult]:
        """Layers from the one adding the most error (lowest score) on; the first ``n`` if given."""
        ranked = sorted(self.layers, key=lambda layer: (layer.score_db, layer.accumulated.sqnr_db))
        return ranked if n is None else ranked[:n]

    @property
    def bad_layers(self) -> list[LayerResult]:
        return [layer for layer in self.worst() if layer.bad]

    def layer(self, tensor: str) -> LayerResult:
        """The layer of float tensor ``tensor``."""
        for layer in self.layers:
            if layer.tensor == tensor:
                return layer
        raise KeyError(f"no quantized tensor {tensor!r} in the report; tensors: "
                       + ", ".join(layer.tensor for layer in self.layers))

    def apply(self, suggestion: Suggestion) -> bytes:
        """The model quantized with ``suggestion`` applied: bytes for the compiler or the runtime."""
        if self.model is None:
            raise ValueError("this report does not hold its model (it was read back from JSON)")
        model, ranges = suggestion.apply(self.model, self.ranges)
        return quantized_bytes(model, ranges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name, "target": self.target, "ranges_source": self.ranges_source,
            "calibration_samples": self.calibration_samples, "evaluation_samples": self.evaluation_samples,
            "bad_sqnr_db": self.bad_sqnr_db, "notes": list(self.notes),
            "latency": None if self.latency is None else self.latency.to_dict(),
            "outputs": [o.to_dict() for o in self.outputs],
            "ranking": [layer.tensor for layer in self.worst()],
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self) -> str:
        from .html import accuracy_html

        return accuracy_html(self)

    def summary(self, n: int = 10) -> str:
        """The worst layers as a text table (what ``furiosa quantize-report`` prints)."""
        from .html import summary_text

        return summary_text(self, n)


# --- building the report -------------------------------------------------------------------------
def _histogram(probe: Probe, quantized: Range | None) -> Histogram:
    values = np.concatenate(probe.values) if probe.values else np.zeros(0, np.float32)
    lo, hi = probe.low, probe.high
    if quantized is not None:
        lo, hi = min(lo, quantized[0]), max(hi, quantized[1])
    if not np.isfinite(lo) or not np.isfinite(hi):
        lo, hi = 0.0, 0.0
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(lo, hi))
    return Histogram(tuple(float(e) for e in edges), tuple(int(c) for c in counts))


def _same(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a.scale == b.scale and a.zero_point == b.zero_point


def _range_owners(measurement: Measurement, ranges: Mapping[str, Range]) -> dict[str, str | None]:
    """For each probed tensor, the tensor whose calibrated range sets its parameters (None: fixed).

    Pass-through operators (MaxPool, Reshape, Concat... : the compiler's rules with ``output =
    "input"``) keep their first input's parameters, so their range is their input's; operators
    with a fixed output range (Softmax, Sigmoid) have no owner; the others own their range.
    """
    from furiosa.compiler.rules import RULES

    program = measurement.program
    owners: dict[str, str | None] = {}
    for probe in measurement.probes:
        qp = probe.spec.qparams
        op = program.operators[probe.operator] if probe.operator is not None else None
        rule = RULES.get(str(op.attrs.get("onnx_op"))) if op is not None and op.attrs else None
        owner: str | None = probe.name if probe.name in ranges else None
        if rule is not None and rule.output == "fixed":
            owner = None
        elif rule is not None and rule.output == "input" and op is not None:
            data = [program.tensors[n] for n in op.inputs if n and not program.tensors[n].constant]
            first = data[0] if data else None
            if first is not None and _same(first.qparams, qp) and first.source in owners:
                owner = owners[first.source]
        owners[probe.name] = owner
    return owners


def _output_metrics(measurement: Measurement) -> tuple[float, float | None]:
    """Output SQNR over all outputs and the top-1 agreement of the first classification output."""
    total = ErrorStats()
    for out in measurement.outputs:
        total.merge(out.stats)
    agreement = next((o.agreement for o in measurement.outputs if o.agreement is not None), None)
    return total.result().sqnr_db, agreement


def _layers(measurement: Measurement, ranges: Mapping[str, Range]) -> list[LayerResult]:
    program = measurement.program
    owners = _range_owners(measurement, ranges)
    results = []
    for probe in measurement.probes:
        if not probe.quantized:
            continue
        qp = probe.spec.qparams
        assert qp is not None
        quantized = representable(qp)
        op = program.operators[probe.operator] if probe.operator is not None else None
        results.append(LayerResult(
            tensor=probe.name, program_tensor=probe.program_tensor, operator=probe.operator,
            operator_name=op.name if op else "input", kernel=op.kernel if op else "-", unit=op.unit if op else "-",
            nodes=tuple(op.origin) if op else (), scale=qp.scale[0], zero_point=qp.zero_point[0],
            quantized_range=quantized, calibrated_range=ranges.get(probe.name), range_owner=owners.get(probe.name),
            observed_range=(probe.low, probe.high), clipped=probe.clipped / probe.total if probe.total else 0.0,
            accumulated=probe.accumulated.result(),
            isolated=None if probe.isolated.empty else probe.isolated.result(),
            own=None if probe.own.empty else probe.own.result(),
            grid=probe.grid.result(), histogram=_histogram(probe, quantized)))
    return results


def _diagnose(layer: LayerResult) -> tuple[str, bool]:
    """Why a bad layer is bad, and whether its range is the cause."""
    lo, hi = layer.quantized_range
    a, b = layer.observed_range
    grid = layer.grid.sqnr_db
    if grid <= layer.score_db + 3.0:
        if layer.clipped > 1e-4:
            return (f"{layer.clipped:.2%} of its values fall outside the int8 range [{lo + 0.0:.4g}, {hi + 0.0:.4g}] "
                    f"(observed [{a + 0.0:.4g}, {b + 0.0:.4g}]): the range clips them", True)
        return (f"its int8 range [{lo + 0.0:.4g}, {hi + 0.0:.4g}] is coarse for the values it holds "
                f"(observed [{a + 0.0:.4g}, {b + 0.0:.4g}], step {layer.scale:.3g}): the range alone gives "
                f"{format_db(grid)}", True)
    return (f"its own range is fine ({format_db(grid)} for the tensor alone) but the layer's int8 computation "
            f"adds the error ({format_db(layer.score_db)}): its weights or arithmetic lose precision", False)


def _range_candidates(layer: LayerResult, stats: CalibrationStats, ranges: Mapping[str, Range],
                      percentage: float, current_method: str | None) -> list[tuple[float, str, str | None, Range]]:
    """(predicted SQNR, kind, method, range) for the layer's range owner, best first."""
    owner = layer.range_owner
    if owner is None or owner not in stats.histograms:
        return []
    options: list[tuple[str, str | None, Range]] = []
    for method in sorted(CalibrationMethod, key=int):
        candidate = stats.ranges(method, percentage, [owner])
        if owner in candidate:
            options.append(("calibration_method", method.name, candidate[owner]))
    observed = stats.observed(owner)
    current = ranges.get(owner)
    if observed is not None and current is not None:
        wider = (min(current[0], observed[0]), max(current[1], observed[1]))
        options.append(("wider_range", None, wider))
    predicted = stats.predicted_sqnr_db(owner, [r for _, _, r in options] + ([current] if current else []))
    baseline = predicted[-1] if current else -math.inf
    scored = [(p, kind, method, r) for p, (kind, method, r) in zip(predicted, options) if p >= baseline + MIN_GAIN_DB]
    scored.sort(key=lambda item: (-item[0], item[1] != "wider_range", item[2] != current_method))
    return scored


def _outcome(before: Measurement, after: Measurement, tensor: str,
             latency_before: ModeledLatency | None) -> Outcome:
    def tensor_db(m: Measurement) -> float | None:
        # a layer kept in float hands its output over through "<tensor>/float_output" (edits.keep_in_float)
        probe = m.probe(tensor) or next((p for p in m.probes if p.name.startswith(tensor + "/float_output")), None)
        return probe.accumulated.result().sqnr_db if probe is not None and not probe.accumulated.empty else None

    out_before, agree_before = _output_metrics(before)
    out_after, agree_after = _output_metrics(after)
    try:
        latency_after = modeled(after.program)
    except Exception as error:  # timing is informative; a failure must not hide the accuracy result
        log.warning("no modeled latency for the suggestion on %s: %s", tensor, error)
        latency_after = None
    return Outcome((tensor_db(before), tensor_db(after)), (out_before, out_after), (agree_before, agree_after),
                   (None if latency_before is None else latency_before.latency_ns,
                    None if latency_after is None else latency_after.latency_ns),
                   (len(before.program.host_operators), len(after.program.host_operators)))


def _suggest(layer: LayerResult, model: onnx.ModelProto, ranges: Mapping[str, Range],
             stats: CalibrationStats | None, percentage: float, current_method: str | None,
             baseline: Measurement, latency: ModeledLatency | None, samples: Sequence[Sequence[np.ndarray]],
             target: str, bad_sqnr_db: float, progress: bool) -> tuple[str, tuple[Suggestion, ...]]:
    diagnosis, _ = _diagnose(layer)
    proposals: list[Suggestion] = []
    if stats is not None:
        candidates = _range_candidates(layer, stats, ranges, percentage, current_method)
        if candidates:
            predicted, kind, method, new_range = candidates[0]
            owner = layer.range_owner or layer.tensor
            what = (f"calibrate {owner!r} with {method}" if kind == "calibration_method"
                    else f"widen the range of {owner!r} to the calibration min/max")
            proposals.append(Suggestion(
                kind, owner, f"{what}: range [{new_range[0] + 0.0:.4g}, {new_range[1] + 0.0:.4g}] "
                f"(predicted {format_db(predicted)} for the tensor alone)", {owner: new_range},
                method=method, predicted_sqnr_db=predicted))
    elif layer.range_owner is not None:
        diagnosis += "; no calibration data was given, so no other range can be proposed"
    float_nodes = tuple(n for n in layer.nodes if n in {node.name for node in model.graph.node if node.name})
    if layer.kernel != "quantize" and float_nodes:
        proposals.append(Suggestion("keep_float", layer.tensor,
                                    f"keep {', '.join(float_nodes)} in float on the host", {}, float_nodes))
    applied = []
    for proposal in proposals:
        try:
            new_model, new_ranges = proposal.apply(model, ranges)
            after = measure(new_model, new_ranges, samples, target=target, isolate=False,
                            float_names=[layer.tensor], progress=progress,
                            description=f"Trying: {proposal.kind} for {layer.tensor}")
        except Exception as error:  # a suggestion that does not compile is dropped, with the reason logged
            log.warning("suggestion %r for %s could not be evaluated: %s", proposal.summary, layer.tensor, error)
            continue
        applied.append(_replace(proposal, outcome=_outcome(baseline, after, layer.tensor, latency)))
    if not applied:
        return diagnosis, ()
    best = _recommend(applied, bad_sqnr_db)
    ordered = sorted(applied, key=lambda s: s is not best)
    return diagnosis, tuple(_replace(s, recommended=s is best) for s in ordered)


def _recommend(applied: list[Suggestion], bad_sqnr_db: float) -> Suggestion | None:
    """The suggestion to recommend: one that keeps the NPU busy and repairs the layer, if any.

    A suggestion *repairs* the layer when the layer's tensor reaches ``bad_sqnr_db`` and the
    outputs improve. Among the repairs that add no host operator, the one with the best outputs
    wins; without such a repair, the suggestion with the best outputs, if it improves them.
    """
    def output(s: Suggestion) -> float:
        return s.outcome.output_sqnr_db[1] if s.outcome is not None else -math.inf

    def repairs(s: Suggestion) -> bool:
        outcome = s.outcome
        return (outcome is not None and outcome.host_operators[1] <= outcome.host_operators[0]
                and outcome.tensor_sqnr_db[1] is not None and outcome.tensor_sqnr_db[1] >= bad_sqnr_db
                and outcome.output_gain_db > 0)

    on_npu = [s for s in applied if repairs(s)]
    if on_npu:
        return max(on_npu, key=output)
    best = max(applied, key=output)
    return best if best.outcome is not None and best.outcome.output_gain_db > 0 else None


def _replace(suggestion: Suggestion, **changes: Any) -> Suggestion:
    from dataclasses import replace

    return replace(suggestion, **changes)


def _load(model: Any) -> tuple[onnx.ModelProto, str]:
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            return onnx.load(str(path)), path.name
        except Exception as error:
            raise ValueError(f"{path} is not an ONNX model: {error}") from None
    proto = _model.load(model)
    return proto, proto.graph.name or "model"


def accuracy_report(model: Any, calibration_data: Iterable[Sequence[np.ndarray]] | None = None,
                    evaluation_data: Iterable[Sequence[np.ndarray]] | None = None, *,
                    method: "CalibrationMethod | int" = CalibrationMethod.MIN_MAX_ASYM, percentage: float = 99.99,
                    target: str = "warboy-2pe", bad_sqnr_db: float = DEFAULT_BAD_SQNR_DB, max_suggestions: int = 3,
                    progress: bool = False) -> AccuracyReport:
    """Compare every quantized tensor of ``model``'s int8 program with the float model.

    ``model``: an optimized float ONNX model (``ModelProto``, bytes or a path). When it carries
    calibration ranges (``quantize()``'s output, or a model with ``FurisoaAI.CalibrationResult``
    metadata) they are used as they are; otherwise it is calibrated with ``method`` (and
    ``percentage``) on ``calibration_data``. ``calibration_data`` and ``evaluation_data`` are
    sequences of samples, as ``Calibrator.collect_data`` takes them; the evaluation defaults to
    the calibration samples. Suggestions for other ranges need calibration data.
    ``max_suggestions`` bad layers (worst first) get suggestions, each applied and measured.
    """
    proto, name = _load(model)
    inputs = model_inputs(proto)
    calibration = None if calibration_data is None else check_samples(calibration_data, inputs, "calibration_data")
    evaluation = None if evaluation_data is None else check_samples(evaluation_data, inputs, "evaluation_data")
    notes: list[str] = []
    if evaluation is None:
        if calibration is None:
            raise ValueError("give evaluation_data (and calibration_data to calibrate the model or to propose ranges)")
        evaluation = calibration
        notes.append("evaluated on the calibration samples (no separate evaluation data)")
    if not math.isfinite(bad_sqnr_db):
        raise ValueError(f"bad_sqnr_db must be a finite number of dB, got {bad_sqnr_db}")
    stats = CalibrationStats(proto, calibration, progress) if calibration is not None else None
    recorded = recorded_ranges(proto)
    current_method: str | None
    if recorded is not None:
        ranges, source, current_method = recorded, "model metadata (FurisoaAI.CalibrationResult)", None
    elif stats is not None:
        member = CalibrationMethod(int(method))
        ranges = stats.ranges(member, percentage)
        current_method = member.name
        source = member.name + (f" ({percentage} %)" if "PERCENTILE" in member.name else "")
    else:
        raise ValueError("the model has no calibration ranges (FurisoaAI.CalibrationResult): give calibration_data "
                         "to calibrate it")
    baseline = measure(proto, ranges, evaluation, target=target, isolate=True, progress=progress)
    try:
        latency = modeled(baseline.program)
    except Exception as error:
        log.warning("no modeled latency: %s", error)
        latency = None
    layers = _layers(baseline, ranges)
    ranked = sorted(layers, key=lambda layer: (layer.score_db, layer.accumulated.sqnr_db))
    bad = [layer for layer in ranked if layer.score_db < bad_sqnr_db]
    updated: dict[str, LayerResult] = {}
    for position, layer in enumerate(bad):
        if position < max_suggestions:
            diagnosis, suggestions = _suggest(layer, proto, ranges, stats, percentage, current_method, baseline,
                                              latency, evaluation, target, bad_sqnr_db, progress)
        else:
            diagnosis, suggestions = _diagnose(layer)[0], ()
        updated[layer.tensor] = _replace(layer, bad=True, diagnosis=diagnosis, suggestions=suggestions)
    if len(bad) > max_suggestions:
        notes.append(f"{len(bad)} bad layers; suggestions were tried for the worst {max_suggestions}")
    outputs = tuple(OutputResult(o.name, o.stats.result(), o.agreement) for o in baseline.outputs)
    return AccuracyReport(
        model_name=name, target=target, ranges_source=source,
        calibration_samples=0 if calibration is None else len(calibration), evaluation_samples=len(evaluation),
        bad_sqnr_db=float(bad_sqnr_db), layers=tuple(updated.get(layer.tensor, layer) for layer in layers),
        outputs=outputs, latency=latency, notes=tuple(notes), ranges=dict(ranges), model=proto,
        program=baseline.program)
