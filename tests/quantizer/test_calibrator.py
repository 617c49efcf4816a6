"""Calibrator: the vendor's API, errors and messages (spec/toolchain-api.md §3.2-3.3), streaming."""
from __future__ import annotations

import tracemalloc

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from furiosa.quantizer import CalibrationMethod, Calibrator
from furiosa.quantizer.collector import float_tensors


def test_calibration_method_values_and_alphabetical_iteration():
    assert {m.name: int(m) for m in CalibrationMethod} == {
        "MIN_MAX_ASYM": 0, "MIN_MAX_SYM": 1, "ENTROPY_ASYM": 2, "ENTROPY_SYM": 3, "PERCENTILE_ASYM": 4,
        "PERCENTILE_SYM": 5, "MSE_ASYM": 6, "MSE_SYM": 7, "SQNR_ASYM": 8, "SQNR_SYM": 9}
    assert [m.name for m in CalibrationMethod] == sorted(m.name for m in CalibrationMethod)
    assert CalibrationMethod.__doc__.startswith("Calibration method.")
    assert CalibrationMethod.__qualname__ == "CalibrationMethod"


def intermediates(model, sample):
    """Every float tensor of one run, by onnxruntime directly (the oracle)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [n for n in float_tensors(model) if n != model.graph.input[0].name]
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    values = dict(zip(names, session.run(names, {model.graph.input[0].name: sample[0]})))
    values[model.graph.input[0].name] = sample[0]
    return values


def test_min_max_ranges_are_the_exact_extremes_of_every_tensor(small_model, small_samples):
    calibrator = Calibrator(small_model, CalibrationMethod.MIN_MAX_ASYM)
    calibrator.collect_data(small_samples)
    ranges = calibrator.compute_range()
    runs = [intermediates(small_model, s) for s in small_samples]
    initializers = {t.name for t in small_model.graph.initializer}
    expected_names = {small_model.graph.input[0].name} | {o for n in small_model.graph.node for o in n.output}
    assert set(ranges) == expected_names - initializers
    for name, (low, high) in ranges.items():
        assert type(low) is float and type(high) is float
        assert low == pytest.approx(min(float(r[name].min()) for r in runs), abs=1e-6)
        assert high == pytest.approx(max(float(r[name].max()) for r in runs), abs=1e-6)


@pytest.mark.parametrize("method", list(CalibrationMethod))
def test_collecting_in_several_calls_equals_one_call(small_model, small_samples, method):
    once = Calibrator(small_model, method)
    once.collect_data(small_samples)
    twice = Calibrator(small_model.SerializeToString(), method)
    twice.collect_data(small_samples[:3])
    twice.collect_data(iter(small_samples[3:]))
    assert once.compute_range() == twice.compute_range()


def test_memory_does_not_grow_with_the_number_of_samples(small_model, small_samples):
    def peak(count):
        calibrator = Calibrator(small_model, CalibrationMethod.ENTROPY_ASYM)
        calibrator.collect_data(small_samples[:1])
        tracemalloc.start()
        calibrator.collect_data(small_samples[i % len(small_samples)] for i in range(count))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    assert peak(200) < 1.2 * peak(20) + 64 * 1024


def test_verbose_shows_a_progress_bar(small_model, small_samples, capsys):
    calibrator = Calibrator(small_model, CalibrationMethod.PERCENTILE_SYM, percentage=99.0)
    calibrator.collect_data(small_samples)
    quiet = calibrator.compute_range()
    assert capsys.readouterr().err == ""
    assert calibrator.compute_range(verbose=True) == quiet
    assert "Computing ranges" in capsys.readouterr().err


def test_collect_data_and_return_outputs(small_model, small_samples):
    calibrator = Calibrator(small_model, CalibrationMethod.MIN_MAX_ASYM)
    outputs = calibrator._collect_data_and_return_outputs(small_samples[:2])
    expected = intermediates(small_model, small_samples[1])[small_model.graph.output[0].name]
    assert len(outputs) == 2 and len(outputs[1]) == 1
    np.testing.assert_allclose(outputs[1][0], expected, rtol=1e-6)


def test_constructor_errors(small_model):
    with pytest.raises(ValueError, match="failed to decode Protobuf message"):
        Calibrator(b"\x08\x01garbage\xff\xff", CalibrationMethod.MIN_MAX_ASYM)
    with pytest.raises(TypeError):
        Calibrator(small_model, CalibrationMethod.PERCENTILE_SYM, 99.0)  # percentage is keyword-only
    with pytest.raises(ValueError, match="`percentage` was not between 0 and 100: 150"):
        Calibrator(small_model, CalibrationMethod.PERCENTILE_SYM, percentage=150)
    with pytest.raises(ValueError, match="invalid calibration method: 42"):
        Calibrator(small_model, 42)


def test_unoptimized_model_is_refused():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["c1"]), helper.make_node("Relu", ["c1"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(RuntimeError, match="failed to find information on value 'c1' in the `output` and "
                                           "`value_info` fields of the graph"):
        Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)


def test_sample_errors(small_model, small_samples):
    calibrator = Calibrator(small_model, CalibrationMethod.MIN_MAX_ASYM)
    with pytest.raises(RuntimeError, match="collect_data must be called before compute_range"):
        calibrator.compute_range()
    good = small_samples[0][0]
    with pytest.raises(ValueError, match=r"expected 1 input\(s\) but got 2"):
        calibrator.collect_data([[good, good]])
    with pytest.raises(ValueError, match=r"a tensor of shape \[1, 3, 4, 4\] \(float32\) is invalid for input of "
                                         r"shape \[1, 3, 16, 16\] \(float32\)"):
        calibrator.collect_data([[np.zeros((1, 3, 4, 4), np.float32)]])
    with pytest.raises(ValueError, match=r"\(float64\) is invalid"):
        calibrator.collect_data([[good.astype(np.float64)]])
    with pytest.raises(ValueError, match=r"\(uint8\) is invalid"):
        calibrator.collect_data([[good.astype(np.uint8)]])
    with pytest.raises(TypeError, match="'ndarray' object cannot be converted to 'Sequence'"):
        calibrator.collect_data([good])
