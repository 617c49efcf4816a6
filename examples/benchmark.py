#!/usr/bin/env python
"""Benchmark a compiled model with ``furiosa-bench``.

1. quantize a small CNN built in code (examples/zoo.py) and compile it with ``furiosa-compiler``;
2. ``furiosa-bench --workload L``: one query at a time (latency);
3. ``furiosa-bench --workload T -w 2 -t 2``: several queries in flight (throughput);
4. read back the JSON reports written with ``-o`` and compare the two runs.

The report has two kinds of figures: *measured* ones (wall-clock time of the emulator on this
machine) and *modeled* ones (what the Warboy would take, from the timing model).

    python examples/benchmark.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for examples/zoo.py and examples/_shared.py

from examples._shared import quantized_small_cnn, tool  # noqa: E402

rng = np.random.default_rng(0)


def command(workdir: Path, name: str, *arguments: str) -> None:
    """Run one of the SDK's commands in ``workdir``, showing the command line and its output."""
    print(f"$ {name} {' '.join(arguments)}", flush=True)
    done = subprocess.run([tool(name), *arguments], cwd=workdir, capture_output=True, text=True)
    print(done.stdout + done.stderr, end="" if done.stderr.endswith("\n") else "\n")
    if done.returncode != 0:
        raise SystemExit(f"{name} failed with exit status {done.returncode}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="furiosa-bench-") as tmp:
        run(Path(tmp))


def run(workdir: Path) -> None:
    (workdir / "small_cnn_quantized.onnx").write_bytes(quantized_small_cnn(rng))
    command(workdir, "furiosa-compiler", "small_cnn_quantized.onnx", "-o", "small_cnn.enf")

    # At least 300 queries each; add --duration SECONDS for longer runs.
    command(workdir, "furiosa-bench", "small_cnn.enf", "--workload", "L", "-n", "300", "-o", "latency.json")
    command(workdir, "furiosa-bench", "small_cnn.enf", "--workload", "T", "-w", "2", "-t", "2", "-n", "300",
            "-o", "throughput.json")

    # The JSON reports (the vendor's keys, plus a "modeled" section).
    reports = {name: json.loads((workdir / f"{name}.json").read_text()) for name in ("latency", "throughput")}
    rows = [
        ("mode", lambda r: r["result"]["mode"]),
        ("queries", lambda r: r["result"]["total num queries"]),
        ("measured QPS", lambda r: r["result"]["qps"]),
        ("measured median latency", lambda r: r["result"]["latency stats"]["50th percentile"]),
        ("measured 99th percentile", lambda r: r["result"]["latency stats"]["99th percentile"]),
        ("modeled NPU time per query", lambda r: r["modeled"]["npu time per query"]),
        ("modeled QPS on the Warboy", lambda r: r["modeled"]["qps"]),
    ]
    print(f"{'from the JSON reports':28s} {'latency.json':>16s} {'throughput.json':>16s}")
    for label, value in rows:
        print(f"{label:28s} {value(reports['latency'])!s:>16s} {value(reports['throughput'])!s:>16s}")
    print(f"model: {reports['latency']['model_data']['path']}, compiler {reports['latency']['compiler_version']}")
    # The emulator computes on this machine's CPU, so more queries in flight need not raise the
    # measured QPS here; the modeled figures are what the card would do.


if __name__ == "__main__":
    main()
