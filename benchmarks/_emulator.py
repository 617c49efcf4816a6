"""Emulator speed against onnxruntime on the same model, in one run (issue 10's first figure).

For a float model and its int8 form: the emulator runs the compiled int8 program
(:class:`~furiosa.device.emulator.executor.Executor`, default kernels), onnxruntime runs the
float model (and, when it is a QDQ model, the QDQ model), all on the same input, alternating.
Before timing, the program's outputs from the default kernels are compared bit for bit with
those of the ``integer`` kernels (onnxruntime's ConvInteger and numpy requantization: another
computation of the same definition), so a speed-up that changed a result would show.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import onnx

from _harness import interleaved, machine  # noqa: F401 (re-exported for the scripts)


@dataclass
class Figure:
    name: str
    emulator_ms: float
    fp32_ms: float
    qdq_ms: float | None
    compile_s: float
    npu_operators: int
    operators: int
    identical: bool

    @property
    def ratio(self) -> float:
        return self.emulator_ms / self.fp32_ms


def _executor(program, kernels: str):
    from furiosa.device.emulator.executor import Executor

    previous = os.environ.get("FURIOSA_EMU_KERNELS")
    os.environ["FURIOSA_EMU_KERNELS"] = kernels
    try:
        return Executor(program)
    finally:
        if previous is None:
            os.environ.pop("FURIOSA_EMU_KERNELS", None)
        else:
            os.environ["FURIOSA_EMU_KERNELS"] = previous


def measure(name: str, float_model: onnx.ModelProto, int8_model: "onnx.ModelProto | bytes",
            feed: dict[str, np.ndarray], repeat: int, qdq: bool = True) -> Figure:
    """Compile ``int8_model``, check it bit for bit across kernel sets, time it against onnxruntime."""
    from furiosa.common import onnxrt
    from furiosa.compiler.pipeline import compile_program

    data = int8_model if isinstance(int8_model, bytes) else int8_model.SerializeToString()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with open(path, "wb") as f:
            f.write(data)
        started = time.perf_counter()
        program = compile_program(path)
        compile_s = time.perf_counter() - started
    fast, reference = _executor(program, "auto"), _executor(program, "integer")
    inputs = [feed[io.tensor] if io.tensor in feed else next(iter(feed.values())) for io in program.inputs]
    identical = all(np.array_equal(a, b) for a, b in zip(fast.run(inputs), reference.run(inputs)))
    del reference
    fp32 = onnxrt.session(float_model)
    times = interleaved({"emulator": lambda: fast.run(inputs), "fp32": lambda: fp32.run(None, feed)}, repeat)
    if qdq:
        # Timed on its own, after the ratio: two onnxruntime sessions alternating slow each other
        # down (each one's idle threads spin on the cores the other needs), which would inflate
        # the reference time.
        del fp32
        quantized = onnxrt.session(data)
        times.update(interleaved({"qdq": lambda: quantized.run(None, feed)}, repeat))
    npu = sum(op.unit == "npu" for op in program.operators)
    return Figure(name, times["emulator"], times["fp32"], times.get("qdq"), compile_s, npu, len(program.operators),
                  identical)


def report(figure: Figure, goal: float = 1.0) -> None:
    """Print a figure; the last line is the ratio to onnxruntime fp32 and the goal."""
    print(machine())
    print(f"{figure.name}: {figure.npu_operators}/{figure.operators} operators on the NPU, "
          f"compiled in {figure.compile_s:.2f} s")
    print(f"outputs of the default kernels {'identical to' if figure.identical else 'DIFFER FROM'} "
          "the integer kernels' (bit for bit)")
    print(f"emulator          {figure.emulator_ms:8.1f} ms")
    print(f"onnxruntime fp32  {figure.fp32_ms:8.1f} ms")
    if figure.qdq_ms is not None:
        print(f"onnxruntime int8  {figure.qdq_ms:8.1f} ms (QDQ model)")
    if not figure.identical:
        raise SystemExit("the default kernels changed a result: not a valid speed-up")
    print(f"ratio emulator / onnxruntime fp32: {figure.ratio:.2f} (goal <= {goal})")
