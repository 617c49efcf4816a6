"""The DataFrame schema and the printed formats of spec/runtime-api.md §12.2-12.3, on spans made by hand."""
from __future__ import annotations

import pandas as pd

from furiosa.device.emulator.events import Span
from furiosa.runtime._profiler import frame, report

DOCS_SUMMARY = """\
================================================
  Inference Results Summary
================================================
Inference counts                : 4
Min latency (ns)                : 1584494
Max latency (ns)                : 3027309
Mean latency (ns)               : 2136984
Median latency (ns)             : 1968066
90.0 percentile Latency (ns)    : 2752525
95.0 percentile Latency (ns)    : 2889917
97.0 percentile Latency (ns)    : 2944874
99.0 percentile Latency (ns)    : 2999831
99.9 percentile Latency (ns)    : 3024561"""


def inference(trace: int, span: int, start: int, dur: int, thread: int = 1) -> Span:
    return Span("Inference", "Runtime", start, start + dur, thread, trace, span)


def test_summary_reproduces_the_documented_one():
    # Four latencies with the documented statistics (mean 2136983.75 rounds up; percentiles interpolate).
    durations = [1584494, 1824770, 2111362, 3027309]
    df = frame.dataframe([inference(i + 1, i + 1, 1000 * i, d) for i, d in enumerate(durations)])
    assert report.summary(frame.inferences(df)["dur"]) == DOCS_SUMMARY


def test_summary_without_inferences():
    text = report.summary(frame.inferences(frame.empty())["dur"])
    assert "Inference counts                : 0" in text
    assert all(line.endswith(": 0") for line in text.splitlines()[3:])


def test_user_spans_named_inference_do_not_count():
    df = frame.dataframe([inference(1, 1, 0, 10), Span("Inference", "", 0, 99, 1, 2, 2)])
    assert list(frame.inferences(df)["dur"]) == [10]


def test_dataframe_schema():
    spans = [
        Span("pre", "", 5, 9, 3, 0xABC, 0x1),
        Span("Execution", "NPU", 10, 30, 3, 0xABC, 0x2, 0x1, pe_index=1, execution_index=0, modeled=True),
        Span("LowLevelConv2d", "NPU", 12, 20, 3, 0xABC, 0x3, 0x2, pe_index=1, execution_index=0,
             instruction_index=0, operator_index=4, modeled=True),
    ]
    df = frame.dataframe(spans)
    assert list(df.columns) == ["trace_id", "parent_span_id", "span_id", "start", "end", "cat", "name", "thread.id",
                                "dram_base", "pe_index", "execution_index", "instruction_index", "operator_index",
                                "dur"]
    dtypes = {c: str(t) for c, t in df.dtypes.items()}
    assert dtypes == {"trace_id": "object", "parent_span_id": "object", "span_id": "object", "start": "uint64",
                      "end": "uint64", "cat": "string", "name": "object", "thread.id": "uint32",
                      "dram_base": "Int64", "pe_index": "Int64", "execution_index": "Int64",
                      "instruction_index": "Int64", "operator_index": "Int64", "dur": "uint64"}
    first = df.iloc[0]
    assert first["trace_id"] == "0" * 29 + "abc" and first["parent_span_id"] == "0" * 16
    assert first["cat"] == "" and pd.isna(first["pe_index"]) and first["dur"] == 4
    assert list(df["operator_index"].isna()) == [True, True, False]
    empty = frame.empty()
    assert list(empty.columns) == list(df.columns) and dict(empty.dtypes) == dict(df.dtypes)


def test_table_style():
    df = pd.DataFrame({"name": ["LowLevelConv2d", "LowLevelReshape"], "average_elapsed (ns)": [5327.8, 2.0],
                       "count": [60, 4]})
    assert report.table(df) == "\n".join([
        "┌─────────────────┬──────────────────────┬───────┐",
        "│ name            ┆ average_elapsed (ns) ┆ count │",
        "╞═════════════════╪══════════════════════╪═══════╡",
        "│ LowLevelConv2d  ┆ 5327.8               ┆ 60    │",
        "│ LowLevelReshape ┆ 2.0                  ┆ 4     │",
        "└─────────────────┴──────────────────────┴───────┘",
    ])
    assert report.cell(1412.2857142857) == "1412.285714" and report.cell(pd.NA) == "null"


def test_io_wait_is_total_minus_run_and_never_wraps():
    # Spans made by hand where the operators outlast their execution: IoWait is negative, not 2**64 - x.
    execution = Span("Execution", "NPU", 0, 100, 1, 1, 10, pe_index=0, execution_index=0, modeled=True)
    operators = [Span("LowLevelConv2d", "NPU", 0, 80, 1, 1, 11, 10, pe_index=0, execution_index=0,
                      instruction_index=i, operator_index=i, modeled=True) for i in range(2)]
    load = Span("Load", "NPU", 0, 5, 1, 1, 12, 10, pe_index=0, execution_index=0, modeled=True)
    table = frame.npu_executions(frame.dataframe([execution, load, *operators]))
    assert table[["NPU Total", "NPU Run", "NPU IoWait"]].values.tolist() == [[100, 160, -60]]
    assert "-60" in report.table(table) and "18446744073709551556" not in report.table(table)


def test_operator_and_external_tables():
    spans = [
        Span("Execution", "NPU", 0, 100, 1, 1, 10, pe_index=0, execution_index=0, modeled=True),
        Span("Load", "NPU", 0, 10, 1, 1, 11, 10, pe_index=0, execution_index=0, modeled=True),
        Span("A", "NPU", 10, 40, 1, 1, 12, 10, pe_index=0, execution_index=0, instruction_index=0, operator_index=1),
        Span("B", "NPU", 40, 90, 1, 1, 13, 10, pe_index=0, execution_index=0, instruction_index=1, operator_index=2),
        Span("A", "NPU", 90, 100, 1, 1, 14, 10, pe_index=0, execution_index=0, instruction_index=2, operator_index=3),
        Span("HostToDevice", "NPU", 0, 5, 1, 1, 15, 9, pe_index=0, execution_index=0, modeled=True),
        Span("Quantize", "Runtime", 0, 7, 2, 1, 16, 9, operator_index=0),
        Span("Inference", "Runtime", 0, 200, 2, 1, 9),
    ]
    df = frame.dataframe(spans)
    operators = frame.npu_operators(df)
    assert operators.values.tolist() == [["B", 50.0, 1], ["A", 20.0, 2]]
    external = frame.external_operators(df)
    assert external[["name", "operator_index", "dur"]].values.tolist() == [["Quantize", 0, 7]]
    assert frame.npu_executions(df)[["NPU Total", "NPU Run", "NPU IoWait"]].values.tolist() == [[100, 90, 10]]
