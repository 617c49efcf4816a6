"""Bring a model to at least the requested opset (spec/toolchain-api.md §2.2 step 1).

Models below ``opset_version`` are up-converted with ``onnx.version_converter``, as the vendor
does. Models above it are kept at their own opset: the vendor's down-conversion fails for common
operators (``Reshape`` 14 → 13 has no adapter, for instance), and everything downstream — these
passes, the calibrator, the compiler — takes opsets 8 to 21. So ``opset_version`` is a floor.
"""
from __future__ import annotations

import logging

import onnx
from onnx import version_converter

from ..graph import opset_of
from ..manager import Context
from . import register

log = logging.getLogger("furiosa.optimizer")

MIN_MODEL_OPSET, MAX_MODEL_OPSET = 8, 21


@register("convert_opset")
def convert_opset(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    target = context.options.opset_version
    current = opset_of(model)
    if current == 0:
        raise ValueError("the model imports no version of the default ONNX domain; cannot tell its opset")
    if not MIN_MODEL_OPSET <= current <= MAX_MODEL_OPSET:
        raise NotImplementedError(
            f"Can't convert the model (ONNX opset {current}) to ONNX opset {target}: "
            f"models of opset {MIN_MODEL_OPSET} to {MAX_MODEL_OPSET} are supported"
        )
    if current >= target:
        if current > target:
            log.info("The model's ONNX opset %d is above opset_version=%d; keeping opset %d", current, target, current)
        return model
    try:
        converted = version_converter.convert_version(model, target)
    except Exception as error:  # the converter raises RuntimeError / onnx errors with C++ messages
        raise NotImplementedError(
            f"Can't convert the model (ONNX opset {current}) to ONNX opset {target}: {str(error).splitlines()[-1]}"
        ) from None
    return converted
