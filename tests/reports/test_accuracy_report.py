"""The per-layer accuracy report (issue 9, part 1): a deliberately damaged layer is ranked first and
the recommended suggestion, applied, repairs it; on the digits CNN and on the vendor's MNIST."""
from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import onnx
import pytest

from furiosa.compiler.pipeline import compile_data
from furiosa.quantizer import CalibrationMethod, Calibrator, quantize
from furiosa.quantizer.report import CalibrationStats, accuracy_report, keep_in_float
from furiosa.runtime import sync

from .models import damaged, digits_cnn, ranges, vendor_mnist


@pytest.fixture(scope="module")
def digits():
    model, calibration, evaluation, labels = digits_cnn()
    return model, calibration, evaluation, labels, ranges(model, calibration)


@pytest.fixture(scope="module")
def digits_baseline(digits):
    model, calibration, evaluation, _, calibrated = digits
    return accuracy_report(onnx.load_from_string(quantize(model, calibrated)), calibration, evaluation)


def _predict(quantized: bytes, samples: list) -> np.ndarray:
    with sync.create_runner(quantized) as runner:
        return np.concatenate([runner.run(sample)[0].argmax(-1) for sample in samples])


def test_a_healthy_model_has_no_bad_layer_and_every_view_is_measured(digits_baseline):
    report = digits_baseline
    assert {layer.tensor for layer in report.layers} == {"input", "relu", "pool", "flat", "logits"}
    assert not report.bad_layers
    for layer in report.layers:
        assert layer.accumulated.elements == layer.isolated.elements > 0
        assert 25 < layer.accumulated.sqnr_db < 80 and layer.accumulated.cosine > 0.999
    # pass-through layers keep their input's parameters: they add no error of their own
    assert report.layer("pool").own.sqnr_db == math.inf and report.layer("pool").range_owner == "relu"
    assert report.layer("flat").own.sqnr_db == math.inf and report.layer("flat").range_owner == "relu"
    # the graph input is quantized by the Quantize operator: all views are the rounding of its range
    source = report.layer("input")
    assert source.kernel == "quantize" and source.own == source.isolated == source.accumulated
    assert report.outputs[0].top1_agreement > 0.98
    assert report.latency is not None and report.latency.latency_ns > report.latency.npu_ns > 0


@pytest.mark.parametrize("tensor", ["relu", "logits"])
def test_a_clipped_range_is_ranked_first_and_fixed_by_the_suggestion(digits, digits_baseline, tensor):
    model, calibration, evaluation, labels, calibrated = digits
    broken = damaged(model, calibrated, tensor)
    report = accuracy_report(broken, calibration, evaluation)
    worst = report.worst(1)[0]
    assert worst.tensor == tensor and worst.bad and report.bad_layers == [worst]
    assert worst.clipped > 0.001 and "outside the int8 range" in worst.diagnosis
    healthy = digits_baseline.layer(tensor).accumulated.sqnr_db
    assert worst.accumulated.sqnr_db < healthy - 15
    suggestion = worst.recommended
    assert suggestion is not None and suggestion.kind in ("calibration_method", "wider_range")
    assert set(suggestion.changes) == {tensor}
    before, after = suggestion.outcome.tensor_sqnr_db
    assert before == pytest.approx(worst.accumulated.sqnr_db) and after > healthy - 1.0
    assert suggestion.outcome.output_sqnr_db[1] > digits_baseline.outputs[0].metrics.sqnr_db - 1.0
    assert suggestion.outcome.top1_agreement[1] >= digits_baseline.outputs[0].top1_agreement
    # applied by hand through the runtime, the suggestion gives back the undamaged accuracy
    healthy_accuracy = (_predict(quantize(model, calibrated), evaluation) == labels).mean()
    broken_accuracy = (_predict(broken.SerializeToString(), evaluation) == labels).mean()
    repaired_accuracy = (_predict(report.apply(suggestion), evaluation) == labels).mean()
    assert broken_accuracy < healthy_accuracy <= repaired_accuracy + 0.01
    # the other suggestions were tried and measured too
    kinds = {s.kind for s in worst.suggestions}
    assert "keep_float" in kinds and all(s.outcome is not None for s in worst.suggestions)


@pytest.mark.parametrize("tensor", ["input.3", "input.11"])
def test_vendor_mnist_damaged_layer_is_found_and_repaired(vendor, tensor):
    model, calibration, evaluation = vendor_mnist()
    calibrated = ranges(model, calibration)
    healthy = accuracy_report(onnx.load_from_string(quantize(model, calibrated)), calibration, evaluation)
    report = accuracy_report(damaged(model, calibrated, tensor), calibration, evaluation)
    worst = report.worst(1)[0]
    assert worst.tensor == tensor and worst.bad
    # the damage propagates: downstream tensors are worse end to end, but they add no error themselves
    downstream = [layer for layer in report.layers if layer.operator > worst.operator]
    assert all(layer.accumulated.sqnr_db < healthy.layer(layer.tensor).accumulated.sqnr_db - 10 for layer in downstream)
    assert all(layer.own.sqnr_db > report.bad_sqnr_db for layer in downstream)
    fix = worst.recommended
    assert fix is not None and fix.outcome.tensor_sqnr_db[1] > healthy.layer(tensor).accumulated.sqnr_db - 1.0
    assert fix.outcome.output_sqnr_db[1] > healthy.outputs[0].metrics.sqnr_db - 1.0
    assert fix.outcome.top1_agreement[1] == pytest.approx(healthy.outputs[0].top1_agreement)
    # and the fixed model, compiled afresh, is measured as healthy
    repaired = accuracy_report(onnx.load_from_string(report.apply(fix)), calibration, evaluation)
    assert not repaired.bad_layers


def test_a_layer_kept_in_float_runs_on_the_host_with_float_weights(digits, digits_baseline):
    model, calibration, evaluation, _, calibrated = digits
    kept, kept_ranges = keep_in_float(model, ["Conv_0", "Relu_1"], calibrated)
    program = compile_data(quantize(kept, kept_ranges))
    convs = [op for op in program.operators if op.kernel == "conv"]
    assert convs == []  # the convolution is no int8 kernel any more
    host = [op for op in program.operators if op.kernel == "onnx"]
    assert len(host) == 1 and {"Conv", "Relu"} <= {n["op_type"] for n in host[0].attrs["nodes"]}
    subgraph = onnx.load_from_string(program.blobs[host[0].attrs["model"]])
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in subgraph.graph.initializer}
    conv = next(n for n in model.graph.node if n.name == "Conv_0")
    original = next(onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.name == conv.input[1])
    assert any(w.dtype == np.float32 and np.array_equal(w, original) for w in weights.values())
    # the hand-over to the int8 MaxPool keeps the layer's range; computed in float from the quantized
    # input, the layer is closer to float than its int8 kernel, and no better than its own grid
    report = accuracy_report(onnx.load_from_string(quantize(kept, kept_ranges)), calibration, evaluation)
    boundary = report.layer("relu/float_output")
    int8 = digits_baseline.layer("relu")
    assert (boundary.scale, boundary.zero_point) == (int8.scale, int8.zero_point)
    assert int8.accumulated.sqnr_db + 1.0 < boundary.accumulated.sqnr_db <= boundary.grid.sqnr_db + 0.01
    assert boundary.unit == "host" and boundary.kernel == "quantize"
    with pytest.raises(ValueError, match="no node named 'nope'"):
        keep_in_float(model, ["nope"], calibrated)


@pytest.mark.parametrize("method", sorted(CalibrationMethod, key=int), ids=lambda m: m.name)
def test_one_pass_of_statistics_gives_each_methods_ranges(digits, method):
    model, calibration, *_ = digits
    stats = _stats(model, calibration)
    calibrator = Calibrator(model, method, percentage=99.9)
    calibrator.collect_data(calibration)
    assert stats.ranges(method, 99.9) == calibrator.compute_range()


_STATS: dict = {}


def _stats(model, calibration) -> CalibrationStats:
    if "digits" not in _STATS:
        _STATS["digits"] = CalibrationStats(model, calibration)
    return _STATS["digits"]


def test_predicted_sqnr_follows_the_measured_one(digits, digits_baseline):
    model, calibration, *_ = digits
    stats = _stats(model, calibration)
    layer = digits_baseline.layer("relu")
    predicted = stats.predicted_sqnr_db("relu", [layer.calibrated_range, (0.0, layer.calibrated_range[1] * 0.3)])
    assert predicted[0] == pytest.approx(layer.grid.sqnr_db, abs=3.0)
    assert predicted[1] < predicted[0] - 15


def test_json_and_html_are_complete_and_self_contained(digits):
    model, calibration, evaluation, _, calibrated = digits
    report = accuracy_report(damaged(model, calibrated, "relu"), calibration, evaluation)
    data = json.loads(report.to_json())
    assert data["ranking"][0] == "relu" and len(data["layers"]) == 5
    relu = next(layer for layer in data["layers"] if layer["tensor"] == "relu")
    assert relu["bad"] and relu["suggestions"][0]["recommended"] and relu["suggestions"][0]["outcome"]
    assert sum(relu["histogram"]["counts"]) > 0 and len(relu["histogram"]["edges"]) == 49
    assert next(layer for layer in data["layers"] if layer["tensor"] == "pool")["own"]["exact"] is True
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert not re.search(r"<script|<link|<img|src=|url\(|@import", page, re.I)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * page.count("<svg")
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(charts) == 1 + len(report.layers)  # the overview and one chart per layer
    for chart in charts:
        ElementTree.fromstring(chart)  # well-formed SVG
    assert "relu" in report.summary() and "[recommended]" in report.summary()


def test_bad_arguments_are_named(digits):
    model, calibration, evaluation, *_ = digits
    with pytest.raises(ValueError, match=r"evaluation_data\[0\] has shape \[3, 1, 8, 8\] for input 'input'"):
        accuracy_report(model, calibration, [[np.zeros((3, 1, 8, 8), np.float32)]])
    with pytest.raises(ValueError, match="no calibration ranges"):
        accuracy_report(model, None, evaluation)
    with pytest.raises(TypeError, match="sequence of samples"):
        accuracy_report(model, np.zeros((100, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="holds 2 array"):
        accuracy_report(model, [[calibration[0][0], calibration[0][0]]])
