"""What the examples share: stand-in images, the quantized small CNN, the SDK's commands.

Each example keeps its own ``numpy`` generator and passes it in, so that its images are the same
whichever other example runs.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from examples.zoo import small_cnn
from furiosa.optimizer import optimize_model
from furiosa.quantizer import CalibrationMethod, Calibrator, quantize


def random_images(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` 16x16 RGB images in [0, 1), NCHW: noise under a random colour tint (stand-ins for real data)."""
    return rng.random((count, 1, 3, 16, 16), dtype=np.float32) * rng.random((count, 1, 3, 1, 1), dtype=np.float32)


def quantized_small_cnn(rng: np.random.Generator) -> bytes:
    """The small CNN, optimized, calibrated on 16 images and quantized (examples/quantize.py)."""
    model = optimize_model(small_cnn())
    calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
    calibrator.collect_data([image] for image in random_images(rng, 16))
    return quantize(model, calibrator.compute_range())


def tool(name: str) -> str:
    """A console script of the SDK: next to this Python (a virtual environment) or on PATH."""
    script = Path(sys.executable).with_name(name)
    return str(script) if script.exists() else (shutil.which(name) or name)
