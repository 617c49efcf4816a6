"""Models and data the report tests share, built once per test session.

* a CNN trained in numpy on scikit-learn's digits (``tests/quantizer/digits.py``), optimized;
* the vendor's MNIST with real handwritten digits (scikit-learn's, resized to MNIST's layout);
* :func:`damaged`: a model quantized with one tensor's calibrated range clipped.
"""
from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest

from furiosa.quantizer import CalibrationMethod, Calibrator, quantize

from tests.conftest import VENDOR


@functools.lru_cache(maxsize=1)
def digits_cnn() -> tuple[onnx.ModelProto, list, list, np.ndarray]:
    """(optimized model, calibration samples, evaluation samples, evaluation labels); batch 100."""
    pytest.importorskip("sklearn")
    from furiosa.optimizer import optimize_model
    from tests.quantizer import digits

    train_x, train_y, test_x, test_y = digits.load()
    model = optimize_model(digits.to_onnx(digits.train(train_x, train_y)))
    calibration = [[train_x[i:i + digits.BATCH]] for i in range(0, 300, digits.BATCH)]
    evaluation = [[test_x[i:i + digits.BATCH]] for i in range(0, 300, digits.BATCH)]
    return model, calibration, evaluation, test_y[:300]


@functools.lru_cache(maxsize=1)
def mnist_images(count: int = 300) -> np.ndarray:
    """scikit-learn's digits resized into MNIST's 28x28 layout and normalized like MNIST."""
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    from tests.quantizer.test_end_to_end import mnist_digits

    return mnist_digits(count)


def vendor_mnist() -> tuple[onnx.ModelProto, list, list]:
    """(optimized vendor MNIST, 100 calibration samples, 100 evaluation samples)."""
    if not (VENDOR / "mnist.onnx").is_file():
        pytest.skip("../shared/data/vendor is not available")
    return _vendor_mnist()


@functools.lru_cache(maxsize=1)
def _vendor_mnist() -> tuple[onnx.ModelProto, list, list]:
    from furiosa.optimizer import optimize_model

    model = optimize_model(onnx.load(str(VENDOR / "mnist.onnx")))
    images = mnist_images()
    return model, [[x[None]] for x in images[:100]], [[x[None]] for x in images[100:200]]


def ranges(model: onnx.ModelProto, samples: list) -> dict[str, tuple[float, float]]:
    calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
    calibrator.collect_data(samples)
    return calibrator.compute_range()


def damaged(model: onnx.ModelProto, calibrated: dict[str, tuple[float, float]], tensor: str,
            keep: float = 0.3) -> onnx.ModelProto:
    """``model`` quantized with the range of ``tensor`` clipped to ``keep`` of its ends."""
    clipped = dict(calibrated)
    low, high = clipped[tensor]
    clipped[tensor] = (low * keep, high * keep)
    return onnx.load_from_string(quantize(model, clipped))
