"""The pass manager: runs an ordered list of passes over a model, timing each one.

A pass is a function ``(model, context) -> model``: it may rewrite the model it is given (the
manager owns it) and returns the model to continue with. The manager logs each pass's time at
DEBUG on ``furiosa.optimizer``, can check the model after every pass (``verify``) and can write
the model after every pass to a directory (``dump_dir``) for debugging.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import onnx

log = logging.getLogger("furiosa.optimizer")


@dataclass(frozen=True)
class OptimizeOptions:
    """What ``optimize_model`` was asked for, as the passes see it."""

    input_shapes: Mapping[str, tuple[int | None, ...]] = field(default_factory=dict)
    opset_version: int = 13


@dataclass
class Context:
    """Options plus what the manager records while it runs."""

    options: OptimizeOptions = field(default_factory=OptimizeOptions)
    verify: bool = False
    dump_dir: Path | None = None
    timings: list[tuple[str, float]] = field(default_factory=list)


Pass = Callable[[onnx.ModelProto, Context], onnx.ModelProto]


def pass_name(step: Pass) -> str:
    return getattr(step, "pass_name", getattr(step, "__name__", repr(step)))


def run_passes(model: onnx.ModelProto, pipeline: Sequence[Pass], context: Context) -> onnx.ModelProto:
    """Run ``pipeline`` in order and return the final model."""
    for index, step in enumerate(pipeline):
        name = pass_name(step)
        started = time.perf_counter()
        model = step(model, context)
        elapsed = time.perf_counter() - started
        context.timings.append((name, elapsed))
        log.debug("pass %s took %.3f s (%d nodes)", name, elapsed, len(model.graph.node))
        if context.verify:
            onnx.checker.check_model(model)
        if context.dump_dir is not None:
            context.dump_dir.mkdir(parents=True, exist_ok=True)
            onnx.save(model, str(context.dump_dir / f"{index:02d}_{name}.onnx"))
    return model


def fingerprint(model: onnx.ModelProto) -> str:
    """A digest of the graph's structure: nodes, value infos, inputs, outputs and initializer
    names, types and shapes (not their data, which only changes under a new name here)."""
    digest = hashlib.sha256()
    graph = model.graph
    for part in (graph.node, graph.value_info, graph.input, graph.output):
        for item in part:
            digest.update(item.SerializeToString(deterministic=True))
        digest.update(b"|")
    for tensor in graph.initializer:
        digest.update(f"{tensor.name}:{tensor.data_type}:{list(tensor.dims)};".encode())
    for entry in model.opset_import:
        digest.update(f"{entry.domain}:{entry.version};".encode())
    return digest.hexdigest()


def fixed_point(*steps: Pass, limit: int = 8) -> Pass:
    """A pass that repeats ``steps`` until the model stops changing (at most ``limit`` rounds)."""

    def repeat(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
        before = fingerprint(model)
        for _ in range(limit):
            for step in steps:
                model = step(model, context)
            after = fingerprint(model)
            if after == before:
                break
            before = after
        return model

    repeat.pass_name = "fixed_point(" + ", ".join(pass_name(s) for s in steps) + ")"  # type: ignore[attr-defined]
    return repeat
