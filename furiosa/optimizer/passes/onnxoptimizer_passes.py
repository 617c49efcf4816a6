"""onnxoptimizer's fuse and eliminate passes (spec/toolchain-api.md §2.2 step 2e).

The list is pinned, as the vendor's tests pin theirs: the fuse/eliminate set onnx-simplifier
runs, less the passes the vendor skips (``fuse_bn_into_conv`` — batch norm is folded by
:mod:`.fuse_batchnorm` —, ``fuse_add_bias_into_conv``, ``eliminate_duplicate_initializer``,
``fuse_qkv``) and the ones that rename or restructure beyond a local rewrite. ``MatMul + Add``
becomes ``Gemm`` here. Graph input and output names are kept: if a pass would rename an output
the model is returned unchanged by that step.
"""
from __future__ import annotations

import logging

import onnx
import onnxoptimizer

from ..manager import Context
from . import register

log = logging.getLogger("furiosa.optimizer")

FUSE_AND_ELIMINATE = (
    "eliminate_deadend",
    "eliminate_identity",
    "eliminate_nop_cast",
    "eliminate_nop_dropout",
    "eliminate_nop_flatten",
    "eliminate_nop_monotone_argmax",
    "eliminate_nop_pad",
    "eliminate_nop_concat",
    "eliminate_nop_split",
    "eliminate_nop_expand",
    "eliminate_nop_reshape",
    "eliminate_nop_transpose",
    "eliminate_nop_with_unit",
    "eliminate_consecutive_idempotent_ops",
    "eliminate_if_with_const_cond",
    "eliminate_shape_gather",
    "eliminate_slice_after_shape",
    "eliminate_unused_initializer",
    "fuse_consecutive_concats",
    "fuse_consecutive_log_softmax",
    "fuse_consecutive_reduce_unsqueeze",
    "fuse_consecutive_squeezes",
    "fuse_consecutive_unsqueezes",
    "fuse_consecutive_transposes",
    "fuse_consecutive_slices",
    "fuse_matmul_add_bias_into_gemm",
    "fuse_pad_into_conv",
    "fuse_pad_into_pool",
    "fuse_transpose_into_gemm",
    "fuse_concat_into_reshape",
)

CLEANUP = ("eliminate_deadend", "eliminate_unused_initializer")


@register("onnxoptimizer")
def onnxoptimizer_passes(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    before = _io_names(model)
    optimized = onnxoptimizer.optimize(model, list(FUSE_AND_ELIMINATE), fixed_point=True)
    optimized = onnxoptimizer.optimize(optimized, list(CLEANUP))  # fusions leave dead producers
    if _io_names(optimized) != before:
        log.warning("onnxoptimizer renamed graph inputs or outputs; its result is not used")
        return model
    return optimized


def _io_names(model: onnx.ModelProto) -> tuple[list[str], list[str]]:
    initializers = {t.name for t in model.graph.initializer}
    return [v.name for v in model.graph.input if v.name not in initializers], [v.name for v in model.graph.output]
