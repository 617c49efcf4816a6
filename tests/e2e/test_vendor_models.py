"""The vendor's test models through sync.create_runner and session.create (issue 2, done-when)."""
from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest

from furiosa.runtime import DataType, session, sync
from furiosa.runtime.tensor import numpy_dtype
from tests.reference import reference


@pytest.fixture(autouse=True)
def private_devices(device_dir):
    return device_dir


def test_named_tensors_order_and_exactness(vendor):
    path = str(vendor / "named_tensors.onnx")
    ref = reference(onnx.load(path))
    rng = np.random.default_rng(0)
    with sync.create_runner(path) as runner:
        assert [d.name for d in runner.model.inputs()] == ["input.1", "input.3", "input"]
        assert [d.name for d in runner.model.outputs()] == ["18_dequantized", "19_dequantized", "15_dequantized"]
        assert repr(runner.model.input(0)) == \
            'TensorDesc(name="input.1", shape=(1, 3, 8, 8), dtype=FLOAT32, format=NCHW, size=768, len=192)'
        for _ in range(10):
            feeds = {d.name: rng.standard_normal(d.shape).astype(np.float32) for d in runner.model.inputs()}
            outputs = runner.run([feeds[d.name] for d in runner.model.inputs()])
            expected = ref.run([d.name for d in runner.model.outputs()], feeds)
            assert all(np.array_equal(a, b) for a, b in zip(outputs, expected))
            names = [d.name for d in runner.model.outputs()]
            for order in itertools.permutations(names):
                shuffled = dict(sorted(feeds.items(), key=lambda kv: hash(kv[0] + order[0])))
                got = runner.run_with(list(order), shuffled)
                assert all(np.array_equal(g, outputs[names.index(n)]) for g, n in zip(got, order))
    with session.create(path) as sess:
        result = sess.run([feeds[d.name] for d in sess.model.inputs()])
        assert all(np.array_equal(a.numpy(), b) for a, b in zip(result, outputs))


def test_truncated_conv_is_exact_and_lowered(vendor):
    path = str(vendor / "quantized_i8_conv_truncated.onnx")
    ref = reference(onnx.load(path))
    x = np.random.default_rng(1).random((1, 3, 40, 40), dtype=np.float32)
    (expected,) = ref.run(None, {"input": x})
    with sync.create_runner(path) as runner:
        assert runner.model.output(0).dtype == DataType.INT8
        out = runner.run(x)[0]
        assert out.dtype == np.int8 and np.array_equal(out, expected)
        assert np.array_equal(runner.run(x)[0], out)
    with session.create(path, compiler_config={"remove_unlower": True}) as sess:
        desc = sess.model.output(0)
        assert desc.ndim == 6 and desc.dtype == DataType.INT8 and numpy_dtype(desc) == np.int8
        assert desc.size > desc.length * np.dtype(np.int8).itemsize
        result = sess.run(x)[0]
        view, copy = result.view(), result.numpy()
        assert view.ndim == copy.ndim == 6 and view.dtype == copy.dtype == np.int8
        contiguous = tuple(int(np.prod(desc.shape[i + 1:])) for i in range(desc.ndim))
        assert view.strides != contiguous and copy.strides == contiguous
        assert [desc.stride(i) for i in range(6)] == [s for s in view.strides]
        from furiosa.compiler.enf import lowered

        assert np.array_equal(lowered((1, 3, 40, 40), "warboy-2pe").to_logical(view), expected)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_float_mnist_runs_through_both_apis(vendor):
    import onnxruntime as ort

    path = str(vendor / "mnist_8.onnx")
    x = np.random.default_rng(2).random((1, 1, 28, 28), dtype=np.float32)
    (expected,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"Input3": x})
    with sync.create_runner(path) as runner:
        assert np.allclose(runner.run(x)[0], expected, rtol=0, atol=1e-5)
    with session.create(path) as sess:
        assert np.allclose(sess.run(x)[0].numpy(), expected, rtol=0, atol=1e-5)
