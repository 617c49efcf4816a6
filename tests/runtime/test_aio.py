"""The asyncio runner API (spec §5–6): awaitable and context-manager factories, loops."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from furiosa import runtime
from furiosa.runtime import errors


def test_await_and_async_with(cnn_bytes, image):
    async def main():
        runner = await runtime.create_runner(cnn_bytes)
        first = await runner.run(image)
        assert await runner.close()
        async with runtime.create_runner(cnn_bytes) as runner:
            second = await runner.run([image])
            named = await runner.run_with(["output"], {"input": image})
        return first, second, named

    first, second, named = asyncio.run(main())
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[0], named[0])


def test_concurrent_tasks_on_one_runner(cnn_bytes):
    from examples.zoo import calibration_data, small_cnn

    images = [d["input"] for d in calibration_data(small_cnn(), 10, seed=8)]

    async def main():
        async with runtime.create_runner(cnn_bytes, worker_num=3) as runner:
            return await asyncio.gather(*(runner.run(x) for x in images))

    results = asyncio.run(main())
    from furiosa.runtime import sync

    with sync.create_runner(cnn_bytes) as runner:
        assert all(np.array_equal(r[0], runner.run(x)[0]) for r, x in zip(results, images))


def test_a_runner_outlives_its_event_loop(cnn_bytes, image):
    """The serving sample loads in one asyncio.run and predicts in another (spec §14)."""
    holder = {}

    async def load():
        holder["runner"] = await runtime.create_runner(cnn_bytes)

    async def predict():
        return await holder["runner"].run(image)

    asyncio.run(load())
    first = asyncio.run(predict())
    second = asyncio.run(predict())
    assert np.array_equal(first[0], second[0])
    asyncio.run(holder["runner"].close())


def test_runtime_context_and_misuse(cnn_bytes, image):
    async def main():
        async with runtime.Runtime() as rt:
            async with rt.create_runner(cnn_bytes) as runner:
                await runner.run(image)
            future = rt.create_runner(cnn_bytes)
            runner = await future
            with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
                await future
            await runner.close()
            with pytest.raises(errors.SessionClosed):
                await runner.run(image)

    asyncio.run(main())


def test_async_errors_match_sync(cnn_bytes):
    async def main():
        async with runtime.create_runner(cnn_bytes) as runner:
            with pytest.raises(TypeError):
                await runner.run(np.zeros((1, 3, 16, 16), np.float16))
            with pytest.raises(ValueError):
                await runner.run(np.zeros((1, 3, 8, 8), np.float32))
            with pytest.raises(errors.DeviceBusy):
                await runtime.create_runner(cnn_bytes)

    asyncio.run(main())
    with pytest.raises(TypeError):
        runtime.create_runner(cnn_bytes, "warboy*1")
