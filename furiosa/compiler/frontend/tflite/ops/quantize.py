"""QUANTIZE and DEQUANTIZE: float model edges, and requantization between 8-bit types.

A QUANTIZE of a float tensor (a model with float inputs) and a DEQUANTIZE to float (float
outputs) run on the host, as the ONNX models' Quantize and Dequantize do. A QUANTIZE between
two quantized tensors is an integer requantization (an NPU table operator).
"""
from __future__ import annotations

from ..model import OperatorInfo
from ..translate import Translator, operator

QUANTIZE_REASON = "Quantize runs on the host (float input to int8)"


@operator("QUANTIZE")
def quantize(t: Translator, op: OperatorInfo) -> None:
    source = t.tensor(t.input_index(op, 0))
    if source.type == "float32":
        x = t.name(source.index)
        if source.is_const:
            raise t.unsupported(op, "quantizes a constant; only run-time tensors are supported")
        y = t.output(op)
        if t.shape(x) != t.shape(y):
            raise t.invalid(op, f"maps {list(t.shape(x))} to {list(t.shape(y))}")
        t.add(op, "tflite_quantize", [x], [y], {"onnx_op": "QuantizeLinear"}, "Quantize", unit="host",
              reason=QUANTIZE_REASON)
        return
    x = t.data(op, 0)
    y = t.output(op)
    t.expect_shape(op, y, t.shape(x))
    t.add(op, "tflite_lut", [x], [y], {"fn": "requantize", "params": {}, "onnx_op": "QuantizeLinear"},
          "LowLevelRequantize")


@operator("DEQUANTIZE")
def dequantize(t: Translator, op: OperatorInfo) -> None:
    source = t.tensor(t.input_index(op, 0))
    if source.is_const:
        raise t.unsupported(op, f"dequantizes the constant {source.describe()} for float operators (a float or "
                                "hybrid model); only fully quantized TFLite models are supported")
    x = t.data(op, 0)
    target = t.tensor(op.outputs[0]) if op.outputs else None
    if target is None or target.type != "float32":
        raise t.unsupported(op, "produces a non-float32 tensor; DEQUANTIZE to float32 is supported")
    y = t.output(op, quantized=False)
    t.expect_shape(op, y, t.shape(x))
    t.add(op, "dequantize", [x], [y], {}, "Dequantize")
