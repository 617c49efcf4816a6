"""furiosa-compiler: help, progress, outputs, the cache, placement report and errors."""
from __future__ import annotations

import re

import pytest

from furiosa.compiler import enf

from .conftest import one_error_line

STEPS = ["onnx to dfg", "dfg to ldfg", "ldfg to cdfg", "cdfg to gir", "gir to lir", "lir to enf"]


def test_long_help_has_the_vendor_layout(cli):
    result = cli("furiosa-compiler", "--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Furiosa SDK Compiler v")
    assert "Usage: furiosa-compiler [OPTIONS] <SOURCE>" in lines
    for section in ("Arguments:", "Options:"):
        assert section in lines
    for flags, text in [("-o, --output <OUTPUT>", "Writes output to <OUTPUT>"),
                        ("-b, --batch-size <BATCH_SIZE>", "Specifies the batch size"),
                        ("--target-ir <TARGET_IR>", "(experimental) Target IR - possible values: [enf]"),
                        ("--target-npu <TARGET_NPU>", "Target NPU family - possible values: [warboy, warboy-2pe]"),
                        ("--dot-graph <DOT_GRAPH>", "Filename to write DOT-formatted graph to"),
                        ("--analyze-memory <ANALYZE_MEMORY>", "Analyzes the memory allocation"),
                        ("-v, --verbose", "Shows details about the compilation process"),
                        ("--no-cache", "Disables the compiler result cache"),
                        ("-V, --version", "Print version")]:
        index = next(i for i, line in enumerate(lines) if line.strip() == flags)
        assert lines[index + 1].strip().startswith(text)
    assert "          [default: warboy-2pe]" in lines
    short = cli("furiosa-compiler", "-h")
    assert short.returncode == 0 and len(short.stdout.splitlines()) < len(lines)
    assert "--no-cache" in short.stdout


def test_version(cli):
    result = cli("furiosa-compiler", "--version")
    assert result.returncode == 0
    assert re.match(r"furiosa-compiler \S+ \(rev: [0-9a-f]{9} built at: \S+\)", result.stdout)


def _steps(stderr: str) -> list[str]:
    return re.findall(r"\[(\d)/6\] 🔍   Compiling from (.+)", stderr)


def test_compile_prints_six_steps_and_writes_every_output(cli, qdq_model, tmp_path):
    result = cli("furiosa-compiler", qdq_model, "-o", "model.enf", "--dot-graph", "model.dot",
                 "--analyze-memory", "memory.html")
    assert result.returncode == 0, result.stderr
    assert [s for _, s in _steps(result.stderr)] == STEPS
    assert [n for n, _ in _steps(result.stderr)] == [str(i) for i in range(1, 7)]
    assert result.stderr.count("Done in ") >= 6
    assert re.search(r"▪▪▪▪▪ \[1/\d\] .+\.\.\.Done in [0-9.]+s", result.stderr)
    assert re.search(r"✨  Finished in [0-9.]+s", result.stderr)
    program = enf.read((tmp_path / "model.enf").read_bytes())
    assert program.npu_operators and program.host_operators
    dot = (tmp_path / "model.dot").read_text()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    for op in program.operators:
        assert f"op{op.index} [" in dot
    assert 'unit="npu"' in dot and 'unit="host"' in dot
    html = (tmp_path / "memory.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for text in ("Weights pinned in SRAM", "Weights streamed from DRAM", "Peak SRAM use", "Per operator"):
        assert text in html
    for op in program.npu_operators:
        assert op.name in html


def test_second_compilation_hits_the_cache(cli, qdq_model, tmp_path):
    first = cli("furiosa-compiler", qdq_model, "-o", "a.enf")
    second = cli("furiosa-compiler", qdq_model, "-o", "b.enf")
    assert first.returncode == second.returncode == 0
    assert "compiler cache" not in first.stderr and _steps(first.stderr)
    assert "Found the compiled program in the compiler cache" in second.stderr
    assert not _steps(second.stderr)
    assert (tmp_path / "a.enf").read_bytes() == (tmp_path / "b.enf").read_bytes()
    assert len(list((tmp_path / "cache").glob("*.enfc"))) == 1
    # --no-cache compiles again; another target or batch size is another entry
    again = cli("furiosa-compiler", qdq_model, "-o", "c.enf", "--no-cache")
    assert again.returncode == 0 and _steps(again.stderr) and "compiler cache" not in again.stderr
    single = cli("furiosa-compiler", qdq_model, "-o", "d.enf", "--target-npu", "warboy", "-b", "2")
    assert single.returncode == 0 and _steps(single.stderr)
    program = enf.read((tmp_path / "d.enf").read_bytes())
    assert (program.target, program.batch_size) == ("warboy", 2)
    assert len(list((tmp_path / "cache").glob("*.enfc"))) == 2


def test_disabled_cache_writes_nothing(cli, qdq_model, tmp_path):
    result = cli("furiosa-compiler", qdq_model, "-o", "a.enf", extra_env={"FC_CACHE_ENABLED": "0"})
    assert result.returncode == 0
    assert not (tmp_path / "cache").exists()


def test_verbose_prints_the_placement_report(cli, qdq_model, float_model, tmp_path):
    result = cli("furiosa-compiler", qdq_model, "-o", "a.enf", "-v")
    assert result.returncode == 0
    program = enf.read((tmp_path / "a.enf").read_bytes())
    assert "Placement (operators in execution order):" in result.stderr
    for op in program.operators:
        assert re.search(rf"^  {op.index}\s+{op.unit.upper()}\s+{re.escape(op.name)}\s+.*{re.escape(op.reason)}",
                         result.stderr, re.M), op
    assert f"Summary: {len(program.npu_operators)} NPU operator(s)" in result.stderr
    # a float model: one host subgraph whose nodes are listed with their reasons
    result = cli("furiosa-compiler", float_model, "-o", "f.enf", "-v")
    assert result.returncode == 0
    assert re.search(r"^  0\.0\s+HOST\s+\S+\s+Conv\s+float Conv", result.stderr, re.M)
    assert "Why operators run on the host:" in result.stderr


def test_an_enf_source_is_copied(cli, qdq_model, tmp_path):
    assert cli("furiosa-compiler", qdq_model, "-o", "a.enf").returncode == 0
    result = cli("furiosa-compiler", "a.enf", "-o", "b.enf", "--dot-graph", "b.dot")
    assert result.returncode == 0, result.stderr
    assert enf.read((tmp_path / "b.enf").read_bytes()) == enf.read((tmp_path / "a.enf").read_bytes())
    assert (tmp_path / "b.dot").exists()


@pytest.mark.parametrize("args, words", [
    (["missing.onnx"], ["missing.onnx", "no such file"]),
    (["{model}", "--target-npu", "renegade"], ["renegade", "warboy-2pe"]),
    (["{model}", "--target-ir", "dfg"], ["dfg", "enf"]),
    (["{model}", "-b", "0"], ["batch-size", "0"]),
    (["{model}", "-b", "two"], ["batch-size", "two"]),
    (["{model}", "-o", "no/such/dir/out.enf"], ["no/such/dir/out.enf", "does not exist"]),
    (["{model}", "--bogus"], ["--bogus"]),
])
def test_bad_arguments_fail_in_one_line(cli, qdq_model, tmp_path, args, words):
    args = [a.format(model=qdq_model) for a in args]
    if "-o" not in args:
        args += ["-o", "out.enf"]
    result = cli("furiosa-compiler", *args)
    line = one_error_line(result)
    assert line.startswith("error:")
    for word in words:
        assert word.lower() in line.lower(), line
    assert not (tmp_path / "out.enf").exists()
    assert not list(tmp_path.glob(".out.enf.*"))


@pytest.mark.parametrize("content, words", [
    (b"\x1c\x00\x00\x00TFL3" + bytes(64), ["tflite"]),
    (b"\x00\x01 certainly not a model", ["not a readable ONNX model"]),
])
def test_a_bad_model_fails_with_an_error_line_and_no_output(cli, tmp_path, content, words):
    source = tmp_path / "model.bin"
    source.write_bytes(content)
    result = cli("furiosa-compiler", source, "-o", "out.enf", "--dot-graph", "out.dot")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and all(w.lower() in last.lower() for w in words), last
    assert not (tmp_path / "out.enf").exists() and not (tmp_path / "out.dot").exists()


def test_verbose_failure_shows_the_traceback(cli, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    result = cli("furiosa-compiler", bad, "-v")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error:")


def test_tflite_source_is_labelled(cli, vendor, tmp_path):
    result = cli("furiosa-compiler", vendor / "MNISTnet_uint8_quant.tflite", "-o", "t.enf", "--no-cache")
    if result.returncode != 0 and "not supported" in result.stderr:
        pytest.skip("TFLite models are not supported by the compiler yet")
    assert result.returncode == 0, result.stderr
    assert _steps(result.stderr)[0] == ("1", "tflite to dfg")
    assert enf.read((tmp_path / "t.enf").read_bytes()).npu_operators
