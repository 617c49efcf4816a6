"""Recognise what kind of model a source is, by its content (never by its file name)."""
from __future__ import annotations

from pathlib import Path

from furiosa.common.errors import InvalidModelError

from .enf.container import is_enf


def detect(data: bytes) -> str:
    """``enf``, ``tflite``, ``dfg`` or ``onnx`` (anything else is tried as ONNX)."""
    if is_enf(data):
        return "enf"
    if len(data) >= 8 and data[4:8] == b"TFL3":
        return "tflite"
    if data[:3] == b"dfg":
        return "dfg"
    return "onnx"


def read_source(source: "str | Path | bytes | bytearray | memoryview") -> tuple[bytes, str, Path | None]:
    """The bytes of a model source, a name for messages, and the directory of its external data."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "<bytes>", None
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidModelError(f"fail to open {path}: no such file") from None
    except IsADirectoryError:
        raise InvalidModelError(f"fail to open {path}: it is a directory, not a model file") from None
    except OSError as error:
        raise InvalidModelError(f"fail to open {path}: {error.strerror}") from None
    if not data:
        raise InvalidModelError(f"{path} is empty, not a model")
    return data, str(path), path.resolve().parent
