"""``ModelServer``: load the configured models, serve them over REST until told to stop.

Models come from the configurations given (command line, ``--model-config``) and from every
model config file in ``file_registry_config.repository_root`` (see :mod:`.registry`). With
``intial_model_autoload`` (sic, default true) each is loaded before the server starts listening;
a model that fails to load stops the start-up with a :class:`StartupError` naming it.

SIGINT and SIGTERM (when running in the main thread) stop the server: requests in flight are
finished, then every model is unloaded, releasing its devices. ``stop()`` does the same from
code, from any thread.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading

from furiosa.common.errors import FuriosaError

from .handlers import PredictHandler, RepositoryHandler
from .registry import FileRegistry, InMemoryRegistry
from .repository import Repository, model_for, version_key
from .rest import RESTServer
from .settings import ModelConfig, ServerConfig

log = logging.getLogger("furiosa.server")


class StartupError(FuriosaError, RuntimeError):
    """The server could not start: a model could not be loaded, or the port could not be bound."""


class ModelServer:
    """The model server: a repository of models and the REST endpoint serving them."""

    def __init__(self, config: ServerConfig, model_configs: list[ModelConfig], log_level: str = "info") -> None:
        self._config = config
        self._model_configs = list(model_configs)
        self._repository = Repository([FileRegistry(config.file_registry_config),
                                       InMemoryRegistry(self._model_configs)])
        self._predict_handler = PredictHandler(config, self._repository)
        self._repository_handler = RepositoryHandler(self._repository)
        self._rest_server = RESTServer(config.rest_server_config, self._predict_handler,
                                       self._repository_handler, log_level=log_level)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    @property
    def config(self) -> ServerConfig:
        return self._config

    @property
    def repository(self) -> Repository:
        return self._repository

    @property
    def app(self):
        """The FastAPI application (for mounting or testing)."""
        return self._rest_server.app

    @property
    def started(self) -> bool:
        """True once the REST server listens."""
        return self._rest_server.started

    async def start(self) -> None:
        """Load the models (with autoload), then serve until stopped; unload everything on the way out."""
        self._loop = asyncio.get_running_loop()
        try:
            if self._config.intial_model_autoload:
                await self.load()
            with self._signals():
                try:
                    await self._rest_server.start()
                except SystemExit as error:  # uvicorn exits when it cannot listen
                    rest = self._config.rest_server_config
                    raise StartupError(f"could not serve on {rest.host}:{rest.port} (uvicorn stopped with status "
                                       f"{error.code}; its message is above)") from None
        finally:
            await self._repository.unload_all()

    async def load(self) -> None:
        """Load every configured model (``StartupError`` naming the first that fails)."""
        for config in await self._repository.list():
            where = f"model {config.name} (version {version_key(config.version)})"
            try:
                await self._repository.load(model_for(config))
            except Exception as error:
                raise StartupError(f"could not load {where}: {type(error).__name__}: {error}") from error
            log.info("loaded %s", where)

    async def stop(self) -> None:
        """Stop serving (the call returns at once; :meth:`start` returns when the server is down)."""
        if self._stopping:
            self._rest_server.force_stop()
        self._stopping = True
        await self._rest_server.stop()

    def stop_threadsafe(self) -> None:
        """:meth:`stop` from another thread."""
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.stop(), self._loop)

    def _signals(self):
        import contextlib

        loop = self._loop
        if loop is None or threading.current_thread() is not threading.main_thread():
            return contextlib.nullcontext()

        @contextlib.contextmanager
        def handlers():
            installed = []
            for sign in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sign, lambda s=sign: self._on_signal(s))
                    installed.append(sign)
                except (NotImplementedError, RuntimeError):  # not supported by this loop
                    pass
            try:
                yield
            finally:
                for sign in installed:
                    loop.remove_signal_handler(sign)

        return handlers()

    def _on_signal(self, sign: int) -> None:
        log.info("received %s, shutting down", signal.Signals(sign).name)
        asyncio.ensure_future(self.stop())


__all__ = ["ModelServer", "StartupError"]
