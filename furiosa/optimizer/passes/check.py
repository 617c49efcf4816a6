"""The final check (spec/toolchain-api.md §2.2): the model passes ``onnx.checker`` and loads in
onnxruntime, so what ``optimize_model`` returns is valid and runnable."""
from __future__ import annotations

import onnx

from furiosa.common import onnxrt

from ..manager import Context
from . import register


@register("check")
def check(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    onnx.checker.check_model(model)
    onnxrt.session(model)
    return model
