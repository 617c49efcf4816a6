"""Fixtures of the command-line tests: the installed console scripts, run as subprocesses.

Every test gets a private device state directory and compiler cache, and the virtual
environment's ``bin`` first on ``PATH`` (so ``furiosa`` finds ``furiosa-compile`` and
``furiosa-litmus`` as it would after ``pip install``).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import onnx
import pytest

from tests.helpers import BIN, tool


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment the commands run in: private devices and cache, the venv's bin on PATH."""
    out = dict(os.environ)
    out["FURIOSA_EMU_STATE_DIR"] = str(tmp_path / "devices")
    out["FC_CACHE_STORE_URL"] = str(tmp_path / "cache")
    out.pop("FC_CACHE_ENABLED", None)
    out.pop("FC_CACHE_LIFETIME", None)
    out.pop("FURIOSA_DEVICES", None)
    out["PATH"] = f"{BIN}{os.pathsep}{out.get('PATH', '')}"
    out["COLUMNS"] = "80"
    return out


@pytest.fixture
def cli(env, tmp_path):
    """Run an installed command: ``cli("furiosa-compiler", "model.onnx", "-o", "x.enf")``."""

    def run(name: str, *args: str, cwd: Path | None = None, timeout: float = 120, extra_env: dict | None = None
            ) -> subprocess.CompletedProcess:
        environment = dict(env, **(extra_env or {}))
        return subprocess.run([tool(name), *map(str, args)], cwd=cwd or tmp_path, env=environment,
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def qdq_model(tmp_path_factory) -> Path:
    """A small quantized (QDQ) CNN built in code: NPU and host operators both."""
    from examples.zoo import calibration_data, quantize_qdq, small_cnn

    model = small_cnn()
    path = tmp_path_factory.mktemp("models") / "small_qdq.onnx"
    onnx.save(quantize_qdq(model, calibration_data(model, 4)), path)
    return path


@pytest.fixture(scope="session")
def float_model(tmp_path_factory) -> Path:
    """The same CNN in float32, with no calibration (everything on the host)."""
    from examples.zoo import small_cnn

    path = tmp_path_factory.mktemp("models") / "small_float.onnx"
    onnx.save(small_cnn(), path)
    return path


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single line a failing command prints on stderr (asserting that it is one line)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]
