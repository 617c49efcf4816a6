"""Measure the constants of the placement report's host CPU model (furiosa/compiler/host_cost.py).

Runs single operators in onnxruntime on one thread and prints, for each, the throughput the model
needs: GFLOP/s of dense operators, GB/s (bytes read + written) of memory-bound ones, ns per output
item of arithmetic-bound ones, and the fixed cost of a call and of a further node. Each figure is
the best of several repeats (a shared machine only ever makes things slower).

    .venv/bin/python docs/scripts/measure_host_cpu.py

docs/placement.md lists what it printed on the development machine and the constants chosen.
"""
from __future__ import annotations

import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from furiosa.common import onnxrt


def best_seconds(nodes, inputs, initializers, feed, repeats: int = 30) -> float:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape)
                                           for n, a in inputs.items()],
                              [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(a, n) for n, a in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    session = onnxrt.session(model, threads=1)
    session.run(None, feed)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((1, 64, 56, 56), dtype=np.float32)
    w = rng.random((64, 64, 3, 3), dtype=np.float32)
    t = best_seconds([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], {"x": x}, {"w": w}, {"x": x})
    print(f"Conv 3x3 64->64 on 56x56    {2 * 64 * 64 * 9 * 56 * 56 / t / 1e9:8.1f} GFLOP/s")
    a, b = rng.random((512, 1024), dtype=np.float32), rng.random((1024, 1024), dtype=np.float32)
    t = best_seconds([helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": a}, {"b": b}, {"a": a}, repeats=10)
    print(f"MatMul 512x1024x1024        {2 * 512 * 1024 * 1024 / t / 1e9:8.1f} GFLOP/s")
    big = rng.random((64, 16384), dtype=np.float32)
    for op in ("Relu", "Sigmoid", "Softmax"):
        t = best_seconds([helper.make_node(op, ["x"], ["y"])], {"x": big}, {}, {"x": big})
        print(f"{op:<27} {2 * big.nbytes / t / 1e9:8.1f} GB/s  {t / big.size * 1e9:6.2f} ns/item")
    image = rng.random((1, 64, 64, 64), dtype=np.float32)
    t = best_seconds([helper.make_node("Concat", ["x", "x"], ["y"], axis=3)], {"x": image}, {}, {"x": image})
    print(f"{'Concat (width)':<27} {4 * image.nbytes / t / 1e9:8.1f} GB/s")
    t = best_seconds([helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear")], {"x": image},
                     {"s": np.array([1, 1, 2, 2], np.float32)}, {"x": image})
    print(f"{'Resize linear x2':<27} {t / (4 * image.size) * 1e9:8.2f} ns/item")
    tiny = rng.random((1, 4), dtype=np.float32)
    one = best_seconds([helper.make_node("Relu", ["x"], ["y"])], {"x": tiny}, {}, {"x": tiny}, repeats=2000)
    two = best_seconds([helper.make_node("Relu", ["x"], ["z"]), helper.make_node("Relu", ["z"], ["y"])],
                       {"x": tiny}, {}, {"x": tiny}, repeats=2000)
    print(f"{'call of one tiny node':<27} {one * 1e6:8.1f} us")
    print(f"{'each further node':<27} {(two - one) * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
