"""Reading the model argument the quantizer's functions take (``ModelProto`` or bytes)."""
from __future__ import annotations

from typing import Any

import onnx
from google.protobuf.message import DecodeError


def to_bytes(model: Any) -> bytes:
    """Serialize a ``ModelProto``; bytes pass through. Anything else is a ``TypeError``."""
    if isinstance(model, onnx.ModelProto):
        return model.SerializeToString()
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    raise TypeError(f"expected an onnx.ModelProto or bytes, got {type(model).__name__}")


def parse(data: bytes) -> onnx.ModelProto:
    """Decode ONNX bytes; undecodable bytes raise ``ValueError`` in the vendor's words."""
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise ValueError(f"failed to decode Protobuf message: {error or 'the bytes are not an ONNX model'}") from None
    if not model.HasField("graph"):
        raise ValueError("failed to decode Protobuf message: the bytes hold no ONNX graph")
    return model


def load(model: Any) -> onnx.ModelProto:
    """A ``ModelProto`` from either accepted form (bytes are decoded, a proto is used as is)."""
    if isinstance(model, onnx.ModelProto):
        return model
    return parse(to_bytes(model))
