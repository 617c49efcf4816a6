"""How each calibration method turns a tensor's statistics into a range (spec/toolchain-api.md §3.4).

One module per objective, registered in ``OBJECTIVES`` under the objective's name:

* ``min_max``: the exact extremes;
* ``percentile``: the ``percentage``-th percentile of ``|x|`` (SYM) or equal tails (ASYM);
* ``entropy``: the threshold minimizing the KL divergence between the clipped histogram and its
  8-bit quantized version (TensorRT's method);
* ``mse``: the range minimizing the expected squared error of Warboy int8 fake quantization;
* ``sqnr``: the range maximizing signal power over quantization noise, clipping noise weighted.

Conventions shared by all: SYM returns ``(-a, a)``, or ``(0.0, a)`` when no value is negative;
ASYM picks both ends, reporting the empty side of one-signed data as ``0`` (``-0.0`` below
non-negative data), except ``min_max``, which returns the raw extremes. A tensor that was never
observed gets ``(0.0, 0.0)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from furiosa.common.registry import Registry


class Statistics(Protocol):
    """What an objective reads (see :mod:`furiosa.quantizer.observers`)."""

    min: float
    max: float
    empty: bool


Objective = Callable[[Statistics, bool, float], tuple[float, float]]

OBJECTIVES: Registry[Objective] = Registry("calibration objective")


@dataclass(frozen=True)
class MethodSpec:
    """A ``CalibrationMethod`` member as data: which statistic, which objective, SYM or ASYM."""

    statistic: str
    objective: str
    symmetric: bool


def symmetric_range(stats: Statistics, magnitude: float) -> tuple[float, float]:
    """``(-a, a)``, or ``(0.0, a)`` when the data has no negative value."""
    a = float(magnitude)
    return (0.0, a) if stats.min >= 0 else (-a, a)


def one_signed_range(stats: Statistics, magnitude: float) -> tuple[float, float]:
    """The range of one-signed data with the empty side at 0 (``-0.0`` below non-negative data)."""
    a = float(magnitude)
    return (-0.0, a) if stats.min >= 0 else (-a, 0.0)


from . import entropy, min_max, mse, percentile  # noqa: E402,F401  (registration by import)
