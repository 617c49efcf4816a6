"""Runner inputs of every wrong dtype, shape, count and name, through every API: the documented
exception (``TypeError`` for a dtype, ``ValueError`` for a shape or count, ``TensorNameNotFound``
for a name; ``InvalidInput`` in the legacy session), a message naming the input, and a runner that
keeps serving correct results. Odd memory layouts (non-contiguous, Fortran order, read-only,
big-endian, negative strides, broadcast views, memory maps) are accepted, give the same outputs
and are never modified.
"""
from __future__ import annotations

import asyncio
import warnings

import numpy as np
import pytest

from furiosa.runtime import errors as rt_errors

from .conftest import TIME_LIMIT, refused, within
from .corpus import qdq_cnn

SHAPE = (1, 3, 16, 16)


@pytest.fixture(autouse=True)
def _devices(devices, cache_dir):
    return devices


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(5).random(SHAPE, dtype=np.float32)


def _full(dtype, value=1) -> np.ndarray:
    return np.full(SHAPE, value, dtype=dtype)


#: (label, the inputs, the error of the current API, words of the message)
BAD_DTYPES = [
    ("float64", lambda: _full(np.float64), "float64"),
    ("float16", lambda: _full(np.float16), "float16"),
    ("longdouble", lambda: _full(np.longdouble), "float"),
    ("complex64", lambda: _full(np.complex64), "complex64"),
    ("complex128", lambda: _full(np.complex128), "complex128"),
    ("bool", lambda: _full(np.bool_, True), "bool"),
    ("uint64 beyond 2**24", lambda: _full(np.uint64, 2**24 + 1), "uint64"),
    ("uint64 that wraps in int64", lambda: _full(np.uint64, 2**64 - 1), "uint64"),
    ("int64 minimum", lambda: _full(np.int64, -(2**63)), "int64"),
    ("int32 beyond 2**24", lambda: _full(np.int32, -(2**24) - 1), "int32"),
    ("str", lambda: np.full(SHAPE, "1"), "<U1"),
    ("bytes", lambda: np.full(SHAPE, b"1"), "|S1"),
    ("object", lambda: np.full(SHAPE, None), "object"),
    ("object of floats", lambda: np.full(SHAPE, 1.0, dtype=object), "object"),
    ("datetime64", lambda: np.zeros(SHAPE, "datetime64[s]"), "datetime64"),
    ("timedelta64", lambda: np.zeros(SHAPE, "timedelta64[s]"), "timedelta64"),
    ("void", lambda: np.zeros(SHAPE, "V4"), "V4"),
    ("structured", lambda: np.zeros(SHAPE, [("a", "f4")]), "a"),
    ("nested list of floats", lambda: np.ones(SHAPE).tolist(), "float64"),
]
BAD_SHAPES = [
    ("NHWC", lambda: np.ones((1, 16, 16, 3), np.float32), "(1, 16, 16, 3)"),
    ("no batch axis", lambda: np.ones((3, 16, 16), np.float32), "(3, 16, 16)"),
    ("extra axis", lambda: np.ones((1, 1, 3, 16, 16), np.float32), "(1, 1, 3, 16, 16)"),
    ("batch of two", lambda: np.ones((2, 3, 16, 16), np.float32), "(2, 3, 16, 16)"),
    ("no elements", lambda: np.ones((0, 3, 16, 16), np.float32), "(0, 3, 16, 16)"),
    ("scalar", lambda: np.float32(1), "()"),
    ("flat", lambda: np.ones(768, np.float32), "(768,)"),
]
BAD_COUNTS = [
    ("no tensor", lambda: [], "0 input"),
    ("two tensors", lambda: [np.ones(SHAPE, np.float32)] * 2, "2 input"),
    ("a thousand tensors", lambda: [np.ones(SHAPE, np.float32)] * 1000, "1000 input"),
]
NOT_TENSORS = [
    ("None", lambda: None, "NoneType"),
    ("a string", lambda: "image.png", "str"),
    ("bytes", lambda: b"\x00" * 3072, "bytes"),
    ("a dict", lambda: {"input": np.ones(SHAPE, np.float32)}, "dict"),
    ("an int", lambda: 3, "int"),
]


def _cases():
    for label, make, words in BAD_DTYPES:
        yield label, make, TypeError, words
    for label, make, words in BAD_SHAPES:
        yield label, make, ValueError, words
    for label, make, words in BAD_COUNTS:
        yield label, make, ValueError, words
    for label, make, words in NOT_TENSORS:
        yield label, make, TypeError, words


CASES = list(_cases())


def odd_layouts(image: np.ndarray, tmp_path) -> list[tuple[str, object]]:
    """The same values in every memory layout a user may hand over."""
    wide = np.zeros((1, 3, 16, 32), np.float32)
    wide[..., ::2] = image
    readonly = image.copy()
    readonly.setflags(write=False)
    flipped = np.ascontiguousarray(image[..., ::-1])[..., ::-1]
    mapped = np.lib.format.open_memmap(tmp_path / "image.npy", mode="w+", dtype=np.float32, shape=SHAPE)
    mapped[...] = image
    one_value = np.broadcast_to(np.float32(0.5), SHAPE)
    return [
        ("non-contiguous", wide[..., ::2]), ("Fortran order", np.asfortranarray(image)), ("read-only", readonly),
        ("big-endian", image.astype(">f4")), ("negative strides", flipped), ("memory map", mapped),
        ("memoryview", memoryview(image)), ("broadcast view", one_value),
        ("uint8 image", (image * 255).astype(np.uint8)),
        ("int64 within 2**24", (image * 1000).astype(np.int64)),
    ]


def _expected(value) -> np.ndarray:
    array = np.asarray(value)
    return array.astype(np.float32)


def _check_error(error: BaseException, kind: type[Exception], words: str, legacy: bool) -> None:
    if legacy:
        assert isinstance(error, rt_errors.InvalidInput), (type(error), error)
    else:
        assert isinstance(error, kind) and not isinstance(error, rt_errors.FuriosaRuntimeError), (type(error), error)
    refused(error, words)


# --- the sync runner and the legacy session ------------------------------------------------------------
def test_sync_runner(image, tmp_path):
    from furiosa.runtime import sync

    with sync.create_runner(qdq_cnn()) as runner:
        reference = runner.run([image])
        for label, make, kind, words in CASES:
            with within(TIME_LIMIT, label), pytest.raises(Exception) as info:
                runner.run(make())
            _check_error(info.value, kind, words, legacy=False)
        _check_names(runner, image, legacy=False)
        for label, value in odd_layouts(image, tmp_path):
            before = np.array(value, copy=True)
            outputs = runner.run([value])
            again = runner.run([np.ascontiguousarray(_expected(value))])
            assert all(np.array_equal(a, b) for a, b in zip(outputs, again)), label
            assert np.array_equal(np.asarray(value), before), f"{label}: the input was modified"
        assert all(np.array_equal(a, b) for a, b in zip(runner.run([image]), reference))  # still serving, same results


def test_legacy_session(image):
    from furiosa.runtime import session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with session.create(qdq_cnn()) as sess:
            reference = sess.run([image]).numpy()
            for label, make, kind, words in CASES:
                with within(TIME_LIMIT, label), pytest.raises(Exception) as info:
                    sess.run(make())
                _check_error(info.value, kind, words, legacy=True)
            _check_names(sess, image, legacy=True)
            assert all(np.array_equal(a, b) for a, b in zip(sess.run([image]).numpy(), reference))


def _check_names(runner, image: np.ndarray, legacy: bool) -> None:
    with pytest.raises(rt_errors.TensorNameNotFound) as info:
        runner.run_with(["output"], {"no_such_input": image})
    refused(info.value, "no_such_input", "'input'")
    with pytest.raises(rt_errors.TensorNameNotFound) as info:
        runner.run_with(["no_such_output"], {"input": image})
    refused(info.value, "no_such_output", "'output'")
    with pytest.raises(rt_errors.TensorNameNotFound):
        runner.run_with(["output"], {None: image})
    for outputs, inputs, kind in ((["output"], {}, ValueError), ("output", {"input": image}, TypeError),
                                  ([], {"input": image}, ValueError), ([1], {"input": image}, TypeError),
                                  (["output"], [image], TypeError), (["output"], {"input": image.astype(np.float64)},
                                                                     TypeError)):
        with pytest.raises(rt_errors.InvalidInput if legacy else kind):
            runner.run_with(outputs, inputs)


# --- the queue and asyncio APIs --------------------------------------------------------------------------------
def test_sync_queue(image):
    """Bad inputs are refused at ``submit`` (nothing is queued); good ones still come back."""
    from furiosa.runtime import sync

    submitter, receiver = sync.create_queue(qdq_cnn(), worker_num=2)
    with submitter, receiver:
        for label, make, kind, words in CASES:
            with within(TIME_LIMIT, label), pytest.raises(Exception) as info:
                submitter.submit(make(), context=label)
            _check_error(info.value, kind, words, legacy=False)
        submitter.submit([image], context="good")
        context, outputs = receiver.recv(timeout=TIME_LIMIT)
        assert context == "good" and len(outputs) == 1
        with pytest.raises(TimeoutError):
            receiver.recv(timeout=0.05)  # nothing bad was queued


def test_legacy_async_session(image):
    from furiosa.runtime import session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        submitter, queue = session.create_async(qdq_cnn())
        with submitter, queue:
            for label, make, kind, words in CASES:
                with pytest.raises(Exception) as info:
                    submitter.submit(make(), context=label)
                _check_error(info.value, kind, words, legacy=True)
            submitter.submit([image], context=7)
            context, outputs = queue.recv(int(TIME_LIMIT * 1000))
            assert context == 7
            with pytest.raises(rt_errors.QueueWaitTimeout):
                queue.recv(50)


def test_async_runner_and_queue(image, tmp_path):
    from furiosa.runtime import create_queue, create_runner

    async def main() -> None:
        async with create_runner(qdq_cnn(), worker_num=2) as runner:
            reference = await runner.run([image])
            for label, make, kind, words in CASES:
                with pytest.raises(Exception) as info:
                    await asyncio.wait_for(runner.run(make()), TIME_LIMIT)
                _check_error(info.value, kind, words, legacy=False)
            for label, value in odd_layouts(image, tmp_path):
                outputs = await runner.run([value])
                again = await runner.run([np.ascontiguousarray(_expected(value))])
                assert all(np.array_equal(a, b) for a, b in zip(outputs, again)), label
            assert all(np.array_equal(a, b) for a, b in zip(await runner.run([image]), reference))
        async with create_queue(qdq_cnn(), worker_num=2) as (submitter, receiver):
            for label, make, kind, words in CASES:
                with pytest.raises(Exception) as info:
                    await submitter.submit(make(), context=label)
                _check_error(info.value, kind, words, legacy=False)
            await submitter.submit([image], context="good")
            context, _ = await asyncio.wait_for(receiver.recv(), TIME_LIMIT)
            assert context == "good"

    with within(TIME_LIMIT * 3):
        asyncio.run(main())
