"""furiosa.optimizer: prepare a float ONNX model for calibration (spec/toolchain-api.md §2).

``optimize_model`` runs a pipeline of passes (:mod:`furiosa.optimizer.passes`, one module each)
through a small pass manager (:mod:`furiosa.optimizer.manager`).
"""
from __future__ import annotations

from furiosa.common.version import sdk_version

from .api import optimize_model

__version__ = sdk_version()

__all__ = ["optimize_model"]
