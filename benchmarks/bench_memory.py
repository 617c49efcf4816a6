#!/usr/bin/env python
"""Peak memory of running a QDQ ResNet-50: the emulator against onnxruntime on the same model.

Each measurement is a fresh process that imports what it needs, notes its resident memory,
loads the model and runs 3 inferences, then reports its high-water mark (``VmHWM``) minus the
resident memory before loading. The emulator loads the compiled ENF file (as a deployment
does: ``furiosa-compiler`` ahead of time, then ``create_runner``) and, separately, the ONNX
file (compiled in the process); onnxruntime loads the QDQ model and the float model. The
last line is the emulator's ENF figure over onnxruntime's on the QDQ model (goal <= 1.5).

    python benchmarks/bench_memory.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import onnx

from _harness import ROOT, machine

CHILD = r"""
import json, sys, warnings
import numpy as np
kind, path = sys.argv[1], sys.argv[2]
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024.0 for line in f if line.startswith(key + ":"))
if kind == "emulator":
    from furiosa.runtime import sync
else:
    import onnxruntime as ort
x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
before = status("VmRSS")
if kind == "emulator":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runner = sync.create_runner(path)
    for _ in range(3):
        runner.run(x)
else:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, {session.get_inputs()[0].name: x})
print(json.dumps({"peak_mb": status("VmHWM") - before}))
"""


def peak(kind: str, path: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", CHILD, kind, path], env=env, check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]


def main() -> None:
    from examples.zoo import calibration_data, quantize_qdq, resnet50
    from furiosa.compiler.pipeline import compile_bytes

    model = resnet50()
    qdq = quantize_qdq(model, calibration_data(model, 8))
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: os.path.join(tmp, name) for name in ("float.onnx", "qdq.onnx", "qdq.enf")}
        onnx.save(model, paths["float.onnx"])
        onnx.save(qdq, paths["qdq.onnx"])
        with open(paths["qdq.enf"], "wb") as f:
            f.write(compile_bytes(paths["qdq.onnx"]))
        figures = {
            "emulator, ENF file": peak("emulator", paths["qdq.enf"]),
            "emulator, QDQ ONNX (compiled in the process)": peak("emulator", paths["qdq.onnx"]),
            "onnxruntime, QDQ ONNX": peak("onnxruntime", paths["qdq.onnx"]),
            "onnxruntime, float ONNX": peak("onnxruntime", paths["float.onnx"]),
        }
    print(machine())
    print("ResNet-50, peak resident memory above the process's memory before loading the model:")
    for label, mb in figures.items():
        print(f"  {label:46s} {mb:7.1f} MB")
    ratio = figures["emulator, ENF file"] / figures["onnxruntime, QDQ ONNX"]
    print(f"ratio emulator (ENF) / onnxruntime (same QDQ model): {ratio:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
