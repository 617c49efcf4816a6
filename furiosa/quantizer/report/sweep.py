"""What-if sweeps: one model across calibration methods, percentiles, I/O types, batch sizes and targets.

:func:`sweep` calibrates the model once (every method reads the same statistics,
:class:`~.calibration.CalibrationStats`), then for each *quantization* (a method, with a
percentile for the PERCENTILE methods) and each ModelEditor *I/O variant* (float, uint8 input,
int8 output, both) compiles the model and runs the evaluation samples on the emulated NPU
(:class:`~furiosa.device.emulator.executor.Executor`, the runtime's own path), comparing the
outputs with the float model's. Each of those is then compiled for every batch size and target
and timed by the Warboy timing model (:mod:`.latency`).

Batch size and target change the program's schedule, never its values (placement never changes
results, docs/architecture.md), so accuracy is measured once per quantization and I/O variant;
every other program is *checked* on the first evaluation sample and measured in full if its
outputs differ.

Accuracy is measured against the float model on the evaluation samples: the **top-1 agreement**
(share of rows of the first classification output whose arg-max equals float's) and the
**output SQNR** (all outputs). With labels, the task accuracy is reported too. The sweep ranks by
one *metric*: ``top1`` (the default for classification outputs), ``sqnr`` (the default
otherwise) or ``labels``; ties are broken by the output SQNR.

Each point is marked when it is on a Pareto front: no other point is at least as accurate (by
the metric, then SQNR) and at least as fast, and better in one of the two, for latency (``L``)
and for throughput (``T``).
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import onnx

from furiosa.common.qmath import dequantize, from_declared, quantize, to_declared

from ..calibrator import CalibrationMethod
from ..metadata import CALIBRATION_KEY, WITHOUT_DEQUANTIZE_KEY, WITHOUT_QUANTIZE_KEY
from . import svg
from .calibration import CalibrationStats
from .data import check_samples, model_inputs
from .edits import IO_VARIANTS, quantized_bytes, with_io
from .latency import ModeledLatency, modeled
from .metrics import ErrorStats, format_db

log = logging.getLogger("furiosa.quantizer")

DEFAULT_PERCENTILES = (99.9, 99.99, 99.999)
DEFAULT_BATCH_SIZES = (1, 8)
DEFAULT_TARGETS = ("warboy", "warboy-2pe")
METRICS = {"top1": "top1_agreement", "sqnr": "output_sqnr_db", "labels": "label_accuracy"}
"""Ranking metrics (``metric=`` / ``--metric``) and the point field each reads."""


@dataclass(frozen=True)
class SweepPoint:
    """One configuration: its accuracy against float and its modeled speed."""

    method: str
    percentage: float | None
    io: str
    target: str
    batch: int
    output_sqnr_db: float
    top1_agreement: float | None
    label_accuracy: float | None
    latency: ModeledLatency
    checked: str = "measured"
    pareto_latency: bool = False
    pareto_throughput: bool = False

    @property
    def quantization(self) -> str:
        return self.method if self.percentage is None else f"{self.method} {self.percentage:g}"

    @property
    def latency_ns(self) -> int | None:
        return self.latency.latency_ns

    @property
    def throughput(self) -> float | None:
        return self.latency.throughput

    @property
    def front(self) -> str:
        return ",".join(mark for mark, on in (("L", self.pareto_latency), ("T", self.pareto_throughput)) if on)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["latency"] = self.latency.to_dict()
        out["output_sqnr_db"] = None if not math.isfinite(self.output_sqnr_db) else round(self.output_sqnr_db, 4)
        out["latency_ns"] = self.latency_ns
        out["throughput"] = None if self.throughput is None else round(self.throughput, 3)
        return out


@dataclass(frozen=True)
class SweepResult:
    """Every point of a sweep, with its Pareto marks."""

    model_name: str
    metric: str
    points: tuple[SweepPoint, ...]
    calibration_samples: int
    evaluation_samples: int
    notes: tuple[str, ...] = ()
    float_label_accuracy: float | None = None

    def accuracy(self, point: SweepPoint) -> float | None:
        """The primary accuracy metric of ``point`` (see the module docstring)."""
        return {"label_accuracy": point.label_accuracy, "top1_agreement": point.top1_agreement,
                "output_sqnr_db": point.output_sqnr_db}[self.metric]

    def ranked(self) -> list[SweepPoint]:
        """Most accurate first, then fastest."""
        return sorted(self.points, key=lambda p: (-(self.accuracy(p) or 0.0), -p.output_sqnr_db,
                                                  p.latency_ns if p.latency_ns is not None else math.inf,
                                                  -(p.throughput or 0.0)))

    @property
    def front(self) -> list[SweepPoint]:
        return [p for p in self.ranked() if p.pareto_latency or p.pareto_throughput]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model_name, "metric": self.metric, "float_label_accuracy": self.float_label_accuracy,
                "calibration_samples": self.calibration_samples,
                "evaluation_samples": self.evaluation_samples, "notes": list(self.notes),
                "points": [p.to_dict() for p in self.ranked()]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_table(self, front_only: bool = False) -> str:
        """The points as a text table, most accurate first; ``front_only``: the Pareto points only."""
        header = ["method", "io", "target", "batch"]
        labelled = any(p.label_accuracy is not None for p in self.points)
        if labelled:
            header.append("accuracy")
        if any(p.top1_agreement is not None for p in self.points):
            header.append("top-1 vs float")
        header += ["output SQNR", "latency (us)", "throughput (/s)", "NPU (us)", "host (us)", "front"]
        rows = []
        for p in (self.front if front_only else self.ranked()):
            row = [p.quantization, p.io, p.target, str(p.batch)]
            if labelled:
                row.append(_percent(p.label_accuracy))
            if "top-1 vs float" in header:
                row.append(_percent(p.top1_agreement))
            row += [format_db(p.output_sqnr_db), _us(p.latency_ns), _rate(p.throughput), _us(p.latency.npu_ns),
                    _us(p.latency.host_ns), p.front]
            rows.append(row)
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        right = {i for i, h in enumerate(header) if h not in ("method", "io", "target", "front")}

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        out = [line(header).rstrip(), line(["-" * w for w in widths]).rstrip()]
        out += [line(r).rstrip() for r in rows]
        return "\n".join(out)

    def to_markdown(self, front_only: bool = False) -> str:
        """The table as GitHub markdown (for docs)."""
        text = self.to_table(front_only).splitlines()
        header = [c for c in _split(text[0])]
        rows = [_split(line) for line in text[2:]]
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r + [""] * (len(header) - len(r))) + " |" for r in rows]
        return "\n".join(out)

    def to_svg(self) -> str:
        """The metric against modeled latency and throughput, Pareto fronts ringed (one SVG)."""
        scale = 1.0 if self.metric == "output_sqnr_db" else 100.0
        y_label = {"output_sqnr_db": "output SQNR vs float (dB)", "top1_agreement": "top-1 agreement with float (%)",
                   "label_accuracy": "accuracy on the labels (%)"}[self.metric]

        def points(front: str) -> list[svg.Point]:
            out = []
            for p in self.points:
                x = (p.latency_ns / 1000) if front == "L" and p.latency_ns is not None else p.throughput
                y = self.accuracy(p)
                if x is None or y is None or not math.isfinite(y):
                    continue
                out.append(svg.Point(x, y * scale, f"{p.io}, batch {p.batch}",
                                     f"{p.quantization}, {p.io}, {p.target}, batch {p.batch}: "
                                     f"{format_db(p.output_sqnr_db)}, {_us(p.latency_ns)} us, {_rate(p.throughput)}/s",
                                     p.pareto_latency if front == "L" else p.pareto_throughput,
                                     square=p.target == "warboy"))
            return out

        shapes = {"circle_label": "warboy-2pe", "square_label": "warboy"}
        left = svg.scatter(points("L"), x_label="modeled latency per query (us, log scale)", y_label=y_label,
                           title="Accuracy vs latency", log_x=True, width=620, **shapes)
        right = svg.scatter(points("T"), x_label="modeled throughput (samples/s, log scale)", y_label=y_label,
                            title="Accuracy vs throughput", log_x=True, width=620, **shapes)
        width = 1250
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="380" viewBox="0 0 {width} 380">'
                f'<rect width="{width}" height="380" fill="#fff"/><g>{left}</g>'
                f'<g transform="translate(630,0)">{right}</g></svg>')


def _split(line: str) -> list[str]:
    import re

    return [c for c in re.split(r"\s{2,}", line.strip())]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _us(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1000:.1f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _pareto(values: list[tuple[tuple[float, float], float]]) -> list[bool]:
    """For (accuracy key, speed) pairs (both higher is better): which are not dominated."""
    marks = []
    for i, (acc, speed) in enumerate(values):
        dominated = any(o_acc >= acc and o_speed >= speed and (o_acc > acc or o_speed > speed)
                        for j, (o_acc, o_speed) in enumerate(values) if j != i)
        marks.append(not dominated)
    return marks


def _strip_quantization(model: onnx.ModelProto) -> tuple[onnx.ModelProto, bool]:
    keys = {CALIBRATION_KEY, WITHOUT_QUANTIZE_KEY, WITHOUT_DEQUANTIZE_KEY}
    if not any(p.key in keys for p in model.metadata_props):
        return model, False
    out = onnx.ModelProto()
    out.CopyFrom(model)
    kept = [(p.key, p.value) for p in out.metadata_props if p.key not in keys]
    del out.metadata_props[:]
    for key, value in kept:
        out.metadata_props.add(key=key, value=value)
    return out, True


class _Evaluator:
    """Runs programs on the evaluation samples and compares their outputs with float."""

    def __init__(self, model: onnx.ModelProto, samples: list[list[np.ndarray]], labels: np.ndarray | None) -> None:
        from furiosa.common import onnxrt

        session = onnxrt.session(model, spinning=False)
        names = [i.name for i in session.get_inputs()]
        self.samples = samples
        self.expected = [session.run(None, dict(zip(names, s))) for s in samples]
        self.labels = labels
        self.float_accuracy = self.score(self.expected)[2] if labels is not None else None

    def outputs(self, program: Any, samples: Iterable[list[np.ndarray]]) -> list[list[np.ndarray]]:
        from furiosa.device.emulator.executor import Executor

        executor = Executor(program)
        results = []
        for sample in samples:
            feeds = [to_declared(quantize(a, io.qparams), io.qparams) if io.qparams is not None else a
                     for io, a in zip(program.inputs, sample)]
            got = executor.run(feeds)
            results.append([dequantize(from_declared(v, io.qparams), io.qparams) if io.qparams is not None
                            else np.asarray(v, np.float32) for io, v in zip(program.outputs, got)])
        return results

    def score(self, outputs: list[list[np.ndarray]]) -> tuple[float, float | None, float | None]:
        """(output SQNR, top-1 agreement, label accuracy) of a program's outputs."""
        stats = ErrorStats()
        agree = rows = correct = 0
        predictions = []
        for expected, got in zip(self.expected, outputs):
            for e, g in zip(expected, got):
                stats.update(e, g)
            first = next(((e, g) for e, g in zip(expected, got) if e.ndim >= 2 and e.shape[-1] > 1), None)
            if first is not None:
                e, g = first
                agree += int(np.count_nonzero(e.argmax(-1) == g.argmax(-1)))
                rows += int(np.prod(e.shape[:-1]))
                predictions.append(g.argmax(-1).reshape(-1))
        agreement = agree / rows if rows else None
        accuracy = None
        if self.labels is not None and predictions:
            predicted = np.concatenate(predictions)
            if predicted.size != self.labels.size:
                raise ValueError(f"{self.labels.size} label(s) for {predicted.size} prediction(s) on the evaluation "
                                 "samples; give one label per row of the classification output")
            correct = int(np.count_nonzero(predicted == self.labels.reshape(-1)))
            accuracy = correct / predicted.size
        return stats.result().sqnr_db, agreement, accuracy


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def _methods(methods: Iterable[Any] | None) -> list[CalibrationMethod]:
    if methods is None:
        return sorted(CalibrationMethod, key=int)
    out = []
    for method in methods:
        if isinstance(method, str):
            try:
                out.append(CalibrationMethod[method.strip().upper()])
            except KeyError:
                raise ValueError(f"unknown calibration method {method!r}; known: "
                                 + ", ".join(m.name for m in sorted(CalibrationMethod, key=int))) from None
        else:
            out.append(CalibrationMethod(int(method)))
    if not out:
        raise ValueError("give at least one calibration method")
    return out


def sweep(model: Any, calibration_data: Iterable[Sequence[np.ndarray]],
          evaluation_data: Iterable[Sequence[np.ndarray]] | None = None, *,
          methods: Iterable[Any] | None = None, percentiles: Sequence[float] = DEFAULT_PERCENTILES,
          batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES, targets: Sequence[str] = DEFAULT_TARGETS,
          io_variants: Sequence[str] = IO_VARIANTS, labels: np.ndarray | None = None,
          metric: str | None = None, progress: bool = False) -> SweepResult:
    """Compile and evaluate ``model`` over every combination (see the module docstring).

    ``model``: an optimized float ONNX model (``ModelProto``, bytes or path); ranges or I/O
    conversions recorded in its metadata are ignored (the sweep sets them). Samples are as
    ``Calibrator.collect_data`` takes them; the evaluation defaults to the calibration samples.
    ``labels``: optional class labels, one per row of the first classification output over the
    evaluation samples, for task accuracy. ``metric``: ``top1``, ``sqnr`` or ``labels`` (see
    the module docstring; default: ``top1`` for classification outputs, else ``sqnr``).
    """
    from furiosa.compiler.pipeline import TARGETS, compile_data

    from .accuracy import _load

    proto, name = _load(model)
    proto, stripped = _strip_quantization(proto)
    notes: list[str] = []
    if stripped:
        notes.append("the model's calibration ranges and I/O conversions were ignored; the sweep sets its own")
    inputs = model_inputs(proto)
    calibration = check_samples(calibration_data, inputs, "calibration_data")
    evaluation = calibration if evaluation_data is None else check_samples(evaluation_data, inputs, "evaluation_data")
    if evaluation_data is None:
        notes.append("evaluated on the calibration samples (no separate evaluation data)")
    chosen = _methods(methods)
    for target in targets:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    for batch in batch_sizes:
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch sizes must be positive integers, got {batch!r}")
    for variant in io_variants:
        if variant not in IO_VARIANTS:
            raise ValueError(f"unknown I/O variant {variant!r}; known: {', '.join(IO_VARIANTS)}")
    pcts = [float(p) for p in percentiles]
    if any(not 0 < p <= 100 for p in pcts):
        raise ValueError(f"percentiles must be in (0, 100], got {list(percentiles)}")
    if not (targets and batch_sizes and io_variants):
        raise ValueError("give at least one target, batch size and I/O variant")
    label_array = None if labels is None else np.asarray(labels).reshape(-1)
    if metric is not None and metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if metric == "labels" and label_array is None:
        raise ValueError("metric 'labels' needs labels")

    quantizations: list[tuple[CalibrationMethod, float | None]] = []
    for method in chosen:
        if "PERCENTILE" in method.name:
            if not pcts:
                raise ValueError(f"{method.name} needs at least one percentile")
            quantizations += [(method, p) for p in pcts]
        else:
            quantizations.append((method, None))
    timings = [(t, int(b)) for t in targets for b in batch_sizes]
    evaluator = _Evaluator(proto, evaluation, label_array)  # checks the labels before the long work
    classifier = any(e.ndim >= 2 and e.shape[-1] > 1 for e in evaluator.expected[0])
    if metric == "top1" and not classifier:
        raise ValueError("metric 'top1' needs a classification output (rank >= 2, more than one class)")
    total = len(calibration) + len(quantizations) * len(io_variants) * (1 + len(timings))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="Sweeping", unit="step")
    try:
        stats = CalibrationStats(proto, calibration)
        if bar is not None:
            bar.update(len(calibration))
        points: list[SweepPoint] = []
        for method, pct in quantizations:
            ranges = stats.ranges(method, 99.99 if pct is None else pct)
            for variant in io_variants:
                data = quantized_bytes(with_io(proto, variant), ranges)
                base_target, base_batch = timings[0]
                base = compile_data(data, target=base_target, batch_size=base_batch)
                outputs = evaluator.outputs(base, evaluation)
                scores = evaluator.score(outputs)
                if bar is not None:
                    bar.set_postfix_str(f"{method.name} {variant}", refresh=False)
                    bar.update(1)
                for target, batch in timings:
                    program = base if (target, batch) == timings[0] else compile_data(data, target=target,
                                                                                      batch_size=batch)
                    checked, point_scores = "measured", scores
                    if program is not base:
                        first = evaluator.outputs(program, evaluation[:1])[0]
                        if _same(first, outputs[0]):
                            checked = "checked"
                        else:
                            log.warning("%s %s %s b%d: outputs differ from %s b%d; measuring it in full", method.name,
                                        variant, target, batch, base_target, base_batch)
                            point_scores = evaluator.score(evaluator.outputs(program, evaluation))
                    points.append(SweepPoint(method.name, pct, variant, target, batch, point_scores[0],
                                             point_scores[1], point_scores[2], modeled(program), checked))
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    field_name = METRICS[metric] if metric is not None else ("top1_agreement" if classifier else "output_sqnr_db")

    def key(p: SweepPoint) -> tuple[float, float]:
        primary = getattr(p, field_name)
        return (primary if primary is not None else -math.inf, p.output_sqnr_db)

    latency_front = _pareto([(key(p), -(p.latency_ns if p.latency_ns is not None else math.inf)) for p in points])
    throughput_front = _pareto([(key(p), p.throughput if p.throughput is not None else -math.inf) for p in points])
    from dataclasses import replace

    marked = tuple(replace(p, pareto_latency=lf and p.latency_ns is not None,
                           pareto_throughput=tf and p.throughput is not None)
                   for p, lf, tf in zip(points, latency_front, throughput_front))
    unmodeled = sorted({op for p in points for op in p.latency.unmodeled_operators})
    if unmodeled:
        notes.append("no host cost for " + ", ".join(unmodeled) + ": latency and throughput are not modeled there")
    return SweepResult(name, field_name, marked, len(calibration), len(evaluation), tuple(notes),
                       evaluator.float_accuracy)
