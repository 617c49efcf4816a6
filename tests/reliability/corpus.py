"""The corpus of bad models, generated in code.

Each :class:`Case` builds the bytes of one bad model and says how the compiler must refuse it:
the error class (one of ``furiosa.common.errors``) and words the one-line message must contain.
The same corpus goes through the compiler API, the compiler cache, the runtime and the
``furiosa-compiler`` command line (tests/reliability/test_bad_models.py).

Base models: a small CNN built in code (``examples.zoo.small_cnn``), quantized by onnxruntime
(QDQ), or calibrated by our quantizer's metadata, or left float; TFLite models come from the
TFLite tests' writer.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from furiosa.common.errors import FuriosaError, InvalidModelError, UnsupportedModelError


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], bytes]
    error: type[FuriosaError]
    words: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.id


# --- base models -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def float_cnn() -> bytes:
    from examples.zoo import small_cnn

    return small_cnn().SerializeToString()


@functools.lru_cache(maxsize=None)
def qdq_cnn() -> bytes:
    """The small CNN quantized by onnxruntime (QDQ): compiles to NPU operators."""
    from examples.zoo import calibration_data, quantize_qdq, small_cnn

    model = small_cnn()
    return quantize_qdq(model, calibration_data(model, 4)).SerializeToString()


@functools.lru_cache(maxsize=None)
def calibrated_cnn() -> bytes:
    """The small CNN with the calibration ranges our quantizer records (what ``quantize()`` returns)."""
    from examples.zoo import calibration_data, small_cnn
    from furiosa.optimizer import optimize_model
    from furiosa.quantizer import CalibrationMethod, Calibrator, quantize

    model = optimize_model(small_cnn())
    calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
    calibrator.collect_data([[feed["input"]] for feed in calibration_data(model, 4)])
    return quantize(model, calibrator.compute_range())


@functools.lru_cache(maxsize=None)
def tflite_network() -> bytes:
    """A small int8 TFLite network (the TFLite tests' writer)."""
    from tests.tflite import models

    return models.network(np.random.default_rng(7), "int8")


def load(data: bytes) -> onnx.ModelProto:
    return onnx.load_model_from_string(data)


def replace_initializer(data: bytes, pick: Callable[[np.ndarray], bool], edit: Callable[[np.ndarray], None]) -> bytes:
    """``data`` with the first initializer ``pick`` selects edited in place by ``edit``."""
    model = load(data)
    for tensor in model.graph.initializer:
        array = numpy_helper.to_array(tensor).copy()
        if pick(array):
            edit(array)
            tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
            return model.SerializeToString()
    raise LookupError("no initializer matched")


def conv_weight(array: np.ndarray) -> bool:
    return array.dtype == np.float32 and array.ndim == 4


def conv_bias(array: np.ndarray) -> bool:
    return array.dtype == np.float32 and array.ndim == 1 and array.size == 8


def with_metadata(data: bytes, key: str, value: str) -> bytes:
    model = load(data)
    for entry in model.metadata_props:
        if entry.key == key:
            entry.value = value
            break
    else:
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    return model.SerializeToString()


def ranges_of(data: bytes) -> dict:
    from furiosa.quantizer.metadata import CALIBRATION_KEY, load_ranges

    return load_ranges(next(p.value for p in load(data).metadata_props if p.key == CALIBRATION_KEY))


def with_range(name: str, bounds: tuple[float, float]) -> bytes:
    from furiosa.quantizer.metadata import CALIBRATION_KEY, dump_ranges

    ranges = ranges_of(calibrated_cnn())
    ranges[name] = bounds
    return with_metadata(calibrated_cnn(), CALIBRATION_KEY, dump_ranges(ranges))


# --- small graphs ----------------------------------------------------------------------------------
def tensor(name: str, shape, elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def graph_model(nodes, inputs, outputs, initializers=(), opset: int = 13, domains: tuple[str, ...] = ()) -> bytes:
    graph = helper.make_graph(list(nodes), "bad", list(inputs), list(outputs), list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model.SerializeToString()


def relu_model(shape, elem: int = TensorProto.FLOAT) -> bytes:
    return graph_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", shape, elem)], [tensor("y", None, elem)])


def ints(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def floats(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


WEIGHT = np.full((4, 3, 3, 3), 0.1, np.float32)


def conv_model(weight: np.ndarray | None = WEIGHT, input_shape=(1, 3, 8, 8)) -> bytes:
    inits = [] if weight is None else [floats("w", weight)]
    return graph_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])],
                       [tensor("x", list(input_shape))], [tensor("y", None)], inits)


def cycle() -> bytes:
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second"),
             helper.make_node("Add", ["x", "a"], ["y"], name="add")]
    return graph_model(nodes, [tensor("x", [1, 3])], [tensor("y", [1, 3])])


def control_flow() -> bytes:
    branch = helper.make_graph([], "branch", [], [])
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch, name="if")
    return graph_model([node], [tensor("c", [], TensorProto.BOOL)], [tensor("y", None)])


def huge_by_operator(op: str) -> bytes:
    shape = ints("shape", [100_000, 100_000, 10])
    if op == "Expand":
        nodes = [helper.make_node("Expand", ["x", "shape"], ["y"], name="expand")]
    else:
        nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"], name="fill"),
                 helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    return graph_model(nodes, [tensor("x", [1])], [tensor("y", None)], [shape])


def short_raw_data() -> bytes:
    weight = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3], raw_data=b"\0" * 10)
    model = load(conv_model(None))
    model.graph.initializer.append(weight)
    return model.SerializeToString()


def dangling_output() -> bytes:
    return graph_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 3])], [tensor("q", [1, 3])])


def twice_written() -> bytes:
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Sigmoid", ["x"], ["y"])]
    return graph_model(nodes, [tensor("x", [1, 3])], [tensor("y", [1, 3])])


def wrong_attribute_type() -> bytes:
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1.5, 1.5, 1.5, 1.5])
    return graph_model([node], [tensor("x", [1, 3, 8, 8])], [tensor("y", None)], [floats("w", WEIGHT)])


def empty_graph() -> bytes:
    model = helper.make_model(helper.make_graph([], "empty", [], []), opset_imports=[helper.make_opsetid("", 13)])
    return model.SerializeToString()


def damaged_names() -> bytes:
    """A node name that is not UTF-8 (protobuf's Python API refuses to write one: patch the bytes)."""
    marker = b"ZZZZZZZZ"
    model = load(conv_model())
    model.graph.node[0].name = marker.decode()
    return model.SerializeToString().replace(marker, b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8")


def infinite_gemm_weight() -> bytes:
    weight = np.ones((4, 3), np.float32)
    weight[1, 2] = np.inf
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)
    return graph_model([node], [tensor("x", [1, 3])], [tensor("y", None)], [floats("w", weight)])


def tflite_huge() -> bytes:
    from tests.tflite.writer import ModelBuilder

    mb = ModelBuilder()
    x = mb.tensor("x", (1, 100_000, 100_000, 8), "int8", scale=0.1, zero_point=0)
    y = mb.tensor("y", (1, 100_000, 100_000, 8), "int8", scale=0.1, zero_point=0)
    mb.op("RELU", [x], [y])
    return mb.build([x], [y])


def tflite_float() -> bytes:
    from tests.tflite.writer import ModelBuilder

    mb = ModelBuilder()
    x = mb.tensor("x", (1, 4), "float32")
    y = mb.tensor("y", (1, 4), "float32")
    mb.op("RELU", [x], [y])
    return mb.build([x], [y])


def with_attribute(data: bytes, op: str, name: str, value, index: int = 0) -> bytes:
    """``data`` with attribute ``name`` of the ``index``-th ``op`` node set to ``value`` (bytes for strings)."""
    model = load(data)
    node = [n for n in model.graph.node if n.op_type == op][index]
    for attr in node.attribute:
        if attr.name == name:
            if attr.type == onnx.AttributeProto.STRING:
                attr.s = value
            else:
                attr.i = value
            break
    else:
        node.attribute.append(helper.make_attribute(name, value))
    return model.SerializeToString()


def _set_nan(array: np.ndarray) -> None:
    array.flat[5] = np.nan


def _set_inf(array: np.ndarray) -> None:
    array.flat[0] = np.inf


CASES: list[Case] = [
    # not a model at all
    Case("garbage", lambda: b"\x00\x01 certainly not a model", InvalidModelError, ("not a readable ONNX model",)),
    Case("empty-graph", empty_graph, InvalidModelError, ("does not hold an ONNX model",)),
    Case("truncated", lambda: qdq_cnn()[: len(qdq_cnn()) // 2], InvalidModelError),
    Case("dfg-magic", lambda: b"dfg" + bytes(32), UnsupportedModelError, ("DFG",)),
    Case("damaged-utf8-names", damaged_names, InvalidModelError, ("UTF-8",)),
    Case("damaged-utf8-attribute",
         lambda: with_attribute(graph_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", auto_pad="VALID")],
                                            [tensor("x", [1, 3, 8, 8])], [tensor("y", None)], [floats("w", WEIGHT)]),
                                "Conv", "auto_pad", b"\x80ALID"),
         InvalidModelError, ("attribute 'auto_pad'", "UTF-8")),
    # malformed graphs
    Case("cycle", cycle, InvalidModelError, ("cycle", "'b'")),
    Case("missing-initializer", lambda: conv_model(None), InvalidModelError, ("'w'", "missing initializer")),
    Case("dangling-output", dangling_output, InvalidModelError, ("'q'",)),
    Case("written-twice", twice_written, InvalidModelError, ("'y'",)),
    Case("wrong-attribute-type", wrong_attribute_type, InvalidModelError, ("pads",)),
    Case("short-raw-data", short_raw_data, InvalidModelError, ("name: w", "raw_data")),
    Case("axis-out-of-range", lambda: with_attribute(qdq_cnn(), "Concat", "axis", 4), InvalidModelError,
         ("Concat node", "axis 4 is out of range")),
    Case("per-channel-scales-on-the-wrong-axis", lambda: with_attribute(qdq_cnn(), "DequantizeLinear", "axis", 3, 1),
         InvalidModelError, ("8 scales along axis 3", "(8,)")),
    # what the compiler does not take
    Case("unknown-domain", lambda: graph_model([helper.make_node("Swish", ["x"], ["y"], domain="com.acme")],
                                               [tensor("x", [1, 3])], [tensor("y", None)], domains=("com.acme",)),
         UnsupportedModelError, ("com.acme", "Swish")),
    Case("unknown-microsoft-operator",
         lambda: graph_model([helper.make_node("FusedGemm", ["x", "x"], ["y"], domain="com.microsoft")],
                             [tensor("x", [3, 3])], [tensor("y", None)], domains=("com.microsoft",)),
         UnsupportedModelError, ("FusedGemm",)),
    Case("opset-99", lambda: graph_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 3])],
                                         [tensor("y", None)], opset=99), UnsupportedModelError, ("opset 99",)),
    Case("control-flow", control_flow, UnsupportedModelError, ("control flow",)),
    Case("data-dependent-shape",
         lambda: graph_model([helper.make_node("NonZero", ["x"], ["y"], name="nz")], [tensor("x", [2, 3])],
                             [tensor("y", None, TensorProto.INT64)]),
         UnsupportedModelError, ("NonZero", "'nz'", "static shapes")),
    Case("no-outputs", lambda: graph_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 3])], []),
         InvalidModelError, ("no graph outputs",)),
    # shapes
    Case("dynamic-channel", lambda: relu_model([1, "channels"]), UnsupportedModelError,
         ("'x'", "'channels'", "axis 1")),
    Case("no-shape", lambda: relu_model(None), UnsupportedModelError, ("static shape", "'x'")),
    Case("zero-sized-input", lambda: conv_model(input_shape=(1, 3, 0, 8)), UnsupportedModelError,
         ("'x'", "dimension 0", "axis 2")),
    Case("negative-dimension", lambda: relu_model([1, -3]), UnsupportedModelError, ("'x'", "-3")),
    Case("zero-sized-output",
         lambda: graph_model([helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], [tensor("x", [1, 4])],
                             [tensor("y", None)], [ints("s", [2]), ints("e", [2]), ints("a", [1])]),
         UnsupportedModelError, ("'y'", "no elements")),
    Case("huge-input", lambda: relu_model([1, 3, 100_000, 100_000]), UnsupportedModelError, ("'x'", "16 GiB")),
    Case("astronomic-dimensions", lambda: relu_model([2**62, 2**62]), UnsupportedModelError, ("16 GiB",)),
    Case("huge-expand", lambda: huge_by_operator("Expand"), UnsupportedModelError, ("'y'", "16 GiB")),
    Case("huge-constant-of-shape", lambda: huge_by_operator("ConstantOfShape"), UnsupportedModelError,
         ("'c'", "16 GiB")),
    Case("tflite-huge", tflite_huge, UnsupportedModelError, ("16 GiB",)),
    # damaged weights and calibration
    Case("nan-weight-float", lambda: replace_initializer(float_cnn(), conv_weight, _set_nan), InvalidModelError,
         ("NaN", "w_1")),
    Case("inf-weight-float", infinite_gemm_weight, InvalidModelError, ("infinite", "'w'", "Gemm")),
    Case("nan-weight-calibrated", lambda: replace_initializer(calibrated_cnn(), conv_weight, _set_nan),
         InvalidModelError, ("NaN",)),
    Case("inf-bias-calibrated", lambda: replace_initializer(calibrated_cnn(), conv_bias, _set_inf),
         InvalidModelError, ("infinite",)),
    Case("nan-scale-qdq", lambda: replace_initializer(qdq_cnn(), lambda a: a.dtype == np.float32 and a.size > 1,
                                                      _set_nan), InvalidModelError, ("scale", "finite")),
    Case("nan-calibration-range", lambda: with_range("input", (float("nan"), 1.0)), InvalidModelError,
         ("'input'", "not finite")),
    Case("infinite-calibration-range", lambda: with_range("input", (0.0, float("inf"))), InvalidModelError,
         ("'input'", "not finite")),
    Case("inverted-calibration-range", lambda: with_range("input", (2.0, 1.0)), InvalidModelError,
         ("'input'", "minimum above its maximum")),
    Case("malformed-calibration-metadata",
         lambda: with_metadata(calibrated_cnn(), "FurisoaAI.CalibrationResult", "input: [unclosed"),
         InvalidModelError, ("calibration metadata", "YAML")),
    Case("tflite-float", tflite_float, UnsupportedModelError, ("float32",)),
    Case("tflite-truncated", lambda: tflite_network()[: len(tflite_network()) // 3], InvalidModelError, ("TFLite",)),
]
