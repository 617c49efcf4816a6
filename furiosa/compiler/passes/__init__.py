"""Graph passes and the small manager that runs them.

A pass is a function ``(graph, context) -> None`` that rewrites the graph in place (the
compiler owns its graph; frontends build a fresh one per compilation). :func:`run` runs an
ordered pipeline, timing each pass and, when asked, checking the graph after each one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..ir import Graph

log = logging.getLogger("furiosa.compiler")

Pass = Callable[[Graph, "Context"], None]


@dataclass
class Context:
    """What passes may read besides the graph: the target and the configuration."""

    target: str
    config: Any
    calibration: Any = None
    timings: list[tuple[str, float]] = field(default_factory=list)
    verify: bool = False


def check(graph: Graph) -> None:
    """Every node reads defined values and every value a node writes is known."""
    defined = set(graph.inputs) | {n for n, v in graph.values.items() if v.is_const}
    for node in graph.nodes:
        for name in node.inputs:
            if name and name not in defined:
                raise AssertionError(f"{node.describe()} reads {name!r} before it is defined")
        for name in node.outputs:
            if name not in graph.values:
                raise AssertionError(f"{node.describe()} writes unknown value {name!r}")
            defined.add(name)


def run(graph: Graph, pipeline: Sequence[Pass], context: Context) -> Graph:
    for step in pipeline:
        started = time.perf_counter()
        step(graph, context)
        elapsed = time.perf_counter() - started
        context.timings.append((step.__name__, elapsed))
        log.debug("pass %s took %.3f s (%d nodes)", step.__name__, elapsed, len(graph.nodes))
        if context.verify:
            check(graph)
    return graph
