"""The what-if sweep (issue 9, part 3): accuracy against modeled latency and throughput, Pareto fronts."""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ElementTree

import pytest

from furiosa.compiler.pipeline import compile_data
from furiosa.quantizer import quantize
from furiosa.quantizer.report import modeled, sweep, with_io

from .models import vendor_mnist


@pytest.fixture(scope="module")
def result():
    model, calibration, evaluation = vendor_mnist()
    return sweep(model, calibration[:40], evaluation[:60], methods=["MIN_MAX_ASYM", "PERCENTILE_ASYM", "SQNR_SYM"],
                 percentiles=[99.0, 99.99], batch_sizes=[1, 4], targets=["warboy", "warboy-2pe"])


def _dominates(a, b, metric, speed) -> bool:
    acc_a = (getattr(a, metric), a.output_sqnr_db)
    acc_b = (getattr(b, metric), b.output_sqnr_db)
    return acc_a >= acc_b and speed(a) >= speed(b) and (acc_a > acc_b or speed(a) > speed(b))


def test_every_combination_is_measured_and_timed(vendor, result):
    assert len(result.points) == 4 * 4 * 2 * 2  # quantizations x I/O variants x batch sizes x targets
    assert result.metric == "top1_agreement"
    assert {p.quantization for p in result.points} == {"MIN_MAX_ASYM", "PERCENTILE_ASYM 99", "PERCENTILE_ASYM 99.99",
                                                       "SQNR_SYM"}
    for p in result.points:
        assert p.latency_ns > p.latency.npu_ns > 0 and p.throughput > 0 and 0 <= p.top1_agreement <= 1
        assert p.checked == ("measured" if (p.target, p.batch) == ("warboy", 1) else "checked")
    # accuracy depends on the quantization only; a harsh percentile clips MNIST's bright pixels
    by_quantization = {}
    for p in result.points:
        by_quantization.setdefault(p.quantization, set()).add(round(p.output_sqnr_db, 9))
    assert all(len(values) == 1 for values in by_quantization.values())
    assert by_quantization["PERCENTILE_ASYM 99"] != by_quantization["MIN_MAX_ASYM"]


def test_io_batch_and_target_move_the_modeled_times(vendor, result):
    def point(io, target="warboy-2pe", batch=1, quantization="MIN_MAX_ASYM"):
        return next(p for p in result.points if (p.io, p.target, p.batch, p.quantization) == (io, target, batch,
                                                                                                quantization))
    # uint8 input: no float Quantize on the host; int8 output: no Dequantize
    assert point("uint8-input").latency_ns < point("float").latency_ns
    assert point("int8-output").latency_ns < point("float").latency_ns
    assert point("uint8-input+int8-output").latency_ns < point("uint8-input").latency_ns
    # a bigger batch: longer queries, more samples per second
    assert point("float", batch=4).latency_ns > point("float").latency_ns
    assert point("float", batch=4).throughput > point("float").throughput
    # two fused PEs run the NPU part faster than one
    assert point("float", "warboy-2pe").latency.npu_ns <= point("float", "warboy").latency.npu_ns
    # the modeled numbers are the program's own
    model, *_ = vendor_mnist()
    program = compile_data(_quantized(model, "uint8-input"), target="warboy", batch_size=4)
    assert point("uint8-input", "warboy", 4).latency == modeled(program)


def _quantized(model, io):
    from furiosa.quantizer.report import CalibrationStats

    _, calibration, _ = vendor_mnist()
    return quantize(with_io(model, io), CalibrationStats(model, calibration[:40]).ranges(0))


def test_pareto_marks_are_exactly_the_undominated_points(vendor, result):
    metric = result.metric
    for front, speed in (("pareto_latency", lambda p: -p.latency_ns), ("pareto_throughput", lambda p: p.throughput)):
        for p in result.points:
            dominated = any(_dominates(q, p, metric, speed) for q in result.points if q is not p)
            assert getattr(p, front) == (not dominated), (front, p)
        assert any(getattr(p, front) for p in result.points)
    assert result.front and all(p.front for p in result.front)


def test_table_json_and_plot(vendor, result):
    table = result.to_table()
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["method", "io", "target", "batch"] and len(lines) == 2 + len(result.points)
    assert sum(1 for line in lines[2:] if line.rstrip().endswith(("L", "T", "L,T"))) == len(result.front)
    front = result.to_table(front_only=True).splitlines()
    assert len(front) == 2 + len(result.front)
    markdown = result.to_markdown(front_only=True).splitlines()
    assert markdown[0].startswith("| method | io |") and len(markdown) == 2 + len(result.front)
    data = json.loads(result.to_json())
    assert len(data["points"]) == len(result.points) and data["metric"] == "top1_agreement"
    plot = ElementTree.fromstring(result.to_svg())
    markers = [m for m in plot.iter() if m.tag.endswith(("circle", "rect")) and any(c.tag.endswith("title") for c in m)]
    assert len(markers) == 2 * len(result.points)  # one per point in each panel


def test_labels_and_bad_arguments(vendor):
    model, calibration, evaluation = vendor_mnist()
    from sklearn.datasets import load_digits  # the labels of the images vendor_mnist() resized

    labels = load_digits().target[100:110]
    small = sweep(model, calibration[:10], evaluation[:10], methods=["MIN_MAX_ASYM"], batch_sizes=[1],
                  targets=["warboy"], io_variants=["float"], labels=labels, metric="labels")
    (point,) = small.points
    assert small.metric == "label_accuracy" and 0 < point.label_accuracy <= 1
    assert small.float_label_accuracy is not None and point.pareto_latency and point.pareto_throughput
    with pytest.raises(ValueError, match="unknown calibration method 'nope'; known: MIN_MAX_ASYM"):
        sweep(model, calibration[:2], methods=["nope"])
    with pytest.raises(ValueError, match="unknown target 'tpu'"):
        sweep(model, calibration[:2], targets=["tpu"])
    with pytest.raises(ValueError, match="batch sizes must be positive"):
        sweep(model, calibration[:2], batch_sizes=[0])
    with pytest.raises(ValueError, match="unknown I/O variant"):
        sweep(model, calibration[:2], io_variants=["fp16"])
    with pytest.raises(ValueError, match="2 label"):
        sweep(model, calibration[:2], evaluation[:3], methods=["MIN_MAX_ASYM"], batch_sizes=[1], targets=["warboy"],
              io_variants=["float"], labels=labels[:2])
    assert math.isfinite(point.output_sqnr_db)
