"""Every tensor of a run, for comparing the int8 program with the float model.

* :class:`FloatReference`: the float ONNX model in onnxruntime, returning all its float tensors;
* :class:`ProgramCapture`: the compiled program run operator by operator on the emulated NPU's
  kernels (the same kernels :class:`~furiosa.device.emulator.executor.Executor` runs), keeping
  every intermediate tensor; :meth:`ProgramCapture.run_operator` runs one operator alone on
  inputs the caller chooses (the *isolated* view of a layer);
* :class:`LocalReference`: the float model's own subgraph between a layer's inputs and its output,
  to tell the error a layer adds from the error it receives.

Values stay in the emulator's stored form (int8, uint8 shifted by 128; docs/architecture.md);
:func:`real_values` turns a stored tensor back into real numbers.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import onnx

from furiosa.common import onnxrt
from furiosa.common.errors import UnsupportedModelError
from furiosa.common.qmath import QParams, dequantize, quantize
from furiosa.compiler.enf.program import Program, TensorSpec

log = logging.getLogger("furiosa.quantizer")


class FloatReference:
    """The float model in onnxruntime, returning every float32 tensor of a sample (inputs too)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        del probe.metadata_props[:]
        known = {o.name for o in probe.graph.output}
        for node in probe.graph.node:
            for name in node.output:
                if name and name not in known:
                    probe.graph.output.append(onnx.ValueInfoProto(name=name))
                    known.add(name)
        self.session = onnxrt.session(probe, spinning=False)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, sample: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        feeds = dict(zip(self.inputs, sample))
        values = dict(zip(self.outputs, self.session.run(None, feeds)))
        values.update(feeds)
        return {k: v for k, v in values.items() if isinstance(v, np.ndarray) and v.dtype == np.float32}


def real_values(stored: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Real values of a program tensor (dequantized when it is quantized)."""
    if spec.qparams is not None and spec.dtype != "float32":
        return dequantize(stored, spec.qparams)
    return np.asarray(stored, dtype=np.float32)


def stored_values(real: np.ndarray, qparams: QParams) -> np.ndarray:
    """The stored int8 form of real values quantized with ``qparams``."""
    return quantize(real, qparams)


class ProgramCapture:
    """A program prepared operator by operator, run keeping every tensor."""

    def __init__(self, program: Program) -> None:
        from furiosa.device.emulator.kernels import prepare

        for io in (*program.inputs, *program.outputs):
            if io.layout != "plain":
                raise UnsupportedModelError(
                    f"{'input' if io in program.inputs else 'output'} {io.name!r} uses the lowered layout "
                    "(remove_lower / remove_unlower); compare accuracy on a program compiled without them")
        self.program = program
        self.runs = []
        for op in program.operators:
            try:
                self.runs.append(prepare(op, program))
            except Exception as error:  # the executor words the same failure the same way
                raise UnsupportedModelError(f"operator {op.index} ({op.name}, from {', '.join(op.origin)}) cannot "
                                            f"be prepared: {type(error).__name__}: {error}") from error
        self.constants = {name for name, spec in program.tensors.items() if spec.constant}

    def data_inputs(self, index: int) -> list[str]:
        """The run-time inputs of operator ``index`` (constants are read when prepared)."""
        return [n for n in self.program.operators[index].inputs if n and n not in self.constants]

    def run_operator(self, index: int, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run operator ``index`` alone on ``args`` (its run-time inputs in stored form)."""
        return list(self.runs[index](list(args)))

    def run(self, sample: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Every tensor of one run on ``sample`` (float arrays, as the float model takes them).

        Inputs the program takes quantized (``ModelEditor``'s uint8 inputs) are quantized here
        exactly as a user would before calling the runtime.
        """
        env: dict[str, np.ndarray] = {}
        for io, array in zip(self.program.inputs, sample):
            env[io.tensor] = stored_values(array, io.qparams) if io.qparams is not None else array
        for op, run in zip(self.program.operators, self.runs):
            outputs = run([env[n] for n in op.inputs if n and n not in self.constants])
            env.update(zip(op.outputs, outputs))
        return env

    def outputs(self, env: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The program's outputs as real values (int8 / uint8 outputs dequantized)."""
        out = []
        for io in self.program.outputs:
            value = env[io.tensor]
            out.append(dequantize(value, io.qparams) if io.qparams is not None else np.asarray(value, np.float32))
        return out


class LocalReference:
    """Float subgraphs of the model between chosen tensors (onnxruntime sessions, cached)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self._extractor: object | None = None
        self._sessions: dict[tuple[tuple[str, ...], str], object | None] = {}

    def _extract(self, inputs: tuple[str, ...], output: str) -> onnx.ModelProto:
        if self._extractor is None:
            inferred = onnx.shape_inference.infer_shapes(self.model)
            self._extractor = onnx.utils.Extractor(inferred)
        return self._extractor.extract_model(list(inputs), [output])  # type: ignore[attr-defined]

    def run(self, inputs: tuple[str, ...], values: Sequence[np.ndarray], output: str) -> np.ndarray | None:
        """The float value of ``output`` computed from ``values`` of ``inputs``; None if not separable."""
        key = (inputs, output)
        if key not in self._sessions:
            try:
                sub = self._extract(inputs, output)
                session = onnxrt.session(sub, spinning=False)
                names = [i.name for i in session.get_inputs()]
                self._sessions[key] = session if set(names) <= set(inputs) else None
            except Exception as error:  # a graph the extractor cannot cut here: no local reference
                log.debug("no float subgraph from %s to %s: %s", inputs, output, error)
                self._sessions[key] = None
        session = self._sessions[key]
        if session is None:
            return None
        feeds = {i.name: values[inputs.index(i.name)] for i in session.get_inputs()}  # type: ignore[attr-defined]
        return session.run(None, feeds)[0]  # type: ignore[attr-defined]
