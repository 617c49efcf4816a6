"""Calibration speed and memory: furiosa.quantizer.Calibrator vs onnxruntime's quantize_static calibration.

Same ResNet-50 (examples/zoo.resnet50, optimized once), same samples (zoo.calibration_data), MinMax
and Entropy. Each run is a fresh subprocess that loads the model and the samples, then times
the calibration alone (collect + compute ranges); its peak resident memory is the process's own
high-water mark (``VmHWM`` of /proc/self/status, read at the end), measured the same way for both
implementations; the resident memory just before calibration starts is printed too. Our Entropy run is repeated with
128 samples to show that memory does not grow with the number of samples.

    .venv/bin/python benchmarks/bench_calibration.py [--samples 32] [--more 128]

The last line is the Entropy ratio (ours / onnxruntime) for time and peak memory.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, logging, os, sys, time
sys.path.insert(0, {root!r})
import onnx
from examples import zoo
impl, method, count, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024.0 for line in f if line.startswith(key + ":"))
if impl == "ours":
    from furiosa.quantizer import CalibrationMethod, Calibrator
else:
    logging.getLogger().setLevel(logging.ERROR)
    from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, create_calibrator
model = onnx.load(path)
samples = zoo.calibration_data(model, count)
before = status("VmRSS")
start = time.perf_counter()  # imports and inputs are ready: from here on, calibration only
if impl == "ours":
    kind = {{"MinMax": CalibrationMethod.MIN_MAX_ASYM, "Entropy": CalibrationMethod.ENTROPY_ASYM}}[method]
    calibrator = Calibrator(model, kind)
    calibrator.collect_data([list(s.values()) for s in samples])
    ranges = calibrator.compute_range()
else:
    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(samples)
        def get_next(self):
            return next(self.items, None)
    work = os.path.dirname(path)
    calibrator = create_calibrator(path, None, augmented_model_path=os.path.join(work, "augmented.onnx"),
                                   calibrate_method=getattr(CalibrationMethod, method))
    calibrator.collect_data(Reader())
    ranges = calibrator.compute_data()
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "tensors": len(getattr(ranges, "data", ranges)), "peak_mb": status("VmHWM"),
                  "before_mb": before}}))
"""


def measure(impl: str, method: str, count: int, model_path: str) -> dict:
    """Run one calibration in a fresh interpreter; its own timing and memory high-water mark."""
    process = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT)), impl, method, str(count),
                                model_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{impl} {method} failed:\n{stderr}")
    return json.loads(stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--more", type=int, default=128, help="sample count of the flat-memory check")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import onnx

    from examples import zoo
    from furiosa.optimizer import optimize_model

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet50.onnx")
        onnx.save(optimize_model(zoo.resnet50()), path)  # the parent keeps no model while children run
        results = {}
        for method in ("MinMax", "Entropy"):
            for impl in ("onnxruntime", "ours"):
                result = measure(impl, method, args.samples, path)
                results[impl, method] = result
                print(f"{method:8s} {impl:12s} {args.samples:4d} samples  {result['seconds']:7.2f} s  "
                      f"peak RSS {result['peak_mb']:8.1f} MB (before calibrating {result['before_mb']:7.1f} MB, "
                      f"{result['tensors']} tensors)", flush=True)
        more = measure("ours", "Entropy", args.more, path)
        print(f"{'Entropy':8s} {'ours':12s} {args.more:4d} samples  {more['seconds']:7.2f} s  "
              f"peak RSS {more['peak_mb']:8.1f} MB (before calibrating {more['before_mb']:7.1f} MB)", flush=True)
    base = results["ours", "Entropy"]["peak_mb"]
    print(f"ours, Entropy: peak RSS with {args.more} samples / with {args.samples} samples = "
          f"{more['peak_mb'] / base:.3f}; above the memory held before calibrating (the samples themselves): "
          f"{(more['peak_mb'] - more['before_mb']) / (base - results['ours', 'Entropy']['before_mb']):.3f}")
    for method in ("MinMax", "Entropy"):
        ours, theirs = results["ours", method], results["onnxruntime", method]
        line = (f"{method}: time {ours['seconds'] / theirs['seconds']:.3f}x onnxruntime, "
                f"peak memory {ours['peak_mb'] / theirs['peak_mb']:.3f}x onnxruntime")
        print(line)


if __name__ == "__main__":
    main()
