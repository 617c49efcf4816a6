"""Exact int32 accumulators from onnxruntime's integer kernels.

``ConvInteger`` and ``MatMulInteger`` compute ``sum((x - zx) * (w - zw))`` in integer
arithmetic, so their results are exact whatever instructions they use, with one exception:
on x86 CPUs without VNNI, products of uint8 activations and *int8* weights may be formed by an
instruction that saturates pairs of products to int16. :func:`signed_exact` checks
once per process, on operands built to saturate, whether this CPU's onnxruntime computes
uint8 x int8 exactly; where it does not, weights are presented as uint8 (stored int8 plus 128),
which onnxruntime multiplies exactly on every CPU.

* :class:`Gemm`: ``MatMulInteger`` of activation rows (M, K) with constant weights (K, N) and
  per-column weight zero points (fully connected layers);
* :class:`PlanarGemm`: ``MatMulInteger`` of constant weights (O, K) with a patch matrix (K, P),
  giving accumulators in the (channels, pixels) layout of NCHW tensors (convolutions).

:class:`Gemm` runs single-threaded (callers split rows across threads, :mod:`.parallel`).
:class:`PlanarGemm` runs in one of two sessions shared by the whole process (shapes and zero
points are fed at each run): a single-threaded one, and one whose onnxruntime pool uses every
core the kernels may use, for products large enough to split while nothing else runs. The
split then happens inside onnxruntime, without the interpreter lock.
* :class:`IntegerConv` / :class:`IntegerMatmul`: whole convolutions and matrix products, the
  ``integer`` backend.

The backend is chosen by ``FURIOSA_EMU_KERNELS``: ``auto`` (default: ``native`` where the
native loops are built, else ``integer``), ``native`` (native im2col and requantization around
:class:`Gemm`), ``integer`` or ``blas`` (the float32 path of :mod:`.exact`).
"""
from __future__ import annotations

import os
import threading
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from furiosa.common import onnxrt
from furiosa.common.errors import InvalidSettingError

from . import native, parallel

_SHIFT = np.uint8(0x80)


BACKENDS = ("auto", "native", "integer", "blas")


def backend() -> str:
    """The backend asked for by ``FURIOSA_EMU_KERNELS``, with ``auto`` resolved."""
    value = os.environ.get("FURIOSA_EMU_KERNELS", "auto").strip().lower()
    if value not in BACKENDS:
        raise InvalidSettingError(f"FURIOSA_EMU_KERNELS must be one of {', '.join(BACKENDS)}, got {value!r}")
    if value in ("auto", "native"):
        if native.available():
            return "native"
        if value == "native":
            raise InvalidSettingError("FURIOSA_EMU_KERNELS=native: the native loops were not built with this installation "
                             "(reinstall with a C compiler available, or use auto, integer or blas)")
        return "integer"
    return value


def to_uint8(stored: np.ndarray) -> np.ndarray:
    """Stored int8 values plus 128, as uint8 (a sign-bit flip)."""
    return np.bitwise_xor(stored.view(np.uint8), _SHIFT)


def _session(model: onnx.ModelProto):
    # Many small sessions run one after another: threads that spin between runs would only
    # compete with the next session's threads for the cores.
    return onnxrt.session(model, spinning=False, shared_arena=True)


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
        self._run = onnxrt.run_function(_session(_model(node, x_shape, inits)))

    def __call__(self, x_stored: np.ndarray) -> np.ndarray:
        return self._run({"x": to_uint8(x_stored)})[0]


class IntegerMatmul:
    """``MatMulInteger`` of uint8 activations (M, K) with uint8 weights (K, N)."""

    def __init__(self, weight_kn_u8: np.ndarray, w_zero_u8: int, x_zero_u8: int, rows: int) -> None:
        node = helper.make_node("MatMulInteger", ["x", "w", "xz", "wz"], ["y"])
        inits = [numpy_helper.from_array(np.ascontiguousarray(weight_kn_u8), "w"),
                 numpy_helper.from_array(np.array(x_zero_u8, np.uint8), "xz"),
                 numpy_helper.from_array(np.array(w_zero_u8, np.uint8), "wz")]
        self._run = onnxrt.run_function(_session(_model(node, (rows, weight_kn_u8.shape[0]), inits)))

    def __call__(self, x_stored: np.ndarray) -> np.ndarray:
        return self._run({"x": to_uint8(x_stored)})[0]


def weight_zero(declared: np.ndarray, zero_points) -> int | None:
    """The single uint8 weight zero point, or None if the weights have several."""
    values = set(int(z) for z in np.asarray(zero_points).reshape(-1))
    return values.pop() if len(values) == 1 else None


_signed_exact: bool | None = None


def signed_exact() -> bool:
    """Whether onnxruntime's ``MatMulInteger`` multiplies uint8 by int8 exactly on this CPU.

    Checked once, on operands that saturate int16 pair sums (255 * 127 * 2 > 32767) wherever
    an instruction forms such sums.
    """
    global _signed_exact
    if _signed_exact is None:
        k = 64
        a = np.full((4, k), 255, np.uint8)
        a[1] = 0
        a[2, ::2] = 255
        a[2, 1::2] = 1
        b = np.empty((k, 3), np.int8)
        b[:, 0], b[:, 1] = 127, -128
        b[:, 2] = np.tile(np.array([127, -128], np.int8), k // 2)
        got = Gemm(b, np.zeros(3, np.int8), 0, signed=True)(a)
        _signed_exact = bool(np.array_equal(got, a.astype(np.int64) @ b.astype(np.int64)))
    return _signed_exact


def _matmul_integer(const_name: str, const: np.ndarray, input_type: int, input_shape, a_zero, b_zero) -> object:
    """A single-threaded session of ``MatMulInteger`` with one constant operand, its initializer."""
    node = helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])
    inits = [numpy_helper.from_array(a_zero, "az"), numpy_helper.from_array(b_zero, "bz"),
             numpy_helper.from_array(const, const_name)]
    input_name = "b" if const_name == "a" else "a"
    inputs = [helper.make_tensor_value_info(input_name, input_type, input_shape)]
    graph = helper.make_graph(
        [node], "gemm", inputs, [helper.make_tensor_value_info("y", TensorProto.INT32, None)], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return onnxrt.session(model, threads=1, shared_arena=True)


_planar_lock = threading.Lock()
_planar_runs: dict[tuple[bool, int], Callable[[dict], list]] = {}
_orphans: list[Callable[[dict], list]] = []


def _after_fork_in_child() -> None:
    """The pool threads of sessions made before a fork do not exist in the child: new sessions
    are made there when needed. The old ones are kept, never used: freeing a session joins its
    pool's threads."""
    global _planar_lock
    _planar_lock = threading.Lock()
    _orphans.extend(_planar_runs.values())
    _planar_runs.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _planar_run(signed: bool, threads: int) -> Callable[[dict], list]:
    """The process's ``MatMulInteger`` of uint8 (O, K) by int8 or uint8 (K, P), zero points fed."""
    key = (signed, threads)
    run = _planar_runs.get(key)
    if run is None:
        with _planar_lock:
            run = _planar_runs.get(key)
            if run is None:
                b_type = TensorProto.INT8 if signed else TensorProto.UINT8
                node = helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])
                inputs = [helper.make_tensor_value_info("a", TensorProto.UINT8, ["rows", "depth"]),
                          helper.make_tensor_value_info("b", b_type, ["depth", "pixels"]),
                          helper.make_tensor_value_info("az", TensorProto.UINT8, []),
                          helper.make_tensor_value_info("bz", b_type, [])]
                graph = helper.make_graph([node], "planar", inputs,
                                          [helper.make_tensor_value_info("y", TensorProto.INT32, None)])
                model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
                model.ir_version = 8
                # No spin-waiting: between two products the cores run the other kernels.
                session = onnxrt.session(model, threads=threads, spinning=False, shared_arena=True)
                run = _planar_runs[key] = onnxrt.run_function(session)
    return run


class PlanarGemm:
    """Constant weights (O, K) times a patch matrix (K, P): exact int32 accumulators (O, P).

    ``weight`` holds stored int8 values with one stored zero point ``weight_zero``; they are
    presented as uint8. The patch matrix holds stored int8 activations (zero point ``x_zero``)
    where :func:`signed_exact` holds, else the same plus 128 as uint8 (:attr:`signed` says
    which; :func:`.native.im2col` builds either).
    """

    def __init__(self, weight: np.ndarray, weight_zero: int, x_zero: int, signed: bool | None = None) -> None:
        self.signed = signed_exact() if signed is None else signed
        # The weights are fed at every run rather than held as an initializer: onnxruntime
        # multiplies as fast (it does not pre-pack the left operand) and keeps no copy of them.
        self._weight = to_uint8(np.ascontiguousarray(weight, np.int8))
        self._az = np.array(weight_zero + 128, np.uint8)
        self._bz = np.array(x_zero, np.int8) if self.signed else np.array(x_zero + 128, np.uint8)
        _planar_run(self.signed, 1)  # made now rather than at the first inference

    def __call__(self, patches: np.ndarray, threads: int = 1) -> np.ndarray:
        """The accumulators; ``threads`` > 1 lets onnxruntime use every core (see :func:`.parallel.ways`).

        The session is looked up at each call (not kept): a process forked after this object
        was made gets sessions of its own."""
        if threads > 1:
            native.short_polls()  # the native workers would poll on the cores onnxruntime's pool needs
        run = _planar_run(self.signed, parallel.cores() if threads > 1 else 1)
        return run({"a": self._weight, "b": patches, "az": self._az, "bz": self._bz})[0]


class Gemm:
    """``MatMulInteger`` of uint8 rows (M, K) with constant weights (K, N): exact int32 (M, N).

    ``weight`` holds stored int8 values and ``weight_zero`` their stored zero point per column
    (or one for all); ``x_zero`` is the activations' uint8 zero point. With ``signed`` left to
    None, weights are passed as int8 where :func:`signed_exact` holds (the fast form on
    CPUs with VNNI), else shifted to uint8.
    """

    def __init__(self, weight: np.ndarray, weight_zero, x_zero: int, signed: bool | None = None) -> None:
        k, n = weight.shape
        zeros = np.broadcast_to(np.asarray(weight_zero, np.int64).reshape(-1), (n,))
        if signed is None:
            signed = signed_exact()
        if signed:
            w, wz = np.ascontiguousarray(weight, np.int8), zeros.astype(np.int8)
        else:
            w, wz = to_uint8(np.ascontiguousarray(weight, np.int8)), (zeros + 128).astype(np.uint8)
        if len(set(wz.tolist())) == 1:
            wz = wz[:1].reshape(())
        self.signed = signed
        # The weights are the session's initializer: onnxruntime packs the right operand once
        # (fed at every run, it packed them at every run: 74 -> 22 us for a 1280 x 1000 layer).
        self._run = onnxrt.run_function(_matmul_integer("b", w, TensorProto.UINT8, ("rows", k),
                                                        np.array(x_zero, np.uint8), wz))

    def __call__(self, rows_u8: np.ndarray) -> np.ndarray:
        return self._run({"a": rows_u8})[0]
