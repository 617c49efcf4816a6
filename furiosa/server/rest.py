"""The REST API: KServe v2 over HTTP with FastAPI, served by uvicorn (spec/toolchain-api.md §11.3).

=======  ==================================================  ==========================================
method   path                                                answer
=======  ==================================================  ==========================================
GET      ``/v2/health/live``                                 200, empty
GET      ``/v2/health/ready``                                200 when every loaded model is ready, else 400
GET      ``/v2/models/{name}[/versions/{v}]/ready``          200 / 400
GET      ``/v2/models/{name}[/versions/{v}]``                model metadata
POST     ``/v2/models/{name}[/versions/{v}]/infer``          inference
GET      ``/v2``                                             server metadata
POST     ``/v2/repository/index``                            models and their states
POST     ``/v2/repository/models/{name}/load`` / ``unload``  200 / 400
=======  ==================================================  ==========================================

Request bodies are parsed here (not by FastAPI's validation) so that every client mistake,
malformed JSON included, is answered with HTTP 400 and ``{"error": "<what was wrong>"}``.
Unexpected failures are answered with 500 and the same shape; the server keeps running.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._schema import ValidationError, format_location
from .errors import InvalidRequest, ModelServerError
from .handlers import PredictHandler, RepositoryHandler
from .settings import RESTServerConfig
from .types import InferenceRequest, RepositoryIndexRequest

log = logging.getLogger("furiosa.server")


class KServeJSONResponse(JSONResponse):
    """JSON answers; non-finite floats in outputs are written as ``NaN`` / ``Infinity``."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=True, separators=(",", ":")).encode("utf-8")


def error_response(status: int, message: str) -> KServeJSONResponse:
    """The KServe v2 error body."""
    return KServeJSONResponse({"error": message}, status_code=status)


async def read_json(request: Request, what: str, empty: Any = None) -> Any:
    """The request body as JSON (``InvalidRequest`` when it is not JSON)."""
    body = await request.body()
    if not body.strip():
        if empty is not None:
            return empty
        raise InvalidRequest(f"the {what} request has no body: send a JSON object")
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest(f"the {what} request body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"malformed JSON in the {what} request body: {error}") from None


def parse(cls: type, data: Any, what: str) -> Any:
    """A protocol message from JSON data (``InvalidRequest`` naming each problem)."""
    if not isinstance(data, dict):
        raise InvalidRequest(f"the {what} request body must be a JSON object, not {type(data).__name__}")
    try:
        return cls.parse_obj(data)
    except ValidationError as error:
        problems = "; ".join(f"{format_location(loc)}: {message}" for loc, message in error.errors)
        raise InvalidRequest(f"invalid {what} request: {problems}") from None


def create_app(predict: PredictHandler, repository: RepositoryHandler, debug: bool = False) -> FastAPI:
    """The FastAPI application serving the KServe v2 REST API."""
    app = FastAPI(title="furiosa-server", debug=debug, default_response_class=KServeJSONResponse)
    _add_error_handlers(app, debug)

    async def status(ok: bool, what: str) -> Response:
        return Response(status_code=200) if ok else error_response(400, f"{what} is not ready")

    @app.get("/v2/health/live")
    async def live() -> Response:
        return await status(await predict.live(), "the server")

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        return await status(await predict.ready(), "a loaded model")

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None) -> Response:
        return await status(await predict.model_ready(name, version), f"Model {name}")

    @app.get("/v2")
    async def server_metadata() -> Response:
        return KServeJSONResponse((await predict.metadata()).dict())

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None) -> Response:
        return KServeJSONResponse((await predict.model_metadata(name, version)).dict())

    @app.post("/v2/models/{name}/infer")
    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        payload = parse(InferenceRequest, await read_json(request, "inference"), "inference")
        response = await predict.infer(payload, name, version)
        # Returned as a response, not a dict: FastAPI's encoder would walk every output number.
        return KServeJSONResponse(response.dict())

    @app.post("/v2/repository/index")
    async def repository_index(request: Request) -> Response:
        payload = parse(RepositoryIndexRequest, await read_json(request, "repository index", empty={}),
                        "repository index")
        return KServeJSONResponse([item.dict() for item in await repository.index(payload)])

    @app.post("/v2/repository/models/{name}/load")
    async def repository_load(name: str) -> Response:
        await repository.load(name)
        return Response(status_code=200)

    @app.post("/v2/repository/models/{name}/unload")
    async def repository_unload(name: str) -> Response:
        await repository.unload(name)
        return Response(status_code=200)

    return app


def _add_error_handlers(app: FastAPI, debug: bool) -> None:
    @app.exception_handler(ModelServerError)
    async def client_error(request: Request, error: ModelServerError) -> KServeJSONResponse:
        log.info("%s %s: 400 %s", request.method, request.url.path, error)
        return error_response(400, str(error))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, error: RequestValidationError) -> KServeJSONResponse:
        return error_response(400, f"invalid request: {error.errors()}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> KServeJSONResponse:
        message = error.detail if error.status_code != 404 else f"no such endpoint: {request.method} {request.url.path}"
        return error_response(error.status_code, str(message))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> KServeJSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, f"internal server error: {type(error).__name__}: {error}")


class RESTServer:
    """uvicorn serving the REST application in the caller's event loop."""

    def __init__(self, config: RESTServerConfig, predict: PredictHandler, repository: RepositoryHandler,
                 log_level: str = "info") -> None:
        self._config = config
        self.app = create_app(predict, repository, debug=config.debug)
        if config.workers != 1:
            log.warning("rest_server_config.workers=%d is ignored: one process serves REST, since the models "
                        "hold their NPU devices", config.workers)
        self._server = _Server(uvicorn.Config(self.app, host=config.host, port=config.port, log_level=log_level,
                                              lifespan="off"))

    @property
    def started(self) -> bool:
        return self._server.started

    async def start(self) -> None:
        """Serve until :meth:`stop` (raises ``SystemExit`` when the port cannot be bound, as uvicorn does)."""
        await self._server.serve()

    async def stop(self) -> None:
        """Ask the server to finish the requests in flight and stop."""
        self._server.should_exit = True

    def force_stop(self) -> None:
        self._server.force_exit = True


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :class:`~furiosa.server.server.ModelServer` owns the signals."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    def capture_signals(self):  # type: ignore[override]  # uvicorn >= 0.29
        import contextlib

        return contextlib.nullcontext()


__all__ = ["RESTServer", "create_app"]
