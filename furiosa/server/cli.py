"""``furiosa-server`` (also ``furiosa server``): serve models over the KServe v2 REST API.

Options and rules follow the vendor's command (spec/toolchain-api.md §11.2)::

    furiosa-server --model-path mnist.onnx --model-name mnist [--model-version default]
                   [--host 0.0.0.0] [--http-port 8080] [--log-level INFO]
    furiosa-server --model-config models.yaml [--server-config server.yaml]

Without ``--model-config`` both ``--model-path`` and ``--model-name`` are needed; with it,
neither may be given. ``--server-config`` replaces the host, port and log-derived settings.
Configuration errors print ``ERROR: <location> <message>`` lines and exit with status 1.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from typing import IO

import click

from .errors import ConfigError

LOG_LEVELS = {"ERROR": logging.ERROR, "INFO": logging.INFO, "WARN": logging.WARNING, "DEBUG": logging.DEBUG,
              "TRACE": 5}

log = logging.getLogger("furiosa.server")


def fail(message: str) -> None:
    """Print ``ERROR: message`` on stderr and exit with status 1."""
    click.echo(f"ERROR: {message}", err=True)
    sys.exit(1)


@click.command(name="furiosa-server", context_settings={"help_option_names": ["--help"]})
@click.option("--log-level", type=click.Choice(list(LOG_LEVELS)), default="INFO", show_default=True,
              help="Log level")
@click.option("--model-path", default=None, help="Path to Model file (tflite, onnx are supported)")
@click.option("--model-name", default=None, help="Model name used in URL path")
@click.option("--model-version", default="default", show_default=True, help="Model version used in URL path")
@click.option("--host", default="0.0.0.0", show_default=True, help="IP address to bind")
@click.option("--http-port", type=int, default=8080, show_default=True, help="HTTP port to listen to requests")
@click.option("--model-config", type=click.File("r"), default=None,
              help="Path to a config file about models with specific configurations")
@click.option("--server-config", type=click.File("r"), default=None,
              help="Path to a config file about the server (host, ports, model repository)")
def main(log_level: str, model_path: str | None, model_name: str | None, model_version: str, host: str,
         http_port: int, model_config: IO[str] | None, server_config: IO[str] | None) -> None:
    """Start serving models from FuriosaAI model server"""
    level = LOG_LEVELS[log_level]
    logging.addLevelName(5, "TRACE")
    logging.basicConfig(level=level)
    from .loader import load_model_config, load_server_config
    from .settings import FuriosaRTModelConfig, RESTServerConfig, ServerConfig

    if model_config is not None:
        for option, value in (("--model-path", model_path), ("--model-name", model_name)):
            if value is not None:
                fail(f"'{option}' cannot be used with '--model-config'")
    else:
        if model_path is None:
            fail("missing option '--model-path' (or give '--model-config')")
        if model_name is None:
            fail("missing option '--model-name'")

    try:
        if server_config is not None:
            config = load_server_config(server_config)
        else:
            config = ServerConfig(rest_server_config=RESTServerConfig(host=host, port=http_port,
                                                                      debug=log_level == "DEBUG"))
        if model_config is not None:
            models = load_model_config(model_config)
        else:
            models = [FuriosaRTModelConfig(name=model_name, model=model_path, version=model_version)]
    except ConfigError as error:
        for line in error.problems or [str(error)]:
            click.echo(f"ERROR: {line}", err=True)
        sys.exit(1)
    except ValueError as error:  # a ValidationError from the command-line values
        fail(str(error))

    from .server import ModelServer, StartupError

    server = ModelServer(config, models, log_level=log_level.lower() if log_level != "WARN" else "warning")
    try:
        asyncio.run(server.start())
    except (StartupError, ConfigError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
