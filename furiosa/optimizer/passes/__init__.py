"""The optimizer's passes, one per module, registered by name.

Each module registers its pass with ``@PASSES.register("name")``; :mod:`furiosa.optimizer.api`
lists the pipeline in order. Importing this package imports every pass module.
"""
from __future__ import annotations

from furiosa.common.registry import Registry

from ..manager import Pass

PASSES: Registry[Pass] = Registry("optimizer pass")


def register(name: str):
    """Register a pass under ``name`` (also recorded on the function as ``pass_name``)."""

    def decorate(step: Pass) -> Pass:
        step.pass_name = name  # type: ignore[attr-defined]
        return PASSES.add(name, step)

    return decorate


from . import (  # noqa: E402,F401  (registration by import)
    check,
    constants_to_initializers,
    convert_opset,
    convert_negative_pads,
    convert_prelu,
    fold_constants,
    fuse_batchnorm,
    fuse_gather_matmul,
    infer_shapes,
    onnxoptimizer_passes,
    rename_nodes,
    static_inputs,
    unique_initializers,
)
