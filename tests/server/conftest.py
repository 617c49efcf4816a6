"""Models, a private device state and a running server for the furiosa.server tests.

Servers run in-process (uvicorn in a thread, bound to a free loopback port) and are always
stopped, their models unloaded, at the end of the fixture that started them.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from examples.zoo import calibration_data, nominal_calibration, quantize_qdq, small_cnn

# The serving tests (test_rest, test_cli, test_example) need the `server` extra; they skip
# without it (`requires_server`), the model and configuration tests do not need it.
HAS_SERVER = all(importlib.util.find_spec(module) is not None for module in ("fastapi", "uvicorn"))
requires_server = pytest.mark.skipif(not HAS_SERVER,
    reason="FastAPI and uvicorn are not installed (pip install -e '.[server]')")

# Environment variables the configuration classes would read (the vendor's BaseSettings quirk):
# cleared so that the machine's environment cannot change what the tests configure.
CONFIG_VARIABLES = ("NAME", "VERSION", "DESCRIPTION", "PLATFORM", "VERSIONS", "INPUTS", "OUTPUTS", "MODEL",
                    "NPU_DEVICE", "BATCH_SIZE", "WORKER_NUM", "COMPILER_CONFIG", "HOST", "PORT", "WORKERS",
                    "DEBUG", "REPOSITORY_ROOT", "SERVER_NAME", "SERVER_VERSION", "EXTENSIONS",
                    "INTIAL_MODEL_AUTOLOAD", "FILE_REGISTRY_CONFIG", "GRPC_SERVER_CONFIG", "REST_SERVER_CONFIG")


def clean_environment(patch: pytest.MonkeyPatch) -> None:
    import os

    for variable in list(os.environ):
        if variable.upper() in CONFIG_VARIABLES:
            patch.delenv(variable)


@pytest.fixture(autouse=True)
def _no_config_variables(monkeypatch):
    clean_environment(monkeypatch)


@pytest.fixture(scope="session")
def cnn_path(tmp_path_factory) -> Path:
    """A small CNN quantized by onnxruntime (QDQ), float32 input (1, 3, 16, 16), output (1, 10)."""
    model = small_cnn()
    path = tmp_path_factory.mktemp("models") / "small_cnn_qdq.onnx"
    path.write_bytes(quantize_qdq(model, calibration_data(model, 4)).SerializeToString())
    return path


@pytest.fixture(scope="session")
def uint8_path(tmp_path_factory) -> Path:
    """A small CNN calibrated to take uint8 pixels (input (1, 3, 16, 16) UINT8)."""
    model = nominal_calibration(small_cnn(seed=5), low=0.0, high=4.0, uint8_inputs=(0,))
    path = tmp_path_factory.mktemp("models") / "small_cnn_uint8.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def image() -> np.ndarray:
    return calibration_data(small_cnn(), 1, seed=11)[0]["input"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, method: str = "GET", body: Any = None, raw: bytes | None = None, timeout: float = 60) -> Answer:
    """One HTTP request with urllib; 4xx/5xx answers are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read())


class RunningServer:
    """A ModelServer serving in a background thread; ``url`` is its base address."""

    def __init__(self, models: list, repository_root: Path, **server_fields: Any) -> None:
        from furiosa.server import ModelServer
        from furiosa.server.settings import FileRegistryConfig, RESTServerConfig, ServerConfig

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = ServerConfig(rest_server_config=RESTServerConfig(host="127.0.0.1", port=self.port),
                              file_registry_config=FileRegistryConfig(repository_root=str(repository_root)),
                              **server_fields)
        self.server = ModelServer(config, models, log_level="warning")
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-model-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.server.start())
        except BaseException as error:  # reported by start()/stop()
            self.error = error

    def start(self, timeout: float = 120) -> "RunningServer":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server did not start: {self.error!r}") from self.error
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the server did not start in time")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.stop_threadsafe()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the server thread did not stop"

    def __call__(self, path: str, method: str = "GET", body: Any = None, raw: bytes | None = None) -> Answer:
        return call(self.url + path, method, body, raw)


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    """A private device state directory with two emulated cards, for a whole test module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FURIOSA_EMU_STATE_DIR", str(tmp_path_factory.mktemp("devices")))
        patch.setenv("FURIOSA_EMU_NPUS", "2")
        clean_environment(patch)
        yield


@pytest.fixture
def start_server(tmp_path, devices):
    """``start_server(models, **server_fields)`` → a running server, stopped after the test."""
    servers: list[RunningServer] = []

    def start(models: list, repository_root: Path | None = None, **server_fields: Any) -> RunningServer:
        root = repository_root or tmp_path / f"registry{len(servers)}"
        root.mkdir(exist_ok=True)
        server = RunningServer(models, root, **server_fields)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
