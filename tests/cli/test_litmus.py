"""furiosa-litmus / furiosa litmus: the four steps, --skip-quantization, --dump, failures."""
from __future__ import annotations

import re
import zipfile

import pytest

STEP_LINES = [
    "[Step 1] Checking if the model can be loaded and optimized ...",
    "[Step 1] Passed",
    "[Step 2] Checking if the model can be quantized ...",
    "[Step 2] Passed",
    "[Step 3] Checking if the model can be compiled for the NPU family [warboy-2pe] ...",
    "[Step 3] Passed",
    "[Step 4] Perform inference once for data collection... (Optional)",
    "[Step 4] Finished",
]
DUMPED = ["meta.yaml", "compiler/compiler.log", "compiler/memory-analysis.html", "compiler/model.dot",
          "runtime/trace.json"]


def test_help_has_the_vendor_layout(cli):
    result = cli("furiosa-litmus", "--help")
    assert result.returncode == 0
    text = result.stdout
    assert text.startswith("usage: furiosa-litmus [-h] [--dump OUTPUT_PREFIX] [-v] [--skip-quantization]")
    assert "[--target-npu TARGET_NPU]" in text and "model_path" in text
    assert "\nValidate the model\n" in text
    for words in ("Path to Model file (only onnx model format is", "--dump OUTPUT_PREFIX  Collect compiler log",
                  "-v, --verbose         increase output verbosity (default: False)",
                  "--skip-quantization   skip model quantization phase (default: False)",
                  "Target NPU: warboy, warboy-2pe (default: warboy-2pe)"):
        assert words in text, words


def _in_order(text: str, lines: list[str]) -> None:
    position = 0
    for line in lines:
        found = text.find(line, position)
        assert found >= 0, f"{line!r} missing (in order) from:\n{text}"
        position = found + len(line)


def test_skip_quantization_with_dump(cli, qdq_model, tmp_path):
    result = cli("furiosa-litmus", qdq_model, "--skip-quantization", "--dump", "archive")
    assert result.returncode == 0, result.stderr
    _in_order(result.stdout, ["[Step 1] Skip model loading and optimization", "[Step 2] Skip model quantization",
                              *STEP_LINES[4:]])
    assert re.search(r"^furiosa-quantizer \S+ \(rev\. [0-9a-f]{9}\) furiosa-litmus \S+ \(rev\. [0-9a-f]{9}\)$",
                     result.stderr, re.M)
    assert "1 queries executed with batch size 1" in result.stdout
    archives = list(tmp_path.glob("archive-*.zip"))
    assert len(archives) == 1 and re.fullmatch(r"archive-\d+\.zip", archives[0].name)
    with zipfile.ZipFile(archives[0]) as archive:
        names = archive.namelist()
        folder = archives[0].stem
        assert sorted(names) == sorted(f"{folder}/{n}" for n in DUMPED)
        log = archive.read(f"{folder}/compiler/compiler.log").decode()
        assert "[6/6]" in log and "Finished in" in log
        assert archive.read(f"{folder}/compiler/model.dot").startswith(b"digraph")
        import json

        import yaml

        trace = json.loads(archive.read(f"{folder}/runtime/trace.json"))
        assert any(e.get("name") == "Inference" or e.get("cat") == "NPU" for e in trace)
        meta = yaml.safe_load(archive.read(f"{folder}/meta.yaml"))
        assert list(meta) == ["sdk", "environment", "os", "cpu", "model", "devices", "compiler_config"]
        assert meta["sdk"]["compiler"].startswith("furiosa-compiler ")
        assert meta["model"]["filename"] == qdq_model.name and len(meta["model"]["md5"]) == 32
        assert "npu0" in meta["devices"]
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("archive-")]


def test_single_pe_target(cli, qdq_model):
    result = cli("furiosa-litmus", qdq_model, "--skip-quantization", "--target-npu", "warboy")
    assert result.returncode == 0, result.stderr
    assert "[Step 3] Checking if the model can be compiled for the NPU family [warboy] ..." in result.stdout
    assert "[Step 4] Finished" in result.stdout


def test_a_tflite_file_is_refused_at_step_1(cli, tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    result = cli("furiosa-litmus", path)
    assert result.returncode == 1
    assert "[Step 1] ERROR: The input file should be a valid ONNX file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file(cli, tmp_path):
    result = cli("furiosa-litmus", "missing.onnx", "--dump", "d")
    assert result.returncode == 1
    assert "ERROR: missing.onnx does not exist" in result.stderr
    assert "[Step 1] Failed" in result.stderr and "Traceback" not in result.stderr
    assert len(list(tmp_path.glob("d-*.zip"))) == 1  # the archive is written on failure too


def test_a_compile_failure_fails_step_3(cli, tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07not really onnx")
    result = cli("furiosa-litmus", path, "--skip-quantization")
    assert result.returncode == 1
    assert "[Step 3] Failed" in result.stderr and "error:" in result.stderr


def test_bad_target(cli, qdq_model):
    result = cli("furiosa-litmus", qdq_model, "--target-npu", "renegade")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "renegade" in result.stderr


def _quantizer_ready() -> bool:
    try:
        from furiosa.quantizer import CalibrationMethod, Calibrator, quantize  # noqa: F401
        from furiosa.optimizer import optimize_model  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _quantizer_ready(), reason="furiosa.quantizer (Calibrator, quantize) is not available yet")
def test_vendor_float_mnist_passes_the_four_steps(cli, vendor, tmp_path):
    result = cli("furiosa", "litmus", vendor / "mnist.onnx", "--dump", "mnist", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    _in_order(result.stdout, STEP_LINES)
    assert re.search(r"✨  Finished in [0-9.]+s", result.stdout)
    (archive,) = tmp_path.glob("mnist-*.zip")
    with zipfile.ZipFile(archive) as handle:
        assert sorted(n.split("/", 1)[1] for n in handle.namelist()) == sorted(DUMPED)
