"""The queue API (spec §7), sync and async; load; ordering; closing during traffic."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from furiosa import runtime
from furiosa.runtime import errors, sync


def _images(count, seed=4):
    from examples.zoo import calibration_data, small_cnn

    return [d["input"] for d in calibration_data(small_cnn(), count, seed=seed)]


def _expected(cnn_bytes, images):
    with sync.create_runner(cnn_bytes) as runner:
        return [runner.run(x)[0] for x in images]


def test_sync_queue(cnn_bytes):
    images = _images(20)
    expected = _expected(cnn_bytes, images)
    with sync.create_queue(cnn_bytes, worker_num=2, input_queue_size=4) as (submitter, receiver):
        def produce():
            for i, x in enumerate(images):
                submitter.submit(x, context=i)
            submitter.close()
        producer = threading.Thread(target=produce)
        producer.start()
        got = {context: outputs[0] for context, outputs in receiver}
        producer.join()
    assert sorted(got) == list(range(20))
    assert all(np.array_equal(got[i], expected[i]) for i in got)


def test_sync_receiver_timeouts_and_errors(cnn_bytes):
    submitter, receiver = sync.create_queue(cnn_bytes)
    with pytest.raises(TimeoutError):
        receiver.recv(0.05)
    for bad in (-1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="negative or non-finite"):
            receiver.recv(bad)
    with pytest.raises(TypeError):
        submitter.submit(np.zeros((1, 3, 16, 16), np.float16))
    submitter.close()
    with pytest.raises(errors.SessionClosed, match="Submitter has been closed"):
        submitter.submit(_images(1)[0])
    with pytest.raises(errors.SessionTerminated):
        receiver.recv()
    assert receiver.close()
    with pytest.raises(errors.SessionClosed, match="Receiver has been closed"):
        receiver.recv()
    sync.create_runner(cnn_bytes).close()


def test_closing_the_receiver_during_traffic_ends_everyone(cnn_bytes):
    images = _images(8)
    submitter, receiver = sync.create_queue(cnn_bytes, worker_num=2, input_queue_size=2, output_queue_size=1)
    failures = []

    def produce():
        try:
            for _ in range(200):
                submitter.submit(images[0])
        except errors.SessionClosed:
            failures.append("closed")

    producer = threading.Thread(target=produce)
    producer.start()
    receiver.recv(10)
    assert receiver.close()
    producer.join(timeout=30)
    assert not producer.is_alive() and failures == ["closed"]
    assert not [t for t in threading.enumerate() if t.name.startswith("furiosa-queue")]


def test_load_10000_requests_through_create_queue(cnn_bytes):
    images = _images(8)
    expected = _expected(cnn_bytes, images)
    count = 10_000
    with sync.create_queue(cnn_bytes, worker_num=4, input_queue_size=64, output_queue_size=64) as (submitter, receiver):
        def produce():
            for i in range(count):
                submitter.submit(images[i % 8], context=i)
            submitter.close()
        producer = threading.Thread(target=produce)
        producer.start()
        seen = set()
        for context, outputs in receiver:
            assert context not in seen
            seen.add(context)
            assert np.array_equal(outputs[0], expected[context % 8])
        producer.join()
    assert len(seen) == count


def test_load_10000_requests_through_create_async(cnn_bytes):
    from furiosa.runtime import session

    images = _images(8)
    expected = _expected(cnn_bytes, images)
    count = 10_000
    submitter, queue = session.create_async(cnn_bytes, worker_num=4, input_queue_size=64, output_queue_size=64)
    producer = threading.Thread(target=lambda: [submitter.submit(images[i % 8], context=i) for i in range(count)])
    producer.start()
    seen = set()
    for _ in range(count):
        context, outputs = next(queue)
        assert context not in seen
        seen.add(context)
        assert np.array_equal(outputs[0].numpy(), expected[context % 8])
    producer.join()
    submitter.close()
    queue.close()
    assert len(seen) == count


def test_async_queue(cnn_bytes):
    images = _images(12)
    expected = _expected(cnn_bytes, images)

    async def main():
        async with runtime.create_queue(cnn_bytes, worker_num=2, input_queue_size=3) as (submitter, receiver):
            async def produce():
                for i, x in enumerate(images):
                    await submitter.submit(x, context=i)
                await submitter.close()
            task = asyncio.create_task(produce())
            got = {context: outputs[0] async for context, outputs in receiver}
            await task
            return got

    got = asyncio.run(main())
    assert sorted(got) == list(range(12))
    assert all(np.array_equal(got[i], expected[i]) for i in got)


def test_async_recv_cancelled_by_timeout_loses_nothing(cnn_bytes):
    image = _images(1)[0]

    async def main():
        submitter, receiver = await runtime.create_queue(cnn_bytes)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(receiver.recv(), 0.05)
        await submitter.submit(image, context="first")
        context, outputs = await asyncio.wait_for(receiver.recv(), 30)
        await submitter.close()
        await receiver.close()
        return context

    assert asyncio.run(main()) == "first"
