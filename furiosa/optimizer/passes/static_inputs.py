"""Give every graph input a static shape (spec/toolchain-api.md §2.2 step 2c).

``input_shapes`` overrides the shapes it names (``None`` keeps the model's dimension). A
remaining symbolic first dimension is fixed to 1, logged at INFO on ``Furiosa-Optimizer`` in the
vendor's words; any other dynamic dimension is an error naming the input. Graph output shapes
are cleared so shape inference recomputes them from the new input shapes.
"""
from __future__ import annotations

import logging

import onnx

from ..manager import Context
from . import register

log = logging.getLogger("Furiosa-Optimizer")


def _known(dim: onnx.TensorShapeProto.Dimension) -> bool:
    return dim.HasField("dim_value") and dim.dim_value > 0


@register("static_inputs")
def static_inputs(model: onnx.ModelProto, context: Context) -> onnx.ModelProto:
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    pure = [v for v in graph.input if v.name not in initializers]
    overrides = dict(context.options.input_shapes)
    unknown = sorted(set(overrides) - {v.name for v in pure})
    if unknown:
        raise ValueError(
            f"input_shapes names {', '.join(repr(n) for n in unknown)}, which the model does not have as an input; "
            f"its inputs are {', '.join(repr(v.name) for v in pure)}"
        )
    for value in pure:
        if not value.type.HasField("tensor_type"):
            raise ValueError(f"input {value.name!r} is not a tensor; only tensor inputs are supported")
        tensor_type = value.type.tensor_type
        dims = tensor_type.shape.dim
        wanted = overrides.get(value.name)
        if wanted is not None:
            if tensor_type.HasField("shape") and len(dims) != len(wanted):
                raise ValueError(
                    f"input_shapes gives input {value.name!r} {len(wanted)} dimensions {list(wanted)}, "
                    f"but the model's input has {len(dims)}"
                )
            if not tensor_type.HasField("shape"):
                for _ in wanted:
                    dims.add()
            for dim, size in zip(dims, wanted):
                if size is not None:
                    dim.Clear()
                    dim.dim_value = int(size)
        if not tensor_type.HasField("shape"):
            raise RuntimeError(f'the static shape of input "{value.name}" must be given')
        if dims and not _known(dims[0]):
            log.info("Dynamic batch size is detected at input_name: %s. Fix batch_size=1 for valid shape inference.",
                     value.name)
            dims[0].Clear()
            dims[0].dim_value = 1
        if not all(_known(dim) for dim in dims):
            raise RuntimeError(f'the static shape of input "{value.name}" must be given')
    for output in graph.output:
        if output.type.HasField("tensor_type"):
            output.type.tensor_type.ClearField("shape")
    return model
