"""``quantize``: the float model plus its calibration ranges, as bytes (spec/toolchain-api.md §3.5).

0.10 inserts no operator: the result is the input model, serialized, with the ranges in its
``FurisoaAI.CalibrationResult`` metadata entry. Other metadata (``ModelEditor``'s keys, the
user's) is kept. The compiler does the int8 work. The 0.9 keywords are accepted and recorded as
the ``ModelEditor`` calls that replaced them (§3.8):

* ``with_quantize=False``: every pure input takes uint8 (``WithoutQuantize``);
* ``normalized_pixel_outputs=[i, ...]``: output ``i`` is returned as uint8 for the range
  ``(0.0, 1.0)`` (``WithoutDequantize``).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import onnx

from . import _model
from .editor import get_pure_input_names, record_conversions, set_metadata
from .metadata import CALIBRATION_KEY, OutputConversion, dump_ranges


def quantize(
    model: Union[onnx.ModelProto, bytes],
    tensor_name_to_range: Mapping[str, Sequence[float]],
    *,
    with_quantize: bool = True,
    normalized_pixel_outputs: Optional[Sequence[int]] = None,
) -> bytes:
    """Record ``tensor_name_to_range`` in a copy of ``model`` and return the copy's bytes.

    Ranges are ``(min, max)`` sequences (tuples, or lists after a JSON round trip); names are not
    checked against the graph. A sequence shorter than two raises ``IndexError``.
    """
    source = _model.parse(_model.to_bytes(model))
    if not isinstance(tensor_name_to_range, Mapping):
        raise TypeError(f"tensor_name_to_range must map tensor names to (min, max), got "
                        f"{type(tensor_name_to_range).__name__}")
    ranges: dict[str, tuple[float, float]] = {}
    for name, bounds in tensor_name_to_range.items():
        if len(bounds) < 2:
            raise IndexError(f"the range of {name!r} must hold (min, max), got {list(bounds)!r}")
        ranges[str(name)] = (float(bounds[0]), float(bounds[1]))
    set_metadata(source, CALIBRATION_KEY, dump_ranges(ranges))
    if not with_quantize:
        record_conversions(source, inputs=list(range(len(get_pure_input_names(source)))), outputs=[])
    if normalized_pixel_outputs:
        count = len(source.graph.output)
        entries = []
        for index in normalized_pixel_outputs:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
                raise ValueError(
                    f"normalized_pixel_outputs holds {index!r}, but the model's outputs are numbered 0 to {count - 1}"
                )
            entries.append(OutputConversion(index, "uint8", (0.0, 1.0)))
        record_conversions(source, inputs=[], outputs=entries)
    return source.SerializeToString()
