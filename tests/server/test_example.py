"""examples/serve.py runs as a script: starts furiosa-server, gets one answer, stops it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import CONFIG_VARIABLES, requires_server

pytestmark = requires_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serve.py"


def test_serve_example(tmp_path):
    env = {k: v for k, v in os.environ.items() if k.upper() not in CONFIG_VARIABLES}
    env["FURIOSA_EMU_STATE_DIR"] = str(tmp_path / "devices")
    done = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3, 16, 16]' in done.stdout
    assert "answer to example-1: output 0 FLOAT32 [1, 10]" in done.stdout
    assert "unversioned endpoint (400): Model cnn with version default not found" in done.stdout
    assert "server stopped, exit status 0" in done.stdout
