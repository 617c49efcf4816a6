"""The package surface: versions, import-time warnings, types, errors, environment helpers."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import furiosa.runtime as rt
from furiosa.runtime import Axis, DataType, errors, sync, tensor


def test_versions():
    version = rt.__version__
    assert version.version == "0.10.2" and version.stage in ("dev", "release") and version.hash
    assert str(version).startswith("0.10.2-release (rev: ")
    assert re.match(r"Furiosa SDK Runtime (\S+) \(rev: (\S+)\) \((\S+ \S+ \S+ \S+)\)", rt.__full_version__)
    assert rt.full_version() == rt.__full_version__
    assert rt.is_legacy is False
    assert rt.__all__ == ["__version__", "__full_version__", "is_legacy"]


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module", ["session", "tensor", "errors", "model", "compiler", "envs"])
def test_dotted_imports_warn_once(module):
    done = _fresh(f"import furiosa.runtime.{module}\nimport furiosa.runtime.{module}")
    expected = f"'furiosa.runtime.{module}' module is deprecated and will be removed in a future release."
    assert done.returncode == 0 and done.stderr.count(expected) == 1


@pytest.mark.parametrize("code", [
    "from furiosa.runtime import session, tensor, errors, envs, model, sync",
    "import furiosa.runtime.sync",
    "import furiosa.runtime.consts",
])
def test_attribute_imports_do_not_warn(code):
    done = _fresh(code)
    assert done.returncode == 0 and "FutureWarning" not in done.stderr


def test_legacy_test_imports():
    done = _fresh("from furiosa.runtime.session import AsyncSession, CompletionQueue, Session, create, create_async\n"
                  "from furiosa.runtime.envs import current_npu_device, is_compile_log_enabled, log_dir, profiler_output")
    assert done.returncode == 0 and done.stderr.count("FutureWarning") == 2


def test_error_hierarchy():
    assert errors.NativeException is rt.FuriosaRuntimeError
    assert rt.FuriosaRuntimeError.__module__ == "runtime" and str(rt.FuriosaRuntimeError("x")) == "x"
    for name in ("SessionClosed", "SessionTerminated", "DeviceBusy", "InvalidInput", "QueueWaitTimeout",
                 "IncompatibleModel", "CompilationFailed", "InvalidCompilerConfig"):
        assert issubclass(getattr(errors, name), rt.FuriosaRuntimeError)
    assert issubclass(errors.TensorNameNotFound, ValueError)
    assert not issubclass(errors.TensorNameNotFound, rt.FuriosaRuntimeError)
    assert issubclass(rt.FuriosaRuntimeWarning, RuntimeWarning)
    assert errors.SessionClosed.__doc__ == "Session or AsyncSession is already closed. Please create a new session."
    assert errors.NativeError.DEVICE_BUSY == 23


def test_datatype():
    assert repr(DataType.FLOAT32) == str(DataType.FLOAT32) == "FLOAT32" and f"{DataType.INT8}" == "INT8"
    assert DataType.FLOAT32 == 0 and DataType.INT8 == 2 and DataType.FLOAT64 == 14
    assert DataType.FLOAT32 != DataType.INT8
    with pytest.raises(TypeError):
        DataType.FLOAT32 < DataType.INT8
    assert DataType.UINT8.numpy == np.dtype("uint8")
    with pytest.raises(ValueError, match="no Numpy equivalent"):
        DataType.BFLOAT16.numpy
    with pytest.warns(FutureWarning, match="numpy_dtype"):
        assert DataType.INT8.numpy_dtype is np.int8
    for value in (np.dtype("int8"), np.int8, "int8", np.zeros((3, 3), dtype="int8")):
        assert DataType(value) is DataType.INT8
    with pytest.raises(NotImplementedError, match="not yet supported"):
        DataType(np.dtype("float16"))
    assert {DataType.FLOAT32: 1}[DataType.FLOAT32] == 1


def test_axis():
    assert [repr(a) for a in (Axis.WIDTH, Axis.HEIGHT, Axis.CHANNEL, Axis.BATCH, Axis.UNKNOWN)] == \
        ["W", "H", "C", "N", "?"]
    assert Axis.BATCH == 3 and Axis.UNKNOWN == -1 and repr(Axis.CHANNEL_OUTER) == "Co"


def test_tensor_helpers(cnn_bytes):
    with sync.create_runner(cnn_bytes) as runner:
        desc = runner.model.input(0)
        assert tensor.zeros(desc).shape == desc.shape and not tensor.zeros(desc).any()
        sample = tensor.rand(desc)
        assert sample.dtype == np.float32 and 0 <= sample.min() and sample.max() < 1
        assert tensor.numpy_dtype(sample) == np.float32 and tensor.numpy_dtype(desc) == np.float32
        with pytest.raises(TypeError, match="TensorDesc"):
            tensor.zeros(sample)
        with pytest.raises(TypeError, match="No constructor"):
            rt.TensorDesc()
        assert desc.ndim == 4 and desc.dim(1) == 3 and desc.axis(0) == Axis.BATCH and desc.stride(3) == 1
        assert desc.length == 768 and desc.size == 3072 and desc.format == "NCHW"
        with pytest.raises(IndexError):
            runner.model.input(1)


def test_envs_and_default_device(monkeypatch):
    from furiosa.runtime import _utils, envs

    monkeypatch.delenv("NPU_DEVNAME", raising=False)
    assert envs.current_npu_device() == "npu0pe0-1" and _utils.default_device() == "warboy(2)*1"
    monkeypatch.setenv("NPU_DEVNAME", "npu0pe1")
    assert envs.current_npu_device() == "npu0pe1" and _utils.default_device() == "npu0pe1"
    monkeypatch.setenv("FURIOSA_DEVICES", "warboy(1)*1")
    assert _utils.default_device() == "warboy(1)*1"
    monkeypatch.setenv("FURIOSA_TEST_IS_RUNNING", "1")
    assert envs.is_compile_log_enabled() is False
    monkeypatch.delenv("FURIOSA_PROFILER_OUTPUT_PATH", raising=False)
    monkeypatch.setenv("NUX_PROFILER_PATH", "/tmp/trace.json")
    with pytest.warns(UserWarning, match="NUX_PROFILER_PATH is deprecated"):
        assert envs.profiler_output() == "/tmp/trace.json"


def test_nothing_leaks_after_closing(cnn_bytes, image, device_dir):
    import asyncio
    import gc

    from furiosa.device.inventory import holder
    from furiosa.runtime import session

    before = {t.ident for t in threading.enumerate()}
    runner = sync.create_runner(cnn_bytes, worker_num=3)
    runner.run(image)
    runner.close()
    submitter, receiver = sync.create_queue(cnn_bytes, worker_num=3)
    submitter.submit(image)
    receiver.recv(30)
    submitter.close()
    receiver.close()
    async_submitter, queue = session.create_async(cnn_bytes, worker_num=2)
    async_submitter.close()
    queue.close()

    async def use():
        async with rt.create_runner(cnn_bytes, worker_num=2) as r:
            await r.run(image)

    asyncio.run(use())
    gc.collect()
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("furiosa-")
                and not t.name.startswith("furiosa-kernel")]
    assert leftover == []
    assert holder(0, 0) is None and holder(0, 1) is None


def test_warnings_are_furiosa_runtime_warnings(cnn_bytes):
    assert issubclass(rt.FuriosaRuntimeWarning, Warning)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with sync.create_runner(cnn_bytes):
            pass


def test_rand_for_integer_inputs(cnn_bytes):
    from furiosa.compiler.pipeline import compile_data
    from furiosa.runtime._types import TensorDesc

    program = compile_data(cnn_bytes)
    import dataclasses

    io = dataclasses.replace(program.inputs[0], dtype="uint8", qparams=None)
    sample = tensor.rand(TensorDesc._make(io, 1))
    assert sample.dtype == np.uint8 and sample.shape == (1, 3, 16, 16)
