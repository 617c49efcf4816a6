"""quantize() and ModelEditor: bytes, metadata keys and formats, messages (spec/toolchain-api.md §3.5-3.6)."""
from __future__ import annotations

import onnx
import pytest
import yaml
from onnx import helper

import furiosa.quantizer as quantizer
from furiosa.quantizer import ModelEditor, TensorType, get_output_names, get_pure_input_names, quantize
from furiosa.quantizer.metadata import Calibration


def two_io_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Relu", ["s"], ["r"])], "g",
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 4]) for n in ("a", "w", "b")],
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 4]) for n in ("s", "r")],
        [onnx.numpy_helper.from_array(__import__("numpy").ones((1, 4), "float32"), "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def metadata(data) -> dict[str, str]:
    model = onnx.load_from_string(data) if isinstance(data, bytes) else data
    return {p.key: p.value for p in model.metadata_props}


def test_exports_and_versions():
    assert quantizer.__all__ == ["CalibrationMethod", "Calibrator", "get_pure_input_names", "get_output_names",
                                 "ModelEditor", "TensorType", "quantize"]
    assert str(quantizer.__version__).startswith("0.10.2-release (rev: ")
    assert quantizer.__full_version__.startswith(f"Furiosa SDK Quantizer {quantizer.__version__} (furiosa_quantizer_impl ")
    assert quantizer.Calibrator.__module__ == "furiosa.quantizer.calibrator"
    assert quantizer.ModelEditor.__module__ == "furiosa.quantizer.editor"


def test_quantize_returns_the_float_model_bytes_plus_calibration_metadata():
    model = two_io_model()
    model.metadata_props.add(key="mine", value="kept")
    data = quantize(model, {"a": (-1.0, 1e-9), "s": [0, 2], "elsewhere": (1e16, 2.5)})
    assert isinstance(data, bytes)
    result = onnx.load_from_string(data)
    assert result.graph == model.graph
    values = metadata(result)
    assert values["mine"] == "kept"
    text = values["FurisoaAI.CalibrationResult"]
    assert text == "---\na:\n  - -1.0\n  - 1e-9\ns:\n  - 0.0\n  - 2.0\nelsewhere:\n  - 1e16\n  - 2.5\n"
    assert Calibration.from_metadata(values).ranges == {"a": (-1.0, 1e-9), "s": (0.0, 2.0), "elsewhere": (1e16, 2.5)}
    assert yaml.safe_load(text)["s"] == [0.0, 2.0]


def test_quantize_errors():
    with pytest.raises(IndexError):
        quantize(two_io_model(), {"a": (1.0,)})
    with pytest.raises(ValueError, match="failed to decode Protobuf message"):
        quantize(b"\xff\xfe not a model", {})


def test_quantize_09_keywords_are_recorded_as_editor_entries():
    data = quantize(two_io_model(), {"a": (0.0, 1.0)}, with_quantize=False, normalized_pixel_outputs=[1])
    values = metadata(data)
    assert values["FurisoaAI.WithoutQuantize"] == "0,1"
    assert values["FurisoaAI.WithoutDequantize"] == "[(1,U8,Some((0.0,1.0)))]"
    with pytest.raises(ValueError, match="numbered 0 to 1"):
        quantize(two_io_model(), {}, normalized_pixel_outputs=[2])


def test_pure_input_and_output_names():
    model = two_io_model()
    assert get_pure_input_names(model) == ["a", "b"]
    assert get_output_names(model) == ["s", "r"]


def test_editor_writes_only_metadata_in_place():
    model = two_io_model()
    graph_before = model.graph.SerializeToString()
    editor = ModelEditor(model)
    editor.convert_input_type("b", TensorType.UINT8)
    editor.convert_input_type("a", TensorType.UINT8)
    editor.convert_input_type("b", TensorType.UINT8)
    editor.convert_output_type("r", TensorType.UINT8, (0.0, 6.0))
    editor.convert_output_type("s", TensorType.INT8)
    assert metadata(model) == {"FurisoaAI.WithoutQuantize": "0,1",
                               "FurisoaAI.WithoutDequantize": "[(1,U8,Some((0.0,6.0))),(0,I8,None)]"}
    editor.convert_output_type("r", TensorType.INT8)
    assert metadata(model)["FurisoaAI.WithoutDequantize"] == "[(1,I8,None),(0,I8,None)]"
    assert model.graph.SerializeToString() == graph_before
    quantized = metadata(quantize(model, {"a": (0.0, 1.0)}))
    assert quantized["FurisoaAI.WithoutQuantize"] == "0,1"


def test_a_second_editor_rewrites_the_keys_from_its_own_state():
    model = two_io_model()
    ModelEditor(model).convert_input_type("a", TensorType.UINT8)
    ModelEditor(model).convert_output_type("s", TensorType.INT8)
    assert metadata(model) == {"FurisoaAI.WithoutDequantize": "[(0,I8,None)]"}


def test_editor_messages():
    editor = ModelEditor(two_io_model())
    with pytest.raises(ValueError, match=r"^Could find a pure input tensor named 'nope'\.$"):
        editor.convert_input_type("nope", TensorType.UINT8)
    with pytest.raises(ValueError, match=r"^Could find a pure input tensor named 'w'\.$"):
        editor.convert_input_type("w", TensorType.UINT8)  # backed by an initializer
    with pytest.raises(ValueError, match=r"^ModelEditor.convert_input_type does not support 2 yet\.$"):
        editor.convert_input_type("a", TensorType.INT8)
    with pytest.raises(ValueError, match=r"^Could not find an output tensor named 'nope'\.$"):
        editor.convert_output_type("nope", TensorType.INT8)
    with pytest.raises(ValueError, match=r"^ModelEditor.convert_output_type does not support 3 yet\.$"):
        editor.convert_output_type("s", 3)
    for bad in ([0.0, 1.0], (0, 1), (0.0,)):
        with pytest.raises(RuntimeError, match="fail to get range from parameter"):
            editor.convert_output_type("s", TensorType.INT8, bad)
    with pytest.raises(AttributeError):
        ModelEditor(two_io_model().SerializeToString())
