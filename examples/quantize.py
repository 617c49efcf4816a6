#!/usr/bin/env python
"""Quantize a float ONNX model for the NPU, as with the vendor's SDK.

1. save a float model (a small CNN built in code by examples/zoo.py; your own ``model.onnx``
   works the same) and load it back with ``onnx.load``;
2. ``furiosa.optimizer.optimize_model``: static shapes, folded constants, a ``value_info`` for
   every tensor (what the calibrator needs);
3. ``furiosa.quantizer.Calibrator`` with two calibration methods (MIN_MAX_ASYM and
   PERCENTILE_SYM), fed with image batches; the ranges they find side by side;
4. ``furiosa.quantizer.quantize``: the model with the ranges recorded in it, as bytes, written to
   a file that ``furiosa-compiler`` and ``create_runner`` take;
5. ``ModelEditor``: a variant taking uint8 data and returning int8 scores (no float conversion
   on the host), and a check that both quantized models agree with the float model.

    python examples/quantize.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for examples/zoo.py and examples/_shared.py

from examples._shared import random_images  # noqa: E402
from examples.zoo import small_cnn  # noqa: E402
from furiosa.optimizer import optimize_model  # noqa: E402
from furiosa.quantizer import (  # noqa: E402
    CalibrationMethod,
    Calibrator,
    ModelEditor,
    TensorType,
    get_output_names,
    get_pure_input_names,
    quantize,
)
from furiosa.runtime import sync  # noqa: E402

rng = np.random.default_rng(0)


def to_uint8(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """What an input converted to uint8 takes: ``x`` quantized under its calibrated range.

    The range is widened to contain 0; ``x = scale * (u - zero_point)`` (docs/quantizer.md).
    """
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255
    zero_point = round(-low / scale)
    return np.clip(np.round(x / scale) + zero_point, 0, 255).astype(np.uint8)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="furiosa-quantize-") as tmp:
        run(Path(tmp))


def run(workdir: Path) -> None:
    # 1. The float model, as a file (this is where your own exported model would come in).
    onnx.save(small_cnn(), workdir / "small_cnn.onnx")
    model = onnx.load(workdir / "small_cnn.onnx")
    print(f"float model: {len(model.graph.node)} nodes, inputs {get_pure_input_names(model)}, "
          f"outputs {get_output_names(model)}")

    # 2. Optimize: the result has static shapes and a value_info for every tensor.
    model = optimize_model(model)
    print(f"optimized:   {len(model.graph.node)} nodes, {len(model.graph.value_info)} value_info entries")

    # 3. Calibrate on data like what the model will see. Each sample is a list with one array
    #    per input; collect_data takes any iterable and can be called as often as needed
    #    (memory stays flat), here with a generator of 32 samples.
    calibration_images = random_images(rng, 32)
    calibrators = {
        "MIN_MAX_ASYM": Calibrator(model, CalibrationMethod.MIN_MAX_ASYM),
        "PERCENTILE_SYM 99.9": Calibrator(model, CalibrationMethod.PERCENTILE_SYM, percentage=99.9),
    }
    ranges = {}
    for name, calibrator in calibrators.items():
        calibrator.collect_data([image] for image in calibration_images)
        ranges[name] = calibrator.compute_range()  # {tensor name: (min, max)} for every float tensor
    print(f"\ncalibration ranges of the first tensors ({len(ranges['MIN_MAX_ASYM'])} tensors in all):")
    print(f"  {'tensor':14s} {'MIN_MAX_ASYM':>22s} {'PERCENTILE_SYM 99.9':>22s}")
    for tensor in list(ranges["MIN_MAX_ASYM"])[:6]:
        cells = [f"({lo:+.3f}, {hi:+.3f})" for lo, hi in (ranges[name][tensor] for name in calibrators)]
        print(f"  {tensor:14s} {cells[0]:>22s} {cells[1]:>22s}")

    # 4. Quantize: the model, unchanged but for the ranges recorded in its metadata, as bytes.
    quantized = quantize(model, ranges["MIN_MAX_ASYM"])
    path = workdir / "small_cnn_quantized.onnx"
    path.write_bytes(quantized)
    print(f"\nquantized model: {path.name}, {len(quantized)} bytes "
          f"(metadata: {[entry.key for entry in onnx.load_from_string(quantized).metadata_props]})")

    # 5. ModelEditor: take uint8 data (the input quantized under its calibrated range, so the host
    #    has no float to convert) and return int8 scores. It edits the model's metadata in place,
    #    so edit a copy, then quantize it with the same ranges.
    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    editor = ModelEditor(edited)
    editor.convert_input_type("input", TensorType.UINT8)
    editor.convert_output_type("output", TensorType.INT8)
    quantized_u8 = quantize(edited, ranges["MIN_MAX_ASYM"])
    (workdir / "small_cnn_quantized_u8.onnx").write_bytes(quantized_u8)
    print(f"uint8-in / int8-out model: small_cnn_quantized_u8.onnx, {len(quantized_u8)} bytes, metadata:")
    for entry in onnx.load_from_string(quantized_u8).metadata_props:
        value = entry.value if len(entry.value) < 60 else f"{len(entry.value)} characters of YAML"
        print(f"  {entry.key}: {value}")

    # Check both against the float model (onnxruntime) on images not used for calibration.
    images = random_images(rng, 16)
    reference = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = np.concatenate([reference.run(None, {"input": image})[0] for image in images])
    with sync.create_runner(quantized) as runner:
        print("\nquantized model:", runner.model.input(0), "->", runner.model.output(0))
        scores = np.concatenate([runner.run([image])[0] for image in images])
    low, high = ranges["MIN_MAX_ASYM"]["input"]
    with sync.create_runner(quantized_u8) as runner:
        print("edited model:   ", runner.model.input(0), "->", runner.model.output(0))
        scores_i8 = np.concatenate([runner.run([to_uint8(image, low, high)])[0] for image in images])

    print(f"\non {len(images)} new images:")
    print(f"  int8 model vs float model: largest probability difference {np.abs(scores - expected).max():.4f}, "
          f"same top-1 class for {int((scores.argmax(1) == expected.argmax(1)).sum())}/{len(images)}")
    print(f"  uint8/int8 model output dtype {scores_i8.dtype}, first image {scores_i8[0].tolist()}")
    print(f"  uint8/int8 model vs int8 model: same top-1 class for "
          f"{int((scores_i8.argmax(1) == scores.argmax(1)).sum())}/{len(images)}")


if __name__ == "__main__":
    main()
