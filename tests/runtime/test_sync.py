"""furiosa.runtime.sync: runners, the validation of spec §6.2, devices, configuration, ENF."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

from furiosa.common.version import emulator_version
from furiosa.compiler import enf
from furiosa.compiler.pipeline import compile_program
from furiosa.runtime import FuriosaRuntimeError, errors, sync
from furiosa.runtime.errors import DeviceBusy, SessionClosed, TensorNameNotFound

MNIST_SUMMARY = (
    "Inputs:\n"
    '{0: TensorDesc(name="Input3", shape=(1, 1, 28, 28), dtype=FLOAT32, format=NCHW, size=3136, len=784)}\n'
    "Outputs:\n"
    '{0: TensorDesc(name="Plus214_Output_0", shape=(1, 10), dtype=FLOAT32, format=??, size=40, len=10)}'
)


@pytest.fixture
def mnist(vendor):
    return str(vendor / "mnist_8.onnx")


def test_mnist_summary_is_the_vendors(mnist, capsys):
    with pytest.warns(UserWarning, match="no quantization parameters"):
        runner = sync.create_runner(mnist)
    with runner:
        assert runner.model.summary() == MNIST_SUMMARY
        runner.model.print_summary()
        assert capsys.readouterr().out == MNIST_SUMMARY + "\n"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_run_validation_table(mnist):
    with sync.create_runner(mnist) as runner:
        with pytest.raises(TypeError):
            runner.run(np.zeros((1, 28, 28, 1), np.float16))
        with pytest.raises(ValueError):
            runner.run(np.zeros((2, 28, 28, 2), np.float32))
        assert runner.run([np.zeros((1, 1, 28, 28), np.float32)])
        with pytest.raises(ValueError, match="2 input tensor"):
            runner.run([np.zeros((1, 28, 28, 1), np.uint8), np.zeros((1, 28, 28, 1), np.uint8)])
        ok = np.zeros((1, 1, 28, 28), np.float32)
        with pytest.raises(TypeError):
            runner.run_with(None, {"Input3": ok})
        with pytest.raises(ValueError):
            runner.run_with(["WrongOutput"], {"Input3": ok})
        with pytest.raises(TensorNameNotFound):
            runner.run_with(["Plus214_Output_0"], {"WrongInput3": ok})


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_run_forms_agree(mnist):
    x = np.random.default_rng(1).random((1, 1, 28, 28), dtype=np.float32)
    with sync.create_runner(mnist) as runner:
        single, listed = runner.run(x), runner.run([x])
        named = runner.run_with(["Plus214_Output_0"], {"Input3": x})
        assert np.array_equal(single[0], listed[0]) and np.array_equal(single[0], named[0])
        assert single[0].shape == runner.model.output(0).shape
        assert single[0].dtype == runner.model.output(0).dtype.numpy


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_integer_arrays_feed_float_inputs_exactly(mnist):
    pixels = np.random.default_rng(2).integers(0, 256, (1, 1, 28, 28)).astype(np.uint8)
    with sync.create_runner(mnist) as runner:
        assert np.array_equal(runner.run(pixels)[0], runner.run(pixels.astype(np.float32))[0])
        with pytest.raises(TypeError):
            runner.run(pixels.astype(np.float64))
        wide = np.full((1, 1, 28, 28), 2**25, np.int64)
        with pytest.raises(TypeError):
            runner.run(wide)


def test_odd_memory_layouts_are_accepted(cnn_bytes, image):
    with sync.create_runner(cnn_bytes) as runner:
        expected = runner.run(image)[0]
        strided = np.zeros((1, 3, 16, 32), np.float32)[:, :, :, ::2]
        strided[...] = image
        readonly = image.copy()
        readonly.flags.writeable = False
        swapped = image.astype(image.dtype.newbyteorder(">"))
        for variant in (strided, readonly, swapped, np.asfortranarray(image)):
            assert np.array_equal(runner.run(variant)[0], expected)


def test_repeated_runs_are_identical(cnn_bytes, image):
    with sync.create_runner(cnn_bytes) as runner:
        first = runner.run(image)[0]
        for _ in range(5):
            assert np.array_equal(runner.run(image)[0], first)


def test_threads_share_a_runner(cnn_bytes):
    from examples.zoo import calibration_data, small_cnn

    images = [d["input"] for d in calibration_data(small_cnn(), 16, seed=5)]
    with sync.create_runner(cnn_bytes, worker_num=1) as reference:
        expected = [reference.run(x)[0] for x in images]
    results = [None] * len(images)
    with sync.create_runner(cnn_bytes, worker_num=3) as runner:
        def work(i):
            results[i] = runner.run(images[i])[0]
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert all(np.array_equal(a, b) for a, b in zip(results, expected))


def test_device_busy_and_release(cnn_bytes):
    runner = sync.create_runner(cnn_bytes)
    with pytest.raises(FuriosaRuntimeError) as info:
        sync.create_runner(cnn_bytes)
    assert isinstance(info.value, DeviceBusy) and "busy" in str(info.value)
    assert runner.close()
    sync.create_runner(cnn_bytes).close()


def test_closed_runner_refuses_work(cnn_bytes, image):
    runner = sync.create_runner(cnn_bytes)
    assert runner.close() and runner.close()
    with pytest.raises(SessionClosed):
        runner.run(image)
    assert isinstance(SessionClosed(), FuriosaRuntimeError)


def test_batch_size_multiplies_the_first_dimension(cnn_bytes, image):
    with sync.create_runner(cnn_bytes, batch_size=4) as runner:
        assert runner.model.input(0).shape == (4, 3, 16, 16)
        batch = np.concatenate([image, image * 0.5, image, image * 0.25])
        out = runner.run(batch)[0]
        assert out.shape == (4, 10)
        assert np.array_equal(out[0], out[2])
    with sync.create_runner(cnn_bytes) as single:
        assert np.array_equal(single.run(image)[0][0], out[0])


@pytest.mark.parametrize("config", [{"INVALID_COMPILER_CONFIG_NAME": True}, {"remove_lower": 1}])
def test_bad_compiler_config(cnn_bytes, config):
    with pytest.raises(FuriosaRuntimeError) as info:
        sync.create_runner(cnn_bytes, compiler_config=config)
    assert isinstance(info.value, errors.InvalidCompilerConfig)
    sync.create_runner(cnn_bytes).close()  # the device was released


@pytest.mark.parametrize("kwargs, error, text", [
    ({"device": 3}, TypeError, "argument 'device'"),
    ({"worker_num": "x"}, TypeError, "worker_num"),
    ({"worker_num": -1}, OverflowError, "negative"),
    ({"batch_size": -2}, OverflowError, "negative"),
    ({"compiler_config": "remove_lower"}, TypeError, "PyDict"),
    ({"device": "warboy(2)*1 "}, FuriosaRuntimeError, "invalid device configuration: warboy"),
])
def test_argument_errors(cnn_bytes, kwargs, error, text):
    with pytest.raises(error, match=text):
        sync.create_runner(cnn_bytes, **kwargs)


def test_arguments_are_keyword_only(cnn_bytes):
    with pytest.raises(TypeError):
        sync.create_runner(cnn_bytes, "warboy*1")
    with pytest.raises(TypeError, match="foo"):
        sync.create_runner(cnn_bytes, foo=1)
    with pytest.raises(TypeError, match="'model' must be bytes"):
        sync.create_runner(3.14)


def test_damaged_model_sources(tmp_path):
    (tmp_path / "garbage.onnx").write_bytes(b"\x00\x01not a model" * 50)
    with pytest.raises(errors.CompilationFailed, match="garbage.onnx"):
        sync.create_runner(str(tmp_path / "garbage.onnx"))
    with pytest.raises(FuriosaRuntimeError, match="fail to open"):
        sync.create_runner(tmp_path / "absent.onnx")


def test_enf_files_run_and_are_checked(tmp_path, cnn_path, image):
    fused = tmp_path / "fused.enf"
    fused.write_bytes(enf.write(compile_program(cnn_path, target="warboy-2pe")))
    with sync.create_runner(str(fused)) as runner:
        out = runner.run(image)[0]
    with sync.create_runner(str(cnn_path)) as runner:
        assert np.array_equal(runner.run(image)[0], out)
    with pytest.raises(errors.IncompatibleModel, match="incompatible configuration.*warboy-2pe.*--target-npu warboy"):
        sync.create_runner(str(fused), device="warboy(1)*1")
    single = tmp_path / "single.enf"
    single.write_bytes(enf.write(compile_program(cnn_path, target="warboy")))
    with sync.create_runner(str(single), device="npu:0:1") as runner:
        assert np.array_equal(runner.run(image)[0], out)


def test_enf_from_another_compiler_version_is_refused(tmp_path, cnn_path):
    import dataclasses

    program = compile_program(cnn_path)
    major, minor = emulator_version().split(".")[:2]
    old = dataclasses.replace(program, compiler_version=f"{major}.{int(minor) + 7}.0")
    path = tmp_path / "old.enf"
    path.write_bytes(enf.write(old))
    with pytest.raises(errors.IncompatibleModel, match="incompatible configuration.*recompile"):
        sync.create_runner(str(path))


def test_damaged_enf_through_the_runtime(tmp_path, cnn_path):
    data = bytearray(enf.write(compile_program(cnn_path)))
    data[-5] ^= 0xFF
    path = tmp_path / "damaged.enf"
    path.write_bytes(bytes(data))
    with pytest.raises(errors.CompilationFailed, match="checksum"):
        sync.create_runner(str(path))


def test_runtime_object_holds_devices_for_several_runners(cnn_bytes, image):
    with sync.Runtime() as runtime:
        first = runtime.create_runner(cnn_bytes)
        second = runtime.create_runner(cnn_bytes)
        assert np.array_equal(first.run(image)[0], second.run(image)[0])
        with pytest.raises(DeviceBusy):
            sync.create_runner(cnn_bytes)
    sync.create_runner(cnn_bytes).close()


def test_allocate(cnn_bytes):
    with sync.create_runner(cnn_bytes) as runner:
        (x,) = runner.allocate()
        assert x.shape == (1, 3, 16, 16) and x.dtype == np.float32 and not x.any()


def test_environment_chooses_the_device(cnn_bytes, monkeypatch):
    monkeypatch.setenv("FURIOSA_DEVICES", "npu:0:1")
    with sync.create_runner(cnn_bytes) as runner:
        assert [d.name for d in runner._engine.devices] == ["npu0pe1"]
        assert runner._engine.program.target == "warboy"
        with sync.create_runner(cnn_bytes, device="npu:0:0") as other:
            assert [d.name for d in other._engine.devices] == ["npu0pe0"]
    monkeypatch.setenv("FURIOSA_DEVICES", "bogus")
    with pytest.raises(FuriosaRuntimeError, match="invalid device configuration: bogus"):
        sync.create_runner(cnn_bytes)


@pytest.mark.parametrize("nodes", [0, 1, 2])
def test_outputs_never_share_the_callers_input_memory(nodes):
    """A model that passes its input through (as its own output, or through Identity nodes that
    onnxruntime may forward) still returns arrays of its own: changing the input afterwards must
    not change an output already returned."""
    from onnx import TensorProto, helper

    names = ["x"] + [f"t{i}" for i in range(nodes)]
    graph = helper.make_graph([helper.make_node("Identity", [a], [b]) for a, b in zip(names, names[1:])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a float model: the compiler says it runs on the host
        runner = sync.create_runner(model.SerializeToString())
    with runner:
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        out = runner.run(x)[0]
        assert not np.may_share_memory(out, x)
        x[:] = -1
        np.testing.assert_array_equal(out, np.arange(6, dtype=np.float32).reshape(2, 3))
