"""furiosa-bench and furiosa.runtime.bench: options, report, JSON, trace, errors."""
from __future__ import annotations

import asyncio
import json
import re

import pytest

from .conftest import one_error_line

REPORT = [
    "======================================================================",
    "This benchmark was executed with latency-workload which prioritizes latency of individual queries over "
    "throughput.",
    "{n} queries executed with batch size {b}",
    "Latency stats are as follows",
    "QPS(Throughput): ",
    "Per-query latency:",
    "Min latency (us)    : ",
    "Max latency (us)    : ",
    "Mean latency (us)   : ",
    "50th percentile (us): ",
    "95th percentile (us): ",
    "99th percentile (us): ",
    "99th percentile (us): ",
    "Modeled on Warboy (",
    "NPU time per query (us)    : ",
    "QPS(Throughput) modeled    : ",
]


def _in_order(text: str, lines: list[str]) -> None:
    position = 0
    for line in lines:
        found = text.find(line, position)
        assert found >= 0, f"{line!r} missing (in order) from:\n{text}"
        position = found + len(line)


def test_help_has_the_vendor_layout(cli):
    result = cli("furiosa-bench", "--help")
    assert result.returncode == 0
    text = result.stdout
    _in_order(text, ["USAGE:", "furiosa-bench [OPTIONS] <model-path>", "OPTIONS:", "ARGS:", "<model-path>"])
    for flags in ("-b, --batch <number>", "-o, --output <bench-result-path>", "-C, --compiler-config <compiler-config>",
                  "-d, --devices <devices>", "-t, --io-threads <number>", "--duration <min-duration>",
                  "-n, --queries <min-query-count>", "-T, --trace-output <trace-output>", "-v, --verbose",
                  "-w, --workers <number>", "--workload <workload>", "-h, --help", "-V, --version"):
        assert flags in text, flags
    assert cli("furiosa-bench", "-V").stdout.startswith("furiosa-bench ")


def test_onnx_model_with_json_and_trace(cli, qdq_model, tmp_path):
    result = cli("furiosa-bench", qdq_model, "-n", "12", "-o", "result.json", "-T", "trace.json")
    assert result.returncode == 0, result.stderr
    _in_order(result.stdout, [line.format(n=12, b=1) for line in REPORT])
    stats = dict(re.findall(r"^(\w[\w ]*\(us\)\s*): (\d+)$", result.stdout, re.M))
    assert int(stats["Min latency (us)    "]) <= int(stats["Mean latency (us)   "]) <= int(stats["Max latency (us)    "])
    data = json.loads((tmp_path / "result.json").read_text())
    assert list(data)[:5] == ["model_data", "compiler_version", "hal_version", "git_revision", "result"]
    assert data["model_data"]["path"] == str(qdq_model)
    assert data["model_data"]["md5"].endswith(f"  {qdq_model}")
    r = data["result"]
    assert r["mode"] == "Latency" and r["total num queries"] == 12 and r["batch size"] == 1
    assert re.fullmatch(r"\d+\.\d\d/s", r["qps"]) and re.fullmatch(r"\d+ us", r["total run time"])
    assert list(r["latency stats"]) == ["min", "max", "mean", "50th percentile", "95th percentile",
                                        "99th percentile", "99.9th percentile"]
    assert "not measured" in data["modeled"]["what"] and data["modeled"]["target"] == "warboy-2pe"
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert any(e.get("cat") == "NPU" and e.get("ph") == "X" for e in trace)


def test_enf_model_throughput_workload_batch_and_workers(cli, qdq_model, tmp_path):
    assert cli("furiosa-compiler", qdq_model, "-o", "m.enf", "--target-npu", "warboy").returncode == 0
    result = cli("furiosa-bench", "m.enf", "-n", "8", "-w", "2", "-t", "2", "--workload", "T",
                 "-d", "warboy(1)*2", "-o", "r.json")
    assert result.returncode == 0, result.stderr
    assert "throughput-workload" in result.stdout and "8 queries executed with batch size 1" in result.stdout
    assert "2 device(s)" in result.stdout
    assert json.loads((tmp_path / "r.json").read_text())["result"]["mode"] == "Throughput"
    batched = cli("furiosa-bench", qdq_model, "-b", "2", "-n", "3", "--workload", "throughput")
    assert batched.returncode == 0, batched.stderr
    assert "3 queries executed with batch size 2" in batched.stdout


def test_duration_and_compiler_config(cli, qdq_model, tmp_path):
    (tmp_path / "config.yaml").write_text("remove_unlower: false\nallow_precision_error: true\n")
    result = cli("furiosa-bench", qdq_model, "--duration", "0.5", "-n", "1", "-C", "config.yaml", "-o", "r.json")
    assert result.returncode == 0, result.stderr
    total_us = int(json.loads((tmp_path / "r.json").read_text())["result"]["total run time"].split()[0])
    assert total_us >= 500_000


@pytest.mark.parametrize("args, words", [
    (["missing.onnx"], ["missing.onnx", "does not exist"]),
    (["{model}", "--workload", "X"], ["workload", "L", "T"]),
    (["{model}", "-b", "0"], ["--batch", "0"]),
    (["{model}", "-n", "many"], ["--queries", "many"]),
    (["{model}", "-d", "warboy(2)"], ["invalid device configuration", "warboy(2)"]),
    (["{model}", "-C", "missing.yaml"], ["missing.yaml"]),
    (["{model}", "-C", "{bad_yaml}"], ["not valid YAML"]),
    (["{model}", "-C", "{bad_key}"], ["unknown compiler configuration key", "no_such_key"]),
    (["{model}", "-o", "no/dir/r.json"], ["does not exist"]),
])
def test_bad_arguments_fail_in_one_line(cli, qdq_model, tmp_path, args, words):
    (tmp_path / "bad.yaml").write_text("remove_lower: [unclosed\n")
    (tmp_path / "key.yaml").write_text("no_such_key: true\n")
    args = [a.format(model=qdq_model, bad_yaml=tmp_path / "bad.yaml", bad_key=tmp_path / "key.yaml") for a in args]
    line = one_error_line(cli("furiosa-bench", *args))
    assert line.startswith("error:")
    for word in words:
        assert word in line, line


def test_bench_runner_api(qdq_model, tmp_path, monkeypatch, capsys):
    from furiosa.runtime.bench import BenchConfig, BenchRunner

    monkeypatch.setenv("FURIOSA_EMU_STATE_DIR", str(tmp_path / "devices"))
    monkeypatch.setenv("FC_CACHE_STORE_URL", str(tmp_path / "cache"))
    runner = BenchRunner(BenchConfig(str(qdq_model), min_query_count=3), "L")
    result = asyncio.run(runner.run(str(tmp_path / "r.json")))
    assert result.queries == 3 and result.mode == "Latency" and result.modeled_npu_ns > 0
    assert result.modeled_comp_ns + result.modeled_io_ns == result.modeled_npu_ns
    assert "3 queries executed with batch size 1" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="already used"):
        asyncio.run(runner.run())
    with pytest.raises(ValueError, match="Invalid workload type"):
        BenchRunner(BenchConfig(str(qdq_model)), "X")
    with pytest.raises(ValueError, match="min_query_count"):
        BenchConfig(str(qdq_model), min_query_count=0)


def test_tflite_model(cli, vendor, tmp_path):
    result = cli("furiosa-bench", vendor / "MNISTnet_uint8_quant.tflite", "-n", "3", "-o", "r.json")
    if result.returncode != 0 and "not supported" in result.stderr:
        pytest.skip("TFLite models are not supported by the compiler yet")
    assert result.returncode == 0, result.stderr
    assert "3 queries executed with batch size 1" in result.stdout
    assert json.loads((tmp_path / "r.json").read_text())["result"]["total num queries"] == 3
