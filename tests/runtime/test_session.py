"""The legacy session API (spec §8): Session, AsyncSession, CompletionQueue, their errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from furiosa.runtime import DataType, errors, session
from furiosa.runtime._tensor_array import Tensor, TensorArray


def test_session_run_returns_a_tensor_array(cnn_bytes, image):
    with session.create(cnn_bytes) as sess:
        outputs = sess.run(image)
        assert isinstance(outputs, TensorArray) and isinstance(outputs[0], Tensor)
        assert repr(outputs) == '[Tensor(name="output", shape=(1, 10), dtype=FLOAT32)]'
        assert outputs[0].dtype == DataType.FLOAT32 and outputs[0].numpy_dtype == np.float32
        assert np.array_equal(outputs[0].numpy(), outputs.numpy()[0])
        assert outputs[0] == outputs[0].numpy()
        named = sess.run_with(["output"], {"input": image})
        alias = sess.run_with(outputs=["output"], inputs={"input": image})
        assert named[0] == outputs[0] and alias[0] == outputs[0]


def test_legacy_errors(cnn_bytes):
    with session.create(cnn_bytes) as sess:
        with pytest.raises(errors.InvalidInput):
            sess.run(np.zeros((1, 3, 16, 16), np.float16))
        with pytest.raises(errors.InvalidInput):
            sess.run(np.zeros((2, 3, 16, 16), np.float32))
        with pytest.raises(errors.InvalidInput):
            sess.run([np.zeros((1, 3, 16, 16), np.float32)] * 2)
        with pytest.raises((TypeError, errors.InvalidInput)):
            sess.run_with(None, {"input": np.zeros((1, 3, 16, 16), np.float32)})
        with pytest.raises(errors.TensorNameNotFound):
            sess.run_with(["nope"], {"input": np.zeros((1, 3, 16, 16), np.float32)})
        with pytest.raises(errors.TensorNameNotFound):
            sess.run_with(["output"], {"nope": np.zeros((1, 3, 16, 16), np.float32)})
        with pytest.raises(errors.DeviceBusy):
            session.create(cnn_bytes)
    with pytest.raises(errors.InvalidCompilerConfig):
        session.create(cnn_bytes, compiler_config={"remove_lower": 1})


def test_closed_session(cnn_bytes):
    sess = session.create(cnn_bytes)
    sess.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (lambda: sess.inputs(), lambda: sess.input_num, lambda: sess.outputs(),
                     lambda: sess.output_num, lambda: sess.summary(), lambda: sess.run(None)):
            with pytest.raises(errors.SessionClosed):
                call()


def test_deprecated_passthroughs_warn(cnn_bytes):
    with session.create(cnn_bytes) as sess:
        with pytest.warns(FutureWarning, match=r"`Session.inputs` is deprecated, use `Session.model.inputs`"):
            assert sess.inputs()[0].name == "input"
        with pytest.warns(FutureWarning, match="allocate_inputs"):
            inputs = sess.allocate_inputs()
        assert isinstance(inputs, TensorArray) and inputs[0].shape == (1, 3, 16, 16)
        assert sess.model.input_num == 1


def test_positional_options_and_hints_warn(cnn_bytes):
    with pytest.warns(FutureWarning, match="Positional arguments except for `model` are deprecated"):
        sess = session.create(cnn_bytes, "warboy(2)*1")
    sess.close()
    with pytest.warns(FutureWarning, match="compiler_hints"):
        sess = session.create(cnn_bytes, compiler_hints=True)
    sess.close()
    with pytest.raises(TypeError, match="compile_config"):
        session.create(cnn_bytes, compile_config={})


def test_async_session_round_trip(cnn_bytes):
    from examples.zoo import calibration_data, small_cnn

    images = [d["input"] for d in calibration_data(small_cnn(), 50, seed=3)]
    with session.create(cnn_bytes) as sess:
        expected = {i: sess.run(x)[0].numpy() for i, x in enumerate(images)}
    submitter, queue = session.create_async(cnn_bytes, worker_num=3, input_queue_size=50, output_queue_size=50)
    for i, x in enumerate(images):
        submitter.submit(x, context=i)
    received = {}
    for _ in images:
        context, outputs = next(queue)
        received[context] = outputs[0].numpy()
    assert set(received) == set(range(50))
    assert all(np.array_equal(received[i], expected[i]) for i in received)
    with pytest.warns(FutureWarning, match="milliseconds"):
        with pytest.raises(errors.QueueWaitTimeout):
            queue.recv(0)
    submitter.close()
    for timeout in (None, 0, 100):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(errors.SessionTerminated):
                queue.recv(timeout)
    queue.close()
    with pytest.raises(errors.SessionClosed):
        queue.recv()


def test_async_session_metadata_and_closing(cnn_bytes):
    submitter, queue = session.create_async(cnn_bytes)
    with pytest.warns(FutureWarning):
        assert submitter.inputs()[0].shape == (1, 3, 16, 16)
    submitter.close()
    for call in (lambda: submitter.inputs(), lambda: submitter.input_num, lambda: submitter.summary()):
        with pytest.raises(errors.SessionClosed):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call()
    assert list(queue) == []
    queue.close()
    session.create(cnn_bytes).close()  # devices released by closing the queue
