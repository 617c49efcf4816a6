"""Every setting the SDK reads from the environment, in one place.

Vendor variables keep the vendor's names and meanings (spec/runtime-api.md §13); variables that
exist only because the device is emulated start with ``FURIOSA_EMU_``. Each function reads the
environment when called, so tests and long-lived processes see changes.
"""
from __future__ import annotations

import os
from pathlib import Path

from furiosa.common.errors import InvalidSettingError

DEFAULT_DEVICE_SPEC = "warboy(2)*1"
LEGACY_DEFAULT_DEVICE_SPEC = "npu0pe0-1"


def _get(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _flag(name: str, default: bool, accepted: str) -> bool:
    """A yes/no variable: 1, true, yes, on or 0, false, no, off (any case); ``default`` when unset."""
    raw = _get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InvalidSettingError(f"{name} must be {accepted}, got {raw!r}")


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
        raise InvalidSettingError(f"FURIOSA_EMU_NPUS must be an integer from 0 to 64, got {raw!r}") from None
    if not 0 <= count <= 64:
        raise InvalidSettingError(f"FURIOSA_EMU_NPUS must be an integer from 0 to 64, got {raw!r}")
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


def emulator_pace() -> bool:
    """``FURIOSA_EMU_PACE``: make every inference take at least the modeled device time.

    ``1`` (also ``true``, ``yes``, ``on``) paces: each NPU execution, with its PCIe transfers,
    ends no earlier than the modeled Warboy would finish it, and a device runs one execution at
    a time, so serving code sees the card's latency and throughput (when the emulator computes
    faster than the card; it never makes it faster). ``0`` or unset (the default) runs as fast
    as the emulator can.
    """
    return _flag("FURIOSA_EMU_PACE", False, "1 (pace inferences to the modeled device time) or 0")


def emulator_threads() -> int:
    """``FURIOSA_EMU_THREADS``: how many threads one inference's kernels may use (default: the
    cores, at most 4). 1 computes every operator on the calling thread, which lets several
    workers or processes share the cores without competing."""
    cores = max(1, min(4, os.cpu_count() or 1))
    raw = _get("FURIOSA_EMU_THREADS")
    if raw is None or raw.strip() == "":
        return cores
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise InvalidSettingError(f"FURIOSA_EMU_THREADS must be an integer from 1 to 256, got {raw!r}")
    return value


def log_level() -> str:
    """``FURIOSA_LOG_LEVEL``: INFO (default), WARN, ERROR or OFF."""
    return (_get("FURIOSA_LOG_LEVEL") or "INFO").upper()


def compile_log_enabled() -> bool:
    """False when ``FURIOSA_TEST_IS_RUNNING`` is set (legacy behaviour)."""
    return not _get("FURIOSA_TEST_IS_RUNNING")


# --- compiler cache (spec/toolchain-api.md §6) ----------------------------------------------
DEFAULT_CACHE_LIFETIME = 30 * 24 * 3600


def compiler_cache_enabled() -> bool:
    """``FC_CACHE_ENABLED``: ``1`` (default) uses the compiler cache, ``0`` disables it."""
    return _flag("FC_CACHE_ENABLED", True, "1 or 0")


def compiler_cache_url() -> str:
    """``FC_CACHE_STORE_URL``: a directory, ``redis://...`` or ``rediss://...``.

    Defaults to ``$HOME/.cache/furiosa/compiler``.
    """
    return _get("FC_CACHE_STORE_URL") or str(Path.home() / ".cache" / "furiosa" / "compiler")


def compiler_cache_lifetime() -> int:
    """``FC_CACHE_LIFETIME`` in seconds: N > 0 entries live N s, 0 invalidates, < 0 never expires.

    Defaults to 30 days.
    """
    raw = _get("FC_CACHE_LIFETIME")
    if raw is None:
        return DEFAULT_CACHE_LIFETIME
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidSettingError(f"FC_CACHE_LIFETIME must be an integer number of seconds, got {raw!r}") from None


def activity_dir() -> Path:
    """Where runtimes publish their per-device activity counters (read by ``furiosactl top``)."""
    return state_dir() / "activity"
