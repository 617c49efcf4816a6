"""The placement report (issue 9, part 2): where each operator runs, the exact reason when it is the
host (checked against the Warboy table), and its modeled cost on the host vs on the NPU; printed by
``furiosa-compiler -v``, kept in the ENF manifest, shown in the HTML memory report."""
from __future__ import annotations

import html
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from furiosa.compiler import enf, report
from furiosa.compiler.host_cost import HOST_CPU
from furiosa.compiler.pipeline import compile_program
from tests.helpers import with_calibration

# The four constraints of the Warboy operator table the model breaks, as the report must state them.
EXPECTED = {
    "grouped": "Conv with group 256: the NPU supports grouped convolutions with group <= 128",
    "concat": "Concat along the width axis: the NPU concatenates along the height or channel axis only",
    "resize": "Resize is not in the Warboy NPU operator table",
    "softmax": "Softmax with batch 4: the NPU supports Softmax with batch <= 2",
}


def fallback_model() -> onnx.ModelProto:
    """Conv group 256 → Relu → 1x1 Conv → width Concat → Resize → Softmax, calibrated."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "wg"], ["g"], group=256, pads=[1, 1, 1, 1], name="grouped"),
        helper.make_node("Relu", ["g"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "wp"], ["c"], name="pointwise"),
        helper.make_node("Concat", ["c", "c"], ["cat"], axis=3, name="concat"),
        helper.make_node("Resize", ["cat", "", "scales"], ["up"], mode="nearest", name="resize"),
        helper.make_node("Softmax", ["up"], ["y"], axis=-1, name="softmax"),
    ]
    inits = [numpy_helper.from_array((rng.standard_normal((256, 2, 3, 3)) * 0.2).astype(np.float32), "wg"),
             numpy_helper.from_array((rng.standard_normal((16, 256, 1, 1)) * 0.1).astype(np.float32), "wp"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    graph = helper.make_graph(nodes, "fallbacks", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model = onnx.shape_inference.infer_shapes(model)
    feeds = [{"x": rng.standard_normal((1, 512, 8, 8)).astype(np.float32)} for _ in range(2)]
    return with_calibration(model, feeds)


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return fallback_model().SerializeToString()


@pytest.fixture(scope="module")
def program(model_bytes):
    return compile_program(model_bytes, target="warboy", batch_size=4)


def _host_op(program, origin: str):
    found = [op for op in program.operators if origin in op.origin or
             any(n.get("name") == origin for n in report.subgraph_nodes(op))]
    assert found, f"no operator comes from {origin!r}"
    return found[0]


def test_every_host_operator_of_the_model_is_explained_by_the_warboy_table(program):
    for origin, reason in EXPECTED.items():
        op = _host_op(program, origin)
        assert op.unit == "host", (origin, op)
        nodes = report.subgraph_nodes(op)
        stated = nodes[0]["reason"] if nodes else op.reason
        assert stated.startswith(reason), (origin, stated)
    # the one operator nothing forbids runs on the NPU
    assert _host_op(program, "pointwise").unit == "npu"
    entries = report.placement_entries(program)
    assert all(e.reason for e in entries), "every operator says why it runs where it runs"


def test_softmax_returns_to_the_npu_at_batch_2(model_bytes):
    program = compile_program(model_bytes, target="warboy", batch_size=2)
    assert _host_op(program, "softmax").unit == "npu"
    assert _host_op(program, "grouped").unit == "host"  # the other constraints do not depend on the batch


def test_host_operators_carry_their_host_cost_and_what_the_npu_would_take(program):
    entries = {e.index: e for e in report.placement_entries(program)}
    for origin in EXPECTED:
        op = _host_op(program, origin)
        estimate = op.attrs["estimate"]
        assert estimate["host_ns"] > HOST_CPU.call_ns
        assert estimate["npu_cost"] is not None and estimate["npu_ns"] > 0
        # modeled: the host is far slower than the NPU for these tensor operators
        assert estimate["host_ns"] > 10 * estimate["npu_ns"], (origin, estimate)
        entry = entries[str(op.index)]
        assert entry.host_ns == estimate["host_ns"] and entry.npu_ns == estimate["npu_ns"]
    grouped = _host_op(program, "grouped").attrs["estimate"]
    # 256 groups of 2 input channels, 3x3, on a 4-sample batch of 8x8 outputs
    assert grouped["npu_cost"]["kind"] == "dense" and grouped["npu_cost"]["macs"] == 256 * 2 * 9 * 64
    assert grouped["host_flops"] == 4 * 2 * 256 * 2 * 9 * 64
    quantize = next(op for op in program.operators if op.kernel == "quantize")
    assert quantize.attrs["estimate"]["npu_ns"] is None and "host-only" in quantize.attrs["estimate"]["npu_note"]
    assert all("estimate" not in op.attrs for op in program.npu_operators)


def test_the_estimates_are_kept_in_the_enf_manifest(program):
    again = enf.read(enf.write(program))
    assert report.placement_entries(again) == report.placement_entries(program)
    assert _host_op(again, "resize").attrs["nodes"][0]["estimate"]["host_ns"] > 0


def test_placement_text_and_html_show_reasons_and_costs(program):
    text = report.placement_text(program)
    for reason in EXPECTED.values():
        line = next(line for line in text.splitlines() if reason in line)
        assert re.search(r"\[host \d+(\.\d+)? us \| NPU \d+(\.\d+)? us if supported\]$", line), line
    assert re.search(r"NPU n/a: Quantize is host-only on Warboy\]$", text, re.MULTILINE)
    assert re.search(r"^Modeled host cost: .* would take .* on the NPU$", text, re.MULTILINE)
    page = report.memory_html(program)
    assert "<h2>Placement</h2>" in page
    for reason in EXPECTED.values():
        assert html.escape(reason) in page


def test_furiosa_compiler_verbose_prints_the_costs(model_bytes, tmp_path, capsys):
    from furiosa.cli.compiler import main

    source = tmp_path / "fallbacks.onnx"
    source.write_bytes(model_bytes)
    with pytest.raises(SystemExit) as done:
        main([str(source), "-o", str(tmp_path / "out.enf"), "-v", "-b", "4", "--target-npu", "warboy", "--no-cache"])
    assert done.value.code == 0
    err = capsys.readouterr().err
    assert re.search(r"Softmax with batch 4: .*\[host [\d.]+ us \| NPU [\d.]+ us if supported\]", err)
    assert re.search(r"^  \d+\s+NPU\s+.*\[NPU [\d.]+ us\]$", err, re.MULTILINE)


def test_a_float_model_gets_costs_and_operators_without_an_npu_form_say_so(tmp_path):
    rng = np.random.default_rng(1)

    def model(channels: int) -> bytes:
        nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
                 helper.make_node("TopK", ["c", "k"], ["values", "indices"], axis=-1, name="topk")]
        graph = helper.make_graph(
            nodes, "float", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 32, 32])],
            [helper.make_tensor_value_info("values", TensorProto.FLOAT, None),
             helper.make_tensor_value_info("indices", TensorProto.INT64, None)],
            [numpy_helper.from_array(rng.standard_normal((channels, 16, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([3], np.int64), "k")])
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        proto.ir_version = 8
        return proto.SerializeToString()

    costs = {}
    for channels in (32, 64):
        with pytest.warns(UserWarning, match="no quantization parameters"):
            program = compile_program(model(channels))
        nodes = {n["name"]: n for op in program.operators for n in report.subgraph_nodes(op)}
        conv, topk = nodes["conv"]["estimate"], nodes["topk"]["estimate"]
        assert conv["npu_cost"]["kind"] == "dense" and conv["npu_cost"]["macs"] == channels * 16 * 9 * 32 * 32
        assert topk["npu_ns"] is None and topk["npu_note"] == "TopK has no tensor form on the NPU"
        costs[channels] = conv["host_ns"]
        assert re.search(r"TopK is not in the Warboy NPU operator table.*NPU n/a: TopK has no tensor form",
                         report.placement_text(program))
    # a dense operator's modeled host time follows its FLOPs
    assert costs[64] == pytest.approx(2 * costs[32], rel=0.01)
