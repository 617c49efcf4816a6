"""The profiler API: enums, arguments, records, pause/resume, resources, outputs, and misuse."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from furiosa.runtime import FuriosaRuntimeWarning, sync
from furiosa.runtime._errors import ProfilerError
from furiosa.runtime.profiler import RecordFormat, Resource, profile

from .traces import load_trace


def run(model: bytes, count: int = 1) -> None:
    with sync.create_runner(model) as runner:
        for _ in range(count):
            runner.run([np.zeros(runner.model.input(0).shape, np.uint8)])


# --- enums ---------------------------------------------------------------------------------------
def test_enums_behave_like_the_vendors():
    assert RecordFormat.ChromeTrace == 0 and RecordFormat.PandasDataFrame == 1
    assert Resource.Cpu == 0 and Resource.Npu == 1 and Resource.All == 2 and Resource.All != 1
    assert repr(RecordFormat.ChromeTrace) == "RecordFormat.ChromeTrace" and repr(Resource.All) == "Resource.All"
    assert int(Resource.Npu) == 1 and Resource.All == Resource.All and Resource.ALL is Resource.All
    assert Resource.All.valid_cats() == ["NPU", "Runtime"]
    assert Resource.Cpu.valid_cats() == ["Runtime"] and Resource.Npu.valid_cats() == ["NPU"]
    with pytest.raises(TypeError):
        hash(Resource.All)
    with pytest.raises(TypeError):
        Resource("All", 2)


def test_importing_the_module_does_not_warn():
    done = subprocess.run([sys.executable, "-W", "error", "-c",
                           "import furiosa.runtime.profiler\nfrom furiosa.runtime import profiler\n"
                           "from furiosa.runtime.profiler import profile, RecordFormat, Resource"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# --- arguments -------------------------------------------------------------------------------------
def test_wrong_argument_types():
    with pytest.raises(TypeError, match="argument 'resource': 'str' object cannot be converted to 'Resource'"):
        profile(resource="all")
    with pytest.raises(TypeError, match="argument 'format': 'int' object cannot be converted to 'RecordFormat'"):
        profile(format=1)
    with pytest.raises(TypeError, match="argument 'file'"):
        profile(file=3)
    with pytest.warns(FuriosaRuntimeWarning, match="unknown keyword arguments output"):
        profile(output="x.json")


# --- misuse ----------------------------------------------------------------------------------------
def test_pause_resume_and_records_need_an_active_profiler():
    profiler = profile(format=RecordFormat.PandasDataFrame)
    with pytest.raises(ProfilerError, match="not enabled yet"):
        profiler.pause()
    with pytest.raises(ProfilerError, match="not enabled yet"):
        with profiler.record("early"):
            pass
    with profiler:
        pass
    with pytest.raises(ProfilerError, match="already disabled"):
        profiler.resume()
    with pytest.raises(ProfilerError, match="already been used"):
        with profiler:
            pass


def test_record_exited_without_entered():
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        record = profiler.record("x")
        with pytest.raises(ProfilerError, match="ProfilerRecordObject is exited without entered"):
            record.__exit__(None, None, None)
        with pytest.raises(TypeError, match="argument 'name'"):
            profiler.record(1)


def test_chrome_trace_mode_has_no_dataframe(tmp_path):
    with open(tmp_path / "t.json", "w") as f:
        with profile(file=f) as profiler:
            pass
    for method in (profiler.get_pandas_dataframe, profiler.print_summary, profiler.print_npu_operators,
                   profiler.get_cpu_pandas_dataframe, lambda: profiler.export_chrome_trace(tmp_path / "x.json")):
        with pytest.raises(ProfilerError, match="DataFrame is empty"):
            method()
    assert json.loads((tmp_path / "t.json").read_text()) == []


def test_filter_with_an_unknown_column():
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with profiler.record("a"):
            pass
    assert len(profiler.get_pandas_dataframe_with_filter("name", "a")) == 1
    assert len(profiler.get_pandas_dataframe_with_filter("name", "b")) == 0
    with pytest.raises(ProfilerError, match="Invalid column name: 'nope'"):
        profiler.get_pandas_dataframe_with_filter("nope", 1)


def test_an_empty_profile(capsys, tmp_path):
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        pass
    df = profiler.get_pandas_dataframe()
    assert df.empty and len(df.columns) == 14
    profiler.print_summary()
    assert "Inference counts                : 0" in capsys.readouterr().out
    profiler.export_chrome_trace(tmp_path / "x.json")
    assert capsys.readouterr().out == "DataFrame is empty.\n" and not (tmp_path / "x.json").exists()


# --- what is recorded --------------------------------------------------------------------------------
def test_nested_records_and_nested_profiles():
    with profile(format=RecordFormat.PandasDataFrame) as outer:
        with profile(format=RecordFormat.PandasDataFrame) as inner:
            with inner.record("outside") as a:
                with inner.record("inside") as b:
                    pass
        with outer.record("late"):
            pass
    df = inner.get_pandas_dataframe().set_index("name")
    assert df.loc["inside", "parent_span_id"] == df.loc["outside", "span_id"]
    assert df.loc["inside", "trace_id"] == df.loc["outside", "trace_id"]
    assert df.loc["outside", "parent_span_id"] == "0" * 16
    assert a.name == "outside" and b.name == "inside"
    assert list(outer.get_pandas_dataframe()["name"]) == ["late"]  # records belong to their profiler


@pytest.mark.parametrize("resource, cats", [(Resource.All, {"", "Runtime", "NPU"}), (Resource.Cpu, {"", "Runtime"}),
                                            (Resource.Npu, {"", "NPU"})])
def test_resources(uint8_model, resource, cats):
    with profile(resource=resource, format=RecordFormat.PandasDataFrame) as profiler:
        with profiler.record("work"):
            run(uint8_model)
    assert set(profiler.get_pandas_dataframe()["cat"]) == cats
    assert set(profiler.get_cpu_pandas_dataframe()["cat"]) <= {"Runtime"}
    assert set(profiler.get_npu_pandas_dataframe()["cat"]) <= {"NPU"}


def test_pause_and_resume_are_idempotent(uint8_model):
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        profiler.pause()
        profiler.pause()
        run(uint8_model)
        profiler.resume()
        profiler.resume()
        run(uint8_model)
    assert len(profiler.get_pandas_dataframe_with_filter("name", "Inference")) == 1


def test_modeled_and_measured_side_by_side(float_model):
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with sync.create_runner(float_model) as runner:
            runner.run([np.zeros((1, 3, 32, 32), np.float32)])
    df = profiler.get_pandas_dataframe()
    inference = df[df["name"] == "Inference"].iloc[0]
    execution = df[df["name"] == "Execution"].iloc[0]
    assert execution["cat"] == "NPU" and inference["cat"] == "Runtime"
    # The modeled execution is placed inside the measured inference, on the same trace.
    assert execution["trace_id"] == inference["trace_id"]
    assert execution["parent_span_id"] == inference["span_id"]
    assert inference["start"] <= execution["start"] and execution["end"] <= inference["end"]


# --- outputs ----------------------------------------------------------------------------------------
def test_chrome_trace_to_a_path_a_binary_file_and_a_temporary_file(tmp_path, uint8_model):
    with profile(file=str(tmp_path / "a.json")) as profiler:
        run(uint8_model)
    assert profiler.path == str(tmp_path / "a.json")
    assert any(e["name"] == "Execution" for e in load_trace(tmp_path / "a.json"))
    with open(tmp_path / "b.json", "wb") as binary:
        with profile(file=binary) as profiler:
            with profiler.record("r"):
                pass
    assert [e["name"] for e in load_trace(tmp_path / "b.json") if e["ph"] == "X"] == ["r"]
    with profile() as profiler:
        with profiler.record("r"):
            pass
    assert profiler.path and [e["name"] for e in load_trace(profiler.path) if e["ph"] == "X"] == ["r"]


def test_dataframe_to_csv_and_export(tmp_path, uint8_model, capsys):
    buffer = io.StringIO()
    with profile(format=RecordFormat.PandasDataFrame, file=buffer) as profiler:
        run(uint8_model, 2)
    df = profiler.get_pandas_dataframe()
    csv = pd.read_csv(io.StringIO(buffer.getvalue()))
    assert list(csv.columns) == list(df.columns) and len(csv) == len(df)
    profiler.export_chrome_trace(tmp_path / "export.json")
    assert capsys.readouterr().out == "Export trace event format completed.\n"
    events = load_trace(tmp_path / "export.json")
    spans = [e for e in events if e["ph"] == "X"]
    assert len(spans) == len(df) and min(e["ts"] for e in spans) == 0
    npu = {e["tid"] for e in spans if e["name"] == "Execution"}
    assert npu == {10_000_000}  # the PE index lane of the vendor's export
    names = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert "NPU pe 0 (modeled)" in names


# --- the device timeline through the runtime ------------------------------------------------------------
def test_runners_sharing_a_device_queue_on_its_timeline(uint8_model, monkeypatch):
    import threading

    monkeypatch.setenv("FURIOSA_EMU_PACE", "1")
    image = np.zeros((1, 3, 32, 32), np.uint8)
    with profile(format=RecordFormat.PandasDataFrame) as profiler:
        with sync.Runtime() as runtime:
            runners = [runtime.create_runner(uint8_model, worker_num=2) for _ in range(2)]
            threads = [threading.Thread(target=lambda r=r: [r.run([image]) for _ in range(3)])
                       for r in runners for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    df = profiler.get_pandas_dataframe()
    executions = df[df["name"] == "Execution"].sort_values("start")
    assert len(executions) == 12
    assert (executions["start"].values[1:] >= executions["end"].values[:-1]).all()
    # Paced: every inference ends after the modeled device finished its work.
    inferences = df[df["name"] == "Inference"].set_index("trace_id")
    last = df[df["cat"] == "NPU"].groupby("trace_id")["end"].max()
    assert all(inferences.loc[t, "end"] >= end for t, end in last.items())
