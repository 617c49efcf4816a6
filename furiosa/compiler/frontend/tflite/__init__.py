"""TFLite models into the compiler's graph.

:func:`read_model` decodes a ``.tflite`` file (a checked FlatBuffer reader, no third-party
schema package); :func:`to_graph` translates its main subgraph into kernel nodes that compute
TFLite's own integer arithmetic, in TFLite's NHWC layout. See ``docs/tflite.md``.
"""
from __future__ import annotations

from ...ir import Graph
from .model import TFLiteModel, decode
from .translate import LAYOUT, OPERATORS, Translator


def read_model(data: bytes, origin: str = "<bytes>") -> TFLiteModel:
    """Decode TFLite bytes; a damaged file raises ``InvalidModelError``."""
    return decode(data, origin)


def to_graph(model: TFLiteModel, origin: str = "<bytes>") -> Graph:
    """Translate a decoded model; unsupported content raises ``UnsupportedModelError``."""
    return Translator(model, origin).translate()


# Operator translators, in the order they register. Adding an operator: write it, list it here.
from .ops import conv, pool, elementwise, movement, quantize, reduce  # noqa: E402,F401

__all__ = ["LAYOUT", "OPERATORS", "read_model", "to_graph"]
