from __future__ import annotations

import numpy as np
import onnx
import pytest

from examples import zoo
from furiosa.optimizer import optimize_model


@pytest.fixture(scope="session")
def small_model() -> onnx.ModelProto:
    """examples.zoo.small_cnn, optimized (every tensor has a value_info)."""
    return optimize_model(zoo.small_cnn())


@pytest.fixture(scope="session")
def small_samples(small_model) -> list[list[np.ndarray]]:
    return [list(feed.values()) for feed in zoo.calibration_data(small_model, 8)]
