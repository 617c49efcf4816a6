"""Exact int32 accumulators from onnxruntime's integer kernels.

``ConvInteger`` and ``MatMulInteger`` compute ``sum((x - zx) * (w - zw))`` in integer
arithmetic, so their results are exact whatever instructions they use (VNNI where the CPU has
it). Operands are presented as uint8 (stored int8 plus 128, zero points shifted alike), the
form onnxruntime runs fastest. Only per-tensor weight zero points are supported; other cases
use the float32 path of :mod:`.exact`.

The backend is chosen by ``FURIOSA_EMU_KERNELS``: ``auto`` (default: integer where supported),
``blas`` (always the float32 path) or ``integer``.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from furiosa.common import onnxrt

_SHIFT = np.uint8(0x80)


def backend() -> str:
    value = os.environ.get("FURIOSA_EMU_KERNELS", "auto").strip().lower()
    if value not in ("auto", "blas", "integer"):
        raise ValueError(f"FURIOSA_EMU_KERNELS must be auto, blas or integer, got {value!r}")
    return value


def to_uint8(stored: np.ndarray) -> np.ndarray:
    """Stored int8 values plus 128, as uint8 (a sign-bit flip)."""
    return np.bitwise_xor(stored.view(np.uint8), _SHIFT)


def _session(model: onnx.ModelProto):
    # Many small sessions run one after another: threads that spin between runs would only
    # compete with the next session's threads for the cores.
    return onnxrt.session(model, spinning=False)


def _model(node: onnx.NodeProto, x_shape: tuple[int, ...], inits: list[onnx.TensorProto]) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node], "integer",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


class IntegerConv:
    """``ConvInteger`` on uint8 operands: exact ``sum((x - zx)(w - zw))``."""

    def __init__(self, weight_u8: np.ndarray, w_zero_u8: int, x_zero_u8: int, x_shape: tuple[int, ...],
                 strides, pads, dilations, group: int) -> None:
        node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], strides=list(strides),
                                pads=list(pads), dilations=list(dilations), group=group)
        inits = [numpy_helper.from_array(weight_u8, "w"),
                 numpy_helper.from_array(np.array(x_zero_u8, np.uint8), "xz"),
                 numpy_helper.from_array(np.array(w_zero_u8, np.uint8), "wz")]
        self._session = _session(_model(node, x_shape, inits))

    def __call__(self, x_stored: np.ndarray) -> np.ndarray:
        return self._session.run(None, {"x": to_uint8(x_stored)})[0]


class IntegerMatmul:
    """``MatMulInteger`` of uint8 activations (M, K) with uint8 weights (K, N)."""

    def __init__(self, weight_kn_u8: np.ndarray, w_zero_u8: int, x_zero_u8: int, rows: int) -> None:
        node = helper.make_node("MatMulInteger", ["x", "w", "xz", "wz"], ["y"])
        inits = [numpy_helper.from_array(np.ascontiguousarray(weight_kn_u8), "w"),
                 numpy_helper.from_array(np.array(x_zero_u8, np.uint8), "xz"),
                 numpy_helper.from_array(np.array(w_zero_u8, np.uint8), "wz")]
        self._session = _session(_model(node, (rows, weight_kn_u8.shape[0]), inits))

    def __call__(self, x_stored: np.ndarray) -> np.ndarray:
        return self._session.run(None, {"x": to_uint8(x_stored)})[0]


def weight_zero(declared: np.ndarray, zero_points) -> int | None:
    """The single uint8 weight zero point, or None if the weights have several."""
    values = set(int(z) for z in np.asarray(zero_points).reshape(-1))
    return values.pop() if len(values) == 1 else None
