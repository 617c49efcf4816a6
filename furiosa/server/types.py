"""The KServe v2 inference protocol's messages (the subset the vendor's server speaks).

Field names and shapes follow the protocol (https://kserve.github.io/website/ "Open Inference
Protocol"). Unknown keys in requests are ignored, as the vendor's pydantic models ignore them;
``data`` is kept as sent and checked against the model when the request is decoded
(:mod:`furiosa.server.codec`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ._schema import Record, record


@record(extra="ignore")
class MetadataTensor(Record):
    """A tensor in model metadata: name, KServe datatype, shape (``-1`` for a variable size)."""

    name: str
    datatype: str
    shape: List[int]
    tags: Optional[Dict] = None


@record(extra="ignore")
class RequestInput(Record):
    """One input tensor of an inference request; ``data`` is row-major (flat or nested)."""

    name: str
    shape: List[int]
    datatype: str
    parameters: Optional[Dict] = None
    data: Any


@record(extra="ignore")
class RequestOutput(Record):
    """An output the client asks for (by name)."""

    name: str
    parameters: Optional[Dict] = None


@record(extra="ignore")
class InferenceRequest(Record):
    """``POST /v2/models/{name}/infer`` body."""

    id: Optional[str] = None
    parameters: Optional[Dict] = None
    inputs: List[RequestInput]
    outputs: Optional[List[RequestOutput]] = None


@record(extra="ignore")
class ResponseOutput(Record):
    """One output tensor of an inference response (flat row-major ``data``)."""

    name: str
    shape: List[int]
    datatype: str
    parameters: Optional[Dict] = None
    data: Any


@record(extra="ignore")
class InferenceResponse(Record):
    """The answer to an inference request; ``id`` echoes the request's."""

    model_name: str
    model_version: Optional[str] = None
    id: Optional[str] = None
    parameters: Optional[Dict] = None
    outputs: List[ResponseOutput]


@record(extra="ignore")
class MetadataServerResponse(Record):
    """``GET /v2``."""

    name: str
    version: str
    extensions: List[str]


@record(extra="ignore")
class MetadataModelResponse(Record):
    """``GET /v2/models/{name}[/versions/{version}]``."""

    name: str
    versions: Optional[List[str]] = None
    platform: str
    inputs: Optional[List[MetadataTensor]] = None
    outputs: Optional[List[MetadataTensor]] = None


@record(extra="ignore")
class RepositoryIndexRequest(Record):
    """``POST /v2/repository/index`` body: ``ready`` true lists only the ready models."""

    ready: Optional[bool] = None


@record(extra="ignore")
class RepositoryIndexResponseItem(Record):
    """One model in the repository index; ``state`` is READY, UNAVAILABLE, LOADING, UNLOADING or UNKNOWN."""

    name: str
    version: Optional[str] = None
    state: str
    reason: str = ""


__all__ = ["InferenceRequest", "InferenceResponse", "MetadataModelResponse", "MetadataServerResponse",
           "MetadataTensor", "RepositoryIndexRequest", "RepositoryIndexResponseItem", "RequestInput",
           "RequestOutput", "ResponseOutput"]
