#!/usr/bin/env python
"""Emulator speed on a ResNet-50 exported by torch and quantized by this SDK, against onnxruntime fp32.

The vendor's workflow end to end: torchvision's ResNet-50 layout (written out in
tests/optimizer/torch_models.py, as torchvision is not installable here) exported by
``torch.onnx.export`` (opset 18, weights in an external data file), ``optimize_model``,
``Calibrator`` (MinMax over 8 samples), ``quantize``, then compiled and run by the emulator.
onnxruntime runs the exported float model on the same input. The last line is the ratio to
onnxruntime fp32 (goal: 1.0).

    python benchmarks/bench_resnet50_torch.py [--repeat 20]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx

from _emulator import measure, report
from _harness import ROOT  # noqa: F401 (puts the project on sys.path)


def quantized_resnet50(tmp: Path) -> tuple[onnx.ModelProto, bytes, dict[str, np.ndarray]]:
    from furiosa.optimizer import optimize_model
    from furiosa.quantizer import CalibrationMethod, Calibrator, quantize
    from tests.optimizer.torch_models import ResNet50, export

    path = export(ResNet50(), (1, 3, 224, 224), tmp / "resnet50.onnx")
    exported = onnx.load(str(path))
    model = optimize_model(exported)
    name = model.graph.input[0].name
    rng = np.random.default_rng(1)
    calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
    for _ in range(8):
        calibrator.collect_data([[rng.standard_normal((1, 3, 224, 224)).astype(np.float32)]])
    data = quantize(model, calibrator.compute_range())
    feed = {name: np.random.default_rng(7).standard_normal((1, 3, 224, 224)).astype(np.float32)}
    return exported, data, feed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exported, data, feed = quantized_resnet50(Path(tmp))
        figure = measure("ResNet-50 (torch export, furiosa.quantizer MinMax), batch 1", exported, data, feed,
                         args.repeat, qdq=False)
    report(figure)


if __name__ == "__main__":
    main()
