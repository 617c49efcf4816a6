"""Server and model configuration (spec/toolchain-api.md §11.1–11.2).

Field names, types and defaults are the vendor's, including the misspelt
``intial_model_autoload``. Like the vendor's ``BaseSettings`` classes, a field left out is
read from the same-named environment variable when one exists (see :mod:`._schema`).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Union

from furiosa.common.version import sdk_version

from ._schema import Record, record
from .types import MetadataTensor

__version__ = sdk_version()

#: ``platform`` values that select :class:`FuriosaRTModelConfig` in model config files
#: (``nux`` is the pre-0.10 name of the same thing).
NPU_PLATFORMS = ("npu", "nux")


@record(env=True)
class GRPCServerConfig(Record):
    """Where the gRPC server would listen (this SDK serves REST only; see docs/server.md)."""

    host: str = "0.0.0.0"
    port: int = 8081
    workers: int = 1


@record(env=True)
class RESTServerConfig(Record):
    """Where the REST server listens; ``debug`` adds tracebacks to internal errors."""

    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = 1
    debug: bool = False


@record(env=True)
class FileRegistryConfig(Record):
    """Every ``*.yaml`` file in ``repository_root`` is read as a model config file."""

    repository_root: str = "."


def _default(cls: type) -> object:
    from dataclasses import field

    return field(default_factory=cls)


@record(env=True)
class ServerConfig(Record):
    """The whole server: metadata it reports, model loading, the REST and gRPC endpoints."""

    server_name: str = "furiosa-server"
    server_version: str = str(__version__)
    extensions: List[str] = _default(list)  # type: ignore[assignment]
    intial_model_autoload: bool = True  # (sic) the vendor's spelling
    file_registry_config: FileRegistryConfig = _default(FileRegistryConfig)  # type: ignore[assignment]
    grpc_server_config: GRPCServerConfig = _default(GRPCServerConfig)  # type: ignore[assignment]
    rest_server_config: RESTServerConfig = _default(RESTServerConfig)  # type: ignore[assignment]


@record(env=True)
class ModelConfig(Record):
    """What every model has: a name, an optional version, metadata for the repository API."""

    name: str
    version: Optional[str] = None
    description: Optional[str] = None
    platform: str = "Unknown"
    versions: Optional[List[str]] = _default(list)  # type: ignore[assignment]
    inputs: Optional[List[MetadataTensor]] = _default(list)  # type: ignore[assignment]
    outputs: Optional[List[MetadataTensor]] = _default(list)  # type: ignore[assignment]


@record(env=True)
class FuriosaRTModelConfig(ModelConfig):
    """A model run on (emulated) NPUs by ``furiosa.runtime`` (``NPUModelConfig`` in the docs).

    ``model`` is a path (``str``) or the model's bytes; ``npu_device`` a device string
    (default: ``FURIOSA_DEVICES``, else ``NPU_DEVNAME``, else ``warboy(2)*1``); ``batch_size``,
    ``worker_num`` and ``compiler_config`` are passed to ``create_runner``.
    """

    model: Union[str, bytes]
    npu_device: Optional[str] = None
    batch_size: Optional[int] = None
    worker_num: Optional[int] = None
    compiler_config: Optional[Dict] = None
    platform: str = "npu"

    def __repr__(self) -> str:
        model = self.model if isinstance(self.model, str) else f"<{len(self.model)} bytes>"
        return (f"{type(self).__name__}(name={self.name!r}, version={self.version!r}, model={model!r}, "
                f"npu_device={self.npu_device!r}, batch_size={self.batch_size!r}, "
                f"worker_num={self.worker_num!r}, compiler_config={self.compiler_config!r})")


@record(env=True)
class OpenVINOModelConfig(ModelConfig):
    """A model for OpenVINO on the CPU (accepted in configurations; not served by this SDK)."""

    model: Union[str, bytes]
    compiler_config: Optional[Dict] = None
    platform: str = "openvino"


#: The names used by the 0.10 documentation and by older releases.
NPUModelConfig = FuriosaRTModelConfig
NuxModelConfig = FuriosaRTModelConfig

__all__ = ["FileRegistryConfig", "FuriosaRTModelConfig", "GRPCServerConfig", "ModelConfig", "NPUModelConfig",
           "NuxModelConfig", "OpenVINOModelConfig", "RESTServerConfig", "ServerConfig"]
