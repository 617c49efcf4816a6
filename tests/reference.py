"""The ONNX reference evaluator as the tests' oracle, for every opset the compiler takes.

``onnx.reference`` implements QuantizeLinear / DequantizeLinear only from opset 19 on; older
models (the vendor's are opset 12 and 13) get those two operators with the opset-10 semantics,
which opsets 10 to 18 share for int8 / uint8 data.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator
from onnx.reference.ops.op_dequantize_linear import _CommonDequantizeLinear
from onnx.reference.ops.op_quantize_linear import _CommonQuantizeLinear


class QuantizeLinear(_CommonQuantizeLinear):
    op_domain = ""

    def _run(self, x, y_scale, zero_point=None, axis=None, **_):
        return super()._run(x, y_scale, zero_point, axis=1 if axis is None else axis)


class DequantizeLinear(_CommonDequantizeLinear):
    op_domain = ""

    def _run(self, x, x_scale, x_zero_point=None, axis=None, **_):
        return super()._run(x, x_scale, x_zero_point, axis=1 if axis is None else axis)


def reference(model: onnx.ModelProto) -> ReferenceEvaluator:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 21)
    extra = [QuantizeLinear, DequantizeLinear] if opset < 19 else []
    return ReferenceEvaluator(model, new_ops=extra)


def run_reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray], outputs=None) -> list[np.ndarray]:
    return reference(model).run(outputs, feeds)
