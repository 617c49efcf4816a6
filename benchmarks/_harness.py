"""What every benchmark shares: timing against a reference in the same run, the machine line.

Timings alternate between the measured function and its reference (a block of each, in turn,
``repeat`` times, after a warm-up), so that a change in the machine's load during the run
affects both alike; each figure is the median. Run the benchmarks on a quiet machine: other
work on the cores changes absolute times far more than it changes ratios.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def interleaved(functions: dict[str, Callable[[], object]], repeat: int, warmup: int = 2,
                inner: int = 1, settle: int = 1, pause: float = 0.05) -> dict[str, float]:
    """Median milliseconds per call of each function, in blocks alternating between them.

    Each round runs every function in turn: a ``pause``, ``settle`` untimed calls, then ``inner``
    timed ones. onnxruntime's thread pools keep spinning for a while after a run, so a function
    run right after another session's would share the cores with that session's idle threads:
    the pause lets them go to sleep, the untimed calls bring the function's own data back into
    the caches.
    """
    for function in functions.values():
        for _ in range(warmup):
            function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            time.sleep(pause)
            for _ in range(settle):
                function()
            started = time.perf_counter()
            for _ in range(inner):
                function()
            times[name].append((time.perf_counter() - started) / inner)
    return {name: float(np.median(values) * 1e3) for name, values in times.items()}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine() -> str:
    """One line saying what the figures were measured on."""
    import onnxruntime

    from furiosa.device.emulator.kernels import integer

    flags = cpu_flags()
    vnni = "VNNI" if {"avx512_vnni", "avx_vnni"} & flags else "no VNNI"
    return (f"machine: {cpu_model()}, {os.cpu_count()} cores, {vnni}; Python {platform.python_version()}, "
            f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}; "
            f"emulator kernels: {integer.backend()}; load average {os.getloadavg()[0]:.2f}")
