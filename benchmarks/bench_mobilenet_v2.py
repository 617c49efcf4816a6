#!/usr/bin/env python
"""Emulator speed on a depthwise network: a QDQ MobileNet-v2 against onnxruntime fp32.

MobileNet-v2's layout (inverted residuals, 3x3 depthwise convolutions, 224x224 input) is built
in code (examples/zoo.py) and quantized by onnxruntime's ``quantize_static`` (QDQ, per-channel
int8 weights). The last line is the ratio to onnxruntime fp32 (goal: 1.0).

    python benchmarks/bench_mobilenet_v2.py [--repeat 30]
"""
from __future__ import annotations

import argparse

from _emulator import measure, report
from _harness import ROOT  # noqa: F401 (puts the project on sys.path)
from examples.zoo import calibration_data, mobilenet_v2, quantize_qdq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    model = mobilenet_v2()
    qdq = quantize_qdq(model, calibration_data(model, 8))
    feed = calibration_data(model, 1, seed=7)[0]
    report(measure("MobileNet-v2 QDQ (onnxruntime quantize_static), batch 1", model, qdq, feed, args.repeat))


if __name__ == "__main__":
    main()
