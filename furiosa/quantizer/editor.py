"""``ModelEditor``, ``TensorType`` and the input/output name helpers (spec/toolchain-api.md §3.6).

The editor changes only the model's metadata, in place: the graph stays float. The compiler
reads the keys (``furiosa.compiler.edges``): a converted input takes uint8 data quantized with
the input's calibrated range; a converted output is returned as int8 / uint8 with the given (or
calibrated) range. Validation messages are the vendor's, its typo included.
"""
from __future__ import annotations

import enum
from typing import List, Optional, Tuple

import onnx

from .metadata import (
    WITHOUT_DEQUANTIZE_KEY,
    WITHOUT_QUANTIZE_KEY,
    OutputConversion,
    dump_without_dequantize,
    dump_without_quantize,
    load_without_dequantize,
    load_without_quantize,
)


class TensorType(enum.IntEnum):
    """The quantized types a model input or output can be converted to."""

    UINT8 = 1
    INT8 = 2


_DTYPES = {TensorType.UINT8: "uint8", TensorType.INT8: "int8"}


def get_pure_input_names(model: onnx.ModelProto) -> List[str]:
    """The graph inputs not backed by an initializer, in order."""
    initializers = {t.name for t in model.graph.initializer}
    return [value.name for value in model.graph.input if value.name not in initializers]


def get_output_names(model: onnx.ModelProto) -> List[str]:
    """The graph outputs, in order."""
    return [value.name for value in model.graph.output]


def set_metadata(model: onnx.ModelProto, key: str, value: Optional[str]) -> None:
    """Set (or with ``None`` remove) one ``metadata_props`` entry, keeping the others in order."""
    entries = [(p.key, p.value) for p in model.metadata_props if p.key != key]
    position = next((i for i, p in enumerate(model.metadata_props) if p.key == key), len(entries))
    if value is not None:
        entries.insert(position, (key, value))
    del model.metadata_props[:]
    for k, v in entries:
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v


class ModelEditor:
    """Records input and output type conversions in a model's metadata (the model is edited in place)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self._model = model
        self._inputs = get_pure_input_names(model)
        self._outputs = get_output_names(model)
        self._without_quantize: set[int] = set()
        self._without_dequantize: dict[int, OutputConversion] = {}

    def _write(self) -> None:
        if self._without_quantize:
            set_metadata(self._model, WITHOUT_QUANTIZE_KEY, dump_without_quantize(sorted(self._without_quantize)))
        else:
            set_metadata(self._model, WITHOUT_QUANTIZE_KEY, None)
        if self._without_dequantize:
            entries = list(self._without_dequantize.values())
            set_metadata(self._model, WITHOUT_DEQUANTIZE_KEY, dump_without_dequantize(entries))
        else:
            set_metadata(self._model, WITHOUT_DEQUANTIZE_KEY, None)

    def convert_input_type(self, tensor_name: str, tensor_type: TensorType) -> None:
        """Feed the pure input ``tensor_name`` as uint8 quantized data (its Quantize is removed)."""
        if tensor_name not in self._inputs:
            raise ValueError(f"Could find a pure input tensor named '{tensor_name}'.")
        if tensor_type != TensorType.UINT8 or isinstance(tensor_type, bool):
            raise ValueError(f"ModelEditor.convert_input_type does not support {_number(tensor_type)} yet.")
        self._without_quantize.add(self._inputs.index(tensor_name))
        self._write()

    def convert_output_type(self, tensor_name: str, tensor_type: TensorType,
                            tensor_range: Optional[Tuple[float, float]] = None) -> None:
        """Return output ``tensor_name`` as int8 / uint8 quantized data with ``tensor_range``
        (``None``: the calibrated range)."""
        if tensor_name not in self._outputs:
            raise ValueError(f"Could not find an output tensor named '{tensor_name}'.")
        if isinstance(tensor_type, bool) or tensor_type not in (TensorType.UINT8, TensorType.INT8):
            raise ValueError(f"ModelEditor.convert_output_type does not support {_number(tensor_type)} yet.")
        if tensor_range is not None:
            if not (isinstance(tensor_range, tuple) and len(tensor_range) == 2
                    and all(type(v) is float for v in tensor_range)):
                raise RuntimeError("fail to get range from parameter")
            tensor_range = (float(tensor_range[0]), float(tensor_range[1]))
        index = self._outputs.index(tensor_name)
        self._without_dequantize[index] = OutputConversion(index, _DTYPES[TensorType(tensor_type)], tensor_range)
        self._write()


def _number(value: object) -> object:
    return int(value) if isinstance(value, enum.IntEnum) else value


def record_conversions(model: onnx.ModelProto, *, inputs: list[int], outputs: list[OutputConversion]) -> None:
    """Add input / output conversions to a model's metadata, merged with what it already records
    (used by ``quantize``'s 0.9 keywords)."""
    if inputs:
        current = load_without_quantize(_get(model, WITHOUT_QUANTIZE_KEY) or "")
        set_metadata(model, WITHOUT_QUANTIZE_KEY, dump_without_quantize(sorted(set(current) | set(inputs))))
    if outputs:
        current_out = {e.index: e for e in load_without_dequantize(_get(model, WITHOUT_DEQUANTIZE_KEY) or "[]")}
        for entry in outputs:
            current_out[entry.index] = entry
        set_metadata(model, WITHOUT_DEQUANTIZE_KEY, dump_without_dequantize(list(current_out.values())))


def _get(model: onnx.ModelProto, key: str) -> Optional[str]:
    return next((p.value for p in model.metadata_props if p.key == key), None)
