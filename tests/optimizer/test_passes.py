"""Each optimizer pass on a small before-model: the expected structure, and the same numbers as
onnxruntime on the original."""
from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from furiosa.optimizer.passes import PASSES

from .helpers import assert_same, context, copy, make_model, ops

rng = np.random.default_rng(0)


def apply(name: str, model: onnx.ModelProto, **options) -> onnx.ModelProto:
    return PASSES.lookup(name)(copy(model), context(**options))


def shaped(name: str, model: onnx.ModelProto, **options) -> onnx.ModelProto:
    """Shapes first (reify passes read them), then the pass."""
    return apply(name, apply("infer_shapes", model), **options)


def conv_model(after: list, extra_inits=(), channels=4) -> onnx.ModelProto:
    w = rng.standard_normal((channels, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(channels).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])] + after
    return make_model(nodes, [("x", [1, 3, 6, 6])], [("y", [1, channels, 6, 6])],
                      [("w", w), ("b", b), *extra_inits])


def test_rename_nodes_uses_op_type_and_index():
    model = conv_model([helper.make_node("Relu", ["c"], ["y"], name="my_relu")])
    result = apply("rename_nodes", model)
    assert [n.name for n in result.graph.node] == ["Conv_0", "Relu_1"]


def test_unique_initializers_copy_each_use_with_the_vendor_names():
    w = rng.standard_normal((3, 3)).astype(np.float32)
    model = make_model(
        [helper.make_node("MatMul", ["x", "w1"], ["c1"]), helper.make_node("MatMul", ["c1", "w1"], ["y"])],
        [("x", [1, 3])], [("y", [1, 3])], [("w1", w)])
    result = apply("unique_initializers", model)
    assert sorted(t.name for t in result.graph.initializer) == ["w1_c1_1", "w1_y_1"]
    assert [list(n.input) for n in result.graph.node] == [["x", "w1_c1_1"], ["c1", "w1_y_1"]]
    assert_same(model, result)


def test_unique_initializers_drop_initializers_listed_as_inputs():
    model = make_model([helper.make_node("Add", ["x", "k"], ["y"])], [("x", [2]), ("k", [2])], [("y", [2])],
                       [("k", np.ones(2, np.float32))])
    result = apply("unique_initializers", model)
    assert [v.name for v in result.graph.input] == ["x"]


def test_static_inputs_fix_a_dynamic_batch_to_one_and_log_it(caplog):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", ["N", 3])], [("y", ["N", 3])])
    with caplog.at_level(logging.INFO, logger="Furiosa-Optimizer"):
        result = apply("static_inputs", model)
    assert [d.dim_value for d in result.graph.input[0].type.tensor_type.shape.dim] == [1, 3]
    assert "Dynamic batch size is detected at input_name: x. Fix batch_size=1 for valid shape inference." \
        in caplog.messages


def test_static_inputs_apply_input_shapes_and_reject_other_dynamic_dims():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", ["N", "C"])], [("y", ["N", "C"])])
    with pytest.raises(RuntimeError, match='the static shape of input "x" must be given'):
        apply("static_inputs", model)
    result = apply("static_inputs", model, input_shapes={"x": (2, 5)})
    assert [d.dim_value for d in result.graph.input[0].type.tensor_type.shape.dim] == [2, 5]
    with pytest.raises(ValueError, match="'nope'.*its inputs are 'x'"):
        apply("static_inputs", model, input_shapes={"nope": (1,)})
    with pytest.raises(ValueError, match="2 dimensions"):
        apply("static_inputs", make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", ["N", 3, 4])],
                                          [("y", None)]), input_shapes={"x": (1, 3)})


def test_constants_become_initializers():
    const = helper.make_node("Constant", [], ["k"], value=helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0]))
    scalar = helper.make_node("Constant", [], ["s"], value_float=3.0)
    model = make_model([const, scalar, helper.make_node("Add", ["x", "k"], ["a"]),
                        helper.make_node("Mul", ["a", "s"], ["y"])], [("x", [2])], [("y", [2])])
    result = apply("constants_to_initializers", model)
    assert ops(result) == ["Add", "Mul"]
    assert sorted(t.name for t in result.graph.initializer) == ["k", "s"]
    assert_same(model, result)


def test_fold_constants_collapses_shape_gather_chains():
    i0 = helper.make_tensor("i0", TensorProto.INT64, [], [0])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Shape", ["r"], ["shape"]),
        helper.make_node("Constant", [], ["zero"], value=i0),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["r", "target"], ["y"]),
    ]
    model = make_model(nodes, [("x", [2, 3, 4])], [("y", [2, 12])],
                       [("axes", np.array([0], np.int64)), ("minus1", np.array([-1], np.int64))])
    step = apply("fold_constants", apply("infer_shapes", apply("constants_to_initializers", model)))
    for _ in range(3):
        step = apply("fold_constants", apply("infer_shapes", step))
    assert ops(step) == ["Relu", "Reshape"]
    shape_input = step.graph.node[1].input[1]
    target = next(t for t in step.graph.initializer if t.name == shape_input)
    assert list(onnx.numpy_helper.to_array(target)) == [2, -1]
    assert_same(model, step)


def test_infer_shapes_gives_every_intermediate_a_static_value_info():
    model = conv_model([helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Relu", ["r"], ["y"])])
    model.graph.output[0].type.tensor_type.ClearField("shape")
    result = apply("infer_shapes", model)
    infos = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in result.graph.value_info}
    assert infos == {"c": [1, 4, 6, 6], "r": [1, 4, 6, 6]}
    assert [d.dim_value for d in result.graph.output[0].type.tensor_type.shape.dim] == [1, 4, 6, 6]


def test_negative_pads_become_slice_then_pad():
    model = make_model([helper.make_node("Pad", ["x", "pads"], ["y"], mode="constant")], [("x", [1, 2, 6, 6])],
                       [("y", [1, 2, 5, 7])], [("pads", np.array([0, 0, -1, 1, 0, 0, 0, 0], np.int64))])
    result = shaped("convert_negative_pads", model)
    assert ops(result) == ["Slice", "Pad"]
    names = {t.name for t in result.graph.initializer}
    assert {"y_starts", "y_ends", "y_axes", "y_pads"} <= names
    assert result.graph.node[0].output[0] == "y_slice_out"
    assert_same(model, result)


def test_all_zero_pad_is_removed():
    model = make_model([helper.make_node("Pad", ["x", "pads"], ["p"]), helper.make_node("Relu", ["p"], ["y"])],
                       [("x", [1, 2])], [("y", [1, 2])], [("pads", np.zeros(4, np.int64))])
    result = shaped("convert_negative_pads", model)
    assert ops(result) == ["Relu"]
    assert_same(model, result)


def bn_inits(channels=4):
    return [("scale", rng.uniform(0.5, 2, channels).astype(np.float32)),
            ("bias", rng.standard_normal(channels).astype(np.float32)),
            ("mean", rng.standard_normal(channels).astype(np.float32)),
            ("var", rng.uniform(0.5, 2, channels).astype(np.float32))]


def test_batchnorm_after_conv_folds_into_its_weights():
    bn = helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-3)
    model = conv_model([bn], bn_inits())
    result = shaped("fuse_batchnorm", model)
    assert ops(result) == ["Conv"]
    assert result.graph.node[0].output[0] == "y"
    assert list(result.graph.node[0].input[1:]) == ["w_bn_fused", "b_bn_fused"]
    assert_same(model, result)


def test_batchnorm_after_biasless_conv_transpose_folds():
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)  # ConvTranspose: [Cin, Cout/group, k, k]
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"])]
    model = make_model(nodes, [("x", [1, 3, 4, 4])], [("y", [1, 2, 6, 6])], [("w", w), *bn_inits(2)])
    result = shaped("fuse_batchnorm", model)
    assert ops(result) == ["ConvTranspose"]
    assert result.graph.node[0].input[2] == "y_bias_bn_fused"
    assert_same(model, result)


def test_conv_mul_add_folds_into_the_conv():
    nodes = [helper.make_node("Mul", ["c", "m"], ["cm"]), helper.make_node("Add", ["cm", "a"], ["y"])]
    model = conv_model(nodes, [("m", rng.uniform(0.5, 2, (4, 1, 1)).astype(np.float32)),
                               ("a", np.float32(0.25))])
    result = shaped("fuse_batchnorm", model)
    assert ops(result) == ["Conv"]
    assert_same(model, result)


def test_batchnorm_elsewhere_becomes_mul_and_add():
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("BatchNormalization", ["r", "scale", "bias", "mean", "var"], ["y"])]
    model = make_model(nodes, [("x", [1, 4, 3, 3])], [("y", [1, 4, 3, 3])], bn_inits())
    result = shaped("fuse_batchnorm", model)
    assert ops(result) == ["Relu", "Mul", "Add"]
    assert {"y_bn_multiplier", "y_bn_shifter"} <= {t.name for t in result.graph.initializer}
    assert_same(model, result)


@pytest.mark.parametrize("axis", [0, 1])
def test_gather_matmul_becomes_one_gather(axis):
    table = rng.standard_normal((6, 4)).astype(np.float32)
    if axis == 0:
        weight = rng.standard_normal((4, 5)).astype(np.float32)
        mm = helper.make_node("MatMul", ["g", "w"], ["y"])
        out = [3, 5]
    else:
        weight = rng.standard_normal((5, 6)).astype(np.float32)
        mm = helper.make_node("MatMul", ["w", "g"], ["y"])
        out = [5, 3]
    nodes = [helper.make_node("Gather", ["table", "idx"], ["g"], axis=axis), mm]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("idx", TensorProto.INT64, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
                              [onnx.numpy_helper.from_array(table, "table"), onnx.numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    result = shaped("fuse_gather_matmul", model)
    assert ops(result) == ["Gather"]
    assert_same(model, result, feeds={"idx": np.array([3, 0, 2], np.int64)})


def test_prelu_with_constant_slope_becomes_relu_mul_mul_add():
    model = make_model([helper.make_node("PRelu", ["x", "s"], ["y"])], [("x", [1, 3, 4, 4])], [("y", [1, 3, 4, 4])],
                       [("s", rng.uniform(0, 0.3, (3, 1, 1)).astype(np.float32))])
    result = shaped("convert_prelu", model)
    assert ops(result) == ["Relu", "Mul", "Mul", "Add"]
    assert "y_slope_fused" in {t.name for t in result.graph.initializer}
    assert {"y_relu_out", "y_mul_0_out", "y_mul_1_out"} <= {o for n in result.graph.node for o in n.output}
    assert_same(model, result)


def test_prelu_with_computed_slope_subtracts_from_one():
    nodes = [helper.make_node("Sigmoid", ["t"], ["s"]), helper.make_node("PRelu", ["x", "s"], ["y"])]
    model = make_model(nodes, [("x", [1, 3]), ("t", [1, 3])], [("y", [1, 3])])
    result = shaped("convert_prelu", model)
    assert ops(result) == ["Sigmoid", "Relu", "Sub", "Mul", "Mul", "Add"]
    assert_same(model, result)


def test_onnxoptimizer_turns_matmul_add_into_gemm_and_keeps_io_names():
    w = rng.standard_normal((3, 4)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    model = make_model(nodes, [("x", [2, 3])], [("y", [2, 4])], [("w", w), ("b", np.ones(4, np.float32))])
    result = apply("onnxoptimizer", apply("infer_shapes", model))
    assert ops(result) == ["Gemm"]
    assert [v.name for v in result.graph.output] == ["y"]
    assert_same(model, result)


def test_convert_opset_up_converts_and_keeps_higher_opsets(vendor):
    old = onnx.load(str(vendor / "mnist_8.onnx"))
    result = apply("convert_opset", old)
    assert result.opset_import[0].version == 13
    new = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], [("y", [1])], opset=20)
    assert apply("convert_opset", new).opset_import[0].version == 20


def test_convert_opset_failure_is_not_implemented_error():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], [("y", [1])], opset=7)
    with pytest.raises(NotImplementedError, match=r"Can't convert the model \(ONNX opset 7\) to ONNX opset 13"):
        apply("convert_opset", model)
