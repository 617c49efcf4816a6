"""Reading model and server configuration files (YAML, spec/toolchain-api.md §11.2).

A model config file holds ``model_config_list``, a list of model configurations. An entry's
``platform`` picks its class: ``npu`` (the default here; ``nux`` is the pre-0.10 spelling) is a
:class:`FuriosaRTModelConfig`; ``openvino`` is recognised but not served by this SDK; any other
value is an error. A server config file holds the fields of :class:`ServerConfig`.

Errors are :class:`ConfigError` whose message starts with the file and lists each problem as
``<location> <message>``, the location joined by `` -> `` (``model_config_list -> 0 -> version``).
"""
from __future__ import annotations

from typing import IO, Any, Mapping

import yaml

from ._schema import ValidationError, format_location
from .errors import ConfigError
from .settings import NPU_PLATFORMS, FuriosaRTModelConfig, ModelConfig, OpenVINOModelConfig, ServerConfig

MODEL_LIST_KEY = "model_config_list"


def read_yaml(source: IO[str] | str, origin: str) -> Any:
    """Parsed YAML from an open text file or a string (``ConfigError`` when it is not YAML)."""
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError as error:
        raise ConfigError(f"{origin} is not valid YAML: {error}") from None


def errors_of(error: ValidationError) -> list[str]:
    """Each problem of a validation error as ``<location> <message>``."""
    return [f"{format_location(loc)} {message}".strip() for loc, message in error.errors]


def _config_error(origin: str, error: ValidationError) -> ConfigError:
    lines = errors_of(error)
    return ConfigError(f"invalid configuration in {origin}:\n" + "\n".join(f"  {line}" for line in lines), lines)


def model_config_class(entry: Mapping[str, Any]) -> type[ModelConfig]:
    """The configuration class for one ``model_config_list`` entry (by its ``platform``)."""
    platform = entry.get("platform", "npu")
    if platform in NPU_PLATFORMS:
        return FuriosaRTModelConfig
    if platform == "openvino":
        return OpenVINOModelConfig
    raise ValueError(f"unsupported platform {platform!r}: this server runs 'npu' models")


def parse_model_configs(source: Any, origin: str = "the model config") -> list[ModelConfig]:
    """Model configurations from parsed YAML (``{"model_config_list": [...]}``)."""
    if not isinstance(source, Mapping) or MODEL_LIST_KEY not in source:
        raise ConfigError(f"{origin} is not a model config file: it needs a top-level '{MODEL_LIST_KEY}' list")
    entries = source[MODEL_LIST_KEY]
    if not isinstance(entries, list):
        raise ConfigError(f"{origin}: '{MODEL_LIST_KEY}' must be a list of models, not {type(entries).__name__}")
    configs: list[ModelConfig] = []
    problems: list[tuple[tuple, str]] = []
    for index, entry in enumerate(entries):
        loc = (MODEL_LIST_KEY, index)
        if not isinstance(entry, Mapping):
            problems.append((loc, f"expected a mapping of model fields, got {type(entry).__name__}"))
            continue
        try:
            cls = model_config_class(entry)
            configs.append(cls.parse_obj({str(k): v for k, v in entry.items()}))
        except ValidationError as error:
            problems.extend((loc + l, m) for l, m in error.errors)
        except ValueError as error:
            problems.append((loc + ("platform",), str(error)))
    if problems:
        raise _config_error(origin, ValidationError("model config", problems))
    return configs


def load_model_config(stream: IO[str] | Mapping[str, Any], origin: str | None = None) -> list[ModelConfig]:
    """Model configurations from an open YAML file (or an already parsed mapping)."""
    origin = origin or getattr(stream, "name", "the model config")
    source = stream if isinstance(stream, Mapping) else read_yaml(stream, origin)
    return parse_model_configs(source, origin)


def load_server_config(stream: IO[str] | Mapping[str, Any], origin: str | None = None) -> ServerConfig:
    """The server configuration from an open YAML file (or an already parsed mapping)."""
    origin = origin or getattr(stream, "name", "the server config")
    source = stream if isinstance(stream, Mapping) else read_yaml(stream, origin)
    if source is None:
        source = {}
    if not isinstance(source, Mapping):
        raise ConfigError(f"{origin} is not a server config file: expected a mapping of settings")
    try:
        return ServerConfig.parse_obj(source)
    except ValidationError as error:
        raise _config_error(origin, error) from None


__all__ = ["load_model_config", "load_server_config", "parse_model_configs"]
