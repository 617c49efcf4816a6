"""AVERAGE_POOL_2D and MAX_POOL_2D (windows over NHWC tensors, padding never counted)."""
from __future__ import annotations

from ..model import OperatorInfo
from ..translate import Translator, operator
from .conv import window


def _pool(t: Translator, op: OperatorInfo, kernel: str, onnx_op: str, display: str) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    t.same_type(op, x, y)
    shape, out = t.shape(x), t.shape(y)
    if len(shape) != 4 or len(out) != 4:
        raise t.unsupported(op, f"pools a tensor of shape {list(shape)}; 4-D NHWC tensors are supported")
    kh, kw = int(op.options.get("filter_height", 1)), int(op.options.get("filter_width", 1))
    strides, _, pads = window(t, op, shape[1:3], (kh, kw), out)
    t.expect_shape(op, y, (shape[0], out[1], out[2], shape[3]))
    attrs = {"kernel": [kh, kw], "strides": strides, "pads": pads, "activation": t.activation(op),
             "onnx_op": onnx_op}
    t.add(op, kernel, [x], [y], attrs, display)


@operator("AVERAGE_POOL_2D")
def average_pool(t: Translator, op: OperatorInfo) -> None:
    _pool(t, op, "tflite_avgpool", "AveragePool", "LowLevelAvgPool")


@operator("MAX_POOL_2D")
def max_pool(t: Translator, op: OperatorInfo) -> None:
    _pool(t, op, "tflite_maxpool", "MaxPool", "LowLevelMaxPool")
