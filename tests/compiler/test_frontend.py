"""Reading models: every kind of bad input gets one clear error naming the problem."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from examples.zoo import Builder
from furiosa.common.errors import CompilerWarning, InvalidModelError, UnsupportedModelError
from furiosa.compiler.pipeline import compile_data, compile_program


def tiny_model(opset: int = 13, input_shape=(1, 3, 8, 8)) -> onnx.ModelProto:
    b = Builder(opset=opset)
    b.conv("input", 3, 4, 3)
    b.nodes[-1].output[0] = "output"
    return b.model([("input", list(input_shape))], [("output", None)])


def test_truncated_onnx_is_reported(tmp_path):
    data = tiny_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidModelError, match="cut.onnx"):
        compile_program(path)


def test_a_file_that_is_no_model(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a neural network\n" * 10)
    with pytest.raises(InvalidModelError) as info:
        compile_program(path)
    assert "notes.txt" in str(info.value)
    assert "ONNX" in str(info.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InvalidModelError, match="no such file"):
        compile_program(tmp_path / "absent.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(InvalidModelError, match="empty"):
        compile_program(tmp_path / "empty.onnx")


def test_opset_out_of_range():
    model = tiny_model()
    model.opset_import[0].version = 7
    with pytest.raises(UnsupportedModelError, match="opset 7.*8 to 21"):
        compile_data(model.SerializeToString())


def test_unknown_domain_is_named():
    model = tiny_model()
    node = helper.make_node("Magic", ["output"], ["magic"], domain="com.example")
    model.graph.node.append(node)
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(UnsupportedModelError, match="Magic.*com.example"):
        compile_data(model.SerializeToString())


def test_operator_nobody_implements():
    model = tiny_model()
    model.graph.node.append(helper.make_node("NotAnOnnxOperator", ["output"], ["y"]))
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, None))
    with pytest.raises((UnsupportedModelError, InvalidModelError)) as info:
        compile_data(model.SerializeToString())
    assert "NotAnOnnxOperator" in str(info.value)


def test_dynamic_batch_is_fixed_to_one():
    model = tiny_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    with pytest.warns(CompilerWarning):
        program = compile_data(model.SerializeToString())
    assert program.inputs[0].shape == (1, 3, 8, 8)
    assert any("batch" in w for w in program.warnings)


def test_other_dynamic_dimensions_are_refused():
    model = tiny_model()
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    with pytest.raises(UnsupportedModelError, match="static shape of input 'input'.*height"):
        compile_data(model.SerializeToString())


def test_external_data_needs_the_path(tmp_path):
    model = tiny_model()
    path = tmp_path / "model.onnx"
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
              size_threshold=0)
    program = compile_program(path)
    assert program.inputs[0].name == "input"
    with pytest.raises(InvalidModelError, match="external data"):
        compile_data(path.read_bytes())


def test_float_model_runs_on_the_host_with_a_warning_and_reasons():
    with pytest.warns(CompilerWarning, match="no quantization parameters"):
        program = compile_data(tiny_model().SerializeToString())
    assert all(op.unit == "host" for op in program.operators)
    nodes = [n for op in program.operators for n in op.attrs["nodes"]]
    assert nodes and all("calibrate" in n["reason"] or "table" in n["reason"] for n in nodes)


def test_constant_shape_chains_are_folded():
    b = Builder()
    shape = b.op("Shape", ["input"], "shape")
    b.op("Reshape", ["input", shape], "same")
    b.nodes[-1].output[0] = "output"
    model = b.model([("input", [1, 2, 3, 4])], [("output", [1, 2, 3, 4])])
    with pytest.warns(CompilerWarning):
        program = compile_data(model.SerializeToString())
    kinds = [n["op_type"] for op in program.operators for n in op.attrs.get("nodes", [])]
    assert "Shape" not in kinds and "Reshape" in kinds


def test_qoperator_inputs_need_constant_parameters():
    b = Builder()
    b.op("QuantizeLinear", ["input", "scale"], "q")
    model = b.model([("input", [1, 4]), ("scale", [])], [(b.nodes[-1].output[0], [1, 4])], check=False)
    model.graph.output[0].type.tensor_type.elem_type = TensorProto.UINT8
    with pytest.raises(UnsupportedModelError, match="constant quantization parameters"):
        compile_data(model.SerializeToString())


def test_graph_with_a_cycle_is_refused():
    nodes = [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])]
    graph = helper.make_graph(nodes, "cycle", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises((InvalidModelError, UnsupportedModelError)):
        compile_data(model.SerializeToString())


def test_model_input_order_and_names_are_kept(vendor):
    program = compile_program(vendor / "named_tensors.onnx")
    assert [io.name for io in program.inputs] == ["input.1", "input.3", "input"]
    assert [io.name for io in program.outputs] == ["18_dequantized", "19_dequantized", "15_dequantized"]
    assert program.inputs[0].shape == (1, 3, 8, 8)
    assert np.dtype(program.outputs[0].dtype) == np.float32
