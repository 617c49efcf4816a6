#!/usr/bin/env python
"""Emulator speed on a QDQ ResNet-50 against onnxruntime fp32, measured in one run.

ResNet-50 v1.5 is built in code (examples/zoo.py) and quantized by onnxruntime's
``quantize_static`` (QDQ, per-channel int8 weights, int8 activations). The emulator runs the
compiled program; onnxruntime runs the float model and the QDQ model on the same input. Also
printed: how the emulator's outputs compare with onnxruntime's run of the QDQ model, end to end
and layer by layer (each layer fed onnxruntime's own inputs; docs/fidelity.md explains the
difference). The last line is the ratio to onnxruntime fp32 (issue 10's goal: 1.0).

    python benchmarks/bench_resnet50.py [--repeat 20] [--batch 1]
"""
from __future__ import annotations

import argparse

import numpy as np

from _emulator import measure, report
from _harness import ROOT  # noqa: F401 (puts the project on sys.path)
from examples.zoo import calibration_data, quantize_qdq, resnet50


def agreement(qdq, feed) -> str:
    from furiosa.common import onnxrt
    from furiosa.compiler.pipeline import compile_program
    from furiosa.device.emulator.executor import Executor
    from tests.helpers import layer_agreement

    program = compile_program(qdq.SerializeToString())
    ours = Executor(program).run([feed["input"]])[0]
    theirs = onnxrt.session(qdq).run(None, feed)[0]
    out = next(op for op in program.operators if op.kernel == "dequantize")
    scale = program.tensors[out.inputs[0]].qparams.scale[0]
    steps = np.abs(ours.astype(np.float64) - theirs) / scale
    return (f"agreement with onnxruntime's QDQ run: within {steps.max():.2f} step(s), "
            f"{np.mean(steps < 1e-3) * 100:.1f} % exact end to end, "
            f"{layer_agreement(qdq, program, feed) * 100:.4f} % exact layer by layer")


def main(argv: list[str] | None = None, batch: int = 1) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--batch", type=int, default=batch)
    args = parser.parse_args(argv)
    model = resnet50(batch=args.batch)
    qdq = quantize_qdq(model, calibration_data(model, 8))
    feed = calibration_data(model, 1, seed=7)[0]
    figure = measure(f"ResNet-50 v1.5 QDQ (onnxruntime quantize_static), batch {args.batch}", model, qdq, feed,
                     args.repeat)
    if args.batch == 1:
        print(agreement(qdq, feed))
    report(figure)


if __name__ == "__main__":
    main()
