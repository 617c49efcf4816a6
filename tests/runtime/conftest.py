"""Models and device isolation for the runtime tests."""
from __future__ import annotations

import pytest

from examples.zoo import calibration_data, quantize_qdq, small_cnn


@pytest.fixture(autouse=True)
def private_devices(device_dir):
    """Every runtime test starts with free emulated devices of its own."""
    return device_dir


@pytest.fixture(scope="session")
def cnn_bytes() -> bytes:
    """A small CNN quantized by onnxruntime (QDQ): runs entirely on the emulated NPU."""
    model = small_cnn()
    return quantize_qdq(model, calibration_data(model, 4)).SerializeToString()


@pytest.fixture(scope="session")
def cnn_path(tmp_path_factory, cnn_bytes):
    path = tmp_path_factory.mktemp("models") / "small_cnn_qdq.onnx"
    path.write_bytes(cnn_bytes)
    return path


@pytest.fixture
def image():
    return calibration_data(small_cnn(), 1, seed=11)[0]["input"]
