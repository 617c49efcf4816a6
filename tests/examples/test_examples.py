"""Every example in examples/ runs as a user runs it and prints what it promises.

Examples are discovered: a new ``examples/*.py`` script is run here without any change to this
file (exit status 0, some output, no Python warning, nothing left behind); the checks below add
what each known example must print. ``zoo.py`` is a module, not an example. ``serve.py`` runs in
tests/server/test_example.py (it needs the ``server`` extra and is checked there in detail), so
it is not run twice; a test below makes sure that test exists.

Each example runs in a fresh process, from an empty working directory, with a private device
state directory (FURIOSA_EMU_STATE_DIR) and a private TMPDIR, so that what it leaves behind can
be checked. The compiler cache is the test session's (tests/conftest.py).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

NOT_EXAMPLES = {"zoo.py"}  # helpers imported by the examples
RUN_ELSEWHERE = {"serve.py": ROOT / "tests" / "server" / "test_example.py"}
# demo.py (`make demo`) keeps its work directory on purpose: it prints where the ENF file is.
KEEPS_FILES = {"demo.py"}
TIMEOUT = 300  # seconds; each example takes a few seconds

# Variables of the user's environment that would change what an example does.
CLEARED = ("FURIOSA_DEVICES", "NPU_DEVNAME", "FURIOSA_PROFILER_OUTPUT_PATH", "NUX_PROFILER_PATH", "FURIOSA_EMU_PACE",
           "FURIOSA_EMU_NPUS")


def discovered() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.py") if p.name not in NOT_EXAMPLES and not p.name.startswith("_"))


def run_example(name: str, tmp_path: Path) -> subprocess.CompletedProcess:
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(FURIOSA_EMU_STATE_DIR=str(tmp_path / "devices"), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    env.pop("FURIOSA_TEST_IS_RUNNING", None)  # run as a user would
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{name} exited with {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{name} printed nothing"
    assert "Warning" not in done.stderr, f"{name} warns:\n{done.stderr[-3000:]}"
    assert not list(cwd.iterdir()), f"{name} wrote to the working directory: {list(cwd.iterdir())}"
    if name not in KEEPS_FILES:
        # .ses: onnxruntime's telemetry session file, written by its import (ORT_DISABLE_TELEMETRY=1 prevents it)
        left = [p.name for p in tmp.iterdir() if p.name != ".ses"]
        assert not left, f"{name} left temporary files: {left}"
    return done


def number(pattern: str, text: str) -> list[float]:
    """The numbers captured by ``pattern`` (which must match)."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return [float(g) for g in match.groups()]


# --- what each example must show -----------------------------------------------------------------
def check_demo(out: str) -> None:
    assert "placement:" in out and re.search(r"^  npu  LowLevelConv2d ", out, re.M)
    assert re.search(r"predicted class: \d\b", out)


def check_quantize(out: str) -> None:
    assert re.search(r"input +\(\+0\.000, \+0\.9\d\d\) +\(\+0\.000, \+0\.9\d\d\)", out)  # both methods' ranges
    diff, same = number(r"int8 model vs float model: largest probability difference ([\d.]+), "
                        r"same top-1 class for (\d+)/16", out)
    assert diff < 0.05 and same >= 12
    assert "FurisoaAI.WithoutQuantize: 0" in out and "FurisoaAI.WithoutDequantize: [(0,I8,None)]" in out
    assert 'dtype=UINT8' in out and 'dtype=INT8' in out and "output dtype int8" in out
    assert number(r"uint8/int8 model vs int8 model: same top-1 class for (\d+)/16", out)[0] >= 14


def check_compile(out: str) -> None:
    assert "[6/6]" in out and "Placement (operators in execution order" in out
    npu, host = number(r"small_cnn\.dot: (\d+) NPU and (\d+) host operators", out)
    assert npu >= 1 and (npu, host) == tuple(number(r"Summary: (\d+) NPU operator\(s\), (\d+) host", out))
    assert "Memory analysis of small_cnn_quantized.onnx" in out
    assert "shape (2, 3, 16, 16), FLOAT32" in out and "shape (2, 10), FLOAT32" in out
    assert number(r"largest difference ([\d.]+)", out) == [0.0]  # batch of 2 on one PE == one by one on two
    assert "IncompatibleModel: incompatible configuration" in out


def check_run_sync(out: str) -> None:
    assert 'TensorDesc(name="input", shape=(1, 3, 16, 16), dtype=FLOAT32' in out
    assert "gives the same scores: True" in out
    assert "batch_size=4: input (4, 3, 16, 16), output (4, 10)" in out
    assert "64 images in 16 calls, same scores as one by one: True" in out
    assert re.search(r"worker_num=4: 64 inferences from 4 threads in [\d.]+ ms .* same scores: True", out)


def check_run_async(out: str) -> None:
    assert "runner: input (1, 3, 16, 16) FLOAT32, output (1, 10)" in out
    assert re.search(r"64 concurrent tasks done in [\d.]+ ms", out)
    assert "same classes as one at a time: True" in out


def check_run_queue(out: str) -> None:
    for title in ("sync queue", "async queue", "legacy session.create_async"):
        assert re.search(rf"^{re.escape(title)}: 32 results, ", out, re.M), title
    assert out.count("classes match the runner's: True") == 3


def check_profile(out: str) -> None:
    assert "inferences: 4 | your records: ['warm up', 'three inferences']" in out
    assert re.search(r"Chrome trace: trace\.json, \d+ bytes, \d+ spans \(\d+ measured, \d+ modeled\)", out)
    assert "NPU npu0pe0-1 (modeled)" in out
    assert "records: ['two inferences']" in out  # the paused warm-up is left out
    assert re.search(r"Inference counts +: 2$", out, re.M)
    assert "NPU Total" in out and "average_elapsed (ns)" in out and "operator_index" in out
    measured, modeled = number(r"one inference: ([\d.]+) us measured .* would spend ([\d.]+) us in the NPU", out)
    assert measured > 0 and modeled > 0
    assert "3 inferences, 3 NPU executions" in out


def check_benchmark(out: str) -> None:
    assert out.count("300 queries executed with batch size 1") == 2
    assert re.search(r"^mode +Latency +Throughput$", out, re.M)
    assert re.search(r"^queries +300 +300$", out, re.M)
    assert re.search(r"^modeled QPS on the Warboy +[\d.]+/s +[\d.]+/s$", out, re.M)


CHECKS = {f"{name[len('check_'):]}.py": check for name, check in globals().items() if name.startswith("check_")}


# --- the tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in discovered() if n not in RUN_ELSEWHERE])
def test_example(name, tmp_path):
    done = run_example(name, tmp_path)
    check = CHECKS.get(name)
    if check is not None:
        check(done.stdout)


def test_every_example_runs_somewhere():
    for name, test in RUN_ELSEWHERE.items():
        assert (EXAMPLES / name).exists(), f"{name} is gone: drop it from RUN_ELSEWHERE"
        assert test.exists() and f'"{name}"' in test.read_text(), f"{test} no longer runs examples/{name}"
    for name in CHECKS:
        assert name in discovered(), f"examples/{name} is gone: drop check_{name[:-3]}"
