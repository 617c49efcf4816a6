"""Accuracy after int8 quantization on the emulator: a CNN trained on scikit-learn's digits,
calibrated with every method (spec/toolchain-api.md §3.4), quantized and run with furiosa.runtime."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

pytest.importorskip("sklearn")

from furiosa.optimizer import optimize_model  # noqa: E402
from furiosa.quantizer import CalibrationMethod, Calibrator, quantize  # noqa: E402
from furiosa.runtime import sync  # noqa: E402

from . import digits  # noqa: E402

# Methods whose int8 accuracy must stay within 2 % of float (the bar); the others must run
# and stay useful.
STRICT = {"MIN_MAX_ASYM", "MIN_MAX_SYM", "PERCENTILE_ASYM", "PERCENTILE_SYM", "MSE_ASYM", "MSE_SYM"}


@pytest.fixture(scope="module")
def trained():
    train_x, train_y, test_x, test_y = digits.load()
    params = digits.train(train_x, train_y)
    model = optimize_model(digits.to_onnx(params))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    float_pred = np.concatenate([session.run(None, {"input": test_x[i:i + digits.BATCH]})[0].argmax(1)
                                 for i in range(0, len(test_x), digits.BATCH)])
    return model, train_x, test_x, test_y, float((float_pred == test_y).mean())


def test_the_float_model_learned_the_digits(trained):
    assert trained[4] > 0.9


@pytest.mark.parametrize("method", list(CalibrationMethod), ids=lambda m: m.name)
def test_int8_accuracy_on_the_emulator(trained, method):
    model, train_x, test_x, test_y, float_accuracy = trained
    calibrator = Calibrator(model, method, percentage=99.99)
    calibrator.collect_data([[train_x[i:i + digits.BATCH]] for i in range(0, 500, digits.BATCH)])
    quantized = quantize(model, calibrator.compute_range())
    with sync.create_runner(quantized) as runner:
        pred = np.concatenate([runner.run([test_x[i:i + digits.BATCH]])[0].argmax(1)
                               for i in range(0, len(test_x), digits.BATCH)])
    accuracy = float((pred == test_y).mean())
    bar = 0.98 if method.name in STRICT else 0.9
    assert accuracy >= bar * float_accuracy, f"{method.name}: int8 {accuracy:.3f} vs float {float_accuracy:.3f}"
