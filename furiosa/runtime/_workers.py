"""Worker threads and the queues between them (used by the queue, async and legacy-async APIs).

:class:`Channel` is a bounded FIFO that can be closed: ``put`` blocks while it is full and
fails once it is closed; ``get`` returns items until it is closed *and* empty, then ``None``.
Waiters from an event loop register wake-up callbacks instead of blocking a thread, so that a
cancelled ``await`` never takes an item out of the channel (no result is ever lost).

:class:`WorkerPool` runs ``worker_num`` threads that take jobs from an input channel and hand
each result (or error) to the job's ``deliver`` callback. Closing it either drains (every
submitted job still runs) or cancels (pending jobs fail with ``SessionClosed``); either way
the threads end.
"""
from __future__ import annotations

import collections
import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._errors import SessionClosed

EMPTY = object()


class ChannelClosed(Exception):
    """Raised by :meth:`Channel.put` once the channel is closed."""


class Channel:
    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity or 0
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._waiters: dict[int, Callable[[], None]] = {}
        self._tokens = itertools.count()

    def _full(self) -> bool:
        return bool(self.capacity) and len(self._items) >= self.capacity

    def put(self, item: Any, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._full() and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("the queue is full")
                self._cond.wait(remaining)
            if self._closed:
                raise ChannelClosed()
            self._items.append(item)
            self._cond.notify_all()
            waiters = list(self._waiters.values())
        for wake in waiters:
            wake()

    def try_put(self, item: Any) -> bool:
        with self._cond:
            if self._closed:
                raise ChannelClosed()
            if self._full():
                return False
        self.put(item)
        return True

    def get(self, timeout: float | None = None) -> Any:
        """The next item; ``None`` when closed and empty; ``EMPTY`` when the timeout expires."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return EMPTY
                self._cond.wait(remaining)
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return None

    def get_nowait(self) -> Any:
        return self.get(timeout=0)

    def add_waiter(self, wake: Callable[[], None]) -> int:
        """Call ``wake`` (from any thread) whenever an item arrives or the channel closes."""
        with self._cond:
            token = next(self._tokens)
            self._waiters[token] = wake
            return token

    def remove_waiter(self, token: int) -> None:
        with self._cond:
            self._waiters.pop(token, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            waiters = list(self._waiters.values())
        for wake in waiters:
            wake()

    def drain(self) -> list[Any]:
        with self._cond:
            items = list(self._items)
            self._items.clear()
            self._cond.notify_all()
            return items

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Job:
    arrays: list[np.ndarray]
    deliver: Callable[["list[np.ndarray] | None", "BaseException | None"], None]
    context: Any = None


class WorkerPool:
    """``workers`` threads running jobs through ``execute``."""

    def __init__(self, execute: Callable[[list[np.ndarray]], list[np.ndarray]], workers: int,
                 capacity: int | None = None, on_idle: Callable[[], None] | None = None, name: str = "worker") -> None:
        self.jobs = Channel(capacity)
        self._execute = execute
        self._on_idle = on_idle
        self._alive = workers
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, name=f"furiosa-{name}-{i}", daemon=True)
                        for i in range(workers)]
        started = []
        try:
            for thread in self.threads:
                thread.start()
                started.append(thread)
        except BaseException:  # e.g. the system's thread limit: end the threads already started
            self.jobs.close()
            for thread in started:
                thread.join()
            raise

    def submit(self, job: Job, timeout: float | None = None) -> None:
        try:
            self.jobs.put(job, timeout)
        except ChannelClosed:
            raise SessionClosed("Submitter has been closed") from None

    def _work(self) -> None:
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                try:
                    outputs = self._execute(job.arrays)
                except BaseException as error:  # the request fails, the worker keeps serving
                    job.deliver(None, error)
                else:
                    job.deliver(outputs, None)
        finally:
            with self._lock:
                self._alive -= 1
                last = self._alive == 0
            if last and self._on_idle is not None:
                self._on_idle()

    def close(self, drain: bool = True, timeout: float | None = None) -> bool:
        """Stop taking jobs; run (``drain``) or fail the pending ones; wait for the threads."""
        pending = [] if drain else self.jobs.drain()
        self.jobs.close()
        for job in pending:
            job.deliver(None, SessionClosed("the runner was closed before this request ran"))
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self.threads:
            if thread is threading.current_thread():
                continue
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads if t is not threading.current_thread())
