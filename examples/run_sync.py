#!/usr/bin/env python
"""Run a model with the blocking runtime API, ``furiosa.runtime.sync``.

1. ``sync.create_runner(model)``: compiles the quantized model for the default device
   (``warboy(2)*1``: both PEs of the first card, fused) and holds the device until closed;
2. ``runner.model``: what the model takes and returns; ``runner.run`` and ``runner.run_with``
   (outputs chosen by name, inputs given by name);
3. ``batch_size=4``: one call runs four images;
4. ``worker_num=4``: several threads call ``run`` on one runner at once.

    python examples/run_sync.py
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for examples/zoo.py and examples/_shared.py

from examples._shared import quantized_small_cnn, random_images  # noqa: E402
from furiosa.runtime import sync  # noqa: E402

rng = np.random.default_rng(0)


def main() -> None:
    model = quantized_small_cnn(rng)  # bytes; a path to an .onnx or .enf file works the same
    images = random_images(rng, 64)

    # 1-2. One runner; the context manager closes it (and frees the device) at the end.
    with sync.create_runner(model) as runner:
        runner.model.print_summary()
        outputs = runner.run([images[0]])  # a list with one array per input (a bare array works too)
        print(f"\nrun: {len(outputs)} output, shape {outputs[0].shape}, {outputs[0].dtype}")
        print("scores:", np.array2string(outputs[0][0], precision=3))
        print("class:", int(outputs[0].argmax()))
        named = runner.run_with(["output"], {"input": images[0]})
        print(f"run_with(['output'], {{'input': ...}}) gives the same scores: {np.array_equal(named[0], outputs[0])}")
        # The reference for what follows: every image, one at a time.
        expected = np.concatenate([runner.run([image])[0] for image in images])

    # 3. batch_size=4: every input and output gets 4 times the first dimension.
    with sync.create_runner(model, batch_size=4) as runner:
        print(f"\nbatch_size=4: input {runner.model.input(0).shape}, output {runner.model.output(0).shape}")
        batched = np.concatenate([runner.run([images[i:i + 4, 0]])[0] for i in range(0, len(images), 4)])
        print(f"{len(images)} images in {len(images) // 4} calls, same scores as one by one: "
              f"{np.array_equal(batched, expected)}")

    # 4. worker_num=4: up to four inferences run at once, from any number of threads.
    with sync.create_runner(model, worker_num=4) as runner:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda image: runner.run([image])[0], images))
        elapsed = time.perf_counter() - started
        print(f"\nworker_num=4: {len(images)} inferences from 4 threads in {elapsed * 1000:.1f} ms "
              f"({len(images) / elapsed:.0f}/s on this machine), same scores: "
              f"{np.array_equal(np.concatenate(results), expected)}")
    print("classes of the first 16 images:", expected.argmax(1)[:16].tolist())


if __name__ == "__main__":
    main()
