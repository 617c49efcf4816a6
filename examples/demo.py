#!/usr/bin/env python
"""The demo `make demo` runs: quantize a small CNN, compile it to ENF, run it on the emulated NPU.

1. build a small CNN in code (examples/zoo.py) and quantize it with onnxruntime's
   quantize_static (QDQ), one of the formats the compiler takes;
2. compile it with ``furiosa-compiler`` for the default target (warboy-2pe);
3. load the ENF file with ``furiosa.runtime.sync.create_runner``, print the model summary, the
   placement of every operator, and the outputs of one inference.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.zoo import calibration_data, quantize_qdq, small_cnn  # noqa: E402
from furiosa.compiler import enf  # noqa: E402
from furiosa.runtime import sync  # noqa: E402


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="furiosa-demo-"))
    model = small_cnn()
    quantized = quantize_qdq(model, calibration_data(model, 16))
    source = workdir / "small_cnn_qdq.onnx"
    onnx.save(quantized, source)
    print(f"quantized model: {source}")

    enf_path = workdir / "small_cnn.enf"
    compiler = Path(sys.executable).with_name("furiosa-compiler")
    subprocess.run([str(compiler), str(source), "-o", str(enf_path)], check=True)

    with sync.create_runner(str(enf_path)) as runner:
        runner.model.print_summary()
        print("\nplacement:")
        for op in enf.read(enf_path.read_bytes(), str(enf_path)).operators:  # the ENF file's manifest
            print(f"  {op.unit:4s} {op.name:24s} {op.reason}")
        image = calibration_data(model, 1, seed=42)[0]["input"]
        outputs = runner.run([image])
        print("\noutput (class probabilities):")
        print(np.array2string(outputs[0], precision=4))
        print(f"predicted class: {int(np.argmax(outputs[0]))}")


if __name__ == "__main__":
    main()
