"""The Warboy timing model against the published numbers (spec/warboy-hardware.md §9).

Models are built in code with the published architectures (examples/zoo.py), given nominal
calibration metadata so that their operators land on the NPU, and only compiled: costs are
static, so :func:`furiosa.device.emulator.timing.plan` gives their modeled times without running
them. docs/timing-accuracy.md lists the same numbers.
"""
from __future__ import annotations

import functools

import pytest

from examples import zoo
from furiosa.compiler import pipeline
from furiosa.compiler.enf.program import Cost
from furiosa.device.emulator import timing
from furiosa.device.emulator.timing import MODELS, Timeline

FUSED, SINGLE = "warboy-2pe", "warboy"
# The MLPerf harness: inputs pre-laid-out and pre-quantized, outputs read in the NPU layout.
MLPERF = {"remove_lower": True, "remove_unlower": True}


BUILDERS = {
    "resnet50": zoo.resnet50, "mobilenet_v1": zoo.mobilenet_v1, "ssd_mobilenet_v1": zoo.ssd_mobilenet_v1,
    "yolov5m": lambda: zoo.yolov5("m"), "yolov5l": lambda: zoo.yolov5("l"), "yolov5x": lambda: zoo.yolov5("x"),
}


@functools.lru_cache(maxsize=None)
def calibrated(name: str, mlperf: bool) -> bytes:
    """A zoo model with uint8 input (and int8 outputs under MLPerf conditions), serialized."""
    model = BUILDERS[name]()
    outputs = tuple(range(len(model.graph.output))) if mlperf else ()
    return zoo.nominal_calibration(model, 0.0, 6.0, uint8_inputs=(0,), int8_outputs=outputs).SerializeToString()


@functools.lru_cache(maxsize=None)
def compiled(name: str, target: str = FUSED, batch: int = 1, mlperf: bool = False, loading: bool = False):
    config = dict(MLPERF) if mlperf else {}
    if loading:
        config["use_program_loading"] = True
    return pipeline.compile_program(calibrated(name, mlperf), target=target, batch_size=batch, config=config)


@functools.lru_cache(maxsize=None)
def modeled(*args, **kwargs) -> timing.ProgramTiming:
    return timing.plan(compiled(*args, **kwargs))


def within(value: float, published: float, tolerance: float) -> bool:
    return abs(value - published) <= tolerance * published


# --- the constants -------------------------------------------------------------------------------
def test_constants_match_the_chip():
    fused, single = MODELS[FUSED], MODELS[SINGLE]
    assert fused.macs_per_cycle == 16384 and single.macs_per_cycle == 8192  # 128 / 64 slices x 32 x 4
    assert 2 * fused.macs_per_cycle * fused.clock_hz / 1e12 == pytest.approx(65.5, abs=0.1)  # "64 TOPS"
    assert fused.sram_bytes == 2 * single.sram_bytes == 32 << 20
    assert fused.dram_bytes_per_s == single.dram_bytes_per_s == 66e9
    assert fused.instruction_memory_bytes == 256 * 1024


def test_operator_classes():
    fused = MODELS[FUSED]
    dense = Cost("dense", macs=16384 * 2000, output_bytes=1000)
    # 16384 MAC/cycle at 2 GHz and eta 0.21: 2000 cycles take 1 us / 0.21, plus t0 = 100 ns.
    assert timing.operator_ns(dense, fused) == 100 + round(1000 / 0.21)
    assert timing.operator_ns(Cost("layout", output_bytes=10**6), fused, batch=8) == 2
    vector = Cost("vector", vector_bytes=400_000)
    assert timing.operator_ns(vector, fused) == 100 + 1000  # 400 kB at 400 GB/s
    assert timing.operator_ns(vector, fused, batch=4) == 100 + 4000
    # Batching raises the dense efficiency by g(8) = 1 + 0.29 * 7/8.
    one, eight = timing.compute_ns(dense, fused, 1), timing.compute_ns(dense, fused, 8)
    assert eight / one == pytest.approx(8 / (1 + 0.29 * 7 / 8))
    # Activations larger than the SRAM make a round trip to DRAM.
    huge = Cost("vector", vector_bytes=1, input_bytes=40 << 20, output_bytes=0)
    assert timing.operator_ns(huge, fused) > 100 + 2 * (40 - 28.8) * 2**20 / 66e9 * 1e9 - 1


def test_pcie_transfer():
    fused = MODELS[FUSED]
    assert timing.pcie_ns(0, fused) == 0
    assert timing.pcie_ns(12_500, fused) == 5000 + 1000


# --- C5: the profiler's invariants on the modeled numbers ------------------------------------------
@pytest.mark.parametrize("target", [FUSED, SINGLE])
def test_invariants(target):
    program = compiled("resnet50", target)
    plan = timing.plan(program)
    names = {op.index: op for op in program.operators}
    assert plan.executions
    for execution in plan.executions:
        assert execution.total_ns == execution.run_ns + execution.iowait_ns
        assert execution.run_ns == sum(execution.operator_ns)
        assert all(isinstance(ns, int) and ns > 0 for ns in execution.operator_ns)
        for index, ns in zip(execution.operators, execution.operator_ns):
            if names[index].cost.kind == "layout":
                assert ns <= 5
    assert plan.npu_ns == sum(e.total_ns for e in plan.executions)


# --- C1, C2, C3, C10: ResNet-50 v1.5 (MLPerf v2.0) -----------------------------------------------
def test_c1_resnet50_single_stream_latency():
    latency = modeled("resnet50", FUSED, 1, mlperf=True).native_latency_ns(prequantized_inputs=True)
    assert within(latency / 1e6, 0.712, 0.10), latency


def test_c2_resnet50_multistream_query_of_8():
    latency = modeled("resnet50", FUSED, 8, mlperf=True).native_latency_ns(prequantized_inputs=True)
    assert within(latency / 1e6, 3.911, 0.15), latency


def test_c3_resnet50_offline_on_two_single_pes():
    plan = modeled("resnet50", SINGLE, 8, mlperf=True)
    throughput = 2 * 8 / (plan.npu_ns / 1e9)  # two PEs, each NPU-bound
    assert within(throughput, 2758.44, 0.15), throughput


def test_c10_batching_lowers_per_sample_time():
    one = modeled("resnet50", FUSED, 1, mlperf=True).npu_ns
    eight = modeled("resnet50", FUSED, 8, mlperf=True).npu_ns / 8
    assert 1.2 <= one / eight <= 1.6, one / eight


# --- C4: the MobileNet v1 profiler example (SDK 0.10 docs) ---------------------------------------
def test_c4_mobilenet_v1_profile():
    program = compiled("mobilenet_v1", FUSED)
    plan = timing.plan(program)
    assert len(plan.executions) == 1
    execution = plan.executions[0]
    names = {op.index: op.name for op in program.operators}
    conv = sum(ns for i, ns in zip(execution.operators, execution.operator_ns) if names[i] == "LowLevelConv2d")
    assert within(execution.run_ns, 106_660, 0.15), execution.run_ns  # 105.2-108.1 us
    assert within(execution.iowait_ns, 11_400, 0.30), execution.iowait_ns  # 11.0-11.8 us
    assert within(conv, 80_900, 0.15), conv  # 79.9-81.9 us over 15 convolutions


# --- C6, C7: SSD-MobileNet v1 (MLPerf v2.0) ------------------------------------------------------
def test_c6_ssd_mobilenet_single_stream_latency():
    latency = modeled("ssd_mobilenet_v1", FUSED, 1, mlperf=True).native_latency_ns(prequantized_inputs=True)
    assert latency is not None and within(latency / 1e6, 0.3641, 0.25), latency


def test_c7_ssd_mobilenet_offline_on_two_single_pes():
    plan = modeled("ssd_mobilenet_v1", SINGLE, 8, mlperf=True)
    throughput = 2 * 8 / (plan.npu_ns / 1e9)
    assert within(throughput, 8762.15, 0.25), throughput


# --- C8, C9: YOLOv5 (warboy-vision-models: uint8 input, program loading, NPU time) ---------------
@pytest.mark.slow
@pytest.mark.parametrize("scale, published", [("l", 7.70), ("x", 14.39)])
def test_c8_yolov5_fused_npu_time(scale, published):
    plan = modeled(f"yolov5{scale}", FUSED, 1, loading=True)
    assert within(plan.npu_ns / 1e6, published, 0.25), plan.npu_ns


@pytest.mark.slow
@pytest.mark.parametrize("name, loading", [("resnet50", False), ("yolov5m", True), ("yolov5l", True),
                                           ("yolov5x", True)])
def test_c9_single_over_fused_ratio(name, loading):
    ratio = modeled(name, SINGLE, 1, loading=loading).npu_ns / modeled(name, FUSED, 1, loading=loading).npu_ns
    assert 1.15 <= ratio <= 1.65, ratio


# --- C16 and the memory plan: weights that do not fit one PE are streamed -------------------------
def test_c16_streaming_weights_costs_more_than_compute():
    single_program, fused_program = compiled("resnet50", SINGLE), compiled("resnet50", FUSED)
    single, fused = timing.plan(single_program), timing.plan(fused_program)
    assert single_program.memory["dram_weight_bytes"] > 0 and fused_program.memory["dram_weight_bytes"] == 0

    def compute(program, target):
        return sum(timing.operator_ns(op.cost, MODELS[target]) for op in program.npu_operators if op.cost)

    assert single.npu_ns / fused.npu_ns > compute(single_program, SINGLE) / compute(fused_program, FUSED)
    assert sum(map(sum, (e.weight_wait_ns for e in single.executions))) > 0
    assert sum(map(sum, (e.weight_wait_ns for e in fused.executions))) == 0
    assert sum(e.streamed_weight_bytes for e in single.executions) == single_program.memory["dram_weight_bytes"]


# --- host side, transfers, program loading -------------------------------------------------------
def test_quantize_from_float_costs_more_than_a_uint8_input():
    float_input = timing.plan(pipeline.compile_program(
        zoo.nominal_calibration(zoo.mobilenet_v1(), 0.0, 6.0).SerializeToString()))
    uint8_input = modeled("mobilenet_v1", FUSED)
    quantize = [h for h in float_input.host if h.name == "Quantize"]
    assert len(quantize) == 1 and not [h for h in uint8_input.host if h.name == "Quantize"]
    assert uint8_input.input_cast_ns > 0 and float_input.input_cast_ns == 0
    assert quantize[0].ns / uint8_input.input_cast_ns > 20  # C11: 60.639 ms vs 0.277 ms published
    # Device time does not depend on where the input is quantized; the wire carries 4x the bytes.
    assert float_input.npu_ns == uint8_input.npu_ns
    assert float_input.executions[0].h2d_bytes == uint8_input.executions[0].h2d_bytes


def test_transfers_of_a_split_graph():
    plan = modeled("yolov5l", FUSED, 1, loading=True)  # Resize runs on the host: three executions
    assert len(plan.executions) == 3
    for execution in plan.executions:
        assert execution.h2d_bytes > 0 and execution.d2h_bytes > 0
        assert execution.h2d_ns == timing.pcie_ns(execution.h2d_bytes, MODELS[FUSED])
    assert plan.transfer_ns == sum(e.h2d_ns + e.d2h_ns for e in plan.executions)


def test_program_loading_adds_the_loading_time():
    plan = modeled("yolov5l", FUSED, 1, loading=True)
    assert plan.program_loading and plan.program_bytes > MODELS[FUSED].instruction_memory_bytes
    for execution in plan.executions:
        program_bytes = sum(op.program_bytes for op in compiled("yolov5l", FUSED, 1, loading=True).operators
                            if op.index in execution.operators)
        assert execution.program_load_ns >= program_bytes / 66e9 * 1e9
        assert execution.iowait_ns == execution.load_ns + execution.program_load_ns + execution.store_ns
    # A program that fits is resident: use_program_loading costs nothing then.
    assert not modeled("resnet50", FUSED, 1, loading=True).program_loading
    assert modeled("resnet50", FUSED, 1, loading=True).npu_ns == modeled("resnet50", FUSED).npu_ns


# --- the device timeline ----------------------------------------------------------------------------
def _execution(h2d: int, total: int, d2h: int) -> timing.ExecutionTiming:
    return timing.ExecutionTiming(0, (0,), (total - 10,), (0,), 5, 0, 5, 1, 1, h2d, d2h, 0)


def test_timeline_serializes_the_npu_and_overlaps_transfers():
    line = Timeline()
    first = line.schedule(1000, _execution(100, 500, 50))
    assert (first.h2d_start, first.h2d_end, first.start, first.end, first.d2h_start, first.d2h_end) == \
        (1000, 1100, 1100, 1600, 1600, 1650)
    # A second request ready at the same time: its input transfer overlaps the first execution.
    second = line.schedule(1000, _execution(100, 500, 50))
    assert (second.h2d_start, second.h2d_end, second.start, second.end) == (1100, 1200, 1600, 2100)
    assert second.d2h_start == 2100
    # Nothing to transfer: no PCIe time, the NPU starts when free.
    third = line.schedule(0, _execution(0, 100, 0))
    assert third.start == 2100 and third.h2d_start == third.h2d_end == 0 and third.d2h_end == third.end


def test_device_timelines_are_shared_by_name():
    assert timing.timeline("npu0pe0-1") is timing.timeline("npu0pe0-1")
    assert timing.timeline("npu0pe0") is not timing.timeline("npu0pe1")


def test_unknown_target():
    with pytest.raises(ValueError, match="no timing model for target 'warboy-4pe'"):
        timing.model_for("warboy-4pe")
