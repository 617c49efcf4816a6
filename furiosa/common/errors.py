"""The SDK's own error hierarchy.

Vendor-defined exception classes (``FuriosaRuntimeError`` and its legacy subclasses) live in
``furiosa.runtime.errors``; everything the SDK defines for itself derives from
:class:`FuriosaError` and from the builtin that matches its meaning, so callers may catch either.
Messages say what failed, where, what was expected and what is supported.
"""
from __future__ import annotations


class FuriosaError(Exception):
    """Root of the errors defined by this SDK (not the vendor's runtime classes)."""


class InvalidModelError(FuriosaError, ValueError):
    """A model source could not be read: not a model, truncated, damaged or inconsistent."""


class UnsupportedModelError(FuriosaError, ValueError):
    """A readable model uses something this SDK cannot compile or run."""


class InvalidConfigError(FuriosaError, ValueError):
    """A compiler configuration has an unknown key or a value of the wrong type or range."""


class IncompatibleProgramError(FuriosaError, ValueError):
    """A compiled program (ENF) was built by another compiler version or for another target."""


class InvalidSettingError(FuriosaError, ValueError):
    """An environment variable of the SDK (``FURIOSA_EMU_*``, ``FC_CACHE_*``) holds a value it does not accept."""


class ExecutionError(FuriosaError, RuntimeError):
    """An operator failed while a program ran (the inference fails; the runner keeps serving)."""


class DeviceError(FuriosaError, RuntimeError):
    """An emulated NPU device could not be found, parsed or opened."""


class DeviceBusyError(DeviceError):
    """The requested NPU device is held by another runtime (in this or another process)."""


class InvalidDeviceConfigError(DeviceError, ValueError):
    """A device specification string does not follow the device grammar."""


class CompilerWarning(UserWarning):
    """Something about a model the user should know: it compiled, but not as they may expect."""


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn, attributing the warning to the first caller outside the ``furiosa`` package."""
    import os
    import sys
    import warnings

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    level, frame = 2, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
