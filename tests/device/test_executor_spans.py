"""What the executor reports: measured host spans, modeled device spans on the device's timeline, pacing."""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from examples import zoo
from furiosa.common import settings
from furiosa.compiler import pipeline
from furiosa.device.emulator import timing
from furiosa.device.emulator.events import Span
from furiosa.device.emulator.executor import Executor

NPU_CHILDREN = ("Load", "LoadProgram", "Store")


def program(size: int = 32, batch: int | None = None):
    return pipeline.compile_program(zoo.nominal_calibration(zoo.small_cnn(size=size), 0.0, 6.0).SerializeToString(),
                                    batch_size=batch)


def split_program():
    """conv -> Resize (host) -> conv: two NPU executions with the host in between."""
    b = zoo.Builder(0)
    x = b.conv("input", 3, 8, 3)
    scales = b.const(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    x = b.op("Resize", [x, "", scales], "up", mode="nearest")
    b.conv(x, 8, 8, 3)
    b.nodes[-1].output[0] = "output"
    model = b.model([("input", [1, 3, 32, 32])], [("output", [1, 8, 64, 64])], "split")
    return pipeline.compile_program(zoo.nominal_calibration(model, 0.0, 6.0).SerializeToString())


def image(size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, 3, size, size), dtype=np.float32)


def collect() -> tuple[list[Span], "callable"]:
    spans: list[Span] = []
    lock = threading.Lock()

    def sink(span: Span) -> None:
        with lock:
            spans.append(span)

    return spans, sink


def check_execution(spans: list[Span], execution: Span, modeled: timing.ExecutionTiming) -> None:
    children = sorted((s for s in spans if s.parent_span_id == execution.span_id), key=lambda s: s.start)
    assert children[0].name == "Load" and children[-1].name == "Store"
    assert children[0].start == execution.start and children[-1].end == execution.end
    for before, after in zip(children, children[1:]):
        assert after.start == before.end
    operators = [s for s in children if s.name not in NPU_CHILDREN]
    assert [s.operator_index for s in operators] == list(modeled.operators)
    assert [s.instruction_index for s in operators] == list(range(len(operators)))
    assert [s.dur for s in operators] == list(modeled.operator_ns)
    assert execution.dur == modeled.total_ns == sum(s.dur for s in children)
    assert all(s.modeled and s.cat == "NPU" and s.execution_index == execution.execution_index for s in children)


def test_spans_of_one_run():
    executor = Executor(program())
    spans, sink = collect()
    executor.run([image()], sink, trace_id=7, parent_span_id=99, pe_index=0, device="npu0pe0-1")
    assert {s.trace_id for s in spans} == {7}
    host = [s for s in spans if s.cat == "Runtime"]
    assert [s.name for s in host] == ["Quantize", "Unlower", "Dequantize"]
    assert all(not s.modeled and s.parent_span_id == 99 and s.operator_index is not None for s in host)
    executions = [s for s in spans if s.name == "Execution"]
    assert len(executions) == 1 and executions[0].parent_span_id == 99 and executions[0].device == "npu0pe0-1"
    check_execution(spans, executions[0], executor.timing.executions[0])
    h2d, = [s for s in spans if s.name == "HostToDevice"]
    d2h, = [s for s in spans if s.name == "DeviceToHost"]
    assert h2d.end <= executions[0].start and d2h.start >= executions[0].end
    assert h2d.dur == executor.timing.executions[0].h2d_ns and d2h.dur == executor.timing.executions[0].d2h_ns
    assert h2d.parent_span_id == d2h.parent_span_id == 99 and h2d.modeled and d2h.modeled


def test_a_split_graph_has_two_executions():
    executor = Executor(split_program())
    spans, sink = collect()
    executor.run([image()], sink)
    executions = sorted((s for s in spans if s.name == "Execution"), key=lambda s: s.start)
    assert [s.execution_index for s in executions] == [0, 1]
    resize, = [s for s in spans if s.name == "Resize"]
    assert resize.cat == "Runtime" and executions[0].end <= resize.start
    for span, modeled in zip(executions, executor.timing.executions):
        check_execution(spans, span, modeled)
    assert len([s for s in spans if s.name == "HostToDevice"]) == 2


def test_no_sink_no_spans_same_results():
    executor = Executor(program())
    spans, sink = collect()
    traced = executor.run([image()], sink)
    plain = executor.run([image()])
    assert spans and all(np.array_equal(a, b) for a, b in zip(traced, plain))


def test_a_shared_timeline_runs_one_execution_at_a_time():
    executor = Executor(program())
    line = timing.Timeline()
    spans, sink = collect()

    def work(seed: int) -> None:
        for i in range(3):
            executor.run([image(seed=seed * 10 + i)], sink, device="npu0pe0", timeline=line)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for lane in ("Execution", "HostToDevice", "DeviceToHost"):
        intervals = sorted((s.start, s.end) for s in spans if s.name == lane)
        assert len(intervals) == 9
        assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:])), lane


def test_pacing_waits_for_the_modeled_device():
    slow = dataclasses.replace(timing.MODELS["warboy-2pe"], clock_hz=2e3)  # a million times slower MACs
    executor = Executor(program(), slow)
    modeled = executor.timing.device_ns
    assert modeled > 20_000_000  # tens of ms: longer than the emulator takes for this model
    spans, sink = collect()
    started = time.monotonic_ns()
    executor.run([image()], sink, pace=True)
    elapsed = time.monotonic_ns() - started
    assert elapsed >= modeled - 1_000_000
    device_end = max(s.end for s in spans if s.cat == "NPU")
    assert time.time_ns() >= device_end - 1_000_000


def test_a_batch_is_one_execution():
    compiled = program(batch=2)
    executor = Executor(compiled)
    one = Executor(program())
    samples = [[image(seed=1)], [image(seed=2)]]
    spans, sink = collect()
    outputs = executor.run_batch(samples, sink)
    for sample, result in zip(samples, outputs):
        assert all(np.array_equal(a, b) for a, b in zip(result, one.run(sample)))
    executions = [s for s in spans if s.name == "Execution"]
    assert len(executions) == 1 and executions[0].dur == executor.timing.executions[0].total_ns
    assert executor.timing.npu_ns > one.timing.npu_ns
    assert len([s for s in spans if s.name == "Quantize"]) == 1  # one span for the batch's host operator


@pytest.mark.parametrize("raw, expected", [(None, False), ("", False), ("0", False), ("off", False), ("1", True),
                                           ("true", True), ("ON", True)])
def test_pace_setting(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("FURIOSA_EMU_PACE", raising=False)
    else:
        monkeypatch.setenv("FURIOSA_EMU_PACE", raw)
    assert settings.emulator_pace() is expected


def test_pace_setting_rejects_other_values(monkeypatch):
    monkeypatch.setenv("FURIOSA_EMU_PACE", "fast")
    with pytest.raises(ValueError, match="FURIOSA_EMU_PACE must be 1 .* or 0, got 'fast'"):
        settings.emulator_pace()
