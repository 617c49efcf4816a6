"""ONNX models into the compiler's graph.

Reading checks what a user can get wrong (not an ONNX file, truncated bytes, missing external
data, opsets out of range, dynamic shapes) and says so in one sentence. Translation keeps float
operators as ``onnx`` nodes and turns QuantizeLinear / DequantizeLinear into ``quantize`` /
``dequantize`` nodes. QOperator nodes (``QLinearConv``, ``QLinearMatMul`` and the
``com.microsoft`` QLinear family) are expanded into the equivalent dequantize → float op →
quantize chain; the fusion pass (:mod:`furiosa.compiler.passes.fuse_qdq`) then builds NPU
operators from every such chain, so QOperator, QDQ and calibrated models share one path.
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from furiosa.common import onnxrt
from furiosa.common.errors import InvalidModelError, UnsupportedModelError
from furiosa.common.qmath import QParams, from_declared

from ..ir import Graph, Node, Value, shape_text

log = logging.getLogger(__name__)

MIN_OPSET, MAX_OPSET = 8, 21
ONNX_DOMAINS = ("", "ai.onnx")
MS_DOMAIN = "com.microsoft"


def np_dtype(elem_type: int) -> str:
    try:
        return str(np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)))
    except (KeyError, TypeError, ValueError):
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() else elem_type
        raise UnsupportedModelError(f"tensor element type {name} is not supported") from None


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    """The attributes of an ONNX node as Python values (strings decoded)."""
    out: dict[str, Any] = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode() for v in value]
        out[attr.name] = value
    return out


# --- reading ---------------------------------------------------------------------------------
def read_model(data: bytes, origin: str = "<bytes>", base_dir: Path | None = None) -> onnx.ModelProto:
    """Parse ONNX bytes and load external data; raise a one-line error for bad input."""
    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # protobuf raises DecodeError or RuntimeWarning-based errors
        raise InvalidModelError(
            f"{origin} is not a readable ONNX model ({type(error).__name__}: {error}); "
            "the compiler takes ONNX, TFLite and ENF files"
        ) from None
    if not model.opset_import or (not model.graph.node and not model.graph.output):
        raise InvalidModelError(
            f"{origin} does not hold an ONNX model (no opset import or an empty graph); "
            "the file may be truncated or not a model at all"
        )
    _check_text(model, origin)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        if base_dir is None:
            raise InvalidModelError(
                f"{origin} keeps its weights in external data files, which cannot be found "
                "when the model is given as bytes; pass the model's path instead"
            )
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(base_dir))
        except (OSError, ValueError) as error:
            raise InvalidModelError(f"cannot load the external data of {origin}: {error}") from None
    return model


def _check_text(model: onnx.ModelProto, origin: str) -> None:
    """Every name of the model must be text: damaged files often hold bytes that are not UTF-8
    (protobuf then raises, or hands back ``bytes`` instead of ``str``)."""
    def text(*values: object) -> None:
        for value in values:
            if not isinstance(value, str):
                raise UnicodeDecodeError("utf-8", b"", 0, 1, "not text")

    where = "the graph"
    try:
        graph = model.graph
        for value in list(graph.input) + list(graph.output) + list(graph.value_info):
            where = "a graph input or output"
            text(value.name)
        for tensor in graph.initializer:
            where = "an initializer"
            text(tensor.name)
        for node in graph.node:
            where = "a node"
            text(node.name, node.op_type, node.domain, *node.input, *node.output)
            for attr in node.attribute:
                text(attr.name)
                where = f"attribute {attr.name!r} of node {node.name!r}"
                for value in [attr.s, *attr.strings]:  # decoded by attributes()
                    value.decode("utf-8")
        for entry in model.opset_import:
            text(entry.domain)
        for prop in model.metadata_props:
            where = "the metadata"
            text(prop.key, prop.value)
    except UnicodeDecodeError:
        raise InvalidModelError(
            f"{origin} is damaged: {where} holds text that is not valid UTF-8"
        ) from None


def validate(model: onnx.ModelProto, origin: str) -> None:
    """The ONNX checker's verdict, as a one-line error naming the problem.

    Graph outputs without shape information are legal for onnxruntime (the compiler infers
    them); the checker insists on the field, so it checks a copy where it is filled in.
    """
    checked = model
    # Inputs without a shape are reported by static_inputs, which names them.
    values = list(model.graph.input) + list(model.graph.output)
    if any(not v.type.tensor_type.HasField("shape") for v in values if v.type.HasField("tensor_type")):
        checked = onnx.ModelProto()
        checked.CopyFrom(model)
        for value in list(checked.graph.input) + list(checked.graph.output):
            if value.type.HasField("tensor_type") and not value.type.tensor_type.HasField("shape"):
                value.type.tensor_type.shape.SetInParent()
    try:
        onnx.checker.check_model(checked)
    except UnicodeDecodeError:
        raise InvalidModelError(f"{origin} is damaged: it holds text that is not valid UTF-8") from None
    except onnx.checker.ValidationError as error:
        raise InvalidModelError(f"{origin} is not a valid ONNX model: {_checker_message(str(error))}") from None


def _checker_message(text: str) -> str:
    """The ONNX checker's (multi-line) complaint as one sentence."""
    text = " ".join(text.split())
    unsorted = re.match(r"Nodes in a graph must be topologically sorted, however input '(.*)' of node: "
                        r"name: (.*?) ?OpType: (\S+) is not output of any previous nodes", text)
    if unsorted:
        value, name, op = unsorted.groups()
        node = f"{op} node {name!r}" if name else f"a {op} node"
        return (f"{node} reads {value!r}, which is no graph input, no initializer and no output of an earlier "
                "node (a missing initializer, a misspelt name, or a cycle in the graph)")
    return text or "the model is malformed"


def opset_of(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ONNX_DOMAINS:
            return entry.version
    return MAX_OPSET


def check_model(model: onnx.ModelProto, origin: str) -> None:
    opset = opset_of(model)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UnsupportedModelError(
            f"{origin} uses ONNX opset {opset}; the compiler takes opsets {MIN_OPSET} to {MAX_OPSET} "
            "(furiosa.optimizer.optimize_model can convert a model to opset 13)"
        )
    known = set(ONNX_DOMAINS) | {MS_DOMAIN}
    for node in model.graph.node:
        if node.domain not in known:
            raise UnsupportedModelError(
                f"node {node.name or node.op_type!r} uses operator {node.op_type!r} of domain "
                f"{node.domain!r}; supported domains are the default ONNX domain and com.microsoft"
            )
        if any(attr.type == onnx.AttributeProto.GRAPH or attr.type == onnx.AttributeProto.GRAPHS
               for attr in node.attribute):
            raise UnsupportedModelError(
                f"node {node.name or node.op_type!r} ({node.op_type}) holds a subgraph; control flow "
                "operators (If, Loop, Scan) are not supported"
            )


def static_inputs(model: onnx.ModelProto, warnings: list[str]) -> None:
    """Fix a symbolic first dimension of each input to 1; reject other dynamic dimensions."""
    initializers = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        if not value.type.HasField("tensor_type"):
            raise UnsupportedModelError(f"input {value.name!r} is not a tensor")
        dims = value.type.tensor_type.shape.dim
        if not value.type.tensor_type.HasField("shape"):
            raise UnsupportedModelError(
                f"the static shape of input {value.name!r} is unknown; give the model a fixed input shape "
                "(furiosa.optimizer.optimize_model(model, input_shapes=...) does this)"
            )
        for axis, dim in enumerate(dims):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                continue
            if dim.HasField("dim_value") and axis > 0:
                raise UnsupportedModelError(
                    f"input {value.name!r} has dimension {dim.dim_value} at axis {axis}: every dimension must be "
                    "a positive size (tensors without elements are not supported)"
                )
            label = dim.dim_param or (str(dim.dim_value) if dim.HasField("dim_value") else "?")
            if axis == 0:
                dim.Clear()
                dim.dim_value = 1
                message = f"dynamic batch dimension {label!r} of input {value.name!r} is fixed to 1"
                warnings.append(message)
                log.info(message)
                continue
            raise UnsupportedModelError(
                f"the static shape of input {value.name!r} contains an unsupported dimension value "
                f"{label!r} at axis {axis}; give the model a fixed input shape "
                "(furiosa.optimizer.optimize_model(model, input_shapes=...) does this)"
            )
        check_size(value.name, [d.dim_value for d in dims], value.type.tensor_type.elem_type, "input")


def check_size(name: str, shape: "list[int] | tuple[int, ...]", elem_type: int, what: str = "tensor") -> None:
    """Refuse a tensor larger than the device's DRAM before anything allocates it."""
    from ..memory import DRAM_BYTES

    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 1
    size = math.prod(int(d) for d in shape) * itemsize
    if size > DRAM_BYTES:
        raise UnsupportedModelError(
            f"{what} {name!r} of shape {shape_text(shape)} needs {size / 2**30:.4g} GiB, more than the "
            f"{DRAM_BYTES // 2**30} GiB DRAM of a Warboy device; the model's dimensions are wrong or too large"
        )


# --- shapes ------------------------------------------------------------------------------
def _static(values) -> dict[str, tuple[tuple[int, ...], int]]:
    """Name -> (shape, element type) of the values whose shape is fully known."""
    out = {}
    for value in values:
        tensor = value.type.tensor_type
        if not value.type.HasField("tensor_type") or not tensor.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        if all(d >= 0 for d in dims) and tensor.elem_type:
            out[value.name] = (tuple(dims), tensor.elem_type)
    return out


def _inferred(model: onnx.ModelProto) -> dict[str, tuple[tuple[int, ...], int]]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as error:  # inference itself failed: the model is inconsistent
        raise InvalidModelError(f"the model is inconsistent: {' '.join(str(error).split())}") from None
    return _static(list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output))


def infer_shapes(model: onnx.ModelProto, warnings: list[str] | None = None) -> dict[str, tuple[tuple[int, ...], int]]:
    """Static shape and element type of every value, from ONNX inference or a trial run.

    Shapes are computed from the inputs: what the model declares for other tensors (graph
    outputs, ``value_info``) is used only where inference finds nothing, and a declaration that
    contradicts the computation (e.g. an input's batch edited without the rest) is reported in
    ``warnings`` and ignored, as onnxruntime does, so that the program describes what it produces.
    """
    graph = model.graph
    declared = _static(list(graph.value_info) + list(graph.output))
    saved_info = [onnx.ValueInfoProto.FromString(v.SerializeToString()) for v in graph.value_info]
    saved_outputs = [onnx.TypeProto.FromString(o.type.SerializeToString()) for o in graph.output]
    del graph.value_info[:]
    for output in graph.output:
        if output.type.HasField("tensor_type"):
            output.type.tensor_type.ClearField("shape")
    try:
        known = _inferred(model)  # from the inputs alone
    finally:
        graph.value_info.extend(saved_info)
        for output, kind in zip(graph.output, saved_outputs):
            output.type.CopyFrom(kind)
    wanted = {out for node in graph.node for out in node.output if out} | {o.name for o in graph.output}
    if declared and wanted - set(known):  # declarations may carry inference past operators it cannot see into
        for name, found in _inferred(model).items():
            known.setdefault(name, found)
    contradicted = [(name, found, known[name]) for name, found in declared.items()
                    if name in known and known[name] != found]
    if contradicted and warnings is not None:
        name, (shape, _), (computed, _) = contradicted[0]
        message = (f"{len(contradicted)} tensor shape(s) the model declares disagree with what its operators compute "
                   f"(e.g. {name!r}: declared {shape}, computed {computed}); the computed shapes are used")
        warnings.append(message)
        log.warning(message)
    for init in graph.initializer:
        known[init.name] = (tuple(init.dims), init.data_type)
    for name, (shape, elem) in known.items():  # before the trial run or constant folding allocates them
        check_size(name, shape, elem)
    missing = wanted - set(known)
    if missing:
        found = _shapes_by_running(model, sorted(missing))
        for name, (shape, elem) in found.items():
            check_size(name, shape, elem)
        known.update(found)
    return known


def _shapes_by_running(model: onnx.ModelProto, names: list[str]) -> dict[str, tuple[tuple[int, ...], int]]:
    """Shapes ONNX inference left unknown, taken from one onnxruntime run on zeros."""

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    for name in names:
        if name not in existing:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    initializers = {t.name for t in model.graph.initializer}
    feeds = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape = [d.dim_value for d in tensor.shape.dim]
        feeds[value.name] = np.zeros(shape, dtype=np.dtype(np_dtype(tensor.elem_type)))
    try:
        session = onnxrt.session(probe)
        results = session.run(names, feeds)
    except Exception as error:
        raise UnsupportedModelError(
            f"cannot determine the static shapes of {', '.join(names[:3])}"
            f"{' ...' if len(names) > 3 else ''}: {error}"
        ) from None
    out = {}
    for name, array in zip(names, results):
        array = np.asarray(array)
        out[name] = (tuple(array.shape), helper.np_dtype_to_tensor_dtype(array.dtype))
    return out


# --- translation ---------------------------------------------------------------------------
class _Builder:
    def __init__(self, model: onnx.ModelProto, shapes: dict[str, tuple[tuple[int, ...], int]]) -> None:
        self.model = model
        self.shapes = shapes
        self.graph = Graph(opset_of(model))
        self.graph.metadata = {p.key: p.value for p in model.metadata_props}

    def value(self, name: str) -> Value:
        if name in self.graph.values:
            return self.graph.values[name]
        if name not in self.shapes:
            raise UnsupportedModelError(f"the shape of tensor {name!r} could not be determined")
        shape, elem = self.shapes[name]
        return self.graph.add_value(Value(name, tuple(shape), np_dtype(elem)))

    def const_value(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        self.graph.add_value(Value(name, tuple(array.shape), str(array.dtype), const=array))

    def new_value(self, base: str, shape: tuple[int, ...], dtype: str, qparams: QParams | None = None) -> str:
        name = self.graph.fresh(base)
        self.graph.add_value(Value(name, tuple(shape), dtype, qparams))
        return name

    def constant_of(self, name: str, node: onnx.NodeProto) -> np.ndarray:
        array = self.graph.const(name) if name else None
        if array is None:
            raise UnsupportedModelError(
                f"{node.op_type} node {node.name!r} needs constant quantization parameters; "
                f"{name!r} is computed at run time"
            )
        return array

    # QuantizeLinear / DequantizeLinear -----------------------------------------------------
    def qparams_of(self, node: onnx.NodeProto, scale: str, zp: str, shape: tuple[int, ...], axis_attr: int,
                   default_dtype: str = "uint8") -> QParams:
        scale_a = self.constant_of(scale, node).astype(np.float32)
        if zp:
            zp_a = self.constant_of(zp, node)
            dtype = str(zp_a.dtype)
        else:
            zp_a, dtype = np.zeros(1, dtype=np.int64), default_dtype
        if dtype not in ("int8", "uint8", "int32"):
            raise UnsupportedModelError(
                f"{node.op_type} node {node.name!r} uses {dtype} quantization; int8, uint8 and int32 are supported"
            )
        axis = None
        if scale_a.size > 1:
            rank = len(shape)
            axis = axis_attr if axis_attr >= 0 else axis_attr + rank
            if not 0 <= axis < rank or shape[axis] != scale_a.size:
                raise InvalidModelError(
                    f"{node.op_type} node {node.name!r} has {scale_a.size} scales along axis {axis_attr}, but the "
                    f"tensor it quantizes has shape {tuple(shape)}"
                )
        if zp_a.size not in (1, scale_a.size):
            raise UnsupportedModelError(
                f"{node.op_type} node {node.name!r} has {scale_a.size} scales but {zp_a.size} zero points"
            )
        try:
            return QParams.make(scale_a, zp_a, dtype, axis)
        except ValueError as error:
            raise InvalidModelError(f"{node.op_type} node {node.name!r} has invalid quantization parameters: {error}") from None

    def add_quantize(self, x: str, y: str, qp: QParams, name: str, origin: tuple[str, ...]) -> None:
        shape = self.value(x).shape
        self.graph.add_value(Value(y, shape, "int8", qp, source=x))
        self.graph.add_node(Node("quantize", [x], [y], name=name, origin=origin))

    def add_dequantize(self, q: str, y: str, qp: QParams, name: str, origin: tuple[str, ...]) -> None:
        source = self.graph.values.get(q) or self.value(q)
        if source.is_const:
            stored = source.const if qp.dtype == "int32" else from_declared(source.const, qp)
            source = Value(q, source.shape, "int32" if qp.dtype == "int32" else "int8", qp, stored)
            self.graph.values[q] = source
        elif source.qparams is None:
            # A raw 8-bit graph input: the consumer tells what its integers mean.
            source.qparams = qp
        elif source.qparams != qp:
            retagged = self.new_value(q + "_as", source.shape, source.dtype, qp)
            self.graph.add_node(Node("retag", [q], [retagged], name=name + "_retag", origin=origin))
            q = retagged
        self.graph.add_value(Value(y, source.shape, "float32"))
        self.graph.add_node(Node("dequantize", [q], [y], name=name, origin=origin))

    def translate(self) -> Graph:
        g = self.model.graph
        initializers = {t.name for t in g.initializer}
        for tensor in g.initializer:
            self.const_value(tensor.name, numpy_helper.to_array(tensor))
        for value in g.input:
            if value.name not in initializers:
                self.value(value.name)
                self.graph.inputs.append(value.name)
        for node in g.node:
            self.translate_node(node)
        self.graph.outputs = [o.name for o in g.output]
        for name in self.graph.outputs:
            self.value(name)
        self.graph.input_names = list(self.graph.inputs)
        self.graph.output_names = list(self.graph.outputs)
        return self.graph

    def translate_node(self, node: onnx.NodeProto) -> None:
        attrs = attributes(node)
        name = node.name or f"{node.op_type}_{len(self.graph.nodes)}"
        origin = (name,)
        ins = list(node.input)
        op = node.op_type
        if op == "Constant" and node.domain in ONNX_DOMAINS:
            self.const_value(node.output[0], _constant_value(node))
            return
        if op == "QuantizeLinear" and node.domain in ONNX_DOMAINS:
            shape = self.value(ins[0]).shape
            qp = self.qparams_of(node, ins[1], ins[2] if len(ins) > 2 else "", shape, attrs.get("axis", 1),
                                 _output_dtype(attrs))
            self.add_quantize(ins[0], node.output[0], qp, name, origin)
            return
        if op == "DequantizeLinear" and node.domain in ONNX_DOMAINS:
            shape = self.value(ins[0]).shape
            qp = self.qparams_of(node, ins[1], ins[2] if len(ins) > 2 else "", shape, attrs.get("axis", 1),
                                 str(self.value(ins[0]).dtype))
            self.add_dequantize(ins[0], node.output[0], qp, name, origin)
            return
        expand = _QOPERATOR.get((node.domain if node.domain != "ai.onnx" else "", op))
        if expand is not None:
            expand(self, node, attrs, name)
            return
        for out in node.output:
            if out:
                self.value(out)
        self.graph.add_node(Node("onnx", ins, list(node.output), {"node": node}, name=name, origin=origin))

    # QOperator expansion --------------------------------------------------------------------
    def dq(self, q: str, scale: str, zp: str, node: onnx.NodeProto, name: str, axis: int = 1) -> str:
        qp = self.qparams_of(node, scale, zp, self.value(q).shape, axis, str(self.value(q).dtype))
        out = self.graph.fresh(q + "_dequantized")
        self.add_dequantize(q, out, qp, f"{name}/dequantize_{q}", (name,))
        return out

    def q(self, x: str, scale: str, zp: str, y: str, node: onnx.NodeProto, name: str) -> None:
        qp = self.qparams_of(node, scale, zp, self.value(x).shape, 1)
        self.add_quantize(x, y, qp, f"{name}/quantize", (name,))

    def float_node(self, op_type: str, inputs: list[str], shape: tuple[int, ...], name: str,
                   attrs: dict[str, Any], out: str | None = None) -> str:
        out = out or self.new_value(name + "_float", shape, "float32")
        if out not in self.graph.values:
            self.graph.add_value(Value(out, shape, "float32"))
        proto = helper.make_node(op_type, inputs, [out], name=name, **attrs)
        self.graph.add_node(Node("onnx", inputs, [out], {"node": proto}, name=name, origin=(name,)))
        return out


def _output_dtype(attrs: dict[str, Any]) -> str:
    code = attrs.get("output_dtype")
    return np_dtype(code) if code else "uint8"


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    value = helper.get_attribute_value(attr)
    if attr.name in ("value_float", "value_int"):
        return np.asarray(value, dtype=np.float32 if attr.name == "value_float" else np.int64)
    if attr.name in ("value_floats", "value_ints"):
        return np.asarray(value, dtype=np.float32 if attr.name == "value_floats" else np.int64)
    raise UnsupportedModelError(f"Constant node {node.name!r} uses unsupported attribute {attr.name!r}")


def _qlinear_conv(b: _Builder, node: onnx.NodeProto, attrs: dict[str, Any], name: str) -> None:
    x, xs, xz, w, ws, wz, ys, yz = (list(node.input) + [""] * 9)[:8]
    bias = node.input[8] if len(node.input) > 8 else ""
    xf = b.dq(x, xs, xz, node, name)
    wf = b.dq(w, ws, wz, node, name, axis=0)
    inputs = [xf, wf]
    if bias:
        bias_scale = (b.constant_of(xs, node).astype(np.float32) * b.constant_of(ws, node).astype(np.float32))
        bias_scale = np.asarray(bias_scale, dtype=np.float32).reshape(-1)
        scale_name = b.graph.add_const(name + "_bias_scale", bias_scale)
        inputs.append(b.dq(bias, scale_name, "", node, name, axis=0))
    conv_out = b.float_node("Conv", inputs, b.value(node.output[0]).shape, name + "/conv", attrs)
    b.q(conv_out, ys, yz, node.output[0], node, name)


def _qlinear_matmul(b: _Builder, node: onnx.NodeProto, attrs: dict[str, Any], name: str) -> None:
    a, as_, az, bq, bs, bz, ys, yz = node.input
    af = b.dq(a, as_, az, node, name)
    bf = b.dq(bq, bs, bz, node, name, axis=-1)
    mm = b.float_node("MatMul", [af, bf], b.value(node.output[0]).shape, name + "/matmul", {})
    b.q(mm, ys, yz, node.output[0], node, name)


def _ms_binary(op_type: str):
    def expand(b: _Builder, node: onnx.NodeProto, attrs: dict[str, Any], name: str) -> None:
        a, as_, az, c, cs, cz, ys, yz = (list(node.input) + [""] * 8)[:8]
        af = b.dq(a, as_, az, node, name)
        cf = b.dq(c, cs, cz, node, name)
        out = b.float_node(op_type, [af, cf], b.value(node.output[0]).shape, f"{name}/{op_type.lower()}", {})
        b.q(out, ys, yz, node.output[0], node, name)
    return expand


def _ms_unary(op_type: str, keep: tuple[str, ...] = ()):
    def expand(b: _Builder, node: onnx.NodeProto, attrs: dict[str, Any], name: str) -> None:
        x, xs, xz, ys, yz = (list(node.input) + [""] * 5)[:5]
        xf = b.dq(x, xs, xz, node, name)
        kept = {k: v for k, v in attrs.items() if k in keep}
        out = b.float_node(op_type, [xf], b.value(node.output[0]).shape, f"{name}/{op_type.lower()}", kept)
        b.q(out, ys, yz, node.output[0], node, name)
    return expand


def _ms_pool(op_type: str):
    def expand(b: _Builder, node: onnx.NodeProto, attrs: dict[str, Any], name: str) -> None:
        x, xs, xz, ys, yz = (list(node.input) + [""] * 5)[:5]
        if attrs.get("channels_last"):
            raise UnsupportedModelError(f"{node.op_type} node {name!r} with channels_last=1 is not supported")
        xf = b.dq(x, xs, xz, node, name)
        kept = {k: v for k, v in attrs.items() if k != "channels_last"}
        out = b.float_node(op_type, [xf], b.value(node.output[0]).shape, f"{name}/{op_type.lower()}", kept)
        b.q(out, ys, yz, node.output[0], node, name)
    return expand


def _ms_concat(b: _Builder, node: onnx.NodeProto, attrs: dict[str, Any], name: str) -> None:
    ys, yz = node.input[0], node.input[1]
    rest = list(node.input[2:])
    parts = [b.dq(rest[i], rest[i + 1], rest[i + 2], node, name) for i in range(0, len(rest), 3)]
    out = b.float_node("Concat", parts, b.value(node.output[0]).shape, name + "/concat", {"axis": attrs["axis"]})
    b.q(out, ys, yz, node.output[0], node, name)


_QOPERATOR = {
    ("", "QLinearConv"): _qlinear_conv,
    ("", "QLinearMatMul"): _qlinear_matmul,
    (MS_DOMAIN, "QLinearAdd"): _ms_binary("Add"),
    (MS_DOMAIN, "QLinearMul"): _ms_binary("Mul"),
    (MS_DOMAIN, "QLinearSigmoid"): _ms_unary("Sigmoid"),
    (MS_DOMAIN, "QLinearLeakyRelu"): _ms_unary("LeakyRelu", ("alpha",)),
    (MS_DOMAIN, "QLinearGlobalAveragePool"): _ms_pool("GlobalAveragePool"),
    (MS_DOMAIN, "QLinearAveragePool"): _ms_pool("AveragePool"),
    (MS_DOMAIN, "QLinearConcat"): _ms_concat,
}


# Operators whose output shape depends on the values of their inputs, not only on their shapes.
DATA_DEPENDENT_SHAPES = frozenset({"NonZero", "Unique", "Compress", "NonMaxSuppression", "StringSplit"})


def to_graph(model: onnx.ModelProto, origin: str = "<bytes>") -> Graph:
    """Translate a checked ONNX model into a :class:`Graph` with static shapes."""
    check_model(model, origin)
    validate(model, origin)
    warnings: list[str] = []
    static_inputs(model, warnings)
    if not model.graph.output:
        raise InvalidModelError(f"{origin} has no graph outputs: there is nothing to compute")
    for node in model.graph.node:  # before the shapes: a trial run would fail on them less clearly
        if node.domain in ("", "ai.onnx") and node.op_type in DATA_DEPENDENT_SHAPES:
            raise UnsupportedModelError(
                f"{node.op_type} (node {node.name!r}) produces a tensor whose shape depends on the input values; "
                "the NPU runs static shapes only (remove it from the model or run it after the NPU part)"
            )
        if node.domain == MS_DOMAIN and (node.domain, node.op_type) not in _QOPERATOR:
            raise UnsupportedModelError(
                f"com.microsoft operator {node.op_type!r} (node {node.name!r}) is not supported; "
                f"supported: {', '.join(sorted(op for _, op in _QOPERATOR if _ == MS_DOMAIN))}"
            )
    shapes = infer_shapes(model, warnings)
    for output in model.graph.output:
        shape = shapes.get(output.name, ((1,), 0))[0]
        if 0 in shape:
            raise UnsupportedModelError(
                f"output {output.name!r} has shape {shape}, with no elements; tensors without elements are "
                "not supported"
            )
    graph = _Builder(model, shapes).translate()
    check_constants(graph, origin)
    graph.warnings.extend(warnings)
    return graph


#: operators whose constant operands are weights: they must be finite
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def check_constants(graph: Graph, origin: str) -> None:
    """Refuse damaged weights: NaN in any float constant, infinities in the weights of MAC operators.

    Infinities elsewhere are kept (float models use ``-inf`` masks, e.g. in attention).
    """
    for name, value in graph.values.items():
        array = value.const
        if array is None or array.dtype.kind != "f" or not array.size or not np.isnan(array).any():
            continue
        raise InvalidModelError(
            f"{origin}: constant {name!r} holds {int(np.isnan(array).sum())} NaN value(s) of {array.size}; "
            "the model's weights are damaged"
        )
    for node in graph.nodes:
        if node.onnx_type not in WEIGHTED_OPS:
            continue
        for name in node.inputs:
            array = graph.const(name) if name else None
            if array is None or array.dtype.kind != "f" or np.isfinite(array).all():
                continue
            raise InvalidModelError(
                f"{origin}: weight {name!r} of {node.describe()} holds {int(np.isinf(array).sum())} infinite "
                f"value(s); the weights of {', '.join(WEIGHTED_OPS)} must be finite"
            )
