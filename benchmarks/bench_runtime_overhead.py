#!/usr/bin/env python
"""Runtime overhead: ``Runner.run`` on the vendor's float MNIST against a bare onnxruntime session.

The vendor's ``mnist_8.onnx`` (a float model: every operator runs on the host, in onnxruntime)
is loaded by ``furiosa.runtime.sync.create_runner``; the reference is an
``onnxruntime.InferenceSession`` on the same file with onnxruntime's default options, fed the
same array. What the runner adds (input checks, the device's bookkeeping, the emulator's step
loop) is the difference. Calls alternate in blocks of 1000, each after a pause and 200 untimed
calls (onnxruntime's pools spin after a run; see _harness.interleaved). The last line is the
ratio (goal 1.1).

    python benchmarks/bench_runtime_overhead.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

from _harness import ROOT, interleaved, machine

MNIST = ROOT.parent / "shared" / "data" / "vendor" / "mnist_8.onnx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--model", default=str(MNIST))
    args = parser.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} not found: pass --model, or run from a checkout beside ../shared")
    import onnxruntime as ort

    from furiosa.runtime import sync

    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    bare = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    name = bare.get_inputs()[0].name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the float model runs on the host: the compiler says so
        runner = sync.create_runner(args.model)
    with runner:
        ours = runner.run(x)[0]
        theirs = bare.run(None, {name: x})[0]
        if not np.array_equal(ours, theirs):
            sys.exit("the runner's outputs differ from onnxruntime's")
        times = interleaved({"runner": lambda: runner.run(x), "onnxruntime": lambda: bare.run(None, {name: x})},
                            args.repeat, warmup=0, inner=1000, settle=200)
    print(machine())
    print(f"vendor MNIST (float, {os.path.basename(args.model)}), batch 1; outputs identical")
    print(f"Runner.run                 {times['runner'] * 1e3:8.1f} us")
    print(f"onnxruntime session.run    {times['onnxruntime'] * 1e3:8.1f} us")
    print(f"runtime overhead {(times['runner'] - times['onnxruntime']) * 1e3:.1f} us per inference")
    print(f"ratio Runner.run / onnxruntime: {times['runner'] / times['onnxruntime']:.2f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
