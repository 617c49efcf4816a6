#!/usr/bin/env python
"""Compile a quantized model to an ENF file, with the ``furiosa-compiler`` command and from Python.

1. quantize a small CNN built in code (examples/zoo.py; examples/quantize.py explains the steps);
2. ``furiosa-compiler model.onnx -o model.enf -v --dot-graph ... --analyze-memory ...``: the
   compiler's progress, where every operator runs (NPU or host) and why, a Graphviz graph of the
   program and an HTML report of its memory plan;
3. the same from Python with ``furiosa.compiler.compile_bytes`` (the emulator's compiler API),
   here for a single PE (``warboy``) and a batch of 2;
4. what each ENF file takes and returns (``runner.model``), one inference on each, and the error a
   program compiled for another target gives.

    python examples/compile.py
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for examples/zoo.py and examples/_shared.py

from examples._shared import quantized_small_cnn, random_images, tool  # noqa: E402
from furiosa.compiler import compile_bytes  # noqa: E402
from furiosa.runtime import FuriosaRuntimeError, sync  # noqa: E402

rng = np.random.default_rng(0)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="furiosa-compile-") as tmp:
        run(Path(tmp))


def run(workdir: Path) -> None:
    source = workdir / "small_cnn_quantized.onnx"
    source.write_bytes(quantized_small_cnn(rng))

    # 2. The command line. It writes its progress and the placement report (-v) to stderr;
    #    the example shows them here. --no-cache: compile even if the compiler cache holds the
    #    program already (otherwise a second run skips the six steps and says so).
    arguments = [source.name, "-o", "small_cnn.enf", "-v", "--no-cache",
                 "--dot-graph", "small_cnn.dot", "--analyze-memory", "small_cnn_memory.html"]
    print("$ furiosa-compiler", " ".join(arguments))
    done = subprocess.run([tool("furiosa-compiler"), *arguments], cwd=workdir, capture_output=True, text=True)
    print(done.stdout + done.stderr, end="")
    if done.returncode != 0:
        raise SystemExit(f"furiosa-compiler failed with exit status {done.returncode}")

    dot = (workdir / "small_cnn.dot").read_text()
    html = (workdir / "small_cnn_memory.html").read_text()
    print(f"\nsmall_cnn.enf: {(workdir / 'small_cnn.enf').stat().st_size} bytes")
    npu, host = dot.count('unit="npu"'), dot.count('unit="host"')
    print(f"small_cnn.dot: {npu} NPU and {host} host operators (render: dot -Tsvg small_cnn.dot -o small_cnn.svg)")
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    print(f"small_cnn_memory.html: {len(html)} characters, {title.group(1).strip() if title else 'memory report'!r}")

    # 3. From Python: ENF bytes, here for one PE (device warboy(1)*1) and batches of 2.
    enf = compile_bytes(source, target="warboy", batch_size=2)
    (workdir / "small_cnn_1pe_b2.enf").write_bytes(enf)
    print(f"\ncompile_bytes(target='warboy', batch_size=2): {len(enf)} bytes -> small_cnn_1pe_b2.enf")

    # 4. What each program takes and returns, and one inference each on the same images.
    images = random_images(rng, 2)[:, 0]  # two images, (2, 3, 16, 16)
    with sync.create_runner(workdir / "small_cnn.enf") as runner:  # default device: warboy(2)*1
        show("small_cnn.enf on warboy(2)*1", runner.model)
        one_by_one = np.concatenate([runner.run([image[None]])[0] for image in images])
    with sync.create_runner(workdir / "small_cnn_1pe_b2.enf", device="warboy(1)*1") as runner:
        show("small_cnn_1pe_b2.enf on warboy(1)*1", runner.model)
        batched = runner.run([images])[0]
    print(f"\nclasses one by one {one_by_one.argmax(1).tolist()}, as a batch {batched.argmax(1).tolist()}, "
          f"largest difference {np.abs(one_by_one - batched).max():.6f}")

    # A program runs only on the kind of device it was compiled for.
    try:
        sync.create_runner(workdir / "small_cnn_1pe_b2.enf").close()
    except FuriosaRuntimeError as error:
        print(f"\nsingle-PE program on the fused device: {type(error).__name__}: {error}")


def show(title: str, model) -> None:
    print(f"\n{title}:")
    for kind, tensors in (("input", model.inputs()), ("output", model.outputs())):
        for tensor in tensors:
            print(f"  {kind:6s} {tensor.name:8s} shape {tensor.shape}, {tensor.dtype}, format {tensor.format}, "
                  f"{tensor.size} bytes")


if __name__ == "__main__":
    main()
