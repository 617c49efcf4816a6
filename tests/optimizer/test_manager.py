"""The pass manager: order, timings, verification, dumps, fixed points; the package surface."""
from __future__ import annotations

import onnx
import pytest
from onnx import helper

import furiosa.optimizer as optimizer
from furiosa.optimizer.api import PIPELINE
from furiosa.optimizer.manager import Context, fixed_point, run_passes
from furiosa.optimizer.passes import PASSES

from .helpers import make_model


def test_package_surface():
    assert optimizer.__all__ == ["optimize_model"]
    assert str(optimizer.__version__).startswith("0.10.2-release")


def test_pipeline_is_made_of_registered_passes():
    registered = set(PASSES.names())
    for step in PIPELINE:
        name = getattr(step, "pass_name")
        inner = [n.strip() for n in name.removeprefix("fixed_point(").removesuffix(")").split(",")]
        assert set(inner) <= registered, name


def test_run_passes_times_verifies_and_dumps(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], [("y", [1])])
    context = Context(verify=True, dump_dir=tmp_path)
    steps = [PASSES.lookup("rename_nodes"), PASSES.lookup("infer_shapes")]
    result = run_passes(model, steps, context)
    assert [name for name, _ in context.timings] == ["rename_nodes", "infer_shapes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00_rename_nodes.onnx", "01_infer_shapes.onnx"]
    assert result.graph.node[0].name == "Relu_0"


def test_verify_catches_a_broken_pass():
    def breaks(model, context):
        model.graph.node[0].input[0] = "missing"
        return model

    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], [("y", [1])])
    with pytest.raises(onnx.checker.ValidationError):
        run_passes(model, [breaks], Context(verify=True))


def test_fixed_point_stops_when_nothing_changes():
    calls = []

    def count(model, context):
        calls.append(1)
        if len(calls) < 3:
            model.graph.node[0].name = f"n{len(calls)}"
        return model

    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], [("y", [1])])
    fixed_point(count)(model, Context())
    assert len(calls) == 3
