"""The legacy ``furiosa.runtime.session`` API, as the 0.10 compat layer offers it (spec §8.1).

``create(model, ...)`` returns a :class:`Session` (blocking ``run`` / ``run_with`` returning a
:class:`TensorArray`); ``create_async(model, ...)`` returns ``(AsyncSession, CompletionQueue)``
over the queue machinery (``recv`` takes milliseconds). Both open the default device
(``FURIOSA_DEVICES``, ``NPU_DEVNAME`` or ``warboy(2)*1``) for themselves. Errors follow the
legacy classes: ``InvalidInput`` for bad tensors, ``TensorNameNotFound``, ``SessionClosed``,
``DeviceBusy``, ``QueueWaitTimeout``, ``SessionTerminated``.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _engine
from ._errors import QueueWaitTimeout, SessionClosed
from ._inputs import check_inputs, check_named_inputs, output_indexes
from ._queue import CLOSE_TIMEOUT, LEGACY_QUEUE_SIZE, QueueCore
from ._tensor_array import Tensor, TensorArray
from ._types import Model, TensorDesc
from ._workers import EMPTY

__all__ = ["AsyncSession", "CompletionQueue", "Session", "create", "create_async"]


def _tensor_array(arrays: list[np.ndarray], descs: list[TensorDesc]) -> TensorArray:
    return TensorArray(Tensor(a, d.name) for a, d in zip(arrays, descs))


class _ModelPassthrough:
    """The deprecated ``Model`` members every legacy object still answers (with a warning)."""

    _closed_message = "Session has been closed"

    def _model(self) -> Model:
        raise NotImplementedError

    @property
    def model(self) -> Model:
        return self._model()

    def _deprecated(self, name: str) -> Model:
        cls = type(self).__name__
        warnings.warn(f"`{cls}.{name}` is deprecated, use `{cls}.model.{name}` instead.", FutureWarning, stacklevel=3)
        return self._model()

    @property
    def input_num(self) -> int:
        return self._deprecated("input_num").input_num

    @property
    def output_num(self) -> int:
        return self._deprecated("output_num").output_num

    num_inputs = input_num
    num_outputs = output_num

    def input(self, idx: int) -> TensorDesc:
        return self._deprecated("input").input(idx)

    def output(self, idx: int) -> TensorDesc:
        return self._deprecated("output").output(idx)

    def inputs(self) -> list[TensorDesc]:
        return self._deprecated("inputs").inputs()

    def outputs(self) -> list[TensorDesc]:
        return self._deprecated("outputs").outputs()

    def summary(self) -> str:
        return self._deprecated("summary").summary()

    def print_summary(self) -> None:
        print(self._deprecated("print_summary").summary())

    def allocate(self) -> TensorArray:
        model = self._model()
        return TensorArray(Tensor(np.zeros(d.shape, d.dtype.numpy), d.name) for d in model.inputs())

    def allocate_inputs(self) -> TensorArray:
        cls = type(self).__name__
        warnings.warn(f"`{cls}.allocate_inputs` is deprecated, use `{cls}.allocate` instead.", FutureWarning,
                      stacklevel=2)
        return self.allocate()


class Session(_ModelPassthrough):
    """A model loaded for blocking inferences (legacy API)."""

    def __init__(self, engine: _engine.Engine) -> None:
        self._engine = engine

    def _model(self) -> Model:
        if self._engine.closed:
            raise SessionClosed(self._closed_message)
        return self._engine.model

    def run(self, inputs: Any) -> TensorArray:
        model = self._model()
        arrays = check_inputs(inputs, model.inputs(), legacy=True)
        return _tensor_array(self._engine.run(arrays), model.outputs())

    def run_with(self, output_names: Any = None, inputs: Any = None, *, outputs: Any = None) -> TensorArray:
        """Run with named inputs; ``outputs=`` is accepted as the 0.9 name of ``output_names``."""
        if outputs is not None and output_names is None:
            output_names = outputs
        model = self._model()
        positions = output_indexes(output_names, model.outputs(), legacy=True)
        arrays = check_named_inputs(inputs, model.inputs(), legacy=True)
        results = self._engine.run(arrays)
        descs = model.outputs()
        return TensorArray(Tensor(results[i], descs[i].name) for i in positions)

    def close(self) -> bool:
        return self._engine.close(CLOSE_TIMEOUT)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and not engine.closed:
            engine.close(0)

    def __repr__(self) -> str:
        return f"Session({'closed' if self._engine.closed else 'open'})"


class AsyncSession(_ModelPassthrough):
    """The submitting half of a legacy asynchronous session."""

    def __init__(self, core: QueueCore) -> None:
        self._core = core

    def _model(self) -> Model:
        if self._core.submitter_closed:
            raise SessionClosed(self._closed_message)
        return self._core.model

    def submit(self, inputs: Any, context: Any = None) -> None:
        """Queue an inference (inputs are copied); blocks only while the input queue is full."""
        if self._core.submitter_closed:
            raise SessionClosed(self._closed_message)
        self._core.submit(inputs, context, legacy=True)

    send = submit

    def close(self) -> bool:
        return self._core.close_submitter()

    def __enter__(self) -> "AsyncSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class CompletionQueue(_ModelPassthrough):
    """The receiving half of a legacy asynchronous session: ``recv(timeout_ms)``, iteration."""

    def __init__(self, core: QueueCore) -> None:
        self._core = core

    def _model(self) -> Model:
        if self._core.receiver_closed:
            raise SessionClosed(self._closed_message)
        return self._core.model

    def recv(self, timeout: int | None = None) -> tuple[Any, TensorArray]:
        """The next ``(context, outputs)``; ``timeout`` is in milliseconds."""
        if timeout is not None:
            warnings.warn(
                "`CompletionQueue.recv` receives a timeout in milliseconds, but this will change to seconds soon.",
                FutureWarning, stacklevel=2,
            )
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
                raise ValueError(f"the timeout must be a non-negative number of milliseconds, got {timeout!r}")
        if self._core.receiver_closed:
            raise SessionClosed(self._closed_message)
        item = self._core.results.get(None if timeout is None else timeout / 1000.0)
        if item is EMPTY:
            raise QueueWaitTimeout(f"queue waiting timed out after {timeout} ms")
        context, outputs = self._core.unpack(item)
        return context, _tensor_array(outputs, self._core.model.outputs())

    def __iter__(self) -> "CompletionQueue":
        return self

    def __next__(self) -> tuple[Any, TensorArray]:
        if self._core.receiver_closed:
            raise StopIteration
        item = self._core.results.get()
        if item is None:
            raise StopIteration
        context, outputs = self._core.unpack(item)
        return context, _tensor_array(outputs, self._core.model.outputs())

    def close(self) -> bool:
        return self._core.close_receiver()

    def __enter__(self) -> "CompletionQueue":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is not None and not core.receiver_closed:
            core.close_receiver(timeout=0)


def _warn_legacy_options(positional: bool, compiler_hints: Any, context_ty: Any = None) -> None:
    if positional:
        warnings.warn("Positional arguments except for `model` are deprecated.", FutureWarning, stacklevel=3)
    if compiler_hints is not None:
        warnings.warn("`compiler_hints` option is deprecated and will be ignored.", FutureWarning, stacklevel=3)
    if context_ty is not None:
        warnings.warn("`context_ty` option is deprecated and will be ignored.", FutureWarning, stacklevel=3)


def _open(model: Any, device: Any, worker_num: Any, batch_size: Any, compiler_config: Any) -> _engine.Engine:
    from .sync import check_arguments

    check_arguments(model, device, worker_num, batch_size, compiler_config)
    devices = _engine.Devices(device)
    return _engine.Engine(model, devices, worker_num=worker_num, batch_size=batch_size,
                          compiler_config=compiler_config, owns_devices=True)


def create(model: Any, *args: Any, device: str | None = None, worker_num: int | None = None,
           batch_size: int | None = None, compiler_config: dict | None = None, compiler_hints: Any = None) -> Session:
    """Load ``model`` and return a blocking :class:`Session`."""
    names = ("device", "worker_num", "batch_size", "compiler_config", "compiler_hints")
    if len(args) > len(names):
        raise TypeError(f"create() takes from 1 to {len(names) + 1} positional arguments but {len(args) + 1} were given")
    values = dict(zip(names, args))
    device = values.get("device", device)
    worker_num = values.get("worker_num", worker_num)
    batch_size = values.get("batch_size", batch_size)
    compiler_config = values.get("compiler_config", compiler_config)
    compiler_hints = values.get("compiler_hints", compiler_hints)
    session = Session(_open(model, device, worker_num, batch_size, compiler_config))
    _warn_legacy_options(bool(args), compiler_hints)
    return session


def create_async(model: Any, *args: Any, context_ty: Any = None, device: str | None = None,
                 worker_num: int | None = None, batch_size: int | None = None, compiler_hints: Any = None,
                 input_queue_size: int | None = None, output_queue_size: int | None = None,
                 compiler_config: dict | None = None) -> tuple[AsyncSession, CompletionQueue]:
    """Load ``model`` and return ``(AsyncSession, CompletionQueue)``."""
    names = ("context_ty", "device", "worker_num", "batch_size", "compiler_hints", "input_queue_size",
             "output_queue_size", "compiler_config")
    if len(args) > len(names):
        raise TypeError(f"create_async() takes from 1 to {len(names) + 1} positional arguments but "
                        f"{len(args) + 1} were given")
    given = dict(zip(names, args))
    options = dict(context_ty=context_ty, device=device, worker_num=worker_num, batch_size=batch_size,
                   compiler_hints=compiler_hints, input_queue_size=input_queue_size,
                   output_queue_size=output_queue_size, compiler_config=compiler_config)
    options.update(given)
    _engine.check_count("input_queue_size", options["input_queue_size"])
    _engine.check_count("output_queue_size", options["output_queue_size"])
    engine = _open(model, options["device"], options["worker_num"], options["batch_size"], options["compiler_config"])
    try:
        core = QueueCore(engine, None, options["input_queue_size"], options["output_queue_size"], LEGACY_QUEUE_SIZE)
    except BaseException:
        engine.close(0)
        raise
    _warn_legacy_options(bool(args), options["compiler_hints"], options["context_ty"])
    return AsyncSession(core), CompletionQueue(core)
