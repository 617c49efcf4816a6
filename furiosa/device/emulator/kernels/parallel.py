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

import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

from furiosa.common import settings

THRESHOLD = 1 << 18
# Multiply-adds below which a matrix product runs on one thread: onnxruntime's pool thread
# sleeps between products and takes tens of microseconds to wake (measured on MobileNet-v2:
# 2**21 is about 5 % faster than 2**23 and as fast as 2**20).
WORK_THRESHOLD = 1 << 21
# Values (requantized outputs, depthwise taps, quantized inputs) below which a native loop runs
# whole. Its worker threads take a span within microseconds (a 75,000-value requantization cut in
# two: 17 -> 9 us); on MobileNet-v2, 2**15 was as fast as or faster than 2**14 and 2**16.
NATIVE_THRESHOLD = 1 << 15
_lock = threading.Lock()
_in_flight = 0
_workers = 0  # FURIOSA_EMU_THREADS, read on first use (see _setup)
_team: "_Team | None" = None


class _Helper(threading.Thread):
    """A thread that runs one task each time it is handed one: two locks, no queue, no futures.

    Handing work over costs a lock release and the thread's wake-up, a few microseconds, where a
    ``ThreadPoolExecutor`` round trip costs tens: kernels fork and join once per operator.
    """

    def __init__(self, index: int) -> None:
        super().__init__(name=f"furiosa-kernel-{index}", daemon=True)
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._task: Callable[[], None] | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        while True:
            self._go.acquire()
            try:
                self._task()  # type: ignore[misc]
            except BaseException as error:  # noqa: BLE001 - handed back to the caller
                self.error = error
            self._task = None
            self._done.release()

    def hand(self, task: Callable[[], None]) -> None:
        self.error = None
        self._task = task
        self._go.release()

    def wait(self) -> BaseException | None:
        self._done.acquire()
        return self.error


class _Team:
    """The helper threads; one caller at a time (others run their tasks themselves)."""

    def __init__(self, helpers: int) -> None:
        self.helpers = [_Helper(i) for i in range(helpers)]
        self.busy = threading.Lock()


def _setup() -> None:
    global _workers, _team
    with _lock:
        if not _workers:
            workers = settings.emulator_threads()
            _team = _Team(workers - 1) if workers > 1 else None
            _workers = workers


def _after_fork_in_child() -> None:
    """A forked process has only the thread that forked: the helpers are made again when needed."""
    global _lock, _in_flight, _workers, _team
    _lock = threading.Lock()  # another thread may have held it at the fork
    _in_flight = 0
    _workers = 0
    _team = None


os.register_at_fork(after_in_child=_after_fork_in_child)


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
    return _workers


def ways(work: int) -> int:
    """How many parts to split ``work`` (multiply-adds or elements) into: 1 when small or busy."""
    if work < WORK_THRESHOLD or _in_flight > 1:
        return 1
    return cores()


def native_parts(values: int) -> int:
    """How many parts a native loop over ``values`` values is cut into: 1 when small or busy."""
    if values < NATIVE_THRESHOLD or _in_flight > 1:
        return 1
    return cores()


def spans(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``[start, end)`` ranges covering ``range(total)``, none empty."""
    parts = max(1, min(parts, total))
    step = -(-total // parts)
    return [(i, min(i + step, total)) for i in range(0, total, step)]


def run_all(tasks: Sequence[Callable[[], None]]) -> None:
    """Run the tasks, the first on this thread and the others on the helpers; errors propagate.

    Returns when every task has finished. With more tasks than threads, or while another
    caller has the helpers, the remaining tasks run on this thread.
    """
    team = _team if cores() > 1 and len(tasks) > 1 else None
    if team is None or not team.busy.acquire(blocking=False):
        for task in tasks:
            task()
        return
    try:
        handed = list(zip(team.helpers, tasks[1:]))
        for helper, task in handed:
            helper.hand(task)
        error: BaseException | None = None
        try:
            tasks[0]()
            for task in tasks[1 + len(handed):]:
                task()
        except BaseException as raised:  # noqa: BLE001 - re-raised once every helper is done
            error = raised
        for helper, _ in handed:  # wait for every part before the caller reuses its buffers
            failed = helper.wait()
            error = error or failed
        if error is not None:
            raise error
    finally:
        team.busy.release()


def by_channel(fn: Callable[[np.ndarray, slice], np.ndarray], array: np.ndarray, axis: int = 1) -> np.ndarray:
    """``fn(array_part, channel_slice)`` over channel slices of ``array``, concatenated."""
    channels = array.shape[axis]
    if array.size < THRESHOLD or channels < 2 or _in_flight > 1 or cores() == 1:
        return fn(array, slice(0, channels))
    slices = [slice(a, b) for a, b in spans(channels, _workers)]
    index = [slice(None)] * array.ndim
    parts: list[np.ndarray | None] = [None] * len(slices)

    def run(i: int) -> None:
        index_part = list(index)
        index_part[axis] = slices[i]
        parts[i] = fn(array[tuple(index_part)], slices[i])

    run_all([lambda i=i: run(i) for i in range(len(slices))])
    return np.concatenate(parts, axis=axis)
