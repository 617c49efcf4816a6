"""Models and device isolation for the profiler tests."""
from __future__ import annotations

import pytest

from examples.zoo import nominal_calibration, small_cnn


@pytest.fixture(autouse=True)
def private_devices(device_dir):
    """Every profiler test starts with free emulated devices of its own."""
    return device_dir


@pytest.fixture(scope="session")
def uint8_model() -> bytes:
    """A small CNN taking uint8 images (1, 3, 32, 32): Lower and the network on the NPU."""
    return nominal_calibration(small_cnn(size=32), 0.0, 6.0, uint8_inputs=(0,)).SerializeToString()


@pytest.fixture(scope="session")
def float_model() -> bytes:
    """The same CNN taking float32 images: Quantize, Unlower and Dequantize on the host."""
    return nominal_calibration(small_cnn(size=32), 0.0, 6.0).SerializeToString()
