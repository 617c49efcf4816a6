#!/usr/bin/env python
"""Run a model with the asyncio runtime API, ``furiosa.runtime``.

1. ``runner = await create_runner(model)``, ``await runner.run(...)``, ``await runner.close()``;
2. ``async with create_runner(model, worker_num=4) as runner``: many tasks share one runner,
   started together with ``asyncio.gather``; up to ``worker_num`` inferences run at once while
   the event loop stays free for other work (here a ticker task that keeps running).

    python examples/run_async.py
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for examples/zoo.py and examples/_shared.py

from examples._shared import quantized_small_cnn, random_images  # noqa: E402
from furiosa.runtime import create_runner  # noqa: E402

rng = np.random.default_rng(0)


async def classify(runner, index: int, image: np.ndarray) -> tuple[int, int]:
    """One request: the image's index and its class."""
    outputs = await runner.run([image])
    return index, int(outputs[0].argmax())


async def ticker(stop: asyncio.Event) -> int:
    """Other work on the same event loop: counts how often it got to run meanwhile."""
    ticks = 0
    while not stop.is_set():
        ticks += 1
        await asyncio.sleep(0.001)
    return ticks


async def main() -> None:
    model = quantized_small_cnn(rng)  # bytes; a path to an .onnx or .enf file works the same
    images = random_images(rng, 64)

    # 1. Awaiting create_runner gives the runner; close it when done.
    runner = await create_runner(model)
    print(f"runner: input {runner.model.input(0).shape} {runner.model.input(0).dtype}, "
          f"output {runner.model.output(0).shape}")
    outputs = await runner.run([images[0]])
    print("scores:", np.array2string(outputs[0][0], precision=3), "class:", int(outputs[0].argmax()))
    expected = [int((await runner.run([image]))[0].argmax()) for image in images]  # one at a time
    await runner.close()

    # 2. async with: closed at the end of the block. 64 tasks at once, 4 inferences in flight.
    async with create_runner(model, worker_num=4) as runner:
        stop = asyncio.Event()
        ticks = asyncio.create_task(ticker(stop))
        started = time.perf_counter()
        results = await asyncio.gather(*(classify(runner, i, image) for i, image in enumerate(images)))
        elapsed = time.perf_counter() - started
        stop.set()
        print(f"\n{len(results)} concurrent tasks done in {elapsed * 1000:.1f} ms "
              f"({len(results) / elapsed:.0f} inferences/s on this machine); the event loop stayed free: "
              f"the ticker ran {await ticks} times meanwhile")
    classes = [cls for _, cls in sorted(results)]
    print("classes of the first 16 images:", classes[:16])
    print("same classes as one at a time:", classes == expected)


if __name__ == "__main__":
    asyncio.run(main())
