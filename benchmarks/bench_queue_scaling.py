#!/usr/bin/env python
"""Queue API throughput with 2 workers against 1 worker, on a model whose NPU work dominates.

A QDQ ResNet-50 (examples/zoo.py, onnxruntime ``quantize_static``) compiled to ENF: nearly all
of an inference is the emulated NPU's int8 kernels. ``furiosa.runtime.sync.create_queue``
with ``worker_num`` 1 and 2 is fed back to back; each configuration runs in its own process.

By default one inference's kernels already use every core (``FURIOSA_EMU_THREADS``), so a second
worker has little left to use on a 2-core machine: both figures are printed. The ratio on the
last line is worker scaling proper, with each inference on one thread
(``FURIOSA_EMU_THREADS=1``): 2 workers against 1 (goal >= 1.8), which fails if workers
serialize (on the interpreter lock, on a device lock, on a shared session).

    python benchmarks/bench_queue_scaling.py [--inferences 40]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _harness import ROOT, machine

CHILD = r"""
import json, sys, time
import numpy as np
from furiosa.runtime import sync
path, workers, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with sync.create_queue(path, worker_num=workers) as (submitter, receiver):
    x = np.random.default_rng(0).standard_normal(submitter.model.input(0).shape).astype(np.float32)
    for i in range(2 * workers):
        submitter.submit(x, context=i)
    for i in range(2 * workers):
        receiver.recv()
    started = time.perf_counter()
    for i in range(count):
        submitter.submit(x, context=i)
    seen = sorted(receiver.recv()[0] for _ in range(count))
    elapsed = time.perf_counter() - started
assert seen == list(range(count)), "lost or duplicated requests"
print(json.dumps({"per_s": count / elapsed}))
"""


def throughput(enf: str, workers: int, count: int, threads: str | None) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("FURIOSA_EMU_THREADS", None)
    if threads is not None:
        env["FURIOSA_EMU_THREADS"] = threads
    done = subprocess.run([sys.executable, "-c", CHILD, enf, str(workers), str(count)], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inferences", type=int, default=40)
    args = parser.parse_args()
    from examples.zoo import calibration_data, quantize_qdq, resnet50
    from furiosa.compiler.pipeline import compile_bytes

    model = resnet50()
    qdq = quantize_qdq(model, calibration_data(model, 8))
    with tempfile.TemporaryDirectory() as tmp:
        enf = os.path.join(tmp, "resnet50.enf")
        with open(enf, "wb") as f:
            f.write(compile_bytes(qdq.SerializeToString()))
        rows = {}
        for threads in (None, "1"):
            for workers in (1, 2):
                rows[threads, workers] = throughput(enf, workers, args.inferences, threads)
    print(machine())
    print(f"QDQ ResNet-50, {args.inferences} inferences through the queue API, back to back")
    for threads, label in ((None, "default kernel threads"), ("1", "FURIOSA_EMU_THREADS=1")):
        one, two = rows[threads, 1], rows[threads, 2]
        print(f"{label:24s} 1 worker {one:6.1f}/s   2 workers {two:6.1f}/s   ratio {two / one:.2f}")
    print(f"ratio 2 workers / 1 worker (one thread per inference): {rows['1', 2] / rows['1', 1]:.2f} (goal >= 1.8)")


if __name__ == "__main__":
    main()
