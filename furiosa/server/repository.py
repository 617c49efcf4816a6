"""The models a server has loaded, by name and version, and the configurations it can load.

Models are stored under ``version or "default"``; a lookup without a version looks for
``"default"``, so a model configured with ``version: "1"`` is found only by asking for version
``1`` (the vendor's behaviour, spec/toolchain-api.md §11.3). Loading a name and version that is
already loaded does nothing.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from .errors import ModelNotFound
from .model import FuriosaRTModel, Model
from .registry import Registry
from .settings import FuriosaRTModelConfig, ModelConfig

log = logging.getLogger("furiosa.server")

DEFAULT_VERSION = "default"


def version_key(version: str | None) -> str:
    """The key a model version is stored under."""
    return version or DEFAULT_VERSION


class Repository:
    """Loaded models plus the registries of loadable configurations."""

    def __init__(self, registries: list[Registry], on_load: Callable[[Model], None] | None = None,
                 on_unload: Callable[[Model], None] | None = None) -> None:
        self._registries = list(registries)
        self._models: dict[str, dict[str, Model]] = {}
        self._loading: set[tuple[str, str]] = set()
        self._failures: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self.on_load = on_load
        self.on_unload = on_unload

    @property
    def registries(self) -> list[Registry]:
        return list(self._registries)

    async def load(self, model: Model) -> bool:
        """Load ``model`` and keep it under its name and version (no-op if that version is loaded)."""
        key = (model.name, version_key(model.version))
        async with self._lock:
            if key[1] in self._models.get(model.name, {}):
                return True
            self._loading.add(key)
        try:
            loaded = await model.load()
        except Exception as error:
            self._failures[model.name] = f"{type(error).__name__}: {error}"
            raise
        finally:
            self._loading.discard(key)
        self._failures.pop(model.name, None)
        self._models.setdefault(model.name, {})[key[1]] = model
        if loaded and self.on_load is not None:
            self.on_load(model)
        return loaded

    async def unload(self, name: str) -> bool:
        """Unload every version of the model ``name`` (``ModelNotFound`` if none is loaded)."""
        if name not in self._models:
            raise ModelNotFound(name)
        versions = self._models.pop(name)
        for model in versions.values():
            await model.unload()
            if self.on_unload is not None:
                self.on_unload(model)
        return True

    async def unload_all(self) -> None:
        """Unload every model (on shutdown); failures are logged, not raised."""
        for name in list(self._models):
            try:
                await self.unload(name)
            except Exception:  # keep unloading the others
                log.exception("could not unload model %s", name)

    async def get_model(self, name: str, version: str | None = None) -> Model:
        """The loaded model ``name`` of ``version`` (default: ``"default"``)."""
        version = version_key(version)
        versions = self._models.get(name)
        if versions is None or version not in versions:
            raise ModelNotFound(name, version)
        return versions[version]

    async def get_models(self) -> list[Model]:
        """Every loaded model."""
        return [model for versions in self._models.values() for model in versions.values()]

    async def list(self) -> list[ModelConfig]:
        """Every configuration of every registry, without repeats."""
        found = await asyncio.gather(*(registry.list() for registry in self._registries))
        configs: list[ModelConfig] = []
        for config in (c for group in found for c in group):
            if config not in configs:
                configs.append(config)
        return configs

    async def find(self, name: str) -> ModelConfig:
        """The first configuration of the model ``name`` in any registry."""
        for registry in self._registries:
            try:
                return await registry.find(name)
            except ModelNotFound:
                continue
        raise ModelNotFound(name)

    def state(self, config: ModelConfig) -> tuple[str, str]:
        """``(state, reason)`` of a configured model for the repository index."""
        key = (config.name, version_key(config.version))
        model = self._models.get(config.name, {}).get(key[1])
        if key in self._loading:
            return "LOADING", ""
        if model is not None:
            return ("READY", "") if model.ready else ("UNAVAILABLE", "")
        return "UNAVAILABLE", self._failures.get(config.name, "")


def model_for(config: ModelConfig) -> Model:
    """The model object serving ``config``."""
    if isinstance(config, FuriosaRTModelConfig):
        return FuriosaRTModel(config)
    from .model import OpenVINOModel

    return OpenVINOModel(config)  # type: ignore[arg-type]  # raises: not provided


__all__ = ["DEFAULT_VERSION", "Repository", "model_for", "version_key"]
