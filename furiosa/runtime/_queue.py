"""The queue API: a ``Submitter`` feeding inferences, a ``Receiver`` taking results
(spec/runtime-api.md §7), in blocking and asyncio forms over one :class:`QueueCore`.

Semantics: ``submit`` blocks (async: waits) while the input queue is full; results may come
back out of submission order when several workers run, each with its ``context``; closing the
submitter lets queued inputs finish, after which the receiver's iteration ends and ``recv``
raises ``SessionTerminated``; closing the receiver cancels what is still queued, refuses further
submissions (``SessionClosed``) and, for a queue made by the module-level ``create_queue``,
closes its implicit runtime. A request whose inference fails comes back as that error from
``recv`` (its ``context`` attribute is the request's context); the workers keep serving.

Defaults: input and output queues of 1024 entries for this API, 65,536 for the legacy
``create_async`` (whose queues were unbounded in 0.9).
"""
from __future__ import annotations

import asyncio
import math
import warnings
from typing import Any

import numpy as np

from ._engine import Engine, check_count
from ._errors import FuriosaRuntimeWarning, SessionClosed, SessionTerminated
from ._inputs import check_inputs
from ._types import Model
from ._workers import EMPTY, Channel, ChannelClosed, Job, WorkerPool

DEFAULT_QUEUE_SIZE = 1024
LEGACY_QUEUE_SIZE = 65536
CLOSE_TIMEOUT = 60.0


class QueueCore:
    """An engine, its workers and the result channel, shared by both halves of a queue."""

    def __init__(self, engine: Engine, runtime: Any, input_queue_size: Any, output_queue_size: Any,
                 default_size: int = DEFAULT_QUEUE_SIZE) -> None:
        in_size = check_count("input_queue_size", input_queue_size) or default_size
        out_size = check_count("output_queue_size", output_queue_size) or default_size
        self.engine = engine
        self.runtime = runtime
        self.results = Channel(out_size)
        self.pool = WorkerPool(engine.run, engine.worker_num, in_size, on_idle=self.results.close, name="queue")
        self.submitter_closed = False
        self.receiver_closed = False

    @property
    def model(self) -> Model:
        return self.engine.model

    def submit(self, inputs: Any, context: Any, legacy: bool = False, timeout: float | None = None) -> None:
        if self.submitter_closed or self.receiver_closed:
            raise SessionClosed("Submitter has been closed")
        arrays = check_inputs(inputs, self.engine.model.inputs(), legacy)
        if legacy:
            arrays = [a.copy() for a in arrays]
        self.pool.submit(Job(arrays, lambda outputs, error: self._deliver(context, outputs, error)), timeout)

    def job(self, inputs: Any, context: Any) -> Job:
        arrays = check_inputs(inputs, self.engine.model.inputs())
        return Job(arrays, lambda outputs, error: self._deliver(context, outputs, error))

    def _deliver(self, context: Any, outputs: Any, error: BaseException | None) -> None:
        if error is not None:  # recv() raises it: say which request failed
            try:
                error.context = context  # type: ignore[attr-defined]
            except AttributeError:
                pass
        try:
            self.results.put((context, outputs, error))
        except ChannelClosed:
            pass  # the receiver is closed: nobody can take this result any more

    def unpack(self, item: Any) -> tuple[Any, list[np.ndarray]]:
        if item is None:
            if self.receiver_closed:
                raise SessionClosed("Receiver has been closed")
            raise SessionTerminated("the submitter is closed and every result has been received")
        context, outputs, error = item
        if error is not None:
            raise error
        return context, outputs

    def close_submitter(self) -> bool:
        """No more inputs; queued ones still run, then the result stream ends."""
        self.submitter_closed = True
        self.pool.jobs.close()
        return True

    def close_receiver(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Cancel what is queued, stop the workers, close the engine (and an implicit runtime)."""
        if self.receiver_closed:
            return True
        self.receiver_closed = True
        self.submitter_closed = True
        self.results.close()
        done = self.pool.close(drain=False, timeout=timeout)
        done = self.engine.close(timeout) and done
        if self.runtime is not None and getattr(self.runtime, "_implicit", False):
            done = self.runtime._close() and done
        return done


def _check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"`timeout` must be a number of seconds, not {type(timeout).__name__}")
    if timeout < 0 or not math.isfinite(timeout):
        raise ValueError("`timeout` should not be negative or non-finite")
    return float(timeout)


# --- blocking halves ------------------------------------------------------------------------------
class SyncSubmitter:
    """Feeds inputs to a queue: ``submit(inputs, context=None)`` blocks while the queue is full."""

    def __init__(self, core: QueueCore) -> None:
        self._core = core

    @property
    def model(self) -> Model:
        return self._core.model

    def allocate(self) -> list[np.ndarray]:
        return [np.zeros(d.shape, d.dtype.numpy) for d in self._core.model.inputs()]

    def submit(self, inputs: Any, context: Any = None) -> None:
        self._core.submit(inputs, context)

    def close(self) -> bool:
        return self._core.close_submitter()

    def __enter__(self) -> "SyncSubmitter":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.close():
            warnings.warn("Submitter couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)


class SyncReceiver:
    """Takes results: ``recv(timeout=None)`` → ``(context, outputs)``; iterable."""

    def __init__(self, core: QueueCore) -> None:
        self._core = core

    @property
    def model(self) -> Model:
        return self._core.model

    def recv(self, timeout: float | None = None) -> tuple[Any, list[np.ndarray]]:
        seconds = _check_timeout(timeout)
        if self._core.receiver_closed:
            raise SessionClosed("Receiver has been closed")
        item = self._core.results.get(seconds)
        if item is EMPTY:
            raise TimeoutError("Receiver has been timed out")
        return self._core.unpack(item)

    def __iter__(self) -> "SyncReceiver":
        return self

    def __next__(self) -> tuple[Any, list[np.ndarray]]:
        if self._core.receiver_closed:
            raise StopIteration
        item = self._core.results.get()
        if item is None:
            raise StopIteration
        return self._core.unpack(item)

    def close(self) -> bool:
        return self._core.close_receiver()

    def __enter__(self) -> "SyncReceiver":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.close():
            warnings.warn("Receiver couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is not None and not core.receiver_closed:
            core.close_receiver(timeout=0)


class SyncQueuePair(tuple):
    """``(submitter, receiver)``, usable as ``with create_queue(m) as (submitter, receiver):``."""

    def __enter__(self) -> "SyncQueuePair":
        return self

    def __exit__(self, *exc: Any) -> None:
        for half in self:
            half.__exit__(*exc)


def sync_queue(engine: Engine, runtime: Any, input_queue_size: Any, output_queue_size: Any) -> SyncQueuePair:
    core = QueueCore(engine, runtime, input_queue_size, output_queue_size)
    return SyncQueuePair((SyncSubmitter(core), SyncReceiver(core)))


# --- asyncio halves --------------------------------------------------------------------------------
class AsyncSubmitter:
    """``await submit(inputs, context=None)`` waits while the input queue is full."""

    def __init__(self, core: QueueCore) -> None:
        self._core = core

    @property
    def model(self) -> Model:
        return self._core.model

    def allocate(self) -> list[np.ndarray]:
        return [np.zeros(d.shape, d.dtype.numpy) for d in self._core.model.inputs()]

    async def submit(self, inputs: Any, context: Any = None) -> None:
        core = self._core
        if core.submitter_closed or core.receiver_closed:
            raise SessionClosed("Submitter has been closed")
        job = core.job(inputs, context)
        delay = 0.0005
        while True:
            try:
                if core.pool.jobs.try_put(job):
                    return
            except ChannelClosed:
                raise SessionClosed("Submitter has been closed") from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.01)

    async def close(self) -> bool:
        return self._core.close_submitter()

    async def __aenter__(self) -> "AsyncSubmitter":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not await self.close():
            warnings.warn("Submitter couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)


class AsyncReceiver:
    """``await recv()`` → ``(context, outputs)``; ``async for context, outputs in receiver``."""

    def __init__(self, core: QueueCore) -> None:
        self._core = core

    @property
    def model(self) -> Model:
        return self._core.model

    async def _next(self) -> Any:
        channel = self._core.results
        while True:
            if self._core.receiver_closed:
                raise SessionClosed("Receiver has been closed")
            item = channel.get_nowait()
            if item is not EMPTY:
                return item
            await _wait_for_channel_or_item(channel)

    async def recv(self) -> tuple[Any, list[np.ndarray]]:
        return self._core.unpack(await self._next())

    def __aiter__(self) -> "AsyncReceiver":
        return self

    async def __anext__(self) -> tuple[Any, list[np.ndarray]]:
        if self._core.receiver_closed:
            raise StopAsyncIteration
        item = await self._next()
        if item is None:
            raise StopAsyncIteration
        return self._core.unpack(item)

    async def close(self) -> bool:
        return await asyncio.to_thread(self._core.close_receiver)

    async def __aenter__(self) -> "AsyncReceiver":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not await self.close():
            warnings.warn("Receiver couldn't be closed in time, skipping...", FuriosaRuntimeWarning, stacklevel=2)

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is not None and not core.receiver_closed:
            core.close_receiver(timeout=0)


async def _wait_for_channel_or_item(channel: Channel) -> None:
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake() -> None:
        loop.call_soon_threadsafe(lambda: waiter.done() or waiter.set_result(None))

    token = channel.add_waiter(wake)
    try:
        if len(channel) or channel.closed:  # an item arrived before the waiter was registered
            return
        await waiter
    finally:
        channel.remove_waiter(token)


class AsyncQueuePair(tuple):
    """``(submitter, receiver)`` that is also an async context manager entering both halves."""

    async def __aenter__(self) -> "AsyncQueuePair":
        await asyncio.gather(*(half.__aenter__() for half in self))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await asyncio.gather(*(half.__aexit__(*exc) for half in self))


def async_queue(engine: Engine, runtime: Any, input_queue_size: Any, output_queue_size: Any) -> AsyncQueuePair:
    core = QueueCore(engine, runtime, input_queue_size, output_queue_size)
    return AsyncQueuePair((AsyncSubmitter(core), AsyncReceiver(core)))
