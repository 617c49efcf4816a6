"""Bad calibration data and parameters: the quantizer's documented errors (spec/toolchain-api.md
§3.3), statistics that are not polluted by refused samples, and what the compiler says about
unusable ranges."""
from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest

from furiosa.common.errors import InvalidModelError
from furiosa.compiler.pipeline import compile_data
from furiosa.quantizer import CalibrationMethod, Calibrator, quantize

from .conftest import TIME_LIMIT, refused, within

SHAPE = (1, 3, 16, 16)


@functools.lru_cache(maxsize=None)
def optimized() -> onnx.ModelProto:
    from examples.zoo import small_cnn
    from furiosa.optimizer import optimize_model

    return optimize_model(small_cnn())


def samples(count: int = 3, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.random(SHAPE, dtype=np.float32)] for _ in range(count)]


def _with(value: float, count: int = 1) -> np.ndarray:
    array = np.random.default_rng(1).random(SHAPE, dtype=np.float32)
    array.flat[:count] = value
    return array


BAD_SAMPLES = [
    # (label, the dataset, the error, words of the message)
    ("NaN", [[_with(np.nan)]], ValueError, ("'input'", "NaN", "finite")),
    ("all NaN", [[np.full(SHAPE, np.nan, np.float32)]], ValueError, ("'input'", "768")),
    ("+Inf", [[_with(np.inf, 3)]], ValueError, ("'input'", "3 NaN or infinite")),
    ("-Inf", [[_with(-np.inf)]], ValueError, ("'input'", "finite")),
    ("float64", [[np.zeros(SHAPE)]], ValueError, ("float64", "[1, 3, 16, 16] (float32)")),
    ("float16", [[np.zeros(SHAPE, np.float16)]], ValueError, ("float16",)),
    ("int64", [[np.zeros(SHAPE, np.int64)]], ValueError, ("int64",)),
    ("uint8", [[np.zeros(SHAPE, np.uint8)]], ValueError, ("uint8",)),
    ("bool", [[np.zeros(SHAPE, bool)]], ValueError, ("bool",)),
    ("object", [[np.zeros(SHAPE, object)]], ValueError, ("object",)),
    ("wrong shape", [[np.zeros((1, 16, 16, 3), np.float32)]], ValueError, ("[1, 16, 16, 3]",)),
    ("no batch axis", [[np.zeros((3, 16, 16), np.float32)]], ValueError, ("[3, 16, 16]",)),
    ("two tensors", [[np.zeros(SHAPE, np.float32)] * 2], ValueError, ("expected 1 input(s) but got 2",)),
    ("no tensor", [[]], ValueError, ("expected 1 input(s) but got 0",)),
    ("bare array as a sample", [np.zeros(SHAPE, np.float32)], TypeError, ("ndarray", "Sequence")),
    ("list instead of an array", [[np.zeros(SHAPE).tolist()]], TypeError, ("list",)),
    ("None as a sample", [None], TypeError, ("NoneType",)),
    ("a string as a sample", ["image.png"], TypeError, ("str",)),
]


@pytest.mark.parametrize("method", [CalibrationMethod.MIN_MAX_ASYM, CalibrationMethod.ENTROPY_SYM,
                                    CalibrationMethod.PERCENTILE_ASYM, CalibrationMethod.MSE_SYM], ids=str)
@pytest.mark.parametrize("label, dataset, error, words", BAD_SAMPLES, ids=[c[0] for c in BAD_SAMPLES])
def test_bad_samples_are_refused_and_leave_the_statistics_alone(method, label, dataset, error, words):
    calibrator = Calibrator(optimized(), method)
    calibrator.collect_data(samples())
    before = calibrator.compute_range()
    with within(TIME_LIMIT, label), pytest.raises(error) as info:
        calibrator.collect_data(dataset)
    refused(info.value, *words)
    assert calibrator.compute_range() == before


@pytest.mark.parametrize("dataset, error", [
    (np.zeros((4, 1, 3, 16, 16), np.float32), TypeError), (None, TypeError), (3, TypeError),
], ids=["one array", "None", "an int"])
def test_a_dataset_that_is_not_a_sequence(dataset, error):
    calibrator = Calibrator(optimized(), CalibrationMethod.MIN_MAX_ASYM)
    with pytest.raises(error):
        calibrator.collect_data(dataset)
    with pytest.raises(RuntimeError, match="collect_data must be called before compute_range"):
        calibrator.compute_range()


def test_a_refused_sample_ends_the_call_but_keeps_what_came_before():
    """Samples before the bad one are recorded (the error names the problem; nothing is undone)."""
    good = samples(2)
    reference = Calibrator(optimized(), CalibrationMethod.MIN_MAX_ASYM)
    reference.collect_data(good)
    calibrator = Calibrator(optimized(), CalibrationMethod.MIN_MAX_ASYM)
    with pytest.raises(ValueError, match="finite"):
        calibrator.collect_data(good + [[_with(np.nan)]] + samples(2, seed=9))
    assert calibrator.compute_range() == reference.compute_range()


@pytest.mark.parametrize("layout", ["big-endian", "non-contiguous", "Fortran order", "read-only"])
def test_odd_memory_layouts_calibrate_like_contiguous_data(layout):
    data = samples(2)
    reference = Calibrator(optimized(), CalibrationMethod.ENTROPY_ASYM)
    reference.collect_data(data)
    odd = []
    for (array,) in data:
        if layout == "big-endian":
            array = array.astype(">f4")
        elif layout == "non-contiguous":
            wide = np.zeros((1, 3, 16, 32), np.float32)
            wide[..., ::2] = array
            array = wide[..., ::2]
        elif layout == "Fortran order":
            array = np.asfortranarray(array)
        else:
            array = array.copy()
            array.setflags(write=False)
        odd.append([array])
    calibrator = Calibrator(optimized(), CalibrationMethod.ENTROPY_ASYM)
    calibrator.collect_data(odd)
    assert calibrator.compute_range() == reference.compute_range()


@pytest.mark.parametrize("kwargs, error, words", [
    ({"percentage": 150}, ValueError, "between 0 and 100: 150"), ({"percentage": float("nan")}, ValueError, "nan"),
    ({"percentage": -1}, ValueError, "-1"), ({"percentage": "99"}, TypeError, "number"),
], ids=repr)
def test_bad_percentages(kwargs, error, words):
    with pytest.raises(error, match=words):
        Calibrator(optimized(), CalibrationMethod.PERCENTILE_SYM, **kwargs)


@pytest.mark.parametrize("method, error", [(42, ValueError), (-1, ValueError), ("MIN_MAX_ASYM", TypeError),
                                           (None, TypeError), (1.0, TypeError)], ids=repr)
def test_bad_methods(method, error):
    with pytest.raises(error):
        Calibrator(optimized(), method)


@pytest.mark.parametrize("model, error, words", [
    (b"\x00\x01garbage", ValueError, "failed to decode Protobuf message"), (b"", ValueError, "Protobuf"),
    ("model.onnx", TypeError, "str"), (None, TypeError, "NoneType"),
], ids=repr)
def test_bad_models_for_the_calibrator(model, error, words):
    with pytest.raises(error, match=words):
        Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)


def test_an_unoptimized_model_is_named():
    from examples.zoo import small_cnn

    with pytest.raises(RuntimeError, match="failed to find information on value"):
        Calibrator(small_cnn(), CalibrationMethod.MIN_MAX_ASYM)


# --- ranges handed to quantize() and what the compiler makes of them -------------------------------------------------
def _ranges() -> dict[str, tuple[float, float]]:
    calibrator = Calibrator(optimized(), CalibrationMethod.MIN_MAX_ASYM)
    calibrator.collect_data(samples())
    return calibrator.compute_range()


@pytest.mark.parametrize("bounds, words", [
    ((float("nan"), 1.0), "not finite"), ((0.0, float("inf")), "not finite"), ((-float("inf"), 0.0), "not finite"),
    ((3.0, -3.0), "minimum above its maximum"),
], ids=repr)
def test_unusable_ranges_are_recorded_by_quantize_and_refused_by_the_compiler(bounds, words):
    """quantize() records what it is given (0.10 does no validation); the compiler names the tensor."""
    ranges = _ranges()
    target = next(name for name in ranges if name.startswith("fc_"))  # the Gemm's output (Softmax reads it)
    for name in ("input", target):
        data = quantize(optimized(), {**ranges, name: bounds})
        with within(TIME_LIMIT), pytest.raises(InvalidModelError) as info:
            compile_data(data)
        refused(info.value, f"{name!r}", words)


@pytest.mark.parametrize("bounds, error", [((1.0,), IndexError), ((), IndexError), (("a", "b"), ValueError),
                                           (None, TypeError)], ids=repr)
def test_malformed_ranges_for_quantize(bounds, error):
    with pytest.raises(error):
        quantize(optimized(), {"input": bounds})


def test_degenerate_but_finite_ranges_compile():
    """Empty, tiny and huge finite ranges give valid (if coarse) parameters, never an error."""
    from furiosa.device.emulator.executor import Executor

    ranges = _ranges()
    for bounds in ((0.0, 0.0), (1e-30, 2e-30), (-1e38, 1e38), (5.0, 5.0)):
        program = compile_data(quantize(optimized(), {**ranges, "input": bounds}))
        outputs = Executor(program).run([samples(1)[0][0]])
        assert np.isfinite(outputs[0]).all(), bounds
