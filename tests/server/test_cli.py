"""The furiosa-server command, run as a user runs it (subprocesses on loopback; spec §11.2)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import CONFIG_VARIABLES, call, free_port, requires_server

pytestmark = requires_server

COMMAND = [sys.executable, "-m", "furiosa.server"]


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in CONFIG_VARIABLES}
    env["FURIOSA_EMU_STATE_DIR"] = str(tmp_path / "devices")
    env["FURIOSA_EMU_NPUS"] = "2"
    return env


def run(args: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(COMMAND + args, cwd=cwd, env=environment(tmp_path), capture_output=True, text=True,
                          timeout=120)


class Served:
    """A furiosa-server process; stopped (and waited for) by :meth:`stop`."""

    def __init__(self, args: list[str], cwd: Path, tmp_path: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = (tmp_path / "server.log").open("w+")
        self.process = subprocess.Popen(COMMAND + args, cwd=cwd, env=environment(tmp_path), stdout=self.log,
                                        stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"furiosa-server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if call(self.url + "/v2/health/live", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise TimeoutError(f"furiosa-server did not start:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, sign: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sign)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close() if sign == signal.SIGKILL else None
        return self.process.returncode


@pytest.fixture
def serve(tmp_path):
    started: list[Served] = []

    def start(args: list[str], cwd: Path | None = None, port: int | None = None) -> Served:
        served = Served(args, cwd or tmp_path, tmp_path, port or free_port())
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop(signal.SIGKILL)


def infer(url: str, image: np.ndarray):
    body = {"inputs": [{"name": "input", "shape": list(image.shape), "datatype": "FP32",
                        "data": image.reshape(-1).tolist()}]}
    return call(url, "POST", body)


# --- argument rules -----------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    ([], "ERROR: missing option '--model-path'"),
    (["--model-path", "m.onnx"], "ERROR: missing option '--model-name'"),
    (["--model-config", "c/models.yaml", "--model-path", "m.onnx"],
     "ERROR: '--model-path' cannot be used with '--model-config'"),
    (["--model-config", "c/models.yaml", "--model-name", "m"],
     "ERROR: '--model-name' cannot be used with '--model-config'"),
    (["--model-config", "c/bad.yaml"],
     "ERROR: model_config_list -> 0 -> version expected a string, got an integer (1); quote it in YAML: \"1\""),
    (["--model-path", "m.onnx", "--model-name", "m", "--server-config", "c/bad_server.yaml"],
     "ERROR: rest_server_config -> port expected an integer"),
    (["--model-path", "missing.onnx", "--model-name", "m", "--http-port", "0"],
     "ERROR: could not load model m (version default): CompilationFailed"),
    (["--model-config", "c/nothing.yaml"], "ERROR: c/nothing.yaml is not a model config file"),
])
def test_argument_and_configuration_errors(tmp_path, args, message):
    configs = tmp_path / "c"
    configs.mkdir()
    (configs / "models.yaml").write_text("model_config_list: []\n")
    (configs / "nothing.yaml").write_text("hello: world\n")
    (configs / "bad.yaml").write_text("model_config_list:\n  - name: m\n    model: m.onnx\n    version: 1\n")
    (configs / "bad_server.yaml").write_text("rest_server_config:\n  port: http\n")
    done = run(args, tmp_path, tmp_path)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr


def test_an_invalid_model_config_in_the_working_directory_stops_start_up(tmp_path):
    """The vendor's quirk: every *.yaml in the repository root (the cwd) is a model config file."""
    (tmp_path / "stale.yaml").write_text("model_config_list:\n  - name: old\n")
    (tmp_path / "compose.yaml").write_text("services: {}\n")  # not a model config: skipped, with a warning
    done = run(["--model-path", "m.onnx", "--model-name", "m", "--http-port", "0"], tmp_path, tmp_path)
    assert done.returncode == 1
    assert "ERROR: invalid configuration in stale.yaml:" in done.stderr
    assert "model_config_list -> 0 -> model field required" in done.stderr
    assert "skipping compose.yaml: not a model config file" in done.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path, cnn_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(["--model-path", str(cnn_path), "--model-name", "cnn", "--host", "127.0.0.1",
                    "--http-port", str(port)], tmp_path, tmp_path)
    assert done.returncode == 1
    assert f"ERROR: could not serve on 127.0.0.1:{port}" in done.stderr and "address already in use" in done.stderr


def test_help_and_console_script(tmp_path):
    script = Path(sys.executable).with_name("furiosa-server")
    if not script.exists():
        pytest.skip("the furiosa-server console script is not installed (pip install -e .)")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "Start serving models from FuriosaAI model server" in done.stdout
    for option in ("--log-level", "--model-path", "--model-name", "--model-version", "--host", "--http-port",
                   "--model-config", "--server-config"):
        assert option in done.stdout


# --- serving ------------------------------------------------------------------------------------
def test_serve_a_model_path_and_stop_with_sigint(tmp_path, serve, cnn_path, image):
    """--model-path/--model-name, plus the quirk: every *.yaml in the working directory is served too."""
    (tmp_path / "extra.yaml").write_text(
        f"model_config_list:\n  - name: extra\n    model: {cnn_path}\n    version: \"2\"\n    npu_device: npu:0:1\n")
    port = free_port()
    served = serve(["--model-path", str(cnn_path), "--model-name", "cnn", "--host", "127.0.0.1",
                    "--http-port", str(port), "--log-level", "INFO"], port=port)
    answer = infer(served.url + "/v2/models/cnn/infer", image)
    assert answer.status == 200, answer.body
    assert answer.json["model_version"] == "default"
    other = infer(served.url + "/v2/models/extra/versions/2/infer", image)
    assert other.status == 200 and other.json["outputs"] == answer.json["outputs"]
    bad = call(served.url + "/v2/models/cnn/infer", "POST", raw=b"{")
    assert bad.status == 400
    assert served.stop(signal.SIGINT) == 0
    output = served.output()
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output


def test_serve_model_and_server_config_files_stop_with_sigterm(tmp_path, serve, cnn_path, image):
    registry = tmp_path / "registry"
    registry.mkdir()
    port = free_port()
    (tmp_path / "models.yaml").write_text(
        f"model_config_list:\n  - name: cnn\n    model: {cnn_path}\n    version: \"1\"\n    platform: npu\n"
        f"    npu_device: warboy(1)*1\n    worker_num: 2\n")
    (tmp_path / "server.yaml").write_text(
        f"server_name: test-server\nfile_registry_config:\n  repository_root: {registry}\n"
        f"rest_server_config:\n  host: 127.0.0.1\n  port: {port}\n")
    served = serve(["--model-config", "models.yaml", "--server-config", "server.yaml"], port=port)
    assert call(served.url + "/v2").json["name"] == "test-server"
    assert infer(served.url + "/v2/models/cnn/versions/1/infer", image).status == 200
    missing = infer(served.url + "/v2/models/cnn/infer", image)
    assert missing.status == 400 and missing.json == {"error": "Model cnn with version default not found"}
    assert served.stop(signal.SIGTERM) == 0
