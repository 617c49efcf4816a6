"""The asyncio runtime API of ``furiosa.runtime`` (spec/runtime-api.md §5–7).

``create_runner`` / ``create_queue`` (and the ``Runtime`` methods of the same names) return a
:class:`ContextfulFuture`: ``await`` it for the object, or ``async with`` it. Models load in a
worker thread so the event loop keeps running while they compile. Inferences run on the
engine's worker threads and are awaited through ``asyncio.wrap_future``, so a runner is not
tied to the event loop that created it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import warnings
from typing import Any, Awaitable, Callable, Generator

import numpy as np

from . import _engine
from ._errors import FuriosaRuntimeWarning, SessionClosed
from ._inputs import check_inputs, check_named_inputs, output_indexes
from ._queue import AsyncQueuePair, async_queue
from ._types import Model
from ._workers import Job, WorkerPool
from .sync import CLOSE_TIMEOUT, check_arguments


class ContextfulFuture:
    """An awaitable that is also an async context manager around what it resolves to."""

    def __init__(self, make: Callable[[], Awaitable[Any]]) -> None:
        self._make = make
        self._used = False
        self._value: Any = None

    def __await__(self) -> Generator[Any, None, Any]:
        if self._used:
            raise RuntimeError("cannot reuse already awaited coroutine")
        self._used = True
        return self._make().__await__()

    async def __aenter__(self) -> Any:
        self._value = await self
        return await self._value.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        if self._value is None:
            raise RuntimeError("cannot use a non-awaited coroutine as a context manager")
        return await self._value.__aexit__(*exc)


class Runner:
    """A model loaded on NPU devices; ``await run(inputs)`` from any number of tasks."""

    def __init__(self, engine: _engine.Engine, runtime: "Runtime | None") -> None:
        self._engine = engine
        self._runtime = runtime
        self._pool = WorkerPool(engine.run, engine.worker_num, name="runner")

    @property
    def model(self) -> Model:
        return self._engine.model

    def allocate(self) -> list[np.ndarray]:
        return [np.zeros(d.shape, d.dtype.numpy) for d in self._engine.model.inputs()]

    async def _infer(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if self._engine.closed:
            raise SessionClosed("Runner has been closed")
        future: concurrent.futures.Future = concurrent.futures.Future()

        def deliver(outputs: Any, error: BaseException | None) -> None:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(outputs)

        self._pool.submit(Job(arrays, deliver))
        return await asyncio.wrap_future(future)

    async def run(self, inputs: Any) -> list[np.ndarray]:
        return await self._infer(check_inputs(inputs, self._engine.model.inputs()))

    async def run_with(self, output_names: Any, inputs: Any) -> list[np.ndarray]:
        positions = output_indexes(output_names, self._engine.model.outputs())
        outputs = await self._infer(check_named_inputs(inputs, self._engine.model.inputs()))
        return [outputs[i] for i in positions]

    def _close(self) -> bool:
        done = self._pool.close(drain=False, timeout=CLOSE_TIMEOUT)
        done = self._engine.close(CLOSE_TIMEOUT) and done
        if self._runtime is not None and self._runtime._implicit:
            done = self._runtime._close() and done
        return done

    async def close(self) -> bool:
        return await asyncio.to_thread(self._close)

    async def __aenter__(self) -> "Runner":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not await self.close():
            warnings.warn("Runner couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and not engine.closed:
            self._pool.close(drain=False, timeout=0)
            engine.close(0)
            if self._runtime is not None and self._runtime._implicit:
                self._runtime._close()


class Runtime:
    """NPU devices opened for running models (asyncio API)."""

    def __init__(self, device: str | None = None) -> None:
        self._devices = _engine.Devices(device)
        self._implicit = False
        self._closed = False
        self._engines: list[_engine.Engine] = []
        self._closers: list[Callable[[], bool]] = []

    def _engine(self, model: Any, worker_num: Any, batch_size: Any, compiler_config: Any) -> _engine.Engine:
        if self._closed:
            raise SessionClosed("Runtime has been closed")
        engine = _engine.Engine(model, self._devices, worker_num=worker_num, batch_size=batch_size,
                                compiler_config=compiler_config)
        self._engines.append(engine)
        return engine

    def create_runner(self, model: Any, *, worker_num: int | None = None, batch_size: int | None = None,
                      compiler_config: dict | None = None) -> ContextfulFuture:
        check_arguments(model, None, worker_num, batch_size, compiler_config)

        async def make() -> Runner:
            engine = await asyncio.to_thread(self._engine, model, worker_num, batch_size, compiler_config)
            runner = Runner(engine, self)
            self._closers.append(runner._close)
            return runner

        return ContextfulFuture(make)

    def create_queue(self, model: Any, *, worker_num: int | None = None, batch_size: int | None = None,
                     input_queue_size: int | None = None, output_queue_size: int | None = None,
                     compiler_config: dict | None = None) -> ContextfulFuture:
        check_arguments(model, None, worker_num, batch_size, compiler_config)
        _engine.check_count("input_queue_size", input_queue_size)
        _engine.check_count("output_queue_size", output_queue_size)

        async def make() -> AsyncQueuePair:
            engine = await asyncio.to_thread(self._engine, model, worker_num, batch_size, compiler_config)
            pair = async_queue(engine, self, input_queue_size, output_queue_size)
            self._closers.append(pair[1]._core.close_receiver)
            return pair

        return ContextfulFuture(make)

    create_async = create_queue

    def _close(self) -> bool:
        if self._closed:
            return True
        self._closed = True
        done = all([close() for close in self._closers])
        done = all([engine.close(CLOSE_TIMEOUT) for engine in self._engines]) and done
        self._devices.release()
        return done

    async def close(self) -> bool:
        return await asyncio.to_thread(self._close)

    async def __aenter__(self) -> "Runtime":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not await self.close():
            warnings.warn("Runtime couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._devices.release()


def _implicit(device: str | None) -> Runtime:
    runtime = Runtime(device)
    runtime._implicit = True
    return runtime


def create_runner(model: Any, *, device: str | None = None, worker_num: int | None = None,
                  batch_size: int | None = None, compiler_config: dict | None = None) -> ContextfulFuture:
    """``runner = await create_runner(model)`` or ``async with create_runner(model) as runner``."""
    check_arguments(model, device, worker_num, batch_size, compiler_config)

    async def make() -> Runner:
        runtime = await asyncio.to_thread(_implicit, device)
        try:
            return await runtime.create_runner(model, worker_num=worker_num, batch_size=batch_size,
                                               compiler_config=compiler_config)
        except BaseException:
            runtime._close()
            raise

    return ContextfulFuture(make)


def create_queue(model: Any, *, device: str | None = None, worker_num: int | None = None,
                 batch_size: int | None = None, input_queue_size: int | None = None,
                 output_queue_size: int | None = None, compiler_config: dict | None = None) -> ContextfulFuture:
    """``submitter, receiver = await create_queue(model)`` or ``async with ... as (submitter, receiver)``."""
    check_arguments(model, device, worker_num, batch_size, compiler_config)
    _engine.check_count("input_queue_size", input_queue_size)
    _engine.check_count("output_queue_size", output_queue_size)

    async def make() -> AsyncQueuePair:
        runtime = await asyncio.to_thread(_implicit, device)
        try:
            return await runtime.create_queue(model, worker_num=worker_num, batch_size=batch_size,
                                              input_queue_size=input_queue_size,
                                              output_queue_size=output_queue_size,
                                              compiler_config=compiler_config)
        except BaseException:
            runtime._close()
            raise

    return ContextfulFuture(make)
