"""``optimize_model``: the vendor's optimizer pipeline (spec/toolchain-api.md §2.2), in order.

1. bring the model to at least ``opset_version`` (up-conversion; higher opsets are kept);
2. polish: rename nodes, one initializer per use, static input shapes, ``Constant`` nodes to
   initializers;
3. simplify until nothing changes: shape inference, constant folding (``Shape``/``Gather``
   chains included), onnxoptimizer's fuse and eliminate passes;
4. reify: negative pads to ``Slice``, batch norm folding, ``Gather → MatMul`` fusion, ``PRelu``
   to ``Relu``; then shapes again, so every tensor has a ``value_info``;
5. check: ``onnx.checker`` and an onnxruntime session.

The argument is **not** modified (the vendor's is, see docs/optimizer.md): the pipeline works on
a copy, and the optimized copy is returned. Weights kept in external data files must be loaded
(``onnx.load(path)``, the default); a model read with ``load_external_data=False`` is refused.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Sequence

import onnx

from .manager import Context, OptimizeOptions, fixed_point, run_passes
from .passes import PASSES

log = logging.getLogger("furiosa.optimizer")

OPSET_BOUND = (12, 13)

SIMPLIFY = fixed_point(PASSES.lookup("infer_shapes"), PASSES.lookup("fold_constants"),
                       PASSES.lookup("onnxoptimizer"))

PIPELINE = (
    PASSES.lookup("convert_opset"),
    PASSES.lookup("rename_nodes"),
    PASSES.lookup("unique_initializers"),
    PASSES.lookup("static_inputs"),
    PASSES.lookup("constants_to_initializers"),
    SIMPLIFY,
    PASSES.lookup("infer_shapes"),
    PASSES.lookup("convert_negative_pads"),
    PASSES.lookup("fuse_batchnorm"),
    PASSES.lookup("fuse_gather_matmul"),
    PASSES.lookup("convert_prelu"),
    SIMPLIFY,
    PASSES.lookup("infer_shapes"),
    PASSES.lookup("check"),
)


def _options(input_shapes: Any, opset_version: Any) -> OptimizeOptions:
    if isinstance(opset_version, bool) or not isinstance(opset_version, int):
        raise TypeError(f"opset_version must be an int, got {type(opset_version).__name__}")
    if not OPSET_BOUND[0] <= opset_version <= OPSET_BOUND[1]:
        raise ValueError(
            f"Unsupported opset_version: {opset_version}. "
            f"Choose {OPSET_BOUND[0]} <= opset_version <= {OPSET_BOUND[1]}."
        )
    shapes: dict[str, tuple[int | None, ...]] = {}
    if input_shapes is not None:
        if not isinstance(input_shapes, Mapping):
            raise TypeError(f"input_shapes must map input names to shapes, got {type(input_shapes).__name__}")
        for name, shape in input_shapes.items():
            if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
                raise TypeError(f"input_shapes[{name!r}] must be a list of dimensions, got {shape!r}")
            for dim in shape:
                if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
                    raise ValueError(
                        f"input_shapes[{name!r}] = {list(shape)}: dimensions must be positive ints or None"
                    )
            shapes[str(name)] = tuple(shape)
    return OptimizeOptions(shapes, opset_version)


def optimize_model(
    model: onnx.ModelProto,
    input_shapes: Optional[Mapping[str, Sequence[Optional[int]]]] = None,
    opset_version: int = 13,
) -> onnx.ModelProto:
    """Optimize a float ONNX model for calibration and compilation.

    Returns a new model with static shapes, folded constants and batch norms, the vendor's
    rewrites, and a ``value_info`` for every intermediate tensor. ``input_shapes`` fixes input
    shapes (``None`` dimensions keep the model's); a symbolic batch dimension becomes 1.
    Graph input and output names are kept. ``model`` itself is left unchanged.

    Raises ``ValueError`` for an ``opset_version`` other than 12 or 13 or bad ``input_shapes``,
    ``NotImplementedError`` when the model's opset cannot be converted, ``RuntimeError`` when an
    input's shape stays dynamic, and ``onnx.checker.ValidationError`` for an invalid result.
    """
    if not isinstance(model, onnx.ModelProto):
        raise TypeError(f"optimize_model takes an onnx.ModelProto, got {type(model).__name__}")
    options = _options(input_shapes, opset_version)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise ValueError(
            "the model's weights are in external data files that were not loaded; "
            "load it with onnx.load(path) (load_external_data=True, the default)"
        )
    work = onnx.ModelProto()
    work.CopyFrom(model)
    return run_passes(work, PIPELINE, Context(options))
