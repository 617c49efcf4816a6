#!/usr/bin/env python
"""Profile inferences with ``furiosa.runtime.profiler``.

Two kinds of time appear side by side, labelled: *measured* host time (the ``Runtime`` spans:
whole inferences and the operators the host runs) and *modeled* NPU time (the ``NPU`` spans: what
the Warboy would take, from the timing model; docs/profiler.md).

1. ``profile(file=...)``: a Chrome trace file, with your own spans from ``profiler.record``;
   open it at https://ui.perfetto.dev or chrome://tracing;
2. ``profile(format=RecordFormat.PandasDataFrame)``: a pandas DataFrame, ``pause``/``resume``,
   and the vendor's printed reports;
3. ``FURIOSA_PROFILER_OUTPUT_PATH``: trace a whole program without changing its code.

    python examples/profile.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for examples/zoo.py and examples/_shared.py

from examples._shared import quantized_small_cnn, random_images  # noqa: E402
from furiosa.runtime.profiler import RecordFormat, profile  # noqa: E402
from furiosa.runtime.sync import create_runner  # noqa: E402

rng = np.random.default_rng(0)

# A program that knows nothing about profiling, traced in part 3.
APP = """\
import numpy as np
from furiosa.runtime.sync import create_runner

with create_runner("small_cnn_quantized.onnx") as runner:
    for _ in range(3):
        runner.run([np.random.rand(1, 3, 16, 16).astype(np.float32)])
"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="furiosa-profile-") as tmp:
        run(Path(tmp))


def run(workdir: Path) -> None:
    model_path = workdir / "small_cnn_quantized.onnx"
    model_path.write_bytes(quantized_small_cnn(rng))
    images = random_images(rng, 4)

    # 1. A Chrome trace. Everything the runner does inside the profile() block is recorded.
    trace_path = workdir / "trace.json"
    with open(trace_path, "w") as output:
        with profile(file=output) as profiler:
            with create_runner(model_path) as runner:
                with profiler.record("warm up"):
                    runner.run([images[0]])
                with profiler.record("three inferences"):
                    for image in images[1:]:
                        runner.run([image])
    events = json.loads(trace_path.read_text())
    spans = [e for e in events if e.get("ph") == "X"]
    lanes = sorted({e["args"]["name"] for e in events if e.get("name") == "thread_name"})
    kinds = Counter(e["args"].get("time", "your records") for e in spans)
    print(f"Chrome trace: {trace_path.name}, {trace_path.stat().st_size} bytes, {len(spans)} spans "
          f"({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))})")
    print("lanes:", "; ".join(lanes))
    print("inferences:", sum(e["name"] == "Inference" for e in spans),
          "| your records:", [e["name"] for e in spans if e["cat"] == ""])

    # 2. A DataFrame; pause() leaves the warm-up out.
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with create_runner(model_path) as runner:
            profiler.pause()
            with profiler.record("warm up"):
                runner.run([images[0]])
            profiler.resume()
            with profiler.record("two inferences"):
                for image in images[1:3]:
                    runner.run([image])
    df = profiler.get_pandas_dataframe()
    print(f"\nDataFrame: {len(df)} rows, columns {list(df.columns)}")
    print("records:", df[df["cat"] == ""]["name"].tolist())
    durations = df.groupby(["cat", "name"])["dur"].agg(["count", "mean"]).rename(columns={"mean": "mean (ns)"})
    print(durations.to_string(float_format=lambda ns: f"{ns:,.0f}"))
    npu = profiler.get_npu_pandas_dataframe()
    execution = npu[npu["name"] == "Execution"]["dur"].mean()
    inference = profiler.get_pandas_dataframe_with_filter("name", "Inference")["dur"].mean()
    print(f"one inference: {inference / 1000:.1f} us measured on this machine (the emulator computing), "
          f"of which the Warboy would spend {execution / 1000:.2f} us in the NPU (modeled)")
    print()
    profiler.print_summary()
    profiler.print_inferences()
    profiler.print_npu_executions()
    profiler.print_npu_operators()
    profiler.print_external_operators()

    # 3. Tracing through the environment: the program above, unchanged, run with the variable set.
    (workdir / "app.py").write_text(APP)
    env = dict(os.environ, FURIOSA_PROFILER_OUTPUT_PATH="app_trace.json")
    subprocess.run([sys.executable, "app.py"], cwd=workdir, env=env, check=True)
    app_spans = [e for e in json.loads((workdir / "app_trace.json").read_text()) if e.get("ph") == "X"]
    print(f"\nFURIOSA_PROFILER_OUTPUT_PATH=app_trace.json python app.py: {len(app_spans)} spans, "
          f"{sum(e['name'] == 'Inference' for e in app_spans)} inferences, "
          f"{sum(e['name'] == 'Execution' for e in app_spans)} NPU executions")


if __name__ == "__main__":
    main()
