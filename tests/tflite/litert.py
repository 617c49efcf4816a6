"""Running models with the LiteRT interpreter, the reference the emulator is compared with.

The comparison uses LiteRT's *reference* kernels (``OpResolverType.BUILTIN_REF``): they are the
portable definition of TFLite's integer arithmetic. LiteRT's optimized kernels and its default
XNNPACK delegate round some ties differently depending on the CPU (see docs/tflite.md).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (the test extra) is not installed")


def interpreter(model: bytes, resolver: str = "BUILTIN_REF"):
    it = litert.Interpreter(model_content=model,
                            experimental_op_resolver_type=getattr(litert.OpResolverType, resolver))
    it.allocate_tensors()
    return it


def run(model: bytes, inputs: Sequence[np.ndarray], resolver: str = "BUILTIN_REF") -> list[np.ndarray]:
    """Outputs of one inference of ``model`` on ``inputs`` with LiteRT."""
    it = interpreter(model, resolver)
    for detail, array in zip(it.get_input_details(), inputs):
        it.set_tensor(detail["index"], np.ascontiguousarray(array, dtype=detail["dtype"]))
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def random_inputs(model: bytes, rng: np.random.Generator) -> list[np.ndarray]:
    """Random data for every input of ``model`` over its type's whole range."""
    it = interpreter(model)
    out = []
    for d in it.get_input_details():
        dtype = np.dtype(d["dtype"])
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            out.append(rng.integers(info.min, info.max + 1, d["shape"], dtype=dtype))
        else:
            out.append(rng.normal(0, 2, d["shape"]).astype(dtype))
    return out


def compare(model: bytes, rng: np.random.Generator, runs: int = 3, inputs=None, varied: bool = True) -> int:
    """Run ``model`` on the emulator and on LiteRT (reference kernels) and assert that every
    output is identical (shape, type, bits). Returns the number of elements compared.

    ``varied``: also require LiteRT's outputs to take several values, so that a model whose
    results all saturate cannot pass without testing any arithmetic."""
    from furiosa.compiler.pipeline import compile_data
    from furiosa.device.emulator.executor import Executor

    executor = Executor(compile_data(model))
    compared = 0
    for _ in range(runs):
        feeds = random_inputs(model, rng) if inputs is None else inputs
        expected = run(model, feeds)
        actual = executor.run(feeds)
        assert len(actual) == len(expected)
        for index, (want, got) in enumerate(zip(expected, actual)):
            assert got.shape == want.shape and got.dtype == want.dtype, (index, got.shape, want.shape, got.dtype)
            if not np.array_equal(got, want):
                where = np.argwhere(got != want)
                raise AssertionError(
                    f"output {index}: {len(where)} of {want.size} elements differ from LiteRT; first at "
                    f"{tuple(where[0])}: emulator {got[tuple(where[0])]}, LiteRT {want[tuple(where[0])]}"
                )
            if varied and want.size > 1:
                assert len(np.unique(want)) > 1, f"output {index} is constant ({want.flat[0]}): the test model is degenerate"
            compared += want.size
    return compared
