"""Configuration classes, model/server config files and the file registry (spec §11.1–11.2)."""
from __future__ import annotations

import asyncio
import io
import logging
import pathlib

import pytest

from furiosa.server._schema import ValidationError
from furiosa.server.errors import ConfigError
from furiosa.server.loader import load_model_config, load_server_config
from furiosa.server.registry import FileRegistry
from furiosa.server.settings import (
    FileRegistryConfig,
    FuriosaRTModelConfig,
    ModelConfig,
    RESTServerConfig,
    ServerConfig,
)


def test_defaults_are_the_vendors():
    config = FuriosaRTModelConfig(name="m", model="m.onnx")
    assert (config.version, config.description, config.platform, config.versions, config.inputs) == \
        (None, None, "npu", [], [])
    assert (config.npu_device, config.batch_size, config.worker_num, config.compiler_config) == (None,) * 4
    assert ModelConfig(name="m").platform == "Unknown"
    server = ServerConfig()
    assert server.server_name == "furiosa-server" and server.intial_model_autoload is True
    assert server.extensions == [] and server.file_registry_config.repository_root == "."
    assert (server.grpc_server_config.host, server.grpc_server_config.port) == ("0.0.0.0", 8081)
    rest = server.rest_server_config
    assert (rest.host, rest.port, rest.workers, rest.debug) == ("0.0.0.0", 8080, 1, False)


def test_values_are_checked():
    with pytest.raises(ValidationError) as caught:
        FuriosaRTModelConfig(name="m", model=pathlib.Path("m.onnx"), version=1, batch_size="two", bogus=0)
    problems = dict(caught.value.errors)
    assert set(problems) == {("model",), ("version",), ("batch_size",), ("bogus",)}
    assert "quote it in YAML" in problems[("version",)]
    assert FuriosaRTModelConfig(name="m", model=b"\x08", batch_size="4").batch_size == 4
    with pytest.raises(ValidationError, match="name: field required"):
        FuriosaRTModelConfig(model="m.onnx")
    with pytest.raises(ValidationError, match="did you mean 'intial_model_autoload'"):
        ServerConfig(initial_model_autoload=False)
    config = FuriosaRTModelConfig(name="m", model="m.onnx")
    with pytest.raises(AttributeError):
        config.name = "other"  # frozen
    assert config.dict()["name"] == "m" and FuriosaRTModelConfig.parse_obj(config.dict()) == config


def test_missing_fields_come_from_same_named_environment_variables(monkeypatch, caplog):
    """The vendor's configs are pydantic BaseSettings: env variables fill what is not given."""
    monkeypatch.setenv("npu_device", "npu:0:1")
    monkeypatch.setenv("COMPILER_CONFIG", '{"keep_unsignedness": true}')
    monkeypatch.setenv("PORT", "9090")
    with caplog.at_level(logging.WARNING, logger="furiosa.server"):
        config = FuriosaRTModelConfig(name="m", model="m.onnx")
    assert config.npu_device == "npu:0:1" and config.compiler_config == {"keep_unsignedness": True}
    assert "environment variable npu_device" in caplog.text
    assert FuriosaRTModelConfig(name="m", model="m.onnx", npu_device="warboy(1)*1").npu_device == "warboy(1)*1"
    assert RESTServerConfig().port == 9090 and RESTServerConfig(port=1).port == 1
    monkeypatch.setenv("WORKER_NUM", "many")
    with pytest.raises(ValidationError, match="worker_num: expected an integer.*from the environment variable"):
        FuriosaRTModelConfig(name="m", model="m.onnx")
    monkeypatch.setenv("VERSIONS", "[not json")
    with pytest.raises(ValidationError, match="VERSIONS='\\[not json' is not valid: expected JSON"):
        FuriosaRTModelConfig(name="m", model="m.onnx")


MODEL_YAML = """\
model_config_list:
  - name: mnist
    model: "samples/data/MNISTnet_uint8_quant.tflite"
    version: "1"
    platform: npu
    npu_device: warboy(1)*1
    compiler_config: {keep_unsignedness: true, split_unit: 0}
  - name: legacy
    model: old.onnx
    platform: nux
  - name: plain
    model: plain.onnx
"""


def test_model_config_file():
    configs = load_model_config(io.StringIO(MODEL_YAML))
    assert [type(c) for c in configs] == [FuriosaRTModelConfig] * 3
    mnist = configs[0]
    assert (mnist.name, mnist.version, mnist.npu_device) == ("mnist", "1", "warboy(1)*1")
    assert mnist.compiler_config == {"keep_unsignedness": True, "split_unit": 0}
    assert configs[1].platform == "nux" and configs[2].platform == "npu"


@pytest.mark.parametrize("text, problems", [
    ("model_config_list:\n  - name: m\n    model: m.onnx\n    version: 1\n",
     ["model_config_list -> 0 -> version expected a string, got an integer (1); quote it in YAML: \"1\""]),
    ("model_config_list:\n  - model: m.onnx\n  - name: n\n    model: n.onnx\n    platform: tensorflow\n",
     ["model_config_list -> 0 -> name field required",
      "model_config_list -> 1 -> platform unsupported platform 'tensorflow': this server runs 'npu' models"]),
    ("model_config_list:\n  - name: m\n    model: m.onnx\n    npu_devices: npu:0\n",
     ["model_config_list -> 0 -> npu_devices extra fields are not permitted; did you mean 'npu_device'?"]),
])
def test_invalid_model_config_files(text, problems):
    with pytest.raises(ConfigError) as caught:
        load_model_config(io.StringIO(text), "models.yaml")
    assert caught.value.problems == problems
    assert str(caught.value).startswith("invalid configuration in models.yaml:")


def test_files_that_are_not_model_configs():
    with pytest.raises(ConfigError, match="needs a top-level 'model_config_list'"):
        load_model_config(io.StringIO("models: []\n"), "x.yaml")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_model_config(io.StringIO("a: [\n"), "x.yaml")


def test_server_config_file():
    config = load_server_config(io.StringIO(
        "server_name: my-server\nintial_model_autoload: false\nfile_registry_config:\n  repository_root: /srv\n"
        "rest_server_config:\n  host: 127.0.0.1\n  port: 9000\n  workers: 1\n"))
    assert config.server_name == "my-server" and config.intial_model_autoload is False
    assert config.file_registry_config.repository_root == "/srv"
    assert (config.rest_server_config.host, config.rest_server_config.port) == ("127.0.0.1", 9000)
    with pytest.raises(ConfigError) as caught:
        load_server_config(io.StringIO("rest_server_config:\n  port: http\n"), "server.yaml")
    assert caught.value.problems == ["rest_server_config -> port expected an integer, got a string ('http')"]


def test_file_registry_reads_every_yaml_in_its_root(tmp_path, caplog):
    (tmp_path / "models.yaml").write_text(MODEL_YAML)
    (tmp_path / "docker-compose.yaml").write_text("services: {}\n")
    (tmp_path / "broken.yaml").write_text("a: [\n")
    (tmp_path / "notes.yml").write_text(MODEL_YAML)  # only *.yaml counts
    with caplog.at_level(logging.WARNING, logger="furiosa.server"):
        configs = asyncio.run(FileRegistry(FileRegistryConfig(repository_root=str(tmp_path))).list())
    assert [c.name for c in configs] == ["mnist", "legacy", "plain"]
    assert "docker-compose.yaml: not a model config file" in caplog.text and "broken.yaml" in caplog.text
    (tmp_path / "bad.yaml").write_text("model_config_list:\n  - name: x\n")
    with pytest.raises(ConfigError, match="model_config_list -> 0 -> model field required"):
        asyncio.run(FileRegistry(FileRegistryConfig(repository_root=str(tmp_path))).list())
