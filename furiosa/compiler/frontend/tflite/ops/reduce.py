"""MEAN over constant axes (a global average pooling when it reduces height and width)."""
from __future__ import annotations

from ..model import OperatorInfo
from ..translate import Translator, normalize_axis, operator


@operator("MEAN")
def mean(t: Translator, op: OperatorInfo) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    t.same_type(op, x, y)
    shape = t.shape(x)
    axes = []
    for a in t.constant(op, 1, "axes").reshape(-1):
        axis = normalize_axis(int(a), len(shape), op)
        if axis not in axes:
            axes.append(axis)
    keep = bool(op.options.get("keep_dims"))
    expected = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else \
        tuple(d for i, d in enumerate(shape) if i not in axes)
    if expected != t.shape(y):
        raise t.invalid(op, f"reduces {list(shape)} over axes {axes} to {list(expected)}, but declares "
                            f"{list(t.shape(y))}")
    spatial = len(shape) == 4 and sorted(axes) == [1, 2]
    attrs = {"data_axes": sorted(axes), "keep_dims": keep, "onnx_op": "GlobalAveragePool" if spatial else "ReduceMean"}
    t.add(op, "tflite_mean", [x], [y], attrs, "LowLevelAvgPool" if spatial else "LowLevelReduceMean")
