"""Tracing through FURIOSA_PROFILER_OUTPUT_PATH (and NUX_PROFILER_PATH) with no code change."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from furiosa.runtime import FuriosaRuntimeWarning, sync
from furiosa.runtime._profiler import environment

from .traces import load_trace


@pytest.fixture
def fresh_trace():
    """No environment trace before or after the test."""
    environment.close()
    yield
    environment.close()


SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from furiosa.runtime import session, sync

    model = open(sys.argv[1], "rb").read()
    trace = sys.argv[2]
    image = np.zeros((1, 3, 32, 32), np.uint8)
    with sync.Runtime() as runtime:                       # two runners on one device
        first = runtime.create_runner(model, worker_num=2)
        second = runtime.create_runner(model)
        first.run([image]); second.run([image])
        json.loads(open(trace).read())                     # valid while the process runs
        submitter, receiver = runtime.create_queue(model, worker_num=2)
        for i in range(4):
            submitter.submit([image], context=i)
        for i in range(4):
            receiver.recv()
        submitter.close(); receiver.close()
    other = sync.create_runner(model, device="npu1pe0-1")  # another card
    other.run([image])
    legacy = session.create(model, device="npu0pe0-1")
    legacy.run(image)
    # exit without closing `other` or `legacy`
""")


def run_script(tmp_path, model: bytes, env: dict) -> subprocess.CompletedProcess:
    (tmp_path / "model.onnx").write_bytes(model)
    (tmp_path / "script.py").write_text(SCRIPT)
    full = {k: v for k, v in os.environ.items() if k not in ("FURIOSA_PROFILER_OUTPUT_PATH", "NUX_PROFILER_PATH")}
    full.update(FURIOSA_EMU_NPUS="2", **env)
    return subprocess.run([sys.executable, "script.py", "model.onnx", "trace.json"], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=300)


def test_every_runner_of_a_process_traces_to_the_file(tmp_path, uint8_model):
    done = run_script(tmp_path, uint8_model, {"FURIOSA_PROFILER_OUTPUT_PATH": "trace.json"})
    assert done.returncode == 0, done.stderr
    events = load_trace(tmp_path / "trace.json")
    spans = [e for e in events if e["ph"] == "X"]
    inferences = [e for e in spans if e["name"] == "Inference"]
    assert len(inferences) == 2 + 4 + 1 + 1 and len({e["args"]["trace_id"] for e in inferences}) == 8
    assert len([e for e in spans if e["name"] == "Execution"]) == 8
    lanes = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {"NPU npu0pe0-1 (modeled)", "NPU npu1pe0-1 (modeled)"} <= lanes
    assert len({e["pid"] for e in events}) == 1


def test_nux_profiler_path_is_deprecated(tmp_path, uint8_model):
    done = run_script(tmp_path, uint8_model, {"NUX_PROFILER_PATH": "trace.json"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("NUX_PROFILER_PATH is deprecated, use FURIOSA_PROFILER_OUTPUT_PATH instead") == 1
    assert any(e["name"] == "Execution" for e in load_trace(tmp_path / "trace.json"))


def test_the_file_is_valid_after_each_inference_and_reused(tmp_path, monkeypatch, uint8_model, fresh_trace):
    path = tmp_path / "trace.json"
    monkeypatch.setenv("FURIOSA_PROFILER_OUTPUT_PATH", str(path))
    image = np.zeros((1, 3, 32, 32), np.uint8)
    with sync.create_runner(uint8_model) as runner:
        runner.run([image])
        assert len([e for e in json.loads(path.read_text()) if e["name"] == "Inference"]) == 1
        runner.run([image])
        assert len([e for e in json.loads(path.read_text()) if e["name"] == "Inference"]) == 2
    with sync.create_runner(uint8_model) as runner:  # a later runner of the same process appends
        runner.run([image])
    assert len([e for e in load_trace(path) if e["name"] == "Inference"]) == 3


def test_an_unwritable_path_warns_and_runs(tmp_path, monkeypatch, uint8_model, fresh_trace):
    monkeypatch.setenv("FURIOSA_PROFILER_OUTPUT_PATH", str(tmp_path / "missing" / "trace.json"))
    with pytest.warns(FuriosaRuntimeWarning, match="cannot write the profiler trace there"):
        runner = sync.create_runner(uint8_model)
    with runner:
        runner.run([np.zeros((1, 3, 32, 32), np.uint8)])
