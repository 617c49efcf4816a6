#!/usr/bin/env python
"""Serve a model with ``furiosa-server`` and ask it for one inference over KServe v2 REST.

1. build a small CNN in code (examples/zoo.py), quantize it (QDQ) and save it;
2. write a model config file and start ``furiosa-server --model-config models.yaml`` on a free
   loopback port;
3. wait until the server is ready, read the model's metadata, send one inference request with
   the standard library's HTTP client and print the answer;
4. stop the server with Ctrl-C's signal (SIGINT), as a user would.

    python examples/serve.py
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.zoo import calibration_data, quantize_qdq, small_cnn  # noqa: E402

MODEL_CONFIG = """\
model_config_list:
  - name: cnn
    model: small_cnn_qdq.onnx
    version: "1"          # a string: versions are names
    platform: npu
    npu_device: warboy(2)*1
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body: dict | None = None) -> tuple[int, object]:
    """One request; the status and the decoded JSON answer (None for an empty body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None


def wait_until_ready(base: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"furiosa-server exited with status {server.returncode}")
        try:
            if http("GET", f"{base}/v2/health/ready")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    raise SystemExit("furiosa-server did not become ready in time")


def server_command() -> list[str]:
    script = Path(sys.executable).with_name("furiosa-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "furiosa.server"]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="furiosa-serve-") as tmp:
        serve(Path(tmp))


def serve(workdir: Path) -> None:
    model = small_cnn()
    onnx.save(quantize_qdq(model, calibration_data(model, 16)), workdir / "small_cnn_qdq.onnx")
    (workdir / "models.yaml").write_text(MODEL_CONFIG)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = server_command() + ["--model-config", "models.yaml", "--host", "127.0.0.1", "--http-port", str(port)]
    # Note: --host/--http-port apply when no --server-config is given.
    print("starting:", " ".join(command))
    server = subprocess.Popen(command, cwd=workdir)
    try:
        wait_until_ready(base, server)
        status, metadata = http("GET", f"{base}/v2/models/cnn/versions/1")
        print("metadata:", json.dumps(metadata))

        image = calibration_data(model, 1, seed=7)[0]["input"]
        request = {"id": "example-1", "inputs": [{"name": "input", "shape": list(image.shape), "datatype": "FP32",
                                                   "data": image.reshape(-1).tolist()}]}
        status, answer = http("POST", f"{base}/v2/models/cnn/versions/1/infer", request)
        if status != 200:
            raise SystemExit(f"inference failed ({status}): {answer}")
        output = answer["outputs"][0]
        scores = np.array(output["data"], dtype=np.float32).reshape(output["shape"])
        print(f"answer to {answer['id']}: output {output['name']} {output['datatype']} {output['shape']}")
        print("scores:", np.array2string(scores[0], precision=4))
        print("class:", int(scores.argmax()))

        status, answer = http("POST", f"{base}/v2/models/cnn/infer", request)
        print(f"unversioned endpoint ({status}):", answer["error"])
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(60)
        print("server stopped, exit status", code)
    if code != 0:
        raise SystemExit(code)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
