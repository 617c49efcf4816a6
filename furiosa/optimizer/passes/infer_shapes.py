"""Static shapes and element types for every tensor (``value_info``).

ONNX shape inference (with data propagation) runs first; tensors it cannot resolve to a static
shape are measured by running the model once in onnxruntime on zero-filled inputs. Stale
``value_info`` entries are dropped first, so the result always describes the current graph, and
graph outputs get their inferred shapes. This is what the Calibrator needs (§3.3).
"""
from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import helper, shape_inference

from furiosa.common import onnxrt

from ..graph import ModelGraph, static_shape
from ..manager import Context
from . import register

log = logging.getLogger("furiosa.optimizer")


def _complete(value: onnx.ValueInfoProto) -> bool:
    return (value.type.HasField("tensor_type") and value.type.tensor_type.elem_type != 0
            and static_shape(value) is not None)


def trial_run(model: onnx.ModelProto, names: list[str]) -> dict[str, np.ndarray]:
    """Run the model once in onnxruntime on zero inputs and return the named tensors."""

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    for name in names:
        probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    graph = ModelGraph(probe)
    feeds = {}
    for value in graph.pure_inputs():
        shape = static_shape(value)
        dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        feeds[value.name] = np.zeros(shape, dtype=dtype)
    session = onnxrt.session(probe, optimize=False)
    return dict(zip(names, session.run(names, feeds)))


@register("infer_shapes")
def infer_shapes(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    del model.graph.value_info[:]
    try:
        inferred = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as error:  # inference errors are reported by the final check; measure instead
        log.debug("ONNX shape inference failed (%s); measuring shapes with onnxruntime", error)
        inferred = model
    known = {v.name: v for v in inferred.graph.value_info if _complete(v)}
    for v in inferred.graph.output:
        if _complete(v):
            known[v.name] = v
    initializers = {t.name for t in model.graph.initializer}
    produced = [name for node in model.graph.node for name in node.output if name and name not in initializers]
    missing = [name for name in produced if name not in known]
    measured: dict[str, onnx.ValueInfoProto] = {}
    if missing:
        for name, array in trial_run(model, missing).items():
            elem = helper.np_dtype_to_tensor_dtype(array.dtype)
            measured[name] = helper.make_tensor_value_info(name, elem, list(array.shape))
    outputs = {o.name for o in model.graph.output}
    infos = []
    for name in produced:
        value = known.get(name) or measured.get(name)
        if value is None:
            continue
        if name in outputs:
            for output in model.graph.output:
                if output.name == name:
                    output.type.CopyFrom(value.type)
        else:
            infos.append(value)
    model.graph.value_info.extend(infos)
    return model
