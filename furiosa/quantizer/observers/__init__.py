"""Streaming statistics of calibrated tensors, one kind per module.

An observer receives a tensor's values sample after sample and keeps a summary of bounded
size, whatever the number of samples: :class:`~.minmax.MinMax` keeps the running extremes,
:class:`~.histogram.StreamingHistogram` a fixed number of bins whose range doubles (merging
neighbouring bins) when new values fall outside it. ``OBSERVERS`` maps the statistic a
calibration method needs to the class that keeps it.
"""
from __future__ import annotations

from furiosa.common.registry import Registry

OBSERVERS: Registry[type] = Registry("calibration statistic")

from .histogram import StreamingHistogram  # noqa: E402
from .minmax import MinMax  # noqa: E402

OBSERVERS.add("min_max", MinMax)
OBSERVERS.add("histogram", StreamingHistogram)

__all__ = ["OBSERVERS", "MinMax", "StreamingHistogram"]
