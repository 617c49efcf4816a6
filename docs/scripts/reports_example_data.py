"""Data for the examples of docs/reports.md: real handwritten digits in the vendor MNIST's layout.

Writes, into the directory given (default: the current one):

* ``cal.npy`` (200 images) and ``eval.npy`` (400 images), shape ``[N, 1, 28, 28]`` float32:
  scikit-learn's bundled 8x8 digits, resized to MNIST's 20x20 box inside 28x28 and normalized
  with MNIST's mean and deviation (as tests/quantizer/test_end_to_end.py does); ``labels.npy``
  holds the evaluation images' classes;
* ``mnist_damaged.onnx``: the vendor's MNIST, optimized and quantized with MIN_MAX_ASYM on
  ``cal.npy``, with the range of tensor ``input.3`` (the first Gemm + Relu) clipped to 30 % of
  its maximum, the damage the accuracy report must find.

Usage: ``python docs/scripts/reports_example_data.py [OUTPUT_DIR] [--mnist PATH]``; needs
scikit-learn and scipy.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx


def digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` scikit-learn digits as MNIST-like images, and their labels."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.zeros((count, 1, 28, 28), np.float32)
    for i, image in enumerate(data.images[:count] / 16.0):
        images[i, 0, 4:24, 4:24] = np.clip(zoom(image, 2.5, order=1), 0, 1)
    return ((images - 0.1307) / 0.3081).astype(np.float32), data.target[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=".")
    parser.add_argument("--mnist", default=str(Path(__file__).resolve().parents[3] / "shared/data/vendor/mnist.onnx"))
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    images, labels = digits(600)
    np.save(out / "cal.npy", images[:200])
    np.save(out / "eval.npy", images[200:])
    np.save(out / "labels.npy", labels[200:])

    from furiosa.optimizer import optimize_model
    from furiosa.quantizer import CalibrationMethod, Calibrator, quantize

    model = optimize_model(onnx.load(args.mnist))
    calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
    calibrator.collect_data([[image[None]] for image in images[:200]])
    ranges = calibrator.compute_range()
    low, high = ranges["input.3"]
    ranges["input.3"] = (low, 0.3 * high)
    (out / "mnist_damaged.onnx").write_bytes(quantize(model, ranges))
    print(f"wrote cal.npy, eval.npy, labels.npy and mnist_damaged.onnx to {out}")


if __name__ == "__main__":
    main()
