"""A process forked after the emulator has run keeps running models.

Kernels split large operators over helper threads, the native loops' worker threads and a shared
onnxruntime session with a thread pool; a forked child has none of these threads. It must make its own, not wait forever on
threads that are not there (Python's multiprocessing forks by default on Linux).
"""
from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from examples.zoo import calibration_data, quantize_qdq, small_cnn
from furiosa.compiler.pipeline import compile_program
from furiosa.device.emulator.executor import Executor
from furiosa.device.emulator.kernels import parallel


@pytest.fixture(scope="module")
def program():
    model = small_cnn(channels=64, size=112)  # convolutions of 22M and 116M multiply-adds: split
    return compile_program(quantize_qdq(model, calibration_data(model, 2)).SerializeToString())


def _child(program, inherited: Executor, x: np.ndarray, pipe) -> None:
    pipe.send([inherited.run([x])[0], Executor(program).run([x])[0]])


def test_a_forked_child_runs_inherited_and_new_executors(program):
    x = calibration_data(small_cnn(channels=64, size=112), 1, seed=5)[0]["input"]
    executor = Executor(program)
    expected = executor.run([x])[0]  # the helpers and the shared sessions exist now
    assert parallel.cores() == 1 or parallel._team is not None
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_child, args=(program, executor, x, theirs))
    child.start()
    try:
        assert ours.poll(60), "the forked child did not finish its inferences within 60 s"
        inherited, fresh = ours.recv()
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    np.testing.assert_array_equal(inherited, expected)
    np.testing.assert_array_equal(fresh, expected)
