"""Errors of the model server (the vendor's ``ModelServerError`` family, and ours).

Every error a client can cause derives from :class:`ModelServerError`; the REST API answers
them with HTTP 400 and a JSON body ``{"error": "<message>"}`` (the KServe v2 error format).
Messages name the model, the tensor and what was expected.
"""
from __future__ import annotations

from furiosa.common.errors import FuriosaError

from ._schema import ValidationError


class ModelServerError(FuriosaError, ValueError):
    """Base of the errors the server reports to its clients (HTTP 400)."""


class ModelNotFound(ModelServerError, LookupError):
    """No model of this name (and version) is registered or loaded."""

    def __init__(self, name: str, version: str | None = None) -> None:
        self.name = name
        self.version = version
        if version is None:
            message = f"Model {name} not found"
        else:
            message = f"Model {name} with version {version} not found"
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.name, self.version))


class ModelNotReady(ModelServerError):
    """The model exists but is not loaded (yet, or any more)."""


class InvalidRequest(ModelServerError):
    """A request body is not valid JSON, not a KServe v2 message, or does not fit the model."""


class ConfigError(FuriosaError, ValueError):
    """A server or model configuration (file or arguments) is invalid.

    ``problems`` lists each problem as ``<location> <message>`` (empty when the message says it all).
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


__all__ = ["ConfigError", "InvalidRequest", "ModelNotFound", "ModelNotReady", "ModelServerError",
           "ValidationError"]
