#!/usr/bin/env python
"""Emulator speed and agreement on a QDQ ResNet-50, against onnxruntime, measured in one run.

Builds ResNet-50 v1.5 in code (examples/zoo.py), quantizes it with onnxruntime's
``quantize_static`` (QDQ, per-channel weights, int8 activations), then times on the same input:
the emulator running the compiled program, onnxruntime on the float model and onnxruntime on
the QDQ model (median of repeated runs after a warm-up). It also reports how the emulator's
outputs compare with onnxruntime's run of the QDQ model, end to end and layer by layer
(each layer fed onnxruntime's own inputs). The last line is the ratio against onnxruntime's
QDQ run; the Foundation's bar is 1.5, the project's goal (issue 10) is 1.0 against float32.

    python benchmarks/bench_resnet50.py [--repeat 20] [--batch 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.zoo import calibration_data, quantize_qdq, resnet50  # noqa: E402
from furiosa.compiler.pipeline import compile_program  # noqa: E402
from furiosa.device.emulator.executor import Executor  # noqa: E402
from tests.helpers import layer_agreement, ort_session as session  # noqa: E402


def median_ms(run, repeat: int) -> float:
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    model = resnet50(batch=args.batch)
    qdq = quantize_qdq(model, calibration_data(model, 8))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet50_qdq.onnx")
        onnx.save(qdq, path)
        started = time.perf_counter()
        program = compile_program(path)
        compile_s = time.perf_counter() - started
    executor = Executor(program)
    feed = calibration_data(model, 1, seed=7)[0]
    x = feed["input"]
    float_session, qdq_session = session(model), session(qdq)

    emulator_ms = median_ms(lambda: executor.run([x]), args.repeat)
    fp32_ms = median_ms(lambda: float_session.run(None, feed), args.repeat)
    qdq_ms = median_ms(lambda: qdq_session.run(None, feed), args.repeat)

    ours = executor.run([x])[0]
    theirs = qdq_session.run(None, feed)[0]
    out_scale = next(op for op in program.operators if op.kernel == "dequantize")
    scale = program.tensors[out_scale.inputs[0]].qparams.scale[0]
    steps = np.abs(ours.astype(np.float64) - theirs) / scale
    npu = sum(op.unit == "npu" for op in program.operators)
    print(f"machine: {os.cpu_count()} cores, onnxruntime {ort.__version__}, numpy {np.__version__}, "
          f"kernels={os.environ.get('FURIOSA_EMU_KERNELS', 'auto')}")
    print(f"ResNet-50 v1.5 QDQ (quantize_static, per-channel), batch {args.batch}: "
          f"{npu}/{len(program.operators)} operators on the NPU, compiled in {compile_s:.2f} s")
    print(f"emulator        {emulator_ms:8.1f} ms")
    print(f"onnxruntime QDQ {qdq_ms:8.1f} ms")
    print(f"onnxruntime fp32{fp32_ms:8.1f} ms")
    print(f"agreement with onnxruntime QDQ: outputs within {steps.max():.2f} step(s), "
          f"{np.mean(steps < 1e-3) * 100:.1f} % exact end to end, "
          f"{layer_agreement(qdq, program, feed) * 100:.4f} % exact layer by layer")
    print(f"emulator / onnxruntime fp32: {emulator_ms / fp32_ms:.2f}x (goal 1.0)")
    print(f"emulator / onnxruntime QDQ: {emulator_ms / qdq_ms:.2f}x (bar 1.5)")


if __name__ == "__main__":
    main()
