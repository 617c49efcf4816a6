#!/usr/bin/env python
"""Runtime overhead: ``Runner.run`` on the vendor's float MNIST against a bare onnxruntime session.

The vendor's ``mnist_8.onnx`` (a float model: every operator runs on the host, in onnxruntime)
is loaded by ``furiosa.runtime.sync.create_runner``; the reference is an
``onnxruntime.InferenceSession`` on the same file with onnxruntime's default options, fed the
same array. What the runner adds (input checks, the device's bookkeeping, the emulator's step
loop) is the difference. Calls alternate in blocks of 1000 (see :func:`blocks`). The last line is
the ratio (goal 1.1).

    python benchmarks/bench_runtime_overhead.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

from _harness import ROOT, machine

MNIST = ROOT.parent / "shared" / "data" / "vendor" / "mnist_8.onnx"


def blocks(functions, rounds: int, calls: int = 1000, warmup: int = 200, pause: float = 0.05) -> dict[str, float]:
    """Median milliseconds per call over ``rounds`` blocks of ``calls`` calls, blocks alternating.

    Each session has its own onnxruntime thread pool, whose threads keep spinning for a while
    after a run: calls alternating one by one would make each side pay for the other's spinning
    threads. Long blocks, each after a pause (the other pool goes to sleep) and its own warm-up,
    measure each side on a quiet machine.
    """
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            time.sleep(pause)
            for _ in range(warmup):
                function()
            started = time.perf_counter()
            for _ in range(calls):
                function()
            times[name].append((time.perf_counter() - started) / calls)
    return {name: float(np.median(values) * 1e3) for name, values in times.items()}


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
        times = blocks({"runner": lambda: runner.run(x), "onnxruntime": lambda: bare.run(None, {name: x})},
                       args.repeat)
    print(machine())
    print(f"vendor MNIST (float, {os.path.basename(args.model)}), batch 1; outputs identical")
    print(f"Runner.run                 {times['runner'] * 1e3:8.1f} us")
    print(f"onnxruntime session.run    {times['onnxruntime'] * 1e3:8.1f} us")
    print(f"runtime overhead {(times['runner'] - times['onnxruntime']) * 1e3:.1f} us per inference")
    print(f"ratio Runner.run / onnxruntime: {times['runner'] / times['onnxruntime']:.2f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
