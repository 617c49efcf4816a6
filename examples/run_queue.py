#!/usr/bin/env python
"""Run a model through queues: submit inputs on one side, receive results on the other.

Results can come back in another order than they were submitted when several workers run, so
each input carries a *context* (any Python object) that comes back with its outputs.

1. ``furiosa.runtime.sync.create_queue``: a producer thread submits, the main thread receives
   (``recv(timeout=...)`` in seconds, then iteration until the submitter is closed);
2. ``furiosa.runtime.create_queue`` (asyncio): a producer task and ``async for`` over the receiver;
3. the legacy (SDK 0.9) ``session.create_async``: ``(AsyncSession, CompletionQueue)``; outputs are
   ``TensorArray`` objects (``outputs[0].numpy()``).

    python examples/run_queue.py
"""
from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for examples/zoo.py and examples/_shared.py

from examples._shared import quantized_small_cnn, random_images  # noqa: E402
from furiosa.runtime import create_queue, session, sync  # noqa: E402

rng = np.random.default_rng(0)


def report(title: str, arrived: list[int], classes: dict[int, int], expected: list[int]) -> None:
    in_order = arrived == sorted(arrived)
    print(f"{title}: {len(arrived)} results, {'in submission order' if in_order else 'out of submission order'}; "
          f"first contexts received {arrived[:8]}")
    print(f"  classes match the runner's: {[classes[i] for i in range(len(expected))] == expected}")


def sync_queue(model: bytes, images: np.ndarray, expected: list[int]) -> None:
    # The pair closes both halves at the end of the block.
    with sync.create_queue(model, worker_num=4, input_queue_size=8) as (submitter, receiver):
        def produce() -> None:
            for i, image in enumerate(images):
                submitter.submit([image], context=i)  # blocks while 8 inputs wait already
            submitter.close()  # inputs already submitted still run; then the receiver's iteration ends

        producer = threading.Thread(target=produce)
        producer.start()
        context, outputs = receiver.recv(timeout=10.0)  # seconds; TimeoutError when nothing arrives in time
        arrived, classes = [context], {context: int(outputs[0].argmax())}
        for context, outputs in receiver:  # the rest, until the submitter is closed and drained
            arrived.append(context)
            classes[context] = int(outputs[0].argmax())
        producer.join()
    report("sync queue", arrived, classes, expected)


async def async_queue(model: bytes, images: np.ndarray, expected: list[int]) -> None:
    async with create_queue(model, worker_num=4, input_queue_size=8) as (submitter, receiver):
        async def produce() -> None:
            for i, image in enumerate(images):
                await submitter.submit([image], context=i)  # waits (without blocking the loop) when full
            await submitter.close()

        producer = asyncio.create_task(produce())
        arrived, classes = [], {}
        async for context, outputs in receiver:
            arrived.append(context)
            classes[context] = int(outputs[0].argmax())
        await producer
    report("async queue", arrived, classes, expected)


def legacy_queue(model: bytes, images: np.ndarray, expected: list[int]) -> None:
    submitter, queue = session.create_async(model, worker_num=2, input_queue_size=len(images),
                                            output_queue_size=len(images))
    for i, image in enumerate(images):
        submitter.submit(image, context=i)  # does not block: the input queue holds them all
    submitter.close()
    arrived, classes = [], {}
    for context, outputs in queue:  # ends once the submitter is closed and every result was received
        arrived.append(context)
        classes[context] = int(outputs[0].numpy().argmax())
    queue.close()
    report("legacy session.create_async", arrived, classes, expected)


def main() -> None:
    model = quantized_small_cnn(rng)  # bytes; a path to an .onnx or .enf file works the same
    images = random_images(rng, 32)
    with sync.create_runner(model) as runner:  # the reference: one image at a time
        expected = [int(runner.run([image])[0].argmax()) for image in images]
    print("classes of the first 16 images:", expected[:16])

    sync_queue(model, images, expected)
    asyncio.run(async_queue(model, images, expected))
    legacy_queue(model, images, expected)


if __name__ == "__main__":
    main()
