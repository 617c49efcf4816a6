"""What the server does for each API call, independent of the transport (REST, gRPC).

:class:`PredictHandler` answers health, metadata and inference calls; :class:`RepositoryHandler`
the model repository extension (index, load, unload). Both raise
:class:`~furiosa.server.errors.ModelServerError` subclasses for anything a client got wrong.
"""
from __future__ import annotations

import logging

from .errors import ModelNotReady, ModelServerError
from .repository import Repository, model_for, version_key
from .settings import ServerConfig
from .types import (
    InferenceRequest,
    InferenceResponse,
    MetadataModelResponse,
    MetadataServerResponse,
    RepositoryIndexRequest,
    RepositoryIndexResponseItem,
)

log = logging.getLogger("furiosa.server")


class PredictHandler:
    """Health, metadata and inference (the KServe v2 core API)."""

    def __init__(self, config: ServerConfig, repository: Repository) -> None:
        self._config = config
        self._repository = repository

    async def live(self) -> bool:
        """The server is up (it answers)."""
        return True

    async def ready(self) -> bool:
        """Every loaded model is ready (true when none is loaded)."""
        return all(model.ready for model in await self._repository.get_models())

    async def model_ready(self, name: str, version: str | None = None) -> bool:
        """The model is loaded and ready (``ModelNotFound`` when it is not loaded)."""
        model = await self._repository.get_model(name, version)
        return model.ready

    async def metadata(self) -> MetadataServerResponse:
        """Server name, version and extensions."""
        return MetadataServerResponse(name=self._config.server_name, version=self._config.server_version,
                                      extensions=list(self._config.extensions))

    async def model_metadata(self, name: str, version: str | None = None) -> MetadataModelResponse:
        """The model's name, platform, versions and tensors."""
        model = await self._repository.get_model(name, version)
        return await model.metadata()

    async def infer(self, payload: InferenceRequest, name: str, version: str | None = None) -> InferenceResponse:
        """Run one inference request on the model ``name`` (of ``version``)."""
        model = await self._repository.get_model(name, version)
        if not model.ready:
            raise ModelNotReady(f"Model {name} with version {version_key(version)} is not ready")
        response = await model.predict(payload)
        if payload.id is not None and response.id != payload.id:
            response = InferenceResponse(model_name=response.model_name, model_version=response.model_version,
                                         id=payload.id, parameters=response.parameters, outputs=response.outputs)
        return response


class RepositoryHandler:
    """The model repository extension: list, load and unload models."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    async def index(self, payload: RepositoryIndexRequest) -> list[RepositoryIndexResponseItem]:
        """Every configured model with its state; only the ready ones when ``ready`` is true."""
        items = []
        for config in await self._repository.list():
            state, reason = self._repository.state(config)
            items.append(RepositoryIndexResponseItem(name=config.name, version=config.version, state=state,
                                                     reason=reason))
        if payload.ready:
            items = [item for item in items if item.state == "READY"]
        return items

    async def load(self, name: str) -> bool:
        """Load the model ``name`` from its configuration (``ModelNotFound`` when none exists)."""
        config = await self._repository.find(name)
        log.info("loading model %s on request", name)
        try:
            return await self._repository.load(model_for(config))
        except ModelServerError:
            raise
        except Exception as error:  # the model's problem (file, device busy...): the client asked for it
            log.warning("could not load model %s: %s", name, error)
            raise ModelServerError(f"Model {name} could not be loaded: {type(error).__name__}: {error}") from error

    async def unload(self, name: str) -> bool:
        """Unload every version of the model ``name``."""
        log.info("unloading model %s on request", name)
        return await self._repository.unload(name)


__all__ = ["PredictHandler", "RepositoryHandler"]
