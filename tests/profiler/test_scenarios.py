"""The vendor's three profiler examples (examples/profiler/*.py of SDK 0.10), run as documented."""
from __future__ import annotations

import re

import numpy as np

from furiosa.runtime.profiler import RecordFormat, profile
from furiosa.runtime.sync import create_runner

from .traces import load_trace

OPERATOR_NAMES = {"Lower", "LowLevelConv2d", "LowLevelMaxPool", "LowLevelAdd", "LowLevelConcat", "LowLevelAvgPool",
                  "LowLevelReshape", "LowLevelSoftmax"}


def test_simple_chrome_trace(tmp_path, uint8_model):
    """simple.py: a Chrome trace with labelled "warm up" and "trace" records."""
    path = tmp_path / "trace.json"
    with open(path, "w") as output:
        with profile(file=output) as profiler:
            with create_runner(uint8_model) as runner:
                input_shape = runner.model.input(0).shape
                with profiler.record("warm up") as record:
                    for _ in range(0, 2):
                        runner.run([np.uint8(np.random.rand(*input_shape))])
                with profiler.record("trace") as record:
                    for _ in range(0, 2):
                        runner.run([np.uint8(np.random.rand(*input_shape))])
    assert record.name == "trace"
    events = load_trace(path)
    spans = [e for e in events if e["ph"] == "X"]
    names = [e["name"] for e in spans]
    assert names.count("warm up") == 1 and names.count("trace") == 1 and names.count("Inference") == 4
    assert names.count("Execution") == 4 and OPERATOR_NAMES <= set(names)
    lanes = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    by_name = {name: {e["tid"] for e in spans if e["name"] == name} for name in
               ("warm up", "Inference", "Execution", "LowLevelConv2d", "HostToDevice", "DeviceToHost")}
    assert len({lanes[next(iter(tids))] for tids in by_name.values()}) == 5  # records, host, NPU, PCIe x 2
    assert by_name["Execution"] == by_name["LowLevelConv2d"]
    assert lanes[next(iter(by_name["warm up"]))].endswith("user records")
    assert lanes[next(iter(by_name["Inference"]))].endswith("host (measured)")
    assert lanes[next(iter(by_name["Execution"]))] == "NPU npu0pe0-1 (modeled)"
    assert re.fullmatch(r"PCIe npu0pe0-1 to (device|host) \(modeled\)", lanes[next(iter(by_name["HostToDevice"]))])
    for event in spans:
        args = event["args"]
        assert event["dur"] == round((int(args["end_ts"]) - int(args["start_ts"])) / 1000, 3)
        assert args["time"] == ("modeled" if event["cat"] == "NPU" else "measured")
    # The records hold the inferences they timed.
    warm_up = next(e for e in spans if e["name"] == "warm up")
    inferences = sorted((e for e in spans if e["name"] == "Inference"), key=lambda e: e["ts"])
    assert all(warm_up["ts"] <= e["ts"] and e["ts"] + e["dur"] <= warm_up["ts"] + warm_up["dur"] + 0.001
               for e in inferences[:2])


def test_temporary_disable(uint8_model):
    """temporary_disable.py: records made while paused are left out of the DataFrame."""
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with create_runner(uint8_model) as runner:
            input_shape = runner.model.input(0).shape
            profiler.pause()
            with profiler.record("warm up") as record:
                for _ in range(0, 2):
                    runner.run([np.uint8(np.random.rand(*input_shape))])
            profiler.resume()
            with profiler.record("trace") as record:
                for _ in range(0, 2):
                    runner.run([np.uint8(np.random.rand(*input_shape))])
    df = profiler.get_pandas_dataframe()
    assert len(df[df["name"] == "trace"]) == 1
    assert len(df[df["name"] == "warm up"]) == 0
    assert len(df[df["name"] == "Inference"]) == 2  # the paused inferences are not recorded either
    assert len(df[df["name"] == "Execution"]) == 2


def test_trace_with_dataframe(uint8_model, float_model, capsys):
    """trace_with_dataframe.py: the five reports on a run of two inferences."""
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with create_runner(float_model) as runner:
            input_shape = runner.model.input(0).shape
            with profiler.record("trace") as record:
                for _ in range(0, 2):
                    runner.run([np.random.rand(*input_shape).astype(np.float32)])
    capsys.readouterr()

    profiler.print_summary()
    summary = capsys.readouterr().out.splitlines()
    assert summary[:3] == ["=" * 48, "  Inference Results Summary", "=" * 48]
    assert summary[3] == "Inference counts                : 2"
    assert [line[:34] for line in summary[4:]] == [
        "Min latency (ns)                : ", "Max latency (ns)                : ",
        "Mean latency (ns)               : ", "Median latency (ns)             : ",
        "90.0 percentile Latency (ns)    : ", "95.0 percentile Latency (ns)    : ",
        "97.0 percentile Latency (ns)    : ", "99.0 percentile Latency (ns)    : ",
        "99.9 percentile Latency (ns)    : "]
    assert all(int(line[34:]) > 0 for line in summary[4:])

    def table(method) -> tuple[list[str], list[list[str]]]:
        method()
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("┌") and lines[2].startswith("╞") and lines[-1].startswith("└")
        cells = lambda line: [c.strip() for c in line.strip("│").split("┆")]  # noqa: E731
        return cells(lines[1]), [cells(line) for line in lines[3:-1]]

    header, rows = table(profiler.print_inferences)
    assert header == ["trace_id", "span_id", "thread.id", "dur"] and len(rows) == 2
    assert all(len(r[0]) == 32 and len(r[1]) == 16 for r in rows)

    header, rows = table(profiler.print_npu_executions)
    assert header == ["trace_id", "span_id", "pe_index", "execution_index", "NPU Total", "NPU Run", "NPU IoWait"]
    assert len(rows) == 2
    for row in rows:
        total, run, iowait = int(row[4]), int(row[5]), int(row[6])
        assert total == run + iowait and 0 < iowait < total and row[2] == "0" and row[3] == "0"

    header, rows = table(profiler.print_npu_operators)
    assert header == ["name", "average_elapsed (ns)", "count"]
    counts = {r[0]: int(r[2]) for r in rows}
    assert counts["LowLevelConv2d"] == 2 * 4 and counts["LowLevelReshape"] == 2
    averages = [float(r[1]) for r in rows]
    assert averages == sorted(averages, reverse=True)
    assert float(next(r for r in rows if r[0] == "LowLevelReshape")[1]) <= 5

    header, rows = table(profiler.print_external_operators)
    assert header == ["trace_id", "span_id", "thread.id", "name", "operator_index", "dur"]
    assert [r[3] for r in rows] == ["Quantize", "Unlower", "Dequantize"] * 2

    df = profiler.get_pandas_dataframe()
    assert {"trace_id", "name", "thread.id", "dur"} <= set(df.columns)
    # NPU Run is the sum of the operators of each execution, exactly.
    npu = profiler.get_npu_pandas_dataframe()
    for _, execution in npu[npu["name"] == "Execution"].iterrows():
        children = npu[(npu["parent_span_id"] == execution["span_id"]) & npu["operator_index"].notna()]
        io = npu[(npu["parent_span_id"] == execution["span_id"]) & npu["operator_index"].isna()]
        assert int(children["dur"].sum()) + int(io["dur"].sum()) == int(execution["dur"])
