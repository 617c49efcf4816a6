"""furiosa.server: serve models on (emulated) NPUs over the KServe v2 protocol.

The model classes (``NPUModel`` / ``FuriosaRTModel``, their configurations) need only the SDK;
the serving program (``ModelServer``, the ``furiosa-server`` command) needs FastAPI and uvicorn,
installed with ``pip install 'furiosa-sdk-emulator[server]'``, and is imported on first use.
"""
from __future__ import annotations

from typing import Any

from .errors import ModelNotFound, ModelServerError
from .model import (
    AsyncNuxModel,
    FuriosaRTModel,
    Model,
    NPUModel,
    NuxModel,
    OpenVINOModel,
)
from .settings import (
    FuriosaRTModelConfig,
    ModelConfig,
    NPUModelConfig,
    NuxModelConfig,
    OpenVINOModelConfig,
    ServerConfig,
    __version__,
)

__all__ = [
    "ModelServer", "Model", "FuriosaRTModel", "OpenVINOModel", "NuxModel", "AsyncNuxModel", "ModelConfig",
    "FuriosaRTModelConfig", "OpenVINOModelConfig", "ServerConfig", "ModelNotFound", "ModelServerError",
    "NPUModel", "NPUModelConfig", "NuxModelConfig",
]


def __getattr__(name: str) -> Any:
    if name == "ModelServer":
        from .server import ModelServer

        globals()[name] = ModelServer
        return ModelServer
    raise AttributeError(f"module 'furiosa.server' has no attribute {name!r}")
