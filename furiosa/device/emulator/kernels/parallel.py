"""Element-wise work on large tensors, split by channel over the host's cores.

numpy releases the interpreter lock inside its loops, so channel slices of one tensor can be
processed by several threads at once. Every element is computed by the same function as
without the split, so results do not change.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

THRESHOLD = 1 << 18
_workers = max(1, min(4, os.cpu_count() or 1))
_pool = ThreadPoolExecutor(_workers, thread_name_prefix="furiosa-kernel") if _workers > 1 else None


def by_channel(fn: Callable[[np.ndarray, slice], np.ndarray], array: np.ndarray, axis: int = 1) -> np.ndarray:
    """``fn(array_part, channel_slice)`` over channel slices of ``array``, concatenated."""
    channels = array.shape[axis]
    if _pool is None or array.size < THRESHOLD or channels < 2:
        return fn(array, slice(0, channels))
    step = -(-channels // _workers)
    slices = [slice(i, min(i + step, channels)) for i in range(0, channels, step)]
    index = [slice(None)] * array.ndim

    def run(part: slice) -> np.ndarray:
        index_part = list(index)
        index_part[axis] = part
        return fn(array[tuple(index_part)], part)

    return np.concatenate(list(_pool.map(run, slices)), axis=axis)
