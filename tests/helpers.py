"""Helpers shared by the tests."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from furiosa.quantizer.metadata import CALIBRATION_KEY, dump_ranges


def measured_ranges(model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]]) -> dict[str, tuple[float, float]]:
    """Min/max of every float tensor over ``feeds``, measured with onnxruntime."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    names = [o for n in probe.graph.node for o in n.output if o and o not in known]
    for name in names:
        probe.graph.output.append(onnx.ValueInfoProto(name=name))
    session = ort_session(probe)
    outputs = [o.name for o in session.get_outputs()]
    ranges: dict[str, list[float]] = {}
    for feed in feeds:
        values = dict(zip(outputs, session.run(None, feed)))
        values.update(feed)
        for name, value in values.items():
            value = np.asarray(value)
            if value.dtype != np.float32:
                continue
            lo, hi = float(value.min()), float(value.max())
            old = ranges.get(name)
            ranges[name] = [lo, hi] if old is None else [min(old[0], lo), max(old[1], hi)]
    return {k: (v[0], v[1]) for k, v in ranges.items()}


def with_calibration(model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]], **extra: str) -> onnx.ModelProto:
    """The model with the vendor's calibration metadata (and any extra metadata keys)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    entries = {CALIBRATION_KEY: dump_ranges(measured_ranges(model, feeds)), **extra}
    for key, value in entries.items():
        out.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    return out


def ort_session(model: onnx.ModelProto) -> ort.InferenceSession:
    from furiosa.common import onnxrt

    return onnxrt.session(model)


def layer_agreement(qdq: onnx.ModelProto, program, feed: dict[str, np.ndarray]) -> float:
    """Fraction of int8 values every NPU operator computes exactly as onnxruntime does on the QDQ
    model, when fed onnxruntime's own inputs (so differences do not propagate)."""
    from furiosa.common.qmath import from_declared
    from furiosa.device.emulator.kernels import prepare

    probe = onnx.ModelProto()
    probe.CopyFrom(qdq)
    for node in qdq.graph.node:
        if node.op_type == "QuantizeLinear":
            probe.graph.output.append(onnx.ValueInfoProto(name=node.output[0]))
    session = ort_session(probe)
    results = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
    same = total = 0
    for op in program.operators:
        inputs = [n for n in op.inputs if n and not program.tensors[n].constant]
        if op.unit != "npu" or not inputs or not all(n in results for n in inputs) or op.outputs[0] not in results:
            continue
        args = [from_declared(results[n], program.tensors[n].qparams) for n in inputs]
        ours = prepare(op, program)(args)[0]
        theirs = from_declared(results[op.outputs[0]], program.tensors[op.outputs[0]].qparams)
        same += int(np.sum(ours == theirs))
        total += ours.size
    return same / total


BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The path of one of the SDK's console scripts in this environment (the test skips without it)."""
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in {BIN} (run pip install -e .)")
    return str(path)
