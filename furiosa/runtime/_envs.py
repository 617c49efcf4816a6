"""Legacy environment helpers of ``furiosa.runtime.envs`` (spec/runtime-api.md §11.2)."""
from __future__ import annotations

import os
import warnings

from furiosa.common import settings

__all__ = ["current_npu_device", "is_compile_log_enabled", "log_dir", "xdg_state_home", "profiler_output"]


def current_npu_device() -> str:
    return os.environ.get("NPU_DEVNAME", settings.LEGACY_DEFAULT_DEVICE_SPEC)


def is_compile_log_enabled() -> bool:
    return settings.compile_log_enabled()


def xdg_state_home() -> str:
    return os.environ.get("XDG_STATE_HOME") or str(settings.xdg_state_home())


def log_dir() -> str:
    return str(settings.log_dir())


def profiler_output() -> str | None:
    path, variable = settings.profiler_output_path()
    if variable == "NUX_PROFILER_PATH":
        warnings.warn("NUX_PROFILER_PATH is deprecated, use FURIOSA_PROFILER_OUTPUT_PATH instead", UserWarning,
                      stacklevel=2)
    return path
