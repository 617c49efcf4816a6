"""Running the float model over calibration samples and feeding each tensor to its observer.

The model runs in onnxruntime. Every non-initializer float32 tensor is recorded: graph inputs
(from the feed itself), intermediates and graph outputs. When every observer only needs the
extremes (min-max methods), ``ReduceMin`` / ``ReduceMax`` nodes are appended to the graph and
only those scalars leave onnxruntime, so calibration costs little more than inference; other
methods fetch the tensors themselves, one sample at a time. Either way memory does not depend
on the number of samples.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper

from furiosa.common import onnxrt

#: onnxruntime's arena keeps one sample's buffers for the next; spinning threads only steal time from
#: the NumPy work between runs (and from other processes on a busy machine)
ARENA = True
SPIN = False


@dataclass(frozen=True)
class InputSpec:
    """A pure graph input: name, static shape and numpy dtype."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: np.dtype

    def describe(self) -> str:
        return f"[{', '.join(str(d) for d in self.shape)}] ({self.dtype.name})"


def _shape(value: onnx.ValueInfoProto) -> tuple[int | str | None, ...]:
    dims = []
    for dim in value.type.tensor_type.shape.dim:
        dims.append(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None))
    return tuple(dims)


def check_value_infos(model: onnx.ModelProto) -> None:
    """Every node output needs a value_info or graph-output entry (the model must be optimized)."""
    known = {v.name for v in model.graph.value_info} | {v.name for v in model.graph.output}
    for node in model.graph.node:
        for name in node.output:
            if name and name not in known:
                raise RuntimeError(
                    f"failed to find information on value '{name}' in the `output` and `value_info` fields of "
                    f"the graph (written by node {node.name or node.op_type!r}); optimize the model with "
                    "furiosa.optimizer.optimize_model first"
                )


def float_tensors(model: onnx.ModelProto) -> list[str]:
    """Names of the non-initializer float32 tensors: pure inputs, then node outputs in graph order."""
    initializers = {t.name for t in model.graph.initializer}
    types = {v.name: v.type for v in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)}

    def is_float(name: str) -> bool:
        kind = types.get(name)
        return kind is not None and kind.HasField("tensor_type") and kind.tensor_type.elem_type == onnx.TensorProto.FLOAT

    names = [v.name for v in model.graph.input if v.name not in initializers and is_float(v.name)]
    seen = set(names)
    for node in model.graph.node:
        for name in node.output:
            if name and name not in seen and name not in initializers and is_float(name):
                names.append(name)
                seen.add(name)
    return names


class Collector:
    """An onnxruntime session over the float model that yields each recorded tensor's data."""

    def __init__(self, model: onnx.ModelProto, tensors: list[str], extremes_only: bool) -> None:

        initializers = {t.name for t in model.graph.initializer}
        self.inputs = [
            InputSpec(v.name, _shape(v), np.dtype(helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)))
            for v in model.graph.input if v.name not in initializers
        ]
        input_names = {spec.name for spec in self.inputs}
        self.tensors = tensors
        self.extremes_only = extremes_only
        computed = [name for name in tensors if name not in input_names]
        self.computed = computed
        self.graph_outputs = [v.name for v in model.graph.output]
        self.completed = 0  # samples recorded, over every run (a failing run keeps the ones before)
        # The recording nodes and outputs are appended by serializing them as a second message:
        # protobuf merges concatenated messages, so the model is never copied in memory.
        extra = onnx.ModelProto()
        present = set(self.graph_outputs)
        if extremes_only:
            self.fetches = []
            for index, name in enumerate(computed):
                low, high = f"__furiosa_calib_min_{index}", f"__furiosa_calib_max_{index}"
                extra.graph.node.append(helper.make_node("ReduceMin", [name], [low], keepdims=0))
                extra.graph.node.append(helper.make_node("ReduceMax", [name], [high], keepdims=0))
                for out in (low, high):
                    extra.graph.output.append(helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, []))
                self.fetches += [low, high]
        else:
            for name in computed:
                if name not in present:
                    extra.graph.output.append(helper.make_empty_tensor_value_info(name))
            self.fetches = list(computed)
        if not self.fetches and not self.graph_outputs:
            self.session = None
            return
        data = model.SerializeToString() + extra.SerializeToString()
        self.session = onnxrt.session(data, spinning=SPIN, arena=ARENA)
        del data

    # --- input checks, in the vendor's words ---------------------------------------------------
    def feeds(self, sample: Any) -> dict[str, np.ndarray]:
        if isinstance(sample, np.ndarray) or not isinstance(sample, Sequence) or isinstance(sample, (str, bytes)):
            raise TypeError(f"'{type(sample).__name__}' object cannot be converted to 'Sequence'")
        if len(sample) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} input(s) but got {len(sample)}")
        feeds = {}
        for spec, array in zip(self.inputs, sample):
            if not isinstance(array, np.ndarray):
                raise TypeError(f"'{type(array).__name__}' object cannot be converted to 'ndarray'; "
                                f"give input {spec.name!r} as a numpy array")
            expected = tuple(spec.shape)
            if not array.dtype.isnative:  # big-endian data: the same values, in the machine's byte order
                array = array.astype(array.dtype.newbyteorder("="))
            if array.dtype != spec.dtype or array.shape != expected:
                got = f"[{', '.join(str(d) for d in array.shape)}] ({array.dtype.name})"
                raise ValueError(f"a tensor of shape {got} is invalid for input of shape {spec.describe()}")
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                bad = int(array.size - np.isfinite(array).sum())
                raise ValueError(f"input {spec.name!r} holds {bad} NaN or infinite value(s) of {array.size}; "
                                 "calibration data must be finite")
            feeds[spec.name] = array
        return feeds

    def run(self, dataset: Iterable[Any], consume: Callable[[str, Any], None],
            outputs: list[list[np.ndarray]] | None = None) -> int:
        """Run every sample and hand each recorded tensor to ``consume(name, data)``.

        ``data`` is the tensor (``values`` observers) or ``(min, max, count)`` (``extremes``).
        Returns the number of samples.
        """
        count = 0
        input_names = {spec.name for spec in self.inputs}
        for sample in dataset:
            feeds = self.feeds(sample)
            for name in self.tensors:
                if name in input_names:
                    value = feeds[name]
                    consume(name, (float(value.min()), float(value.max()), value.size)
                            if self.extremes_only and value.size else value)
            extra = [n for n in self.graph_outputs if n not in self.fetches] if outputs is not None else []
            fetches = self.fetches + extra
            results = self.session.run(fetches, feeds) if self.session is not None and fetches else []
            if self.extremes_only:
                for index, name in enumerate(self.computed):
                    consume(name, (float(results[2 * index]), float(results[2 * index + 1]), 1))
            else:
                for name, value in zip(self.computed, results):
                    consume(name, value)
            if outputs is not None:
                by_name = {**feeds, **dict(zip(fetches, results))}
                outputs.append([by_name[n] for n in self.graph_outputs])
            del results
            count += 1
            self.completed += 1
        return count
