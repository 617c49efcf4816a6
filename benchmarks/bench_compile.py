#!/usr/bin/env python
"""Compile speed: a QDQ ResNet-50 compiled cold and then found in the compiler cache.

The model (examples/zoo.resnet50 quantized by onnxruntime's ``quantize_static``) is written to
a file; ``furiosa.compiler.cache.compile_data`` (what ``create_runner`` and
``furiosa-compiler`` call) compiles it with an empty cache directory (cold), then again (served
from the cache: key computation, read, checksum verification, ENF parsing). The reference
measured in the same run is onnxruntime creating an inference session for the same file
(graph optimization and kernel preparation). Issue 10's goals are absolute: cold <= 3 s,
cached <= 0.1 s; the last line gives both as fractions of their goal.

    python benchmarks/bench_compile.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import onnx

from _harness import machine
from examples.zoo import calibration_data, quantize_qdq, resnet50

COLD_GOAL_S, CACHED_GOAL_S = 3.0, 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    model = resnet50()
    qdq = quantize_qdq(model, calibration_data(model, 8))
    cold, cached, session = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet50_qdq.onnx")
        onnx.save(qdq, path)
        from furiosa.common import onnxrt
        from furiosa.compiler import cache

        for i in range(args.repeat):
            os.environ["FC_CACHE_STORE_URL"] = os.path.join(tmp, f"cache{i}")
            os.environ.pop("FC_CACHE_ENABLED", None)
            cache.reset()
            with open(path, "rb") as f:
                data = f.read()
            started = time.perf_counter()
            program = cache.compile_data(data, path)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            again = cache.compile_data(data, path)
            cached.append(time.perf_counter() - started)
            assert again.operators == program.operators, "the cached program differs from the compiled one"
            started = time.perf_counter()
            onnxrt.session(data)
            session.append(time.perf_counter() - started)
    cold_s, cached_s, session_s = (float(np.median(v)) for v in (cold, cached, session))
    print(machine())
    print(f"ResNet-50 QDQ ({len(program.operators)} operators), median of {args.repeat}")
    print(f"cold compile           {cold_s:7.3f} s  (goal {COLD_GOAL_S} s)")
    print(f"from the cache         {cached_s:7.3f} s  (goal {CACHED_GOAL_S} s)")
    print(f"onnxruntime session    {session_s:7.3f} s  (reference: onnxruntime preparing the same file)")
    print(f"ratio to goal: cold {cold_s / COLD_GOAL_S:.2f}, cached {cached_s / CACHED_GOAL_S:.2f} (goal <= 1.0 each)")


if __name__ == "__main__":
    main()
