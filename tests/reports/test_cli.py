"""``furiosa quantize-report`` and ``furiosa sweep``: the commands end to end, as installed."""
from __future__ import annotations

import json
import os
import subprocess
import time

import numpy as np
import onnx
import pytest

from tests.helpers import BIN, tool

from .models import damaged, mnist_images, ranges, vendor_mnist


@pytest.fixture
def cli(tmp_path):
    """Run an installed command in ``tmp_path`` with a private device state and compiler cache."""
    env = dict(os.environ, FURIOSA_EMU_STATE_DIR=str(tmp_path / "devices"), FC_CACHE_STORE_URL=str(tmp_path / "cache"),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", COLUMNS="100")

    def run(name: str, *args: object, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([tool(name), *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=timeout)

    return run


@pytest.fixture
def mnist_files(vendor, tmp_path):
    """The vendor's MNIST and real digits as .npy files: 100 calibration, 200 evaluation images."""
    images = mnist_images()
    np.save(tmp_path / "cal.npy", images[:100])
    np.save(tmp_path / "eval.npy", images[100:300])
    return vendor / "mnist.onnx", tmp_path / "cal.npy", tmp_path / "eval.npy"


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_quantize_report_finds_the_damaged_layer(cli, mnist_files, tmp_path):
    _, cal, ev = mnist_files
    model, calibration, _ = vendor_mnist()
    onnx.save(damaged(model, ranges(model, calibration), "input.11"), tmp_path / "damaged.onnx")
    result = cli("furiosa", "quantize-report", "damaged.onnx", "-c", cal, "-e", ev, "-o", "r.json", "--html", "r.html")
    assert result.returncode == 0, result.stderr
    assert "ranges from model metadata" in result.stdout
    assert "Bad layer input.11" in result.stdout and "[recommended]" in result.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["ranking"][0] == "input.11" and data["evaluation_samples"] == 200 and data["model"] == "damaged.onnx"
    assert (tmp_path / "r.html").read_text().count("<svg") == 1 + len(data["layers"])
    assert not list(tmp_path.glob(".*.part"))


def test_quantize_report_without_data_says_what_it_measures(cli, vendor):
    result = cli("furiosa-quantize-report", vendor / "mnist.onnx", "-n", "8", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert "ranges from MIN_MAX_ASYM, 8 calibration / 8 evaluation" in result.stdout
    assert "Note: no data given: 8 random samples" in result.stdout and "not task accuracy" in result.stdout
    assert "2 more layer(s)" in result.stdout


@pytest.mark.parametrize("args, words, code", [
    (["missing.onnx"], ["missing.onnx", "does not exist"], 2),
    (["notes.txt"], ["notes.txt", "not an ONNX model"], 1),
    (["{model}", "-c", "bad.npy"], ["bad.npy", "[4, 1, 5, 5]", "'input' [1, 1, 28, 28]"], 1),
    (["{model}", "-c", "missing.npy"], ["missing.npy", "no such file"], 1),
    (["{model}", "-o", "no/such/dir/r.json"], ["no/such/dir/r.json", "does not exist"], 1),
    (["{model}", "--method", "BEST"], ["BEST", "MIN_MAX_ASYM"], 2),
])
def test_quantize_report_errors_are_one_line(cli, vendor, tmp_path, args, words, code):
    (tmp_path / "notes.txt").write_text("not a model")
    np.save(tmp_path / "bad.npy", np.zeros((4, 1, 5, 5), np.float32))
    result = cli("furiosa-quantize-report", *[a.format(model=vendor / "mnist.onnx") for a in args])
    line = error_line(result)
    assert result.returncode == code
    for word in words:
        assert word in line, line


def test_sweep_of_the_vendor_mnist_finishes_in_under_two_minutes(cli, mnist_files, tmp_path):
    model_path, cal, ev = mnist_files
    started = time.perf_counter()
    result = cli("furiosa", "sweep", model_path, "-c", cal, "-e", ev, "-o", "sweep.json", "--plot", "sweep.svg")
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 120
    data = json.loads((tmp_path / "sweep.json").read_text())
    # all ten methods (three percentiles each for PERCENTILE), four I/O variants, two batch sizes, two targets
    assert len(data["points"]) == (8 + 2 * 3) * 4 * 2 * 2
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert len(lines) - header - 2 == len(data["points"])
    assert any(line.rstrip().endswith("L") or line.rstrip().endswith("L,T") for line in lines[header + 2:])
    assert (tmp_path / "sweep.svg").read_text().startswith("<svg")


@pytest.mark.parametrize("args, words", [
    (["--methods", "MIN_MAX_ASYM,BEST"], ["BEST", "MIN_MAX_ASYM"]),
    (["--batch-sizes", "1,x"], ["'x'", "batch size"]),
    (["--batch-sizes", "0"], ["positive"]),
    (["--io", "fp16"], ["fp16", "uint8-input"]),
    (["--targets", "tpu"], ["tpu", "warboy-2pe"]),
])
def test_sweep_errors_are_one_line(cli, vendor, args, words):
    result = cli("furiosa-sweep", vendor / "mnist.onnx", *args)
    line = error_line(result)
    assert result.returncode == 2
    for word in words:
        assert word in line, line


def test_the_meta_command_lists_and_runs_the_extensions(cli):
    result = cli("furiosa", "--help")
    assert result.returncode == 0
    assert "emulator extensions:" in result.stdout
    assert "quantize-report" in result.stdout and "sweep" in result.stdout
    assert result.stdout.startswith("usage: furiosa [-h] [--version] {")  # the vendor's choices are unchanged
    assert "quantize-report" not in result.stdout.splitlines()[0]
    for name in ("quantize-report", "sweep"):
        shown = cli("furiosa", name, "--help")
        assert shown.returncode == 0 and shown.stdout.startswith(f"Usage: furiosa-{name} [OPTIONS] MODEL")
