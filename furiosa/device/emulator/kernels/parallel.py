"""Splitting one kernel's work over the host's cores.

numpy, onnxruntime and the native loops release the interpreter lock while they compute, so
parts of one operator (channel slices, rows of patches) can run on several threads at once.
Every element is computed by the same function as without the split, so results do not change.

Splitting only pays when the cores are otherwise idle: while several inferences run at once
(queue workers, several runners), each already keeps a core busy, and splitting their kernels
would only add switching. :func:`enter` / :func:`leave` (or :func:`running`) count the
inferences in flight; :func:`ways` says how many parts to cut an operator's work into.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

from furiosa.common import settings

THRESHOLD = 1 << 18
WORK_THRESHOLD = 1 << 21  # multiply-adds below which one thread is as fast as several
_lock = threading.Lock()
_in_flight = 0
_workers = 0  # FURIOSA_EMU_THREADS, read on first use (see _setup)
_pool: ThreadPoolExecutor | None = None


def _setup() -> None:
    global _workers, _pool
    with _lock:
        if not _workers:
            workers = settings.emulator_threads()
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="furiosa-kernel") if workers > 1 else None
            _workers = workers


def enter() -> None:
    """Count one more inference in flight (paired with :func:`leave`)."""
    global _in_flight
    with _lock:
        _in_flight += 1


def leave() -> None:
    global _in_flight
    with _lock:
        _in_flight -= 1


@contextmanager
def running() -> Iterator[None]:
    """Mark one inference in flight for the duration of the block."""
    enter()
    try:
        yield
    finally:
        leave()


def cores() -> int:
    """How many threads kernels may use at most."""
    if not _workers:
        _setup()
    return _workers if _pool is not None else 1


def ways(work: int) -> int:
    """How many parts to split ``work`` (multiply-adds or elements) into: 1 when small or busy."""
    if work < WORK_THRESHOLD or _in_flight > 1:
        return 1
    return cores()


def spans(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``[start, end)`` ranges covering ``range(total)``, none empty."""
    parts = max(1, min(parts, total))
    step = -(-total // parts)
    return [(i, min(i + step, total)) for i in range(0, total, step)]


def run_all(tasks: Sequence[Callable[[], None]]) -> None:
    """Run the tasks, all but the first on the pool, the first on this thread; errors propagate."""
    if len(tasks) == 1 or cores() == 1:
        for task in tasks:
            task()
        return
    futures = [_pool.submit(task) for task in tasks[1:]]
    try:
        tasks[0]()
    finally:
        for future in futures:
            future.exception()  # wait for every part before the caller reuses its buffers
    for future in futures:
        future.result()


def by_channel(fn: Callable[[np.ndarray, slice], np.ndarray], array: np.ndarray, axis: int = 1) -> np.ndarray:
    """``fn(array_part, channel_slice)`` over channel slices of ``array``, concatenated."""
    channels = array.shape[axis]
    if array.size < THRESHOLD or channels < 2 or _in_flight > 1 or cores() == 1:
        return fn(array, slice(0, channels))
    slices = [slice(a, b) for a, b in spans(channels, _workers)]
    index = [slice(None)] * array.ndim

    def run(part: slice) -> np.ndarray:
        index_part = list(index)
        index_part[axis] = part
        return fn(array[tuple(index_part)], part)

    return np.concatenate(list(_pool.map(run, slices)), axis=axis)
