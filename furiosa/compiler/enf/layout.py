"""The NPU's lowered tensor layout, as seen with ``remove_lower`` / ``remove_unlower``.

The emulator defines its own layout (the vendor's is not public; spec/runtime-api.md §10.3):
a 4-D NCHW tensor is spread over the PE's slices by rows. Height splits into ``Ho`` row groups
(one per slice, as many slices as divide the height evenly) of ``Hi`` rows; channels split into
``Co`` groups of ``Ci`` (at most 32) channels; each row of width ``W`` is padded to a multiple
of 32 items, the NPU's alignment. The six axes, outermost first, are
``N, Ho, Co, Hi, Ci, W``. The shape counts only real items; the strides skip the padding, so the
buffer is larger than the tensor whenever ``W`` is not a multiple of 32.

Tensors of rank 2 (``N, C``) and 3 (``N, C, W``) are treated as ``N, C, 1, 1`` and
``N, C, 1, W``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALIGN = 32
AXES = ("N", "Ho", "Co", "H", "C", "W")
SLICES = {"warboy": 64, "warboy-2pe": 128}


def _largest_divisor_at_most(n: int, bound: int) -> int:
    for d in range(min(n, bound), 0, -1):
        if n % d == 0:
            return d
    return 1


def as_nchw(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) == 4:
        return shape  # type: ignore[return-value]
    if len(shape) == 3:
        return (shape[0], shape[1], 1, shape[2])
    if len(shape) == 2:
        return (shape[0], shape[1], 1, 1)
    raise ValueError(f"a lowered layout exists for tensors of rank 2 to 4, not {len(shape)}")


@dataclass(frozen=True)
class Lowered:
    """The lowered form of one logical tensor."""

    logical: tuple[int, ...]
    shape: tuple[int, int, int, int, int, int]
    strides: tuple[int, int, int, int, int, int]
    padded_width: int

    @property
    def size_items(self) -> int:
        return self.shape[0] * self.strides[0]

    def to_lowered(self, logical: np.ndarray) -> np.ndarray:
        """A padded buffer holding ``logical`` in this layout, returned as the strided 6-D view."""
        n, ho, co, hi, ci, w = self.shape
        x = logical.reshape(as_nchw(self.logical))
        buffer = np.zeros(self.size_items, dtype=logical.dtype)
        view = self.view(buffer)
        # N, C, H, W -> N, Co, Ci, Ho, Hi, W -> N, Ho, Co, Hi, Ci, W
        arranged = x.reshape(n, co, ci, ho, hi, w).transpose(0, 3, 1, 4, 2, 5)
        view[...] = arranged
        return view

    def view(self, buffer: np.ndarray) -> np.ndarray:
        """The 6-D strided view of a flat padded buffer."""
        itemsize = buffer.dtype.itemsize
        return np.lib.stride_tricks.as_strided(
            buffer, shape=self.shape, strides=tuple(s * itemsize for s in self.strides),
            writeable=True,
        )

    def to_logical(self, lowered: np.ndarray) -> np.ndarray:
        """The logical tensor held by a 6-D array of this layout (strided or contiguous)."""
        if lowered.shape != self.shape:
            raise ValueError(f"expected a lowered tensor of shape {self.shape}, got {lowered.shape}")
        n, ho, co, hi, ci, w = self.shape
        nchw = lowered.transpose(0, 2, 4, 1, 3, 5).reshape(n, co * ci, ho * hi, w)
        return np.ascontiguousarray(nchw).reshape(self.logical)


def lowered(logical: tuple[int, ...], target: str) -> Lowered:
    """The lowered layout of a tensor of logical shape ``logical`` on ``target``."""
    n, c, h, w = as_nchw(tuple(int(d) for d in logical))
    slices = SLICES[target]
    ho = _largest_divisor_at_most(h, slices)
    hi = h // ho
    ci = _largest_divisor_at_most(c, ALIGN)
    co = c // ci
    wp = -(-w // ALIGN) * ALIGN
    shape = (n, ho, co, hi, ci, w)
    s_ci = wp
    s_hi = ci * s_ci
    s_co = hi * s_hi
    s_ho = co * s_co
    s_n = ho * s_ho
    return Lowered(tuple(logical), shape, (s_n, s_ho, s_co, s_hi, s_ci, 1), wp)
