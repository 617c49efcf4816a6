"""Every setting the SDK reads from the environment, in one place.

Vendor variables keep the vendor's names and meanings (spec/runtime-api.md §13); variables that
exist only because the device is emulated start with ``FURIOSA_EMU_``. Each function reads the
environment when called, so tests and long-lived processes see changes.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DEVICE_SPEC = "warboy(2)*1"
LEGACY_DEFAULT_DEVICE_SPEC = "npu0pe0-1"


def _get(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def default_device_spec() -> tuple[str, str]:
    """The device spec to use when none is given, and where it came from.

    ``FURIOSA_DEVICES`` wins over the deprecated ``NPU_DEVNAME``; the default is one Warboy with
    its two PEs fused.
    """
    for name in ("FURIOSA_DEVICES", "NPU_DEVNAME"):
        value = os.environ.get(name)
        if value is not None:
            return value, name
    return DEFAULT_DEVICE_SPEC, "default"


def emulated_npu_count() -> int:
    """How many emulated Warboy cards this machine has (``FURIOSA_EMU_NPUS``, default 1)."""
    raw = _get("FURIOSA_EMU_NPUS")
    if raw is None:
        return 1
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"FURIOSA_EMU_NPUS must be an integer from 0 to 64, got {raw!r}") from None
    if not 0 <= count <= 64:
        raise ValueError(f"FURIOSA_EMU_NPUS must be an integer from 0 to 64, got {raw!r}")
    return count


def state_dir() -> Path:
    """Where emulated devices keep their lock files (``FURIOSA_EMU_STATE_DIR``).

    Defaults to ``$XDG_RUNTIME_DIR/furiosa-emu`` when that exists, else
    ``~/.local/state/furiosa/emu``. Every process of one user sees the same directory, which is
    what makes a device busy across processes.
    """
    explicit = _get("FURIOSA_EMU_STATE_DIR")
    if explicit:
        return Path(explicit)
    runtime_dir = _get("XDG_RUNTIME_DIR")
    if runtime_dir and Path(runtime_dir).is_dir():
        return Path(runtime_dir) / "furiosa-emu"
    return xdg_state_home() / "emu"


def xdg_state_home() -> Path:
    """``XDG_STATE_HOME`` or ``~/.local/state/furiosa`` (legacy ``envs.xdg_state_home``)."""
    value = _get("XDG_STATE_HOME")
    return Path(value) if value else Path.home() / ".local" / "state" / "furiosa"


def log_dir() -> Path:
    """``FURIOSA_LOG_DIR`` or ``<xdg_state_home>/logs``."""
    value = _get("FURIOSA_LOG_DIR")
    return Path(value) if value else xdg_state_home() / "logs"


def profiler_output_path() -> tuple[str | None, str | None]:
    """The trace file requested through the environment, and the variable that named it."""
    for name in ("FURIOSA_PROFILER_OUTPUT_PATH", "NUX_PROFILER_PATH"):
        value = _get(name)
        if value:
            return value, name
    return None, None


def log_level() -> str:
    """``FURIOSA_LOG_LEVEL``: INFO (default), WARN, ERROR or OFF."""
    return (_get("FURIOSA_LOG_LEVEL") or "INFO").upper()


def compile_log_enabled() -> bool:
    """False when ``FURIOSA_TEST_IS_RUNNING`` is set (legacy behaviour)."""
    return not _get("FURIOSA_TEST_IS_RUNNING")
