"""Data movement: RESHAPE, SQUEEZE, EXPAND_DIMS, CONCATENATION, PAD, PADV2, TRANSPOSE, SLICE,
STRIDED_SLICE, DEPTH_TO_SPACE, SPACE_TO_DEPTH and RESIZE_NEAREST_NEIGHBOR.

TFLite moves the 8-bit integers unchanged (the converter gives such outputs their input's
parameters); only CONCATENATION rescales uint8 inputs whose parameters differ from the output's.
Shapes, axes, paddings and slice bounds must be constants of the model.
"""
from __future__ import annotations

import numpy as np

from ....ir import Graph, Node, Value
from ....partition import place
from ..model import OperatorInfo
from ..translate import Translator, nchw_axis, nchw_order, normalize_axis, operator


def _same_integers(t: Translator, op: OperatorInfo, x: str, y: str) -> None:
    t.same_type(op, x, y)


@operator("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(t: Translator, op: OperatorInfo) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    _same_integers(t, op, x, y)
    if int(np.prod(t.shape(x), dtype=np.int64)) != int(np.prod(t.shape(y), dtype=np.int64)):
        raise t.invalid(op, f"reshapes {list(t.shape(x))} into {list(t.shape(y))}: the sizes differ")
    onnx_op = {"RESHAPE": "Reshape", "SQUEEZE": "Squeeze", "EXPAND_DIMS": "Unsqueeze"}[op.name]
    t.add(op, "tflite_reshape", [x], [y], {"shape": list(t.shape(y)), "onnx_op": onnx_op}, "LowLevelReshape")


@operator("CONCATENATION")
def concatenation(t: Translator, op: OperatorInfo) -> None:
    inputs = [t.data(op, i) for i in range(len(op.inputs))]
    y = t.output(op)
    t.same_type(op, y, *inputs)
    if t.activation(op) != "NONE":
        raise t.unsupported(op, "has a fused activation; quantized CONCATENATION supports NONE")
    rank = len(t.shape(y))
    axis = normalize_axis(int(op.options.get("axis", 0)), rank, op)
    qp_y = t.qp(y)
    for name in inputs:
        qp = t.qp(name)
        if len(t.shape(name)) != rank:
            raise t.invalid(op, f"concatenates tensors of ranks {[len(t.shape(n)) for n in inputs]}")
        if qp.dtype == "int8" and (qp.scale, qp.zero_point) != (qp_y.scale, qp_y.zero_point):
            raise t.unsupported(op, "concatenates int8 tensors with different quantization parameters; TFLite "
                                    "requires int8 inputs quantized like the output")
    expected = list(t.shape(inputs[0]))
    expected[axis] = sum(t.shape(n)[axis] for n in inputs)
    for name in inputs:
        others = [d for i, d in enumerate(t.shape(name)) if i != axis]
        if others != [d for i, d in enumerate(expected) if i != axis]:
            raise t.invalid(op, f"concatenates tensors of shapes {[list(t.shape(n)) for n in inputs]} along axis {axis}")
    t.expect_shape(op, y, tuple(expected))
    attrs = {"data_axis": axis, "axis": nchw_axis(axis, rank), "onnx_op": "Concat"}
    t.add(op, "tflite_concat", inputs, [y], attrs, "LowLevelConcat")


@operator("PAD", "PADV2")
def pad(t: Translator, op: OperatorInfo) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    _same_integers(t, op, x, y)
    rank = len(t.shape(x))
    paddings = t.constant(op, 1, "paddings").astype(np.int64).reshape(-1, 2)
    if paddings.shape[0] != rank or (paddings < 0).any():
        raise t.invalid(op, f"has paddings {paddings.tolist()} for a rank-{rank} tensor")
    expected = tuple(int(d + a + b) for d, (a, b) in zip(t.shape(x), paddings))
    if expected != t.shape(y):
        raise t.invalid(op, f"pads {list(t.shape(x))} to {list(expected)}, but declares {list(t.shape(y))}")
    value = t.qp(y).zero_point[0]
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        constant = t.tensor(op.inputs[2])
        if not constant.is_const or constant.type != t.qp(y).dtype:
            raise t.unsupported(op, "has a padding value that is not a constant of the output's type")
        value = int(np.asarray(constant.data).reshape(-1)[0])
    onnx_pads = nchw_order(paddings[:, 0].tolist()) + nchw_order(paddings[:, 1].tolist())
    attrs = {"paddings": paddings.tolist(), "value": int(value), "pads": onnx_pads, "onnx_op": "Pad"}
    t.add(op, "tflite_pad", [x], [y], attrs, "LowLevelPad")


@operator("TRANSPOSE")
def transpose(t: Translator, op: OperatorInfo) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    _same_integers(t, op, x, y)
    rank = len(t.shape(x))
    perm = [normalize_axis(int(p), rank, op, "permutation entry") for p in t.constant(op, 1, "permutation").reshape(-1)]
    if sorted(perm) != list(range(rank)) or tuple(t.shape(x)[p] for p in perm) != t.shape(y):
        raise t.invalid(op, f"has the permutation {perm} for {list(t.shape(x))} -> {list(t.shape(y))}")
    t.add(op, "tflite_transpose", [x], [y], {"perm": perm, "onnx_op": "Transpose"}, "LowLevelTranspose")


def _slice_node(t: Translator, op: OperatorInfo, x: str, y: str, slices: list[tuple[int, int, int]]) -> None:
    shape = t.shape(x)
    whole = np.lib.stride_tricks.as_strided(np.zeros(1, np.bool_), shape, (0,) * len(shape))  # no allocation
    probe = whole[tuple(slice(a, b, c) for a, b, c in slices)]
    if probe.size != int(np.prod(t.shape(y), dtype=np.int64)) or probe.size == 0:
        raise t.invalid(op, f"slices {probe.shape} out of {list(shape)} but declares {list(t.shape(y))}")
    onnx_slices = nchw_order([list(s) for s in slices])
    attrs = {"data_slices": [list(s) for s in slices], "slices": onnx_slices, "onnx_op": "Slice"}
    # The Warboy table judges a slice on the NCHW view of the tensor: place it on that view.
    view = Graph()
    view.add_value(Value("x", tuple(nchw_order(list(shape))), "int8"))
    placement = place(view, Node("tflite_slice", ["x"], ["y"], attrs), 1)
    t.add(op, "tflite_slice", [x], [y], attrs, "LowLevelSlice", unit=placement.unit, reason=placement.reason)


@operator("SLICE")
def slice_(t: Translator, op: OperatorInfo) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    _same_integers(t, op, x, y)
    shape = t.shape(x)
    begin = t.constant(op, 1, "begin").astype(np.int64).reshape(-1)
    size = t.constant(op, 2, "size").astype(np.int64).reshape(-1)
    if len(begin) != len(shape) or len(size) != len(shape):
        raise t.invalid(op, f"has begin {begin.tolist()} and size {size.tolist()} for shape {list(shape)}")
    slices = []
    for dim, b, s in zip(shape, begin, size):
        end = dim if s == -1 else int(b + s)
        if not 0 <= b <= end <= dim:
            raise t.invalid(op, f"slices [{b}, {end}) out of an axis of size {dim}")
        slices.append((int(b), int(end), 1))
    _slice_node(t, op, x, y, slices)


@operator("STRIDED_SLICE")
def strided_slice(t: Translator, op: OperatorInfo) -> None:
    options = op.options
    if options.get("ellipsis_mask") or options.get("new_axis_mask") or options.get("offset"):
        raise t.unsupported(op, "uses ellipsis_mask, new_axis_mask or offset; begin_mask, end_mask and "
                                "shrink_axis_mask are supported")
    x = t.data(op, 0)
    y = t.output(op)
    _same_integers(t, op, x, y)
    shape = t.shape(x)
    begin = t.constant(op, 1, "begin").astype(np.int64).reshape(-1)
    end = t.constant(op, 2, "end").astype(np.int64).reshape(-1)
    strides = t.constant(op, 3, "strides").astype(np.int64).reshape(-1)
    if not len(begin) == len(end) == len(strides) <= len(shape) or (strides == 0).any():
        raise t.invalid(op, f"has begin {begin.tolist()}, end {end.tolist()}, strides {strides.tolist()} "
                            f"for shape {list(shape)}")
    begin_mask, end_mask = int(options.get("begin_mask", 0)), int(options.get("end_mask", 0))
    shrink = int(options.get("shrink_axis_mask", 0))
    slices = []
    for axis, dim in enumerate(shape):
        if axis >= len(begin):
            slices.append((0, dim, 1))
            continue
        step = int(strides[axis])
        b, e = int(begin[axis]), int(end[axis])
        if shrink >> axis & 1:
            b = b + dim if b < 0 else b
            slices.append((b, b + 1, 1))
            continue
        start = None if begin_mask >> axis & 1 else b
        stop = None if end_mask >> axis & 1 else e
        bounds = slice(start, stop, step).indices(dim)
        slices.append((bounds[0], bounds[1] if bounds[1] >= 0 else None, step))
    _slice_node(t, op, x, y, slices)


def _block(t: Translator, op: OperatorInfo, kernel: str, onnx_op: str, display: str) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    _same_integers(t, op, x, y)
    b = int(op.options.get("block_size", 0))
    n, h, w, c = t.shape(x) if len(t.shape(x)) == 4 else (0, 0, 0, 0)
    if op.name == "DEPTH_TO_SPACE":
        expected = (n, h * b, w * b, c // (b * b)) if b > 0 and c % (b * b) == 0 else None
    else:
        expected = (n, h // b, w // b, c * b * b) if b > 0 and h % b == 0 and w % b == 0 else None
    if expected is None or expected != t.shape(y):
        raise t.invalid(op, f"with block size {b} cannot map {list(t.shape(x))} to {list(t.shape(y))}")
    attrs = {"block_size": b, "blocksize": b, "mode": "DCR", "onnx_op": onnx_op}
    t.add(op, kernel, [x], [y], attrs, display)


@operator("DEPTH_TO_SPACE")
def depth_to_space(t: Translator, op: OperatorInfo) -> None:
    _block(t, op, "tflite_depth_to_space", "DepthToSpace", "LowLevelDepthToSpace")


@operator("SPACE_TO_DEPTH")
def space_to_depth(t: Translator, op: OperatorInfo) -> None:
    _block(t, op, "tflite_space_to_depth", "SpaceToDepth", "LowLevelSpaceToDepth")


def _resize(t: Translator, op: OperatorInfo, kernel: str, mode: str) -> None:
    """RESIZE_*: NHWC input, constant (height, width), TFLite's two coordinate options."""
    x = t.data(op, 0)
    y = t.output(op)
    _same_integers(t, op, x, y)
    size = [int(v) for v in t.constant(op, 1, "size").reshape(-1)]
    shape = t.shape(x)
    if len(shape) != 4 or len(size) != 2 or t.shape(y) != (shape[0], size[0], size[1], shape[3]):
        raise t.invalid(op, f"resizes {list(shape)} to {size} but declares {list(t.shape(y))}")
    align, half = bool(op.options.get("align_corners")), bool(op.options.get("half_pixel_centers"))
    if align and half and mode == "linear":
        raise t.invalid(op, "sets both align_corners and half_pixel_centers")
    attrs = {"align_corners": align, "half_pixel_centers": half, "mode": mode, "onnx_op": "Resize"}
    t.add(op, kernel, [x], [y], attrs, "LowLevelResize")


@operator("RESIZE_NEAREST_NEIGHBOR")
def resize_nearest(t: Translator, op: OperatorInfo) -> None:
    _resize(t, op, "tflite_resize_nearest", "nearest")


@operator("RESIZE_BILINEAR")
def resize_bilinear(t: Translator, op: OperatorInfo) -> None:
    _resize(t, op, "tflite_resize_bilinear", "linear")
