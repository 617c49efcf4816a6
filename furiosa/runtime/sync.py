"""furiosa.runtime.sync: the blocking runtime API (spec/runtime-api.md §5–7).

``create_runner(model)`` opens the default device (``FURIOSA_DEVICES``, ``NPU_DEVNAME`` or
``warboy(2)*1``), compiles the model for it unless it is an ENF file, and returns a
:class:`Runner`. A :class:`Runtime` holds devices for several runners. Everything closes as a
context manager, with ``close()``, or when garbage-collected.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _engine
from ._errors import FuriosaRuntimeError, FuriosaRuntimeWarning, SessionClosed
from ._inputs import check_inputs, check_named_inputs, output_indexes
from ._queue import SyncReceiver as Receiver
from ._queue import SyncSubmitter as Submitter
from ._types import Axis, DataType, Model, TensorDesc
from ._aliases import ModelSource, Tensor, TensorArray

__all__ = [
    "Axis", "DataType", "FuriosaRuntimeError", "FuriosaRuntimeWarning", "Model", "ModelSource", "Receiver",
    "Runner", "Runtime", "Submitter", "Tensor", "TensorArray", "TensorDesc", "create_queue", "create_runner",
]

CLOSE_TIMEOUT = 60.0


def check_arguments(model: Any, device: Any = None, worker_num: Any = None, batch_size: Any = None,
                    compiler_config: Any = None) -> None:
    """The argument checks the vendor's bindings perform before anything else."""
    _engine.model_bytes(model)
    if device is not None:
        _engine.check_device(device)
    _engine.check_count("worker_num", worker_num)
    _engine.check_count("batch_size", batch_size)
    _engine.check_compiler_config(compiler_config)


class Runner:
    """A model loaded on NPU devices; ``run`` blocks until the inference is done.

    Several threads may call ``run`` at once; ``worker_num`` of them run at the same time.
    """

    def __init__(self, engine: _engine.Engine, runtime: "Runtime | None" = None) -> None:
        self._engine = engine
        self._runtime = runtime
        inputs = engine.model.inputs()
        # The common call, one C-contiguous array of the right shape and dtype, is checked here
        # in three comparisons; anything else goes through check_inputs.
        self._single = (inputs[0].shape, inputs[0].dtype.numpy) if len(inputs) == 1 else None

    @property
    def model(self) -> Model:
        return self._engine.model

    def allocate(self) -> list[np.ndarray]:
        """Fresh zero-filled input arrays."""
        return [np.zeros(d.shape, d.dtype.numpy) for d in self._engine.model.inputs()]

    def run(self, inputs: Any) -> list[np.ndarray]:
        """Run one inference: a tensor, or a sequence of one tensor per input, in order."""
        single = self._single
        if (single is not None and type(inputs) is np.ndarray and inputs.shape == single[0]
                and inputs.dtype == single[1] and inputs.flags.c_contiguous):
            return self._engine.run((inputs,))
        return self._engine.run(check_inputs(inputs, self._engine.model.inputs()))

    def run_with(self, output_names: Any, inputs: Any) -> list[np.ndarray]:
        """Run one inference with named inputs; return the named outputs, in that order."""
        positions = output_indexes(output_names, self._engine.model.outputs())
        arrays = check_named_inputs(inputs, self._engine.model.inputs())
        outputs = self._engine.run(arrays)
        return [outputs[i] for i in positions]

    def close(self) -> bool:
        """Close the runner (and its implicit runtime); ``True`` when closed in time."""
        done = self._engine.close(CLOSE_TIMEOUT)
        if self._runtime is not None and self._runtime._implicit:
            self._runtime.close()
        return done

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.close():
            warnings.warn("Runner couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and not engine.closed:
            engine.close(0)
            runtime = getattr(self, "_runtime", None)
            if runtime is not None and runtime._implicit:
                runtime.close()

    def __repr__(self) -> str:
        state = "closed" if self._engine.closed else "open"
        return f"Runner({self._engine.program.target}, devices={[d.name for d in self._engine.devices]}, {state})"


class Runtime:
    """NPU devices opened for running models: ``Runtime(device=None)``."""

    def __init__(self, device: str | None = None) -> None:
        self._devices = _engine.Devices(device)
        self._implicit = False
        self._engines: list[_engine.Engine] = []
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosed("Runtime has been closed")

    def create_runner(self, model: Any, *, worker_num: int | None = None, batch_size: int | None = None,
                      compiler_config: dict | None = None) -> Runner:
        check_arguments(model, None, worker_num, batch_size, compiler_config)
        self._check_open()
        return Runner(self._engine(model, worker_num, batch_size, compiler_config), self)

    def _engine(self, model: Any, worker_num: Any, batch_size: Any, compiler_config: Any) -> _engine.Engine:
        engine = _engine.Engine(model, self._devices, worker_num=worker_num, batch_size=batch_size,
                                compiler_config=compiler_config, owns_devices=False)
        self._engines.append(engine)
        return engine

    def create_queue(self, model: Any, *, worker_num: int | None = None, batch_size: int | None = None,
                     input_queue_size: int | None = None, output_queue_size: int | None = None,
                     compiler_config: dict | None = None):
        from ._queue import sync_queue

        check_arguments(model, None, worker_num, batch_size, compiler_config)
        self._check_open()
        engine = self._engine(model, worker_num, batch_size, compiler_config)
        return sync_queue(engine, self, input_queue_size, output_queue_size)

    def close(self) -> bool:
        """Close every runner of this runtime and release its devices."""
        return self._close()

    def _close(self) -> bool:
        if self._closed:
            return True
        self._closed = True
        done = all([engine.close(CLOSE_TIMEOUT) for engine in self._engines])
        self._devices.release()
        return done

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.close():
            warnings.warn("Runtime couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._devices.release()


def _implicit_runtime(device: str | None) -> Runtime:
    runtime = Runtime(device)
    runtime._implicit = True
    return runtime


def create_runner(model: Any, *, device: str | None = None, worker_num: int | None = None,
                  batch_size: int | None = None, compiler_config: dict | None = None) -> Runner:
    """Load ``model`` on ``device`` (default: ``FURIOSA_DEVICES`` or ``warboy(2)*1``) and return a runner."""
    check_arguments(model, device, worker_num, batch_size, compiler_config)
    runtime = _implicit_runtime(device)
    try:
        return runtime.create_runner(model, worker_num=worker_num, batch_size=batch_size,
                                     compiler_config=compiler_config)
    except BaseException:
        runtime.close()
        raise


def create_queue(model: Any, *, device: str | None = None, worker_num: int | None = None,
                 batch_size: int | None = None, input_queue_size: int | None = None,
                 output_queue_size: int | None = None, compiler_config: dict | None = None):
    """Load ``model`` and return ``(Submitter, Receiver)`` (see :mod:`furiosa.runtime._queue`)."""
    check_arguments(model, device, worker_num, batch_size, compiler_config)
    runtime = _implicit_runtime(device)
    try:
        return runtime.create_queue(model, worker_num=worker_num, batch_size=batch_size,
                                    input_queue_size=input_queue_size, output_queue_size=output_queue_size,
                                    compiler_config=compiler_config)
    except BaseException:
        runtime.close()
        raise

