"""Element-wise operators: ADD, SUB, MUL, MAXIMUM, MINIMUM (broadcasting), the activation
functions (LOGISTIC, TANH, RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1, LEAKY_RELU) and SOFTMAX."""
from __future__ import annotations

import numpy as np

from ..model import OperatorInfo
from ..translate import Translator, operator


def _broadcastable(t: Translator, op: OperatorInfo, a: str, b: str, y: str) -> None:
    try:
        shape = np.broadcast_shapes(t.shape(a), t.shape(b))
    except ValueError:
        raise t.invalid(op, f"cannot broadcast {list(t.shape(a))} with {list(t.shape(b))}") from None
    if tuple(shape) != t.shape(y):
        raise t.invalid(op, f"broadcasts {list(t.shape(a))} with {list(t.shape(b))} to {list(shape)}, "
                            f"but declares an output of shape {list(t.shape(y))}")


def _binary(t: Translator, op: OperatorInfo, kernel: str, onnx_op: str, display: str, activation: bool = True) -> None:
    a, b = t.data(op, 0), t.data(op, 1)
    y = t.output(op)
    t.same_type(op, a, b, y)
    _broadcastable(t, op, a, b, y)
    attrs = {"activation": t.activation(op) if activation else "NONE", "onnx_op": onnx_op}
    t.add(op, kernel, [a, b], [y], attrs, display)


@operator("ADD")
def add(t: Translator, op: OperatorInfo) -> None:
    _binary(t, op, "tflite_add", "Add", "LowLevelAdd")


@operator("SUB")
def sub(t: Translator, op: OperatorInfo) -> None:
    _binary(t, op, "tflite_sub", "Sub", "LowLevelSub")


@operator("MUL")
def mul(t: Translator, op: OperatorInfo) -> None:
    _binary(t, op, "tflite_mul", "Mul", "LowLevelMul")


@operator("MAXIMUM")
def maximum(t: Translator, op: OperatorInfo) -> None:
    _binary(t, op, "tflite_maximum", "Max", "LowLevelMax", activation=False)


@operator("MINIMUM")
def minimum(t: Translator, op: OperatorInfo) -> None:
    _binary(t, op, "tflite_minimum", "Min", "LowLevelMin", activation=False)


def _lut(t: Translator, op: OperatorInfo, fn: str, params: dict, onnx_op: str, display: str) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    t.same_type(op, x, y)
    if t.shape(x) != t.shape(y):
        raise t.invalid(op, f"maps {list(t.shape(x))} to {list(t.shape(y))}; an element-wise result has the "
                            "input's shape")
    t.add(op, "tflite_lut", [x], [y], {"fn": fn, "params": params, "onnx_op": onnx_op}, display)


@operator("LOGISTIC")
def logistic(t: Translator, op: OperatorInfo) -> None:
    _lut(t, op, "logistic", {}, "Sigmoid", "LowLevelSigmoid")


@operator("TANH")
def tanh(t: Translator, op: OperatorInfo) -> None:
    _lut(t, op, "tanh", {}, "Tanh", "LowLevelTanh")


_RELU_BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}


@operator(*_RELU_BOUNDS)
def relu(t: Translator, op: OperatorInfo) -> None:
    lo, hi = _RELU_BOUNDS[op.name]
    onnx_op = "Relu" if op.name == "RELU" else "Clip"
    _lut(t, op, "relu", {"min": lo, "max": hi}, onnx_op, f"LowLevel{onnx_op}")


@operator("LEAKY_RELU")
def leaky_relu(t: Translator, op: OperatorInfo) -> None:
    _lut(t, op, "leaky_relu", {"alpha": float(op.options.get("alpha", 0.0))}, "LeakyRelu", "LowLevelLeakyRelu")


@operator("SOFTMAX")
def softmax(t: Translator, op: OperatorInfo) -> None:
    x = t.data(op, 0)
    y = t.output(op)
    t.same_type(op, x, y)
    if t.shape(x) != t.shape(y) or not t.shape(x):
        raise t.invalid(op, f"maps {list(t.shape(x))} to {list(t.shape(y))}")
    rank = len(t.shape(x))
    attrs = {"beta": float(op.options.get("beta", 0.0)), "axis": rank - 1, "onnx_op": "Softmax"}
    t.add(op, "tflite_softmax", [x], [y], attrs, "LowLevelSoftmax")
