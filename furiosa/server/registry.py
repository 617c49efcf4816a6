"""Where the server finds model configurations (loaded or not).

* :class:`InMemoryRegistry`: the models given on the command line or by ``--model-config``.
* :class:`FileRegistry`: every ``*.yaml`` file directly in ``repository_root`` (default: the
  current directory), read as a model config file, as the vendor's server does. A YAML file
  there that is not a model config file (no ``model_config_list``, or not YAML at all) is skipped
  with a warning instead of stopping the server; a model config file with invalid entries is an
  error.
"""
from __future__ import annotations

import abc
import logging
from pathlib import Path

from .errors import ConfigError, ModelNotFound
from .loader import MODEL_LIST_KEY, parse_model_configs, read_yaml
from .settings import FileRegistryConfig, ModelConfig

log = logging.getLogger("furiosa.server")


class Registry(abc.ABC):
    """A source of model configurations."""

    @abc.abstractmethod
    async def list(self) -> list[ModelConfig]:
        """Every model configuration this registry knows."""

    async def find(self, name: str) -> ModelConfig:
        """The first configuration of the model ``name`` (``ModelNotFound`` if none)."""
        for config in await self.list():
            if config.name == name:
                return config
        raise ModelNotFound(name)


class InMemoryRegistry(Registry):
    """Configurations held in a list."""

    def __init__(self, model_configs: list[ModelConfig] | None = None) -> None:
        self._model_configs = list(model_configs or [])

    async def list(self) -> list[ModelConfig]:
        return list(self._model_configs)

    def register(self, model_config: ModelConfig) -> bool:
        """Add a configuration; False when it is already there."""
        if model_config in self._model_configs:
            return False
        self._model_configs.append(model_config)
        return True

    def unregister(self, model_config: ModelConfig) -> bool:
        """Remove a configuration; False when it was not there."""
        if model_config not in self._model_configs:
            return False
        self._model_configs.remove(model_config)
        return True


class FileRegistry(Registry):
    """The model config files (``*.yaml``) in a directory, read on every listing."""

    def __init__(self, config: FileRegistryConfig) -> None:
        self._config = config

    @property
    def root(self) -> Path:
        return Path(self._config.repository_root)

    async def list(self) -> list[ModelConfig]:
        configs: list[ModelConfig] = []
        for path in sorted(self.root.glob("*.yaml")):
            if not path.is_file():
                continue
            try:
                source = read_yaml(path.read_text(encoding="utf-8"), str(path))
            except (ConfigError, OSError, UnicodeDecodeError) as error:
                log.warning("skipping %s: %s", path, error)
                continue
            if not isinstance(source, dict) or MODEL_LIST_KEY not in source:
                log.warning("skipping %s: not a model config file (no '%s'); furiosa-server reads every "
                            "*.yaml in file_registry_config.repository_root (%s)", path, MODEL_LIST_KEY,
                            self._config.repository_root)
                continue
            configs.extend(parse_model_configs(source, str(path)))
        return configs


__all__ = ["FileRegistry", "InMemoryRegistry", "Registry"]
