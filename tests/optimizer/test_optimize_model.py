"""optimize_model end to end: the vendor's models, torch exports, dynamic shapes, errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from furiosa.optimizer import optimize_model

from .helpers import assert_same, copy, make_model, ops


def node_outputs_have_value_info(model: onnx.ModelProto) -> bool:
    known = {v.name for v in model.graph.value_info} | {v.name for v in model.graph.output}
    return all(name in known for node in model.graph.node for name in node.output)


@pytest.mark.parametrize("name", ["mnist.onnx", "mnist_8.onnx", "test.onnx"])
def test_vendor_models_optimize_to_valid_equivalent_models(vendor, name):
    model = onnx.load(str(vendor / name))
    before = model.SerializeToString()
    optimized = optimize_model(model)
    assert model.SerializeToString() == before, "the argument must not be modified"
    assert optimized.opset_import[0].version == 13
    assert node_outputs_have_value_info(optimized)
    initializers = {t.name for t in model.graph.initializer}
    assert [v.name for v in optimized.graph.input] == [v.name for v in model.graph.input if v.name not in initializers]
    assert [v.name for v in optimized.graph.output] == [v.name for v in model.graph.output]
    assert_same(model, optimized, rtol=1e-4, atol=1e-4)


def test_mnist_node_names_follow_the_vendor(vendor):
    optimized = optimize_model(onnx.load(str(vendor / "mnist.onnx")))
    assert ops(optimized) == ["Reshape", "Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    assert optimized.graph.node[1].input[1] == "model.fc1.weight_input.1_1"


def test_input_shapes_override_and_propagate():
    w = np.ones((10, 12), np.float32)
    model = make_model([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)],
                       [("x", ["N", 3, 2, 2])], [("y", ["N", 10])], [("w", w)])
    optimized = optimize_model(model, input_shapes={"x": [2, 3, 2, 2]})
    assert [d.dim_value for d in optimized.graph.output[0].type.tensor_type.shape.dim] == [2, 10]
    fixed = optimize_model(model)
    assert [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 2, 2]


def test_opset_version_outside_12_13_is_a_value_error():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], [("y", [1])])
    with pytest.raises(ValueError, match=r"Unsupported opset_version: 14\. Choose 12 <= opset_version <= 13\."):
        optimize_model(model, opset_version=14)


def test_dynamic_non_batch_dimension_needs_input_shapes():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1, "H"])], [("y", [1, "H"])])
    with pytest.raises(RuntimeError, match='the static shape of input "x" must be given'):
        optimize_model(model)
    assert optimize_model(model, input_shapes={"x": [1, 7]}).graph.output[0].type.tensor_type.shape.dim[1].dim_value == 7


def test_torch_default_export_with_external_data(tmp_path):
    from .torch_models import Small, export

    path = export(Small(), (1, 3, 8, 8), tmp_path / "small.onnx", dynamic_axes={"x": {0: "batch"}},
                  input_names=["x"], output_names=["logits"])
    raw = onnx.load(str(path), load_external_data=False)
    assert raw.opset_import[0].version >= 18
    model = onnx.load(str(path))
    optimized = optimize_model(copy(model))
    assert ops(optimized).count("BatchNormalization") == 0
    assert "PRelu" not in ops(optimized)
    assert "Shape" not in ops(optimized)
    assert node_outputs_have_value_info(optimized)
    assert [v.name for v in optimized.graph.input] == ["x"]
    assert [v.name for v in optimized.graph.output] == ["logits"]
    feeds = {"x": np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)}
    assert_same(model, optimized, feeds=feeds, rtol=1e-4, atol=1e-5)


def test_unloaded_external_data_is_reported(tmp_path):
    from .torch_models import Small, export

    path = export(Small(), (1, 3, 8, 8), tmp_path / "small.onnx")
    with pytest.raises(ValueError, match="external data"):
        optimize_model(onnx.load(str(path), load_external_data=False))
