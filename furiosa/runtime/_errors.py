"""The runtime's exception classes, as the vendor defines them (spec/runtime-api.md §2.3, §8.3).

``FuriosaRuntimeError`` is the base of runtime errors; its subclasses carry the legacy names so
that code catching ``errors.DeviceBusy`` or ``errors.SessionClosed`` keeps working.
``TensorNameNotFound`` is a ``ValueError``, as in 0.10. The 0.9 classes that 0.10 dropped are
provided too, as subclasses of ``FuriosaRuntimeError``. :func:`translate` maps the SDK's own
errors (device, compiler, model) to these classes at the API boundary.
"""
from __future__ import annotations

import contextlib
import enum
import re
from typing import Iterator

from furiosa.common import errors as common


class FuriosaRuntimeError(Exception):
    """Errors from inference runtime."""


class FuriosaRuntimeWarning(RuntimeWarning):
    """Warnings from inference runtime."""


class ProfilerError(Exception):
    """Errors from the profiler."""


for _cls in (FuriosaRuntimeError, FuriosaRuntimeWarning, ProfilerError):
    _cls.__module__ = "runtime"

NativeException = FuriosaRuntimeError


class SessionClosed(FuriosaRuntimeError):
    """Session or AsyncSession is already closed. Please create a new session."""


class SessionTerminated(FuriosaRuntimeError):
    """Session or AsyncSession terminated"""


class DeviceBusy(FuriosaRuntimeError):
    """NPU device busy"""


class InvalidInput(FuriosaRuntimeError):
    """Invalid input tensors"""

    def __init__(self, message: str = "Invalid input tensors", *args: object) -> None:
        super().__init__(message, *args)


class QueueWaitTimeout(FuriosaRuntimeError):
    """queue waiting timed out"""


class TensorNameNotFound(ValueError):
    """Tensor name not found"""


# 0.9 (legacy) classes: kept so that old code catching them still runs.
class IncompatibleModel(FuriosaRuntimeError):
    """model binary is not compatible"""


class CompilationFailed(FuriosaRuntimeError):
    """fail to compile a given model to NPU binary"""


class InternalError(FuriosaRuntimeError):
    """unknown"""


class UnsupportedTensorType(FuriosaRuntimeError):
    """numpy.ndarray, TensorArray are only supported"""


class UnsupportedDataType(FuriosaRuntimeError):
    """unknown data type"""


class IncompatibleApiClientError(FuriosaRuntimeError):
    """incompatible client with Furiosa API server"""


class InvalidYamlException(FuriosaRuntimeError):
    """compiler config is not valid YAML"""


class ApiClientInitFailed(FuriosaRuntimeError):
    """fail to initialize API client"""


class NoApiKeyException(FuriosaRuntimeError):
    """no API keys. Please check your API keys."""


class InvalidSessionOption(FuriosaRuntimeError):
    """invalid options passed to session.create() or create_async()"""


class UnsupportedFeature(FuriosaRuntimeError):
    """Unsupported feature"""


class InvalidCompilerConfig(FuriosaRuntimeError):
    """Invalid compiler config"""


class NativeError(enum.IntEnum):
    SUCCESS = 0
    NUX_CREATION_FAILED = 1
    MODEL_DEPLOY_FAILED = 2
    MODEL_EXECUTION_FAILED = 3
    INVALID_INPUT_INDEX = 4
    INVALID_OUTPUT_INDEX = 5
    INVALID_BUFFER = 6
    INVALID_INPUTS = 7
    INVALID_OUTPUTS = 8
    GET_TASK_FAILED = 9
    DUMP_PROFILE_FAILED = 10
    QUEUE_WAIT_TIMEOUT = 11
    QUEUE_NO_DATA = 12
    INCOMPATIBLE_MODEL = 13
    COMPILATION_FAILED = 14
    INTERNAL_ERROR = 15
    INVALID_YAML = 16
    INCOMPATIBLE_API_CLIENT_ERROR = 17
    API_CLIENT_INIT_FAILED = 18
    NO_API_KEY = 19
    NULL_POINTER_EXCEPTION = 20
    INVALID_SESSION_OPTIONS = 21
    SESSION_TERMINATED = 22
    DEVICE_BUSY = 23
    TENSOR_NAME_NOT_FOUND = 24
    UNSUPPORTED_FEATURE = 25
    INVALID_COMPILER_CONFIG = 30


def _one_line(text: str) -> str:
    """Text quoted from onnxruntime or PyYAML may hold line breaks: the runtime's messages are one line."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


def runtime_error(error: BaseException) -> FuriosaRuntimeError:
    """The runtime exception the user sees for one of the SDK's own errors."""
    message = str(error)
    if isinstance(error, common.InvalidDeviceConfigError):
        return FuriosaRuntimeError(message)  # "invalid device configuration: <the string as given>"
    message = _one_line(message)
    if isinstance(error, common.DeviceBusyError):
        return DeviceBusy(message)
    if isinstance(error, (common.DeviceError, common.InvalidSettingError)):
        return FuriosaRuntimeError(message)
    if isinstance(error, common.InvalidConfigError):
        return InvalidCompilerConfig(f"invalid compiler config: {message}")
    if isinstance(error, common.IncompatibleProgramError):
        return IncompatibleModel(message)
    if isinstance(error, (common.InvalidModelError, common.UnsupportedModelError)):
        return CompilationFailed(f"Compilation error: {message}")
    if isinstance(error, common.ExecutionError):
        return FuriosaRuntimeError(f"model execution failed: {message}")
    return InternalError(f"{type(error).__name__}: {message}")


@contextlib.contextmanager
def translate() -> Iterator[None]:
    """Re-raise the SDK's own errors as runtime errors (chained, so nothing is lost)."""
    try:
        yield
    except common.FuriosaError as error:
        raise runtime_error(error) from error


__all__ = [
    "ApiClientInitFailed", "CompilationFailed", "DeviceBusy", "FuriosaRuntimeError", "FuriosaRuntimeWarning",
    "IncompatibleApiClientError", "IncompatibleModel", "InternalError", "InvalidCompilerConfig", "InvalidInput",
    "InvalidSessionOption", "InvalidYamlException", "NativeError", "NativeException", "NoApiKeyException",
    "QueueWaitTimeout", "SessionClosed", "SessionTerminated", "TensorNameNotFound", "UnsupportedDataType",
    "UnsupportedFeature", "UnsupportedTensorType",
]
