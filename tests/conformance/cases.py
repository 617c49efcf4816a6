"""The conformance table: every case defined once, as data, one generator per operator family.

Each family function returns :class:`~tests.conformance.builders.Case` rows built from a small
table of specifications (geometry, data types, which parameters are per channel...). Random
values (data, scales, zero points) come from a generator seeded by the case id. The docstring
of each builder says which model ``onnx.reference`` evaluates to obtain the expected values and
why that model computes exactly our semantics; :mod:`tests.conformance.test_kernels` gives the
overview.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

from furiosa.common.functions import BINARY, UNARY

from .builders import (
    LIMITS,
    QP,
    Built,
    Case,
    activation_qp,
    anchored_qp,
    const,
    dequantized,
    dq,
    every_value,
    float_outputs,
    log_uniform,
    model,
    output_qp_for,
    q,
    qp,
    quantizable,
    requantized_qp,
    stored,
    zero_point,
)

INT64_MAX = 2**63 - 1


def _pick(rng: np.random.Generator, dtype: str | None) -> str:
    return dtype or str(rng.choice(["int8", "uint8"]))


def _other(dtype: str) -> str:
    return "int8" if dtype == "uint8" else "uint8"


# =============================================================================================
# MAC operators: conv, gemm, matmul
# =============================================================================================
def _weight_qp(rng, dtype: str, channels: int, per_channel: bool, zp_mode: str, lo_exp=-3.0, hi_exp=-1.0) -> QP:
    """Weight parameters: per-channel scales spread over two orders of magnitude around a base.

    ``zp_mode``: ``zero`` (symmetric), ``one`` (one non-zero zero point, repeated per channel)
    or ``varying`` (a different zero point per channel).
    """
    base = log_uniform(rng, lo_exp, hi_exp)
    if not per_channel:
        zp = {"zero": 0 if dtype == "int8" else 128}.get(zp_mode)
        return qp(base, zero_point(rng, dtype) if zp is None else zp, dtype)
    scales = (base * log_uniform(rng, -1.0, 1.0, channels)).astype(np.float32)
    if zp_mode == "zero":
        zps = np.full(channels, 0 if dtype == "int8" else 128)
    elif zp_mode == "one":
        zps = np.full(channels, int(zero_point(rng, dtype)))
    else:
        zps = zero_point(rng, dtype, channels)
    return qp(scales, zps, dtype)


def _mac_output(rng, real: np.ndarray, axis: int, dtype: str | None) -> QP:
    """Output parameters sized from approximate real results (a float evaluation of the
    dequantized operands: sizing only, never the oracle). The median channel's central 96 %
    spans the range; channels with larger weight scales saturate, smaller ones use few levels.
    """
    per = np.moveaxis(np.asarray(real, np.float64), axis, 0).reshape(real.shape[axis], -1)
    lo, hi = (float(np.median(v)) for v in np.percentile(per, [2, 98], axis=1))
    lo, hi = min(lo, 0.0), max(hi, 0.0)  # the zero point is in range: the range holds 0
    dtype = _pick(rng, dtype)
    qlo, qhi = LIMITS[dtype]
    scale = np.float32(((hi - lo) or 1.0) / 255 * rng.uniform(0.8, 1.25))
    z = int(np.clip(np.rint(qlo - lo / scale) + rng.integers(-12, 13), qlo, qhi))
    return qp(scale, z, dtype)


def _real_mac(op: str, attrs: dict, operands: list[tuple[str, np.ndarray, QP, int | None, bool]],
              bias: np.ndarray | None, bias_axis: int | None) -> np.ndarray:
    """Float evaluation of ``op`` on dequantized operands (name, values, parameters, axis, is a
    graph input), to size the output parameters."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    feeds = {}
    floats = []
    for name, values, p, axis, is_input in operands:
        if is_input:
            feeds[name] = values
        source = name if is_input else const(inits, name, values)
        floats.append(dq(nodes, inits, source, p, name + "_dq", axis))
    if bias is not None:
        bias_scale = (np.float32(operands[0][2].scale) * operands[1][2].scale).astype(np.float32)
        floats.append(dq(nodes, inits, const(inits, "bias", bias), QP(bias_scale, np.zeros(bias_scale.shape, np.int32)),
                         "bias_dq", bias_axis if bias_scale.ndim else None))
    nodes.append(helper.make_node(op, floats, ["real"], **attrs))
    return float_outputs(nodes, inits, feeds, ["real"], 13)[0]


def _rms(values: np.ndarray, axis=None) -> np.ndarray:
    return np.sqrt(np.mean(np.square(values.astype(np.float64)), axis=axis))


def _bias(rng, kind: str | None, acc_rms: np.ndarray) -> np.ndarray | None:
    """int32 bias: ``small`` (about one accumulator RMS) or ``large`` (up to 2**26, saturating)."""
    if kind is None:
        return None
    spread = acc_rms if kind == "small" else np.full_like(acc_rms, 2.0**26)
    return np.clip(rng.normal(0, 1, acc_rms.shape) * spread, -(2**31), 2**31 - 1).astype(np.int32)


# How the operands of a MAC case are drawn:
#   full       - every stored value equally likely (large sums; output steps of many units);
#   narrow     - within 3 of the zero points, so the output scale is about one accumulator unit
#                and any error in the sum shows;
#   pow2       - narrow, with power-of-two scales making the multiplier 1/4, 1/2 or 1: many
#                results are exact .5 ties (rounding half to even is checked);
#   exhaustive - every stored input value times every stored weight value (K = 1), each output
#                channel with its own multiplier: 65,536 products requantized;
#   boundary   - K = 33 with weights (+-1, +-B...), and for each output channel the inputs whose
#                requantized value is nearest a rounding boundary k + 1/2 (the hardest cases
#                for the float32 multiplier and the float64 product).
DATA_MODES = ("full", "narrow", "pow2", "exhaustive", "boundary")


def _operand(rng, data: str, shape: Sequence[int], p: QP, axis: int | None = None) -> np.ndarray:
    """Stored values of a MAC operand with parameters ``p`` (zero points along ``axis``)."""
    if data in ("full", "exhaustive"):
        return stored(rng, shape, p.dtype)
    zp = p.zero_point.astype(np.int64)
    if zp.ndim:
        bshape = [1] * len(shape)
        bshape[axis] = -1
        zp = zp.reshape(bshape)
    lo, hi = LIMITS[p.dtype]
    return np.clip(zp + rng.integers(-3, 4, size=tuple(shape)), lo, hi).astype(p.dtype)


def _pow2(rng, lo: int, hi: int, size=None) -> np.ndarray:
    return np.asarray(np.float32(2.0) ** rng.integers(lo, hi + 1, size), np.float32)


BOUNDARY_K = 33  # reduction length of boundary cases: one +-1 weight, 32 weights +-B


def _boundary_weights(wq: QP, columns: int) -> np.ndarray:
    """Stored (BOUNDARY_K, columns) weights with ``w - zw`` = (+-1, +-B, ..., +-B), B the
    largest magnitude the zero point allows (128 to 255): the sum ``+-a0' +- B * (a1' + ... )``
    reaches every integer of a range of about 32 * 256 * B."""
    lo, hi = wq.limits
    zp = np.broadcast_to(wq.zero_point.astype(np.int64), (columns,))
    first = np.where(zp + 1 <= hi, zp + 1, zp - 1)
    big = np.where(hi - zp >= zp - lo, hi, lo)
    return np.stack([first] + [big] * (BOUNDARY_K - 1)).astype(wq.dtype)


def _boundary_output(rng, aq: QP, wq: QP, weights: np.ndarray, dtype: str | None) -> QP:
    """Output parameters under which every sum the median column can reach stays unsaturated:
    hundreds of distinct sums per output step, so some land very near each boundary."""
    lo, hi = aq.limits
    za = int(aq.zero_point)
    wprime = weights.astype(np.int64) - np.broadcast_to(wq.zero_point.astype(np.int64), (weights.shape[1],))
    column = int(np.argsort(wq.scale.reshape(-1))[wq.scale.size // 2]) if wq.scale.ndim else 0
    ends = [(lo - za) * w for w in wprime[:, column]], [(hi - za) * w for w in wprime[:, column]]
    acc_lo = min(0, sum(min(a, b) for a, b in zip(*ends)))
    acc_hi = max(0, sum(max(a, b) for a, b in zip(*ends)))
    sw = float(wq.scale.reshape(-1)[column])
    scale = np.float32((acc_hi - acc_lo) * float(aq.scale) * sw / 255 * rng.uniform(1.0, 1.1))
    dtype = _pick(rng, dtype)
    qlo, qhi = LIMITS[dtype]
    z = int(np.clip(np.rint(qlo - acc_lo * float(aq.scale) * sw / scale), qlo, qhi))
    return qp(scale, z, dtype)


def _multipliers(sx, sw, sy, columns: int) -> np.ndarray:
    """The requantization multipliers of the semantics, ``float32(float32(sx * sw) / sy)``."""
    m = (np.float32(sx) * np.asarray(sw, np.float32)).astype(np.float32) / np.float32(sy)
    return np.broadcast_to(m.astype(np.float32), (columns,))


def _boundary_rows(aq: QP, weights: np.ndarray, wq: QP, mults: np.ndarray, yq: QP, per_column: int,
                   offsets: np.ndarray | None = None) -> np.ndarray:
    """Stored input rows, ``per_column`` for each output column in turn, whose sum requantizes
    (before rounding) nearest a rounding boundary ``k + 1/2`` of the unsaturated range: where a
    multiplier or a product computed with another precision, or another rounding, gives
    another integer. For each boundary the nearest sums are the floor and ceiling of
    ``(k + 1/2 - zy) / M``; each chosen sum is decomposed into inputs for
    :func:`_boundary_weights`."""
    lo, hi = aq.limits
    za = int(aq.zero_point)
    alo, ahi = lo - za, hi - za
    many = weights.shape[0] - 1
    wprime = weights.astype(np.int64) - np.broadcast_to(wq.zero_point.astype(np.int64), (weights.shape[1],))
    ylo, yhi = yq.limits
    zy = float(yq.zero_point)
    rows = []
    for c in range(weights.shape[1]):
        s0, wb = int(wprime[0, c]), int(wprime[1, c])
        offset = 0 if offsets is None else int(offsets[c])
        m = np.float64(mults[c])
        k = np.arange(ylo, yhi, dtype=np.float64) + 0.5
        ideal = (k - zy) / m - offset
        candidates = np.unique(np.concatenate([np.floor(ideal), np.ceil(ideal)])).astype(np.int64)
        y = (candidates + offset).astype(np.float64) * m + zy
        distance = np.abs(y - np.floor(y) - 0.5)
        chosen = []
        for acc in candidates[np.argsort(distance, kind="stable")]:
            t0_lo, t0_hi = sorted((s0 * alo, s0 * ahi))
            t0 = t0_lo + (int(acc) - t0_lo) % abs(wb)
            total = (int(acc) - t0) // wb
            if t0 > t0_hi or not many * alo <= total <= many * ahi:
                continue
            parts = [total // many + (1 if i < total % many else 0) for i in range(many)]
            chosen.append([s0 * t0, *parts])
            if len(chosen) == per_column:
                break
        rows.append(np.asarray(chosen, np.int64) + za)
    return np.concatenate(rows).astype(aq.dtype)


def _pow2_params(rng, xq: QP, wq: QP, y: str | None) -> tuple[QP, QP, QP]:
    """Power-of-two scales: ``sx = 2**a``, ``sw = 2**b`` (per channel), ``sy = sx * 2**-4`` so
    that ``M = sw * 2**4`` is 1/4, 1/2 or 1; zero points in the middle half."""
    xs = _pow2(rng, -7, -3)
    ws = _pow2(rng, -6, -4, wq.scale.shape or None)
    y_dtype = _pick(rng, y)
    lo, hi = LIMITS[y_dtype]
    yq = qp(xs * np.float32(2.0**-4), rng.integers(lo + 64, hi - 63), y_dtype)
    return QP(xs, xq.zero_point), QP(ws, wq.zero_point), yq


class ConvSpec(dict):
    """Geometry and quantization of a conv case (plain keyword data with defaults)."""

    DEFAULTS: dict[str, Any] = dict(
        n=1, c=4, hw=(7, 7), o=4, k=(3, 3), strides=(1, 1), pads=None, auto_pad=None, dilations=(1, 1),
        group=1, bias="small", x=None, w="int8", y=None, per_channel=True, w_zp="zero", data="full",
    )

    def __getattr__(self, name: str) -> Any:
        return self[name] if name in self else self.DEFAULTS[name]


def _conv_data(rng, s: ConvSpec, relu: bool = False):
    """Input, weights, parameters and bias of a conv case (output parameters sized for the
    results after a Relu with ``relu``)."""
    x_dtype = _pick(rng, s.x)
    xq = activation_qp(rng, x_dtype, lo_exp=-2.5, hi_exp=0.5, inner=s.data == "pow2")
    wq = _weight_qp(rng, s.w, s.o, s.per_channel, s.w_zp)
    kh, kw = s.k
    if s.data == "exhaustive":
        assert (s.n, s.c, s.o, s.k, s.group) == (1, 1, 256, (1, 1), 1) and s.hw == (16, 16)
        x = every_value(x_dtype).reshape(1, 1, 16, 16)
        w = every_value(s.w).reshape(256, 1, 1, 1)
    else:
        x = _operand(rng, s.data, (s.n, s.c, *s.hw), xq)
        w = _operand(rng, s.data, (s.o, s.c // s.group, kh, kw), wq, 0)
    wprime = w.astype(np.int64) - np.broadcast_to(wq.zero_point.astype(np.int64), (s.o,)).reshape(-1, 1, 1, 1)
    k = (s.c // s.group) * kh * kw
    acc_rms = np.sqrt(k) * _rms(x.astype(np.int64) - int(xq.zero_point)) * _rms(wprime.reshape(s.o, -1), axis=1)
    bias = _bias(rng, s.bias, np.maximum(acc_rms, 1.0))
    w_axis = 0 if wq.scale.ndim else None
    real = _real_mac("Conv", _conv_attrs(s), [("x", x, xq, None, True), ("w", w, wq, w_axis, False)], bias, 0)
    yq = _mac_output(rng, np.maximum(real, 0) if relu else real, 1, s.y)
    if s.data == "pow2":
        xq, wq, yq = _pow2_params(rng, xq, wq, s.y)
    if s.data == "boundary":
        assert s.c == BOUNDARY_K and s.k == (1, 1) and s.group == 1 and s.n == 1 and not s.pads and not s.auto_pad
        pairs = s.hw[0] * s.hw[1] // s.o
        pixels = s.hw[0] * s.hw[1]
        weights = _boundary_weights(wq, s.o)
        yq = _boundary_output(rng, xq, wq, weights, s.y)
        w = np.ascontiguousarray(weights.T).reshape(s.o, BOUNDARY_K, 1, 1)
        rows = _boundary_rows(xq, weights, wq, _multipliers(xq.scale, wq.scale, yq.scale, s.o), yq, pairs, bias)
        rows = np.concatenate([rows, stored(rng, (pixels - len(rows), BOUNDARY_K), xq.dtype)])
        x = np.ascontiguousarray(rows.T).reshape(1, BOUNDARY_K, *s.hw)
    return x, xq, w, wq, yq, bias


def _conv_attrs(s: ConvSpec) -> dict[str, Any]:
    attrs: dict[str, Any] = {"kernel_shape": list(s.k), "strides": list(s.strides), "dilations": list(s.dilations),
                             "group": s.group}
    if s.auto_pad:
        attrs["auto_pad"] = s.auto_pad
    elif s.pads is not None:
        attrs["pads"] = list(s.pads)
    return attrs


def conv_case(case_id: str, **spec: Any) -> Case:
    """A QLinearConv model: its own reference (QLinearConv is the MAC semantics' definition)."""
    s = ConvSpec(spec)

    def build(rng) -> Built:
        x, xq, w, wq, yq, bias = _conv_data(rng, s)
        inits: list[onnx.TensorProto] = []
        names = ["x", *xq.names("x", inits), const(inits, "w", w), *wq.names("w", inits), *yq.names("y", inits)]
        if bias is not None:
            names.append(const(inits, "bias", bias))
        node = helper.make_node("QLinearConv", names, ["y"], **_conv_attrs(s))
        return Built(model([node], {"x": x}, {"y": yq.dtype}, inits), {"x": x})

    return Case(case_id, "conv", ("conv",), build)


def _activation_nodes(nodes: list, inits: list, source: str, kind: str, bounds: tuple[float, float],
                      prefix: str) -> str:
    """Relu / Clip after ``source`` (Clip bounds as inputs, or attributes for opset 10)."""
    lo, hi = (np.float32(b) for b in bounds)
    out = prefix + "_act"
    if kind == "none":
        return source
    if kind == "relu":
        nodes.append(helper.make_node("Relu", [source], [out]))
    elif kind == "clip_attrs":
        nodes.append(helper.make_node("Clip", [source], [out], min=float(lo), max=float(hi)))
    else:
        lo_name = const(inits, prefix + "_min", lo) if kind in ("clip", "clip_min") else ""
        hi_name = const(inits, prefix + "_max", hi) if kind in ("clip", "clip_max") else ""
        nodes.append(helper.make_node("Clip", [source, lo_name, hi_name] if hi_name else [source, lo_name], [out]))
    return out


def _clip_bounds(rng, yq: QP) -> tuple[float, float]:
    """Bounds inside the output range, not on the quantization grid (so they round)."""
    lo_q, hi_q = yq.limits
    grid = (np.array([lo_q, hi_q], np.float64) - float(yq.zero_point)) * float(yq.scale)
    lo = grid[0] + (grid[1] - grid[0]) * rng.uniform(0.1, 0.45)
    hi = grid[0] + (grid[1] - grid[0]) * rng.uniform(0.55, 0.9)
    return float(lo), float(hi)


def conv_chain_case(case_id: str, activation: str = "none", opset: int = 13, float_bias: bool = False,
                    **spec: Any) -> Case:
    """A QDQ chain ``DequantizeLinear -> Conv (-> Relu / Clip) -> QuantizeLinear``.

    Reference: the same data as QOperator, ``QLinearConv -> DequantizeLinear -> act ->
    QuantizeLinear`` with the output parameters throughout. Why this is exactly our semantics:
    the MAC part is QLinearConv by definition (exact sum, QLinearConv's float32 multiplier and
    rounding), with the int32 bias used as it is (its scale is ``float32(sx * sw)``). The fused
    activation clamps the stored result to ``[quantize(lo), quantize(hi)]``; on the reference's
    side ``quantize(act(dequantize(q)))`` is the same clamp, because re-quantizing a value of
    the output grid gives it back exactly (``(q - z) * s / s`` is within a few ulps of an
    integer) and quantization is monotone. A float Conv in the reference would not do: its
    float32 sums are not the exact integer sums.

    ``float_bias``: the bias is a float initializer (no DequantizeLinear); our compiler rounds it
    to the accumulator scale, ``rint(float64(b) / float64(float32(sx * sw)))``, which the
    reference's int32 bias reproduces.
    """
    s = ConvSpec(spec)

    def build(rng) -> Built:
        x, xq, w, wq, yq, bias = _conv_data(rng, s, relu=activation == "relu")
        bias_scale = (np.float32(xq.scale) * wq.scale).astype(np.float32)
        bounds = _clip_bounds(rng, yq)
        axis = 0 if wq.scale.ndim else None
        # The model under test.
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        xf = dq(nodes, inits, "x", xq, "x_dq")
        wf = dq(nodes, inits, const(inits, "w", w), wq, "w_dq", axis)
        conv_inputs = [xf, wf]
        real_bias = None
        if bias is not None and float_bias:
            real_bias = (bias.astype(np.float64) * bias_scale.astype(np.float64)
                         * rng.uniform(0.98, 1.02, bias.shape)).astype(np.float32)
            conv_inputs.append(const(inits, "bias_float", real_bias))
        elif bias is not None:
            bq = QP(bias_scale, np.zeros(bias_scale.shape, np.int32))
            conv_inputs.append(dq(nodes, inits, const(inits, "bias", bias), bq, "bias_dq", axis))
        nodes.append(helper.make_node("Conv", conv_inputs, ["conv"], **_conv_attrs(s)))
        act = _activation_nodes(nodes, inits, "conv", activation, bounds, "conv")
        q(nodes, inits, act, yq, "y")
        under_test = model(nodes, {"x": x}, {"y": yq.dtype}, inits, opset)
        # The reference: QLinearConv, then the activation on the output grid.
        ref_bias = bias
        if real_bias is not None:
            ref_bias = np.rint(real_bias.astype(np.float64) / bias_scale.astype(np.float64)).astype(np.int32)
        rnodes: list[onnx.NodeProto] = []
        rinits: list[onnx.TensorProto] = []
        names = ["x", *xq.names("x", rinits), const(rinits, "w", w), *wq.names("w", rinits), *yq.names("yc", rinits)]
        if ref_bias is not None:
            names.append(const(rinits, "bias", ref_bias))
        rnodes.append(helper.make_node("QLinearConv", names, ["yc"], **_conv_attrs(s)))
        if activation == "none":
            rnodes.append(helper.make_node("Identity", ["yc"], ["y"]))
        else:
            yf = dq(rnodes, rinits, "yc", yq, "yc_dq")
            ract = _activation_nodes(rnodes, rinits, yf, activation, bounds, "ref")
            q(rnodes, rinits, ract, yq, "y")
        reference = model(rnodes, {"x": x}, {"y": yq.dtype}, rinits, opset)
        return Built(under_test, {"x": x}, reference)

    return Case(case_id, "conv", ("conv",), build)


def conv_cases() -> list[Case]:
    qop = [
        # 1x1 (pointwise path), strides, pads on a 1x1 kernel
        conv_case("conv/1x1", c=8, o=6, hw=(5, 6), k=(1, 1), x="uint8", y="uint8"),
        conv_case("conv/1x1-s2-batch2", n=2, c=6, o=5, hw=(7, 6), k=(1, 1), strides=(2, 2), x="int8", y="int8"),
        conv_case("conv/1x1-padded", c=3, o=4, hw=(4, 4), k=(1, 1), pads=(1, 0, 0, 2)),
        # 3x3: symmetric / asymmetric pads, strides 1-3, no bias, per-tensor weights
        conv_case("conv/3x3-p1", c=5, o=7, k=(3, 3), pads=(1, 1, 1, 1), x="uint8", y="int8"),
        conv_case("conv/3x3-s2-asym", n=2, c=4, o=6, hw=(9, 8), pads=(0, 1, 2, 0), strides=(2, 2)),
        conv_case("conv/3x3-s3", c=3, o=4, hw=(11, 10), strides=(3, 3), pads=(1, 1, 1, 1), bias=None),
        conv_case("conv/3x3-s2x1", c=4, o=3, hw=(8, 7), strides=(2, 1), pads=(1, 0, 1, 0), x="int8"),
        conv_case("conv/3x3-per-tensor", c=6, o=5, per_channel=False, x="uint8", y="uint8"),
        conv_case("conv/3x3-per-tensor-wzp", c=6, o=5, per_channel=False, w_zp="one", bias=None),
        # 5x5 and 7x7
        conv_case("conv/5x5-p2", c=3, o=4, hw=(9, 9), k=(5, 5), pads=(2, 2, 2, 2)),
        conv_case("conv/5x5-s2-d2", n=2, c=2, o=3, hw=(13, 12), k=(5, 5), strides=(2, 2), dilations=(2, 2),
                  pads=(2, 1, 3, 2)),
        conv_case("conv/7x7-s2-p3", c=3, o=8, hw=(15, 14), k=(7, 7), strides=(2, 2), pads=(3, 3, 3, 3),
                  x="uint8"),
        conv_case("conv/7x7-asym", c=2, o=3, hw=(9, 10), k=(7, 7), pads=(0, 3, 2, 1)),
        conv_case("conv/1x3", c=4, o=4, hw=(6, 7), k=(1, 3), pads=(0, 1, 0, 1)),
        conv_case("conv/3x1-s2", c=4, o=4, hw=(7, 6), k=(3, 1), strides=(2, 1), pads=(1, 0, 1, 0)),
        # auto_pad
        conv_case("conv/same-upper-s2", c=3, o=4, hw=(8, 7), strides=(2, 2), auto_pad="SAME_UPPER"),
        conv_case("conv/same-lower-k4-s2", c=3, o=4, hw=(9, 8), k=(4, 4), strides=(2, 2), auto_pad="SAME_LOWER"),
        conv_case("conv/same-upper-d2", c=3, o=4, hw=(7, 7), k=(3, 3), dilations=(2, 2), auto_pad="SAME_UPPER"),
        conv_case("conv/same-lower-k2", c=2, o=3, hw=(5, 6), k=(2, 2), auto_pad="SAME_LOWER"),
        conv_case("conv/valid-s2", c=3, o=4, hw=(9, 9), strides=(2, 2), auto_pad="VALID"),
        # dilations 1..3
        conv_case("conv/d2", c=4, o=4, hw=(9, 9), dilations=(2, 2), pads=(2, 2, 2, 2)),
        conv_case("conv/d3", c=3, o=5, hw=(10, 11), dilations=(3, 3), pads=(1, 3, 2, 0)),
        conv_case("conv/d1x3-s2", c=3, o=3, hw=(9, 12), dilations=(1, 3), strides=(2, 2), pads=(1, 3, 1, 3)),
        # groups and depthwise
        conv_case("conv/group4", n=2, c=8, o=8, group=4, pads=(1, 1, 1, 1)),
        conv_case("conv/group4-x2", c=8, o=12, hw=(6, 6), group=4, strides=(2, 2), w_zp="varying"),
        conv_case("conv/group2-per-tensor", c=6, o=4, group=2, per_channel=False, k=(1, 1)),
        conv_case("conv/depthwise", c=6, o=6, group=6, pads=(1, 1, 1, 1), x="uint8", y="uint8"),
        conv_case("conv/depthwise-s2-asym", n=2, c=5, o=5, group=5, hw=(9, 8), strides=(2, 2), pads=(0, 0, 1, 1)),
        conv_case("conv/depthwise-5x5-d2", c=4, o=4, group=4, hw=(11, 11), k=(5, 5), dilations=(2, 2),
                  pads=(4, 4, 4, 4), w_zp="varying"),
        conv_case("conv/depthwise-7x7-wzp", c=3, o=3, group=3, hw=(9, 9), k=(7, 7), pads=(3, 3, 3, 3), w_zp="one"),
        conv_case("conv/depthwise-same-upper", c=4, o=4, group=4, hw=(7, 8), strides=(2, 2), auto_pad="SAME_UPPER",
                  per_channel=False),
        conv_case("conv/depthwise-multiplier2", c=3, o=6, group=3, pads=(1, 1, 1, 1)),
        # the 3 x 3 loop of the native kernel with dilations, stride 3 and mixed strides
        conv_case("conv/depthwise-3x3-d2", c=4, o=4, group=4, hw=(10, 9), dilations=(2, 2), pads=(2, 1, 2, 2)),
        conv_case("conv/depthwise-3x3-s3", c=3, o=3, group=3, hw=(11, 13), strides=(3, 3), pads=(1, 1, 0, 2)),
        conv_case("conv/depthwise-3x3-s1x2", c=5, o=5, group=5, hw=(8, 11), strides=(1, 2), pads=(0, 1, 1, 0),
                  w_zp="varying"),
        # planes large enough for the native kernel's fused taps-and-requantization loop
        conv_case("conv/depthwise-3x3-large", c=3, o=3, group=3, hw=(24, 25), pads=(1, 1, 1, 1), data="pow2"),
        conv_case("conv/depthwise-3x3-large-s2", c=4, o=4, group=4, hw=(49, 48), strides=(2, 2), pads=(1, 0, 1, 1),
                  w_zp="varying"),
        conv_case("conv/depthwise-3x3-large-d2", c=2, o=2, group=2, hw=(30, 28), dilations=(2, 2), pads=(2, 2, 2, 2),
                  data="narrow"),
        # weight zero points and types, biases
        conv_case("conv/wzp-one", c=4, o=5, w_zp="one", pads=(1, 1, 1, 1)),
        conv_case("conv/wzp-varying", c=4, o=5, w_zp="varying", pads=(1, 1, 1, 1), x="int8"),
        conv_case("conv/uint8-weights", c=4, o=5, w="uint8", w_zp="one", x="uint8", y="uint8"),
        conv_case("conv/uint8-weights-varying", c=3, o=4, w="uint8", w_zp="varying", x="int8", y="int8"),
        conv_case("conv/large-bias", c=4, o=6, bias="large", pads=(1, 1, 1, 1)),
        # a reduction long enough to need several exact float32 chunks
        conv_case("conv/wide-k", c=160, o=4, hw=(4, 4), pads=(1, 1, 1, 1), w_zp="one"),
        conv_case("conv/wide-k-depthwise-7x7", c=2, o=2, group=2, hw=(8, 8), k=(7, 7), pads=(3, 3, 3, 3),
                  w_zp="varying"),
        # sums checked to the unit (narrow), ties of the rounding (pow2), every product (exhaustive)
        conv_case("conv/narrow-3x3-s2", n=2, c=6, o=5, hw=(8, 9), strides=(2, 2), pads=(1, 0, 1, 2), data="narrow"),
        conv_case("conv/narrow-d2-group2", c=4, o=6, group=2, dilations=(2, 2), pads=(2, 2, 2, 2), w_zp="varying",
                  data="narrow"),
        conv_case("conv/narrow-depthwise-5x5", c=4, o=4, group=4, hw=(8, 8), k=(5, 5), strides=(2, 1),
                  pads=(2, 2, 2, 2), w_zp="one", data="narrow", x="uint8"),
        conv_case("conv/narrow-same-lower", c=3, o=4, hw=(7, 8), k=(4, 4), auto_pad="SAME_LOWER", data="narrow",
                  w="uint8", w_zp="one"),
        conv_case("conv/narrow-1x1", c=9, o=3, hw=(4, 4), k=(1, 1), data="narrow", per_channel=False, w_zp="one"),
        conv_case("conv/pow2-3x3", c=4, o=6, pads=(1, 1, 1, 1), data="pow2"),
        conv_case("conv/pow2-depthwise", c=5, o=5, group=5, pads=(1, 1, 1, 1), data="pow2", w_zp="varying"),
        conv_case("conv/pow2-per-tensor", c=3, o=4, k=(1, 1), data="pow2", per_channel=False, x="uint8"),
        conv_case("conv/exhaustive", c=1, o=256, hw=(16, 16), k=(1, 1), data="exhaustive", w_zp="varying"),
        conv_case("conv/exhaustive-uint8", c=1, o=256, hw=(16, 16), k=(1, 1), data="exhaustive", x="uint8",
                  w="uint8", w_zp="one", bias=None),
        conv_case("conv/boundary", c=33, o=16, hw=(16, 16), k=(1, 1), data="boundary", w_zp="varying"),
        conv_case("conv/boundary-uint8-per-tensor", c=33, o=8, hw=(8, 16), k=(1, 1), data="boundary", x="uint8",
                  w="uint8", w_zp="one", per_channel=False, bias=None),
    ]
    chains = [
        conv_chain_case("conv-qdq/plain", pads=(1, 1, 1, 1)),
        conv_chain_case("conv-qdq/relu", "relu", pads=(1, 1, 1, 1), x="uint8", y="uint8"),
        conv_chain_case("conv-qdq/relu-int8", "relu", n=2, strides=(2, 2), pads=(0, 1, 1, 0), x="int8", y="int8"),
        conv_chain_case("conv-qdq/clip", "clip", pads=(1, 1, 1, 1)),
        conv_chain_case("conv-qdq/clip-min-only", "clip_min", k=(1, 1)),
        conv_chain_case("conv-qdq/clip-max-only", "clip_max", k=(1, 1), per_channel=False),
        conv_chain_case("conv-qdq/depthwise-relu6", "clip", c=6, o=6, group=6, pads=(1, 1, 1, 1), y="uint8"),
        conv_chain_case("conv-qdq/group-relu", "relu", c=8, o=4, group=2, w_zp="varying"),
        conv_chain_case("conv-qdq/opset10-clip-attrs", "clip_attrs", opset=10, per_channel=False,
                        pads=(1, 1, 1, 1)),
        conv_chain_case("conv-qdq/opset10-relu", "relu", opset=10, per_channel=False, bias=None),
        conv_chain_case("conv-qdq/opset21-relu", "relu", opset=21, pads=(1, 1, 1, 1), x="uint8", y="int8"),
        conv_chain_case("conv-qdq/float-bias", "relu", float_bias=True, pads=(1, 1, 1, 1)),
        conv_chain_case("conv-qdq/no-bias-same-upper", "clip", bias=None, strides=(2, 2), auto_pad="SAME_UPPER"),
        conv_chain_case("conv-qdq/narrow-relu", "relu", pads=(1, 1, 1, 1), data="narrow"),
        conv_chain_case("conv-qdq/pow2-clip", "clip", pads=(1, 1, 1, 1), data="pow2"),
    ]
    return qop + chains


# --- gemm / matmul ---------------------------------------------------------------------------
def gemm_chain_case(case_id: str, m: int = 3, k: int = 10, n: int = 6, trans_b: bool = True,
                    per_channel: bool = True, w_zp: str = "zero", bias: str | None = "small",
                    activation: str = "none", x: str | None = None, y: str | None = None,
                    opset: int = 13, data: str = "full") -> Case:
    """A QDQ chain ``DequantizeLinear -> Gemm(bias) (-> Relu / Clip) -> QuantizeLinear``.

    Reference: ``Reshape(M, K, 1, 1) -> QLinearConv`` with the weights as a 1x1 kernel
    ``(N, K, 1, 1)`` and the int32 bias ``-> Reshape(M, N)`` (then, with an activation,
    ``DequantizeLinear -> act -> QuantizeLinear`` on the output grid, exact as for conv chains).
    A 1x1 convolution over a 1x1 image is the matrix product, and QLinearConv is the one
    standard operator with an int32 bias and QLinearConv's requantization, which is the
    semantics of our gemm kernel; reshapes of quantized tensors move values only.
    """

    def build(rng) -> Built:
        x_dtype = _pick(rng, x)
        aq = activation_qp(rng, x_dtype, lo_exp=-2.5, hi_exp=0.5, inner=data == "pow2")
        wq = _weight_qp(rng, "int8", n, per_channel, w_zp)
        a = _operand(rng, data, (m, k), aq)
        w_nk = _operand(rng, data, (n, k), wq, 0)
        wprime = w_nk.astype(np.int64) - np.broadcast_to(wq.zero_point.astype(np.int64), (n,))[:, None]
        acc_rms = np.maximum(np.sqrt(k) * _rms(a.astype(np.int64) - int(aq.zero_point)) * _rms(wprime, axis=1), 1.0)
        b = _bias(rng, bias, acc_rms)
        w_kn = np.ascontiguousarray(w_nk.T)
        real = _real_mac("Gemm", {}, [("a", a, aq, None, True), ("w", w_kn, wq, 1 if per_channel else None, False)],
                         b, 0)
        yq = _mac_output(rng, np.maximum(real, 0) if activation == "relu" else real, 1, y)
        if data == "pow2":
            aq, wq, yq = _pow2_params(rng, aq, wq, y)
        bounds = _clip_bounds(rng, yq)
        bias_scale = (np.float32(aq.scale) * wq.scale).astype(np.float32)
        w_axis = (0 if trans_b else 1) if per_channel else None
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        af = dq(nodes, inits, "a", aq, "a_dq")
        wf = dq(nodes, inits, const(inits, "w", w_nk if trans_b else np.ascontiguousarray(w_nk.T)), wq, "w_dq", w_axis)
        gemm_inputs = [af, wf]
        if b is not None:
            bq = QP(bias_scale, np.zeros(bias_scale.shape, np.int32))
            gemm_inputs.append(dq(nodes, inits, const(inits, "bias", b), bq, "bias_dq", 0 if per_channel else None))
        nodes.append(helper.make_node("Gemm", gemm_inputs, ["gemm"], transB=int(trans_b)))
        act = _activation_nodes(nodes, inits, "gemm", activation, bounds, "gemm")
        q(nodes, inits, act, yq, "y")
        under_test = model(nodes, {"a": a}, {"y": yq.dtype}, inits, opset)

        rnodes: list[onnx.NodeProto] = []
        rinits: list[onnx.TensorProto] = []
        rnodes.append(helper.make_node("Reshape", ["a", const(rinits, "shape4", np.array([m, k, 1, 1], np.int64))],
                                       ["a4"]))
        names = ["a4", *aq.names("a", rinits), const(rinits, "w", w_nk.reshape(n, k, 1, 1)),
                 *wq.names("w", rinits), *yq.names("yc", rinits)]
        if b is not None:
            names.append(const(rinits, "bias", b))
        rnodes.append(helper.make_node("QLinearConv", names, ["yc4"]))
        rnodes.append(helper.make_node("Reshape", ["yc4", const(rinits, "shape2", np.array([m, n], np.int64))],
                                       ["yc"]))
        if activation == "none":
            rnodes.append(helper.make_node("Identity", ["yc"], ["y"]))
        else:
            yf = dq(rnodes, rinits, "yc", yq, "yc_dq")
            q(rnodes, rinits, _activation_nodes(rnodes, rinits, yf, activation, bounds, "ref"), yq, "y")
        reference = model(rnodes, {"a": a}, {"y": yq.dtype}, rinits, opset)
        return Built(under_test, {"a": a}, reference)

    return Case(case_id, "gemm", ("gemm",), build)


def qlinear_matmul_case(case_id: str, a_shape: Sequence[int], b_shape: Sequence[int], const_b: bool,
                        per_column: bool = False, b_zp: str = "zero", a: str | None = None,
                        b: str | None = None, y: str | None = None, opset: int = 13, data: str = "full") -> Case:
    """A QLinearMatMul model, its own reference.

    With a constant 2-D ``B`` it becomes our ``gemm`` kernel (per-column scales allowed), with
    two activations our ``matmul`` kernel (numpy ``matmul`` broadcasting over batch axes).
    QLinearMatMul's requantization is QLinearConv's, the MAC semantics. ``data``: see
    :data:`DATA_MODES` (``exhaustive`` needs ``A`` (256, 1) and ``B`` (1, 256)).
    """

    def build(rng) -> Built:
        a_dtype, b_dtype = _pick(rng, a), _pick(rng, b)
        aq = activation_qp(rng, a_dtype, lo_exp=-2.5, hi_exp=0.5, inner=data == "pow2")
        n = b_shape[-1]
        if const_b:
            bq = _weight_qp(rng, b_dtype, n, per_column, b_zp)
        else:
            bq = activation_qp(rng, b_dtype, lo_exp=-2.5, hi_exp=0.5, inner=data == "pow2")
        if data == "exhaustive":
            assert tuple(a_shape) == (256, 1) and tuple(b_shape) == (1, 256)
            av, bv = every_value(a_dtype).reshape(256, 1), every_value(b_dtype).reshape(1, 256)
        else:
            av = _operand(rng, data, a_shape, aq)
            bv = _operand(rng, data, b_shape, bq, len(b_shape) - 1)
        b_axis = -1 if bq.scale.ndim else None
        real = _real_mac("MatMul", {}, [("a", av, aq, None, True), ("b", bv, bq, b_axis, not const_b)], None, None)
        yq = _mac_output(rng, real, real.ndim - 1, y)
        if data == "pow2":
            aq, bq, yq = _pow2_params(rng, aq, bq, y)
        if data == "boundary":
            assert len(a_shape) == 2 and a_shape[1] == BOUNDARY_K and tuple(b_shape) == (BOUNDARY_K, n)
            assert a_shape[0] % n == 0
            bv = _boundary_weights(bq, n)
            yq = _boundary_output(rng, aq, bq, bv, y)
            av = _boundary_rows(aq, bv, bq, _multipliers(aq.scale, bq.scale, yq.scale, n), yq, a_shape[0] // n)
        inits: list[onnx.TensorProto] = []
        inputs = {"a": av} if const_b else {"a": av, "b": bv}
        b_name = const(inits, "b", bv) if const_b else "b"
        names = ["a", *aq.names("a", inits), b_name, *bq.names("b", inits), *yq.names("y", inits)]
        node = helper.make_node("QLinearMatMul", names, ["y"])
        return Built(model([node], inputs, {"y": yq.dtype}, inits, opset), inputs)

    return Case(case_id, "gemm" if const_b else "matmul", ("gemm" if const_b else "matmul",), build)


def mac_matrix_cases() -> list[Case]:
    return [
        # QLinearMatMul with a constant B: the gemm kernel
        qlinear_matmul_case("gemm/qlinearmatmul", (4, 12), (12, 5), True, a="uint8", b="uint8", y="uint8"),
        qlinear_matmul_case("gemm/qlinearmatmul-per-column", (3, 16), (16, 7), True, per_column=True, b="int8"),
        qlinear_matmul_case("gemm/qlinearmatmul-per-column-zp", (3, 9), (9, 4), True, per_column=True,
                            b_zp="varying", a="int8", y="int8"),
        qlinear_matmul_case("gemm/qlinearmatmul-bzp", (5, 8), (8, 3), True, b_zp="one", b="int8"),
        qlinear_matmul_case("gemm/qlinearmatmul-rank3", (2, 3, 10), (10, 4), True, per_column=True, b="int8"),
        qlinear_matmul_case("gemm/qlinearmatmul-rank4", (2, 2, 3, 6), (6, 5), True, b="uint8", b_zp="one"),
        qlinear_matmul_case("gemm/qlinearmatmul-wide-k", (2, 1300), (1300, 3), True, per_column=True,
                            b_zp="varying", b="int8"),
        qlinear_matmul_case("gemm/qlinearmatmul-opset21", (3, 8), (8, 4), True, per_column=True, b="int8",
                            opset=21),
        # Gemm with bias in QDQ chains
        gemm_chain_case("gemm-qdq/transB", trans_b=True),
        gemm_chain_case("gemm-qdq/no-trans", trans_b=False, x="uint8", y="uint8"),
        gemm_chain_case("gemm-qdq/per-tensor", per_channel=False, w_zp="one", x="int8", y="int8"),
        gemm_chain_case("gemm-qdq/no-bias", bias=None, n=4, k=17),
        gemm_chain_case("gemm-qdq/large-bias-relu", bias="large", activation="relu"),
        gemm_chain_case("gemm-qdq/clip", activation="clip", m=2, k=33, n=9, trans_b=False),
        gemm_chain_case("gemm-qdq/wide-k", m=2, k=1400, n=3, w_zp="one"),
        gemm_chain_case("gemm-qdq/opset21", opset=21, activation="relu"),
        gemm_chain_case("gemm-qdq/narrow", m=4, k=24, n=5, w_zp="one", data="narrow"),
        gemm_chain_case("gemm-qdq/pow2-relu", m=4, k=12, n=6, activation="relu", data="pow2"),
        qlinear_matmul_case("gemm/qlinearmatmul-narrow", (4, 20), (20, 6), True, per_column=True, b_zp="varying",
                            data="narrow"),
        qlinear_matmul_case("gemm/qlinearmatmul-pow2", (4, 10), (10, 6), True, per_column=True, data="pow2"),
        qlinear_matmul_case("gemm/qlinearmatmul-exhaustive", (256, 1), (1, 256), True, per_column=True,
                            b_zp="varying", data="exhaustive"),
        qlinear_matmul_case("gemm/qlinearmatmul-exhaustive-uint8", (256, 1), (1, 256), True, per_column=True,
                            b_zp="one", a="uint8", b="uint8", data="exhaustive"),
        qlinear_matmul_case("gemm/qlinearmatmul-boundary", (512, 33), (33, 32), True, per_column=True,
                            b_zp="varying", b="int8", data="boundary"),
        # QLinearMatMul of two activations: the matmul kernel
        qlinear_matmul_case("matmul/2d", (3, 7), (7, 4), False, a="uint8", b="int8", y="uint8"),
        qlinear_matmul_case("matmul/k1500", (3, 1500), (1500, 4), False, a="int8", b="uint8", y="int8"),
        qlinear_matmul_case("matmul/k2100-batched", (2, 2, 2100), (2, 2100, 3), False),
        qlinear_matmul_case("matmul/batched", (2, 3, 5), (2, 5, 4), False, a="uint8", b="uint8"),
        qlinear_matmul_case("matmul/broadcast", (3, 6), (2, 6, 4), False, a="int8", b="int8"),
        qlinear_matmul_case("matmul/broadcast-4d", (2, 1, 3, 8), (1, 3, 8, 2), False),
        qlinear_matmul_case("matmul/opset21", (4, 9), (9, 3), False, opset=21),
        qlinear_matmul_case("matmul/narrow-batched", (2, 3, 16), (2, 16, 4), False, data="narrow"),
        qlinear_matmul_case("matmul/narrow-k1100", (2, 1100), (1100, 3), False, data="narrow"),
        qlinear_matmul_case("matmul/pow2", (3, 8), (8, 5), False, data="pow2"),
        qlinear_matmul_case("matmul/exhaustive", (256, 1), (1, 256), False, data="exhaustive"),
        qlinear_matmul_case("matmul/exhaustive-uint8-int8", (256, 1), (1, 256), False, a="uint8", b="int8",
                            data="exhaustive"),
        qlinear_matmul_case("matmul/boundary", (256, 33), (33, 8), False, data="boundary"),
    ]


# =============================================================================================
# element-wise: lut and binary
# =============================================================================================
def unary_case(case_id: str, op: str, attrs: dict | None = None, opset: int = 13, clip: str | None = None,
               x: str | None = None, y: str | None = None, scale_exp: tuple[float, float] = (-2.3, -0.7),
               inner: bool = True, anchored: float | None = None) -> Case:
    """``DequantizeLinear -> op -> QuantizeLinear`` over *every* input value, its own reference.

    The reference evaluates exactly ``quantize(f(dequantize(x)))`` in float32, our definition.
    Inputs whose result the reference cannot quantize (NaN, infinities, beyond int32: see
    :func:`~.builders.quantizable`) are left out; all others, up to all 256, are fed.
    ``clip``: ``inputs`` (min and max as inputs), ``min`` / ``max`` (one bound), ``attrs``
    (opset < 11 attributes). ``anchored``: the output scale puts one result (this quantile of
    the magnitudes) on a rounding boundary (:func:`~.builders.anchored_qp`), so that an ulp of
    difference in ``f`` there shows.
    """

    def build(rng) -> Built:
        x_dtype = _pick(rng, x)
        xq = activation_qp(rng, x_dtype, lo_exp=scale_exp[0], hi_exp=scale_exp[1], inner=inner)
        values = every_value(x_dtype)[None, :]
        real = dequantized(values, xq)
        lo, hi = (float(v) for v in np.percentile(real, [rng.uniform(5, 40), rng.uniform(60, 95)]))
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        xf = dq(nodes, inits, "x", xq, "x_dq")
        node_attrs = dict(attrs or {})
        inputs = [xf]
        if clip == "attrs":
            node_attrs.update(min=lo, max=hi)
        elif clip in ("inputs", "min"):
            inputs.append(const(inits, "min", np.float32(lo)))
        elif clip == "max":
            inputs.append("")
        if clip in ("inputs", "max"):
            inputs.append(const(inits, "max", np.float32(hi)))
        nodes.append(helper.make_node(op, inputs, ["y_float"], **node_attrs))
        (yf,) = float_outputs(nodes, inits, {"x": values}, ["y_float"], opset)
        yq = output_qp_for(rng, yf, y) if anchored is None else anchored_qp(rng, yf, y, anchored)
        keep = quantizable(yf, yq)[0]
        feed = np.ascontiguousarray(values[:, keep])
        q(nodes, inits, "y_float", yq, "y")
        return Built(model(nodes, {"x": feed}, {"y": yq.dtype}, inits, opset), {"x": feed})

    return Case(case_id, "lut", ("lut",), build)


def requantize_case(case_id: str, x: str, y: str, opset: int = 13) -> Case:
    """``DequantizeLinear -> QuantizeLinear`` with other parameters (a requantizing table), over
    every input value; its own reference."""

    def build(rng) -> Built:
        xq = activation_qp(rng, x)
        yq = requantized_qp(rng, xq, y)
        values = every_value(x)[None, :]
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        q(nodes, inits, dq(nodes, inits, "x", xq, "x_dq"), yq, "y")
        return Built(model(nodes, {"x": values}, {"y": y}, inits, opset), {"x": values})

    return Case(case_id, "lut", ("lut",), build)


_DOMAINS = {
    # stored values kept away from where the reference's result is undefined (NaN / inf)
    "Div": lambda rng, a, aq, b, bq: (a, np.where(b == bq.zero_point, b ^ 1, b).astype(b.dtype)),
    "Pow": lambda rng, a, aq, b, bq: (np.maximum(a, aq.zero_point + 1).astype(a.dtype),
                                      np.maximum(b, bq.zero_point).astype(b.dtype)),
}


def binary_case(case_id: str, op: str, mode: str, shapes: tuple[Sequence[int], Sequence[int]] = ((1,), (1,)),
                activation: str = "none", opset: int = 13, a: str | None = None, b: str | None = None,
                y: str | None = None, inner: bool = True, anchored: float | None = None) -> Case:
    """``(DequantizeLinear, DequantizeLinear) -> op (-> Relu / Clip) -> QuantizeLinear``, its own
    reference (``quantize(act(f(dequantize(a), dequantize(b))))`` in float32, our definition).

    ``mode``: ``pairs`` feeds every pair of stored values (65,536 elements, less the pairs whose
    result the reference cannot quantize); ``broadcast`` two random inputs of ``shapes``;
    ``const`` makes the second operand a quantized initializer of ``shapes[1]``. ``anchored``:
    as for :func:`unary_case`.
    """

    def build(rng) -> Built:
        a_dtype, b_dtype = _pick(rng, a), _pick(rng, b)
        small = op == "Pow"
        lo_exp, hi_exp = (-2.0, -1.5) if small else (-2.5, -0.5)
        aq = activation_qp(rng, a_dtype, lo_exp=lo_exp, hi_exp=hi_exp, inner=inner)
        bq = activation_qp(rng, b_dtype, lo_exp=lo_exp, hi_exp=hi_exp, inner=inner)
        if mode == "pairs":
            av = np.repeat(every_value(a_dtype), 256)[None, :]
            bv = np.tile(every_value(b_dtype), 256)[None, :]
        else:
            av, bv = stored(rng, shapes[0], a_dtype), stored(rng, shapes[1], b_dtype)
            if op in _DOMAINS:
                av, bv = _DOMAINS[op](rng, av, aq, bv, bq)
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        af = dq(nodes, inits, "a", aq, "a_dq")
        bf = dq(nodes, inits, const(inits, "b", bv) if mode == "const" else "b", bq, "b_dq")
        nodes.append(helper.make_node(op, [af, bf], ["op"]))
        act = _activation_nodes(nodes, inits, "op", activation, (-0.5, 2.0), "act")
        inputs = {"a": av} if mode == "const" else {"a": av, "b": bv}
        (yf,) = float_outputs(nodes, inits, inputs, [act], opset)
        yq = output_qp_for(rng, yf, y) if anchored is None else anchored_qp(rng, yf, y, anchored)
        ok = quantizable(yf, yq)
        if mode == "pairs":
            keep = ok[0]
            inputs = {"a": np.ascontiguousarray(av[:, keep]), "b": np.ascontiguousarray(bv[:, keep])}
        elif not ok.all():
            raise AssertionError(f"{case_id}: the generated data leaves the reference's defined domain")
        q(nodes, inits, act, yq, "y")
        return Built(model(nodes, inputs, {"y": yq.dtype}, inits, opset), inputs)

    return Case(case_id, "binary", ("binary",), build)


def elementwise_cases() -> list[Case]:
    unary = [
        unary_case("lut/identity", "Identity"),
        unary_case("lut/relu", "Relu", x="int8", y="uint8"),
        unary_case("lut/relu-opset21", "Relu", opset=21),
        unary_case("lut/relu-any-zero-point", "Relu", inner=False, x="uint8"),
        unary_case("lut/clip-inputs", "Clip", clip="inputs"),
        unary_case("lut/clip-min", "Clip", clip="min", x="uint8"),
        unary_case("lut/clip-max", "Clip", clip="max", x="int8"),
        unary_case("lut/clip-attrs-opset10", "Clip", clip="attrs", opset=10),
        unary_case("lut/leaky-relu", "LeakyRelu"),
        unary_case("lut/leaky-relu-alpha", "LeakyRelu", {"alpha": 0.23}, x="int8", y="int8"),
        unary_case("lut/sigmoid", "Sigmoid", scale_exp=(-1.5, -0.5)),
        unary_case("lut/sigmoid-opset11", "Sigmoid", opset=11, x="uint8", y="uint8"),
        unary_case("lut/tanh", "Tanh", scale_exp=(-2.0, -1.0)),
        unary_case("lut/exp", "Exp", scale_exp=(-2.0, -1.0)),
        unary_case("lut/exp-wide", "Exp", x="int8", scale_exp=(-1.3, -0.9)),
        unary_case("lut/log", "Log", x="uint8"),
        unary_case("lut/log-int8", "Log", x="int8"),
        unary_case("lut/softplus", "Softplus", scale_exp=(-1.5, -0.5)),
        unary_case("lut/sqrt", "Sqrt", x="uint8"),
        unary_case("lut/sqrt-int8", "Sqrt", x="int8", y="int8"),
        unary_case("lut/elu", "Elu"),
        unary_case("lut/elu-alpha", "Elu", {"alpha": 0.37}),
        unary_case("lut/erf", "Erf", scale_exp=(-2.0, -1.3)),
        unary_case("lut/hard-sigmoid", "HardSigmoid"),
        unary_case("lut/hard-sigmoid-alpha-beta", "HardSigmoid", {"alpha": 0.31, "beta": 0.42}, x="uint8"),
        unary_case("lut/hard-swish", "HardSwish", opset=14, scale_exp=(-1.7, -1.0)),
        unary_case("lut/neg", "Neg"),
        unary_case("lut/neg-any-zero-point", "Neg", inner=False),
        unary_case("lut/abs", "Abs", x="int8", y="uint8"),
        *[unary_case(f"lut/{op.lower()}-anchored-{int(100 * at)}", op, opset=14, anchored=at,
                     scale_exp=(-1.7, -1.0) if op in ("Sigmoid", "Tanh", "Erf", "Softplus", "Exp") else (-2.3, -0.7))
          for op in ("LeakyRelu", "Sigmoid", "Tanh", "Exp", "Log", "Softplus", "Sqrt", "Elu", "Erf",
                     "HardSigmoid", "HardSwish") for at in (0.25, 0.75)],
        requantize_case("lut/requantize-int8-uint8", "int8", "uint8"),
        requantize_case("lut/requantize-uint8-uint8", "uint8", "uint8"),
        requantize_case("lut/requantize-int8-int8-opset21", "int8", "int8", opset=21),
    ]
    binary = []
    for op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"):
        name = op.lower()
        binary += [
            binary_case(f"binary/{name}-pairs", op, "pairs"),
            binary_case(f"binary/{name}-broadcast", op, "broadcast", ((2, 3, 4, 5), (3, 1, 5))),
            binary_case(f"binary/{name}-const", op, "const", ((2, 3, 4, 4), (3, 1, 1))),
            binary_case(f"binary/{name}-pairs-anchored-25", op, "pairs", anchored=0.25),
            binary_case(f"binary/{name}-pairs-anchored-75", op, "pairs", anchored=0.75),
        ]
    binary += [
        binary_case("binary/add-broadcast-left", "Add", "broadcast", ((3, 1, 5), (2, 3, 4, 5)), a="uint8", b="int8"),
        binary_case("binary/mul-const-scalar", "Mul", "const", ((2, 3, 4), ())),
        binary_case("binary/mul-pairs-any-zero-point", "Mul", "pairs", inner=False),
        binary_case("binary/sub-pairs-any-zero-point", "Sub", "pairs", inner=False, a="uint8", b="int8"),
        binary_case("binary/sub-opset21", "Sub", "broadcast", ((2, 6), (6,)), opset=21),
        binary_case("binary/add-relu-pairs", "Add", "pairs", activation="relu"),
        binary_case("binary/add-relu-broadcast", "Add", "broadcast", ((2, 4, 3, 3), (4, 1, 1)), activation="relu",
                    y="uint8"),
        binary_case("binary/add-clip-pairs", "Add", "pairs", activation="clip"),
        binary_case("binary/add-clip-attrs-opset10", "Add", "broadcast", ((3, 8), (3, 8)), activation="clip_attrs",
                    opset=10),
    ]
    return unary + binary


# =============================================================================================
# pooling
# =============================================================================================
def _pool_attrs(k, strides, pads, auto_pad, ceil, dilations, extra: dict | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"kernel_shape": list(k)}
    if strides is not None:
        attrs["strides"] = list(strides)
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    elif pads is not None:
        attrs["pads"] = list(pads)
    if ceil:
        attrs["ceil_mode"] = 1
    if dilations is not None:
        attrs["dilations"] = list(dilations)
    attrs.update(extra or {})
    return attrs


def _pool_qps(rng, params: str, x: str | None, y: str | None) -> tuple[QP, QP]:
    xq = activation_qp(rng, x, lo_exp=-2.0, hi_exp=0.0)
    if params == "same":
        return xq, xq
    return xq, requantized_qp(rng, xq, y)


def maxpool_case(case_id: str, shape=(2, 3, 7, 7), k=(2, 2), strides=None, pads=None, auto_pad=None,
                 ceil=False, dilations=None, params: str = "diff", global_pool: bool = False,
                 x: str | None = None, y: str | None = None, opset: int = 13) -> Case:
    """``DequantizeLinear -> MaxPool -> QuantizeLinear`` against ``DequantizeLinear ->
    Pad(-inf) -> MaxPool (no padding, floor) -> QuantizeLinear``.

    Dequantization is monotone, so the maximum of stored values requantized through the table
    is ``quantize(max(dequantize(x)))``; padding never wins a maximum. The reference spells the
    padding out: the pads of the operator spec (``auto_pad`` resolved) plus, with ceil_mode, the
    overhang of the last window, as ``-inf`` before an unpadded MaxPool. It does not evaluate
    the padded MaxPool itself because ``onnx.reference`` gets that wrong: with unit strides it
    misreads pads that differ between the axes, with other strides it sizes SAME_LOWER
    outputs with a floor and puts the extra pad at the end. The output size is ONNX shape
    inference's, which the compiler uses.
    """

    def build(rng) -> Built:
        xq, yq = _pool_qps(rng, params, x, y)
        xv = stored(rng, shape, xq.dtype)
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        xf = dq(nodes, inits, "x", xq, "x_dq")
        if global_pool:
            nodes.append(helper.make_node("GlobalMaxPool", [xf], ["pool"]))
        else:
            nodes.append(helper.make_node("MaxPool", [xf], ["pool"],
                                          **_pool_attrs(k, strides, pads, auto_pad, ceil, dilations)))
        q(nodes, inits, "pool", yq, "y")
        under_test = model(nodes, {"x": xv}, {"y": yq.dtype}, inits, opset)
        if global_pool:
            return Built(under_test, {"x": xv})
        inferred = onnx.shape_inference.infer_shapes(under_test)
        out_hw = next(tuple(d.dim_value for d in v.type.tensor_type.shape.dim[2:])
                      for v in inferred.graph.value_info if v.name == "pool")
        ss, dd = strides or (1, 1), dilations or (1, 1)
        explicit = pads or (0, 0, 0, 0)
        axes = [_resolved_pads(shape[2 + i], k[i], ss[i], dd[i], explicit[i], explicit[i + 2], auto_pad)
                for i in range(2)]
        ends = [max(axes[i][1], (out_hw[i] - 1) * ss[i] + (k[i] - 1) * dd[i] + 1 - shape[2 + i] - axes[i][0])
                for i in range(2)]
        rnodes: list[onnx.NodeProto] = []
        rinits: list[onnx.TensorProto] = []
        rf = dq(rnodes, rinits, "x", xq, "x_dq")
        full = _i64(0, 0, axes[0][0], axes[1][0], 0, 0, ends[0], ends[1])
        rnodes.append(helper.make_node("Pad", [rf, const(rinits, "pads", full),
                                               const(rinits, "minus_inf", np.float32(-np.inf))], ["padded"]))
        rnodes.append(helper.make_node("MaxPool", ["padded"], ["pool"],
                                       **_pool_attrs(k, ss, None, None, False, dd)))
        q(rnodes, rinits, "pool", yq, "y")
        return Built(under_test, {"x": xv}, model(rnodes, {"x": xv}, {"y": yq.dtype}, rinits, max(opset, 11)))

    return Case(case_id, "maxpool", ("maxpool",), build)


def _resolved_pads(size: int, k: int, s: int, d: int, begin: int, end: int, auto_pad: str | None) -> tuple[int, int]:
    """ONNX's explicit pads for one axis (auto_pad resolved as the operator spec says)."""
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = -(-size // s)
        total = max(0, (target - 1) * s + (k - 1) * d + 1 - size)
        small = total // 2
        return (small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small)
    if auto_pad == "VALID":
        return 0, 0
    return begin, end


def _window_counts(size: int, out: int, k: int, s: int, d: int, begin: int, end: int, include_pad: bool) -> np.ndarray:
    """Per output position, how many of the window's taps the average divides by: taps inside
    the input, or (count_include_pad) inside the explicitly padded input. Taps that only a
    ceil_mode window reaches beyond the padding are never counted."""
    counts = np.zeros(out, np.int64)
    lo, hi = (-begin, size + end) if include_pad else (0, size)
    for o in range(out):
        counts[o] = sum(1 for i in range(k) if lo <= o * s - begin + i * d < hi)
    return counts


def avgpool_case(case_id: str, shape=(2, 3, 7, 7), k=(2, 2), strides=None, pads=None, auto_pad=None,
                 ceil=False, dilations=None, include_pad: bool = False, global_pool: bool = False,
                 params: str = "diff", x: str | None = None, y: str | None = None, opset: int = 13) -> Case:
    """``DequantizeLinear -> AveragePool / GlobalAveragePool -> QuantizeLinear`` against a
    standard-op expression of our semantics (exact window sums requantized like a depthwise
    QLinearConv with all-one weights of scale ``float32(1 / count)``).

    * When every window divides by the same ``count`` (no padding, or count_include_pad=1 with
      no ceil_mode overhang): ``QLinearConv(x, ones(C, 1, kh, kw), w_scale=float32(1/count),
      group=C)`` with the pool's strides / dilations and its pads (plus the ceil_mode overhang
      at the end, which adds zeros to the sums). That *is* the definition.
    * Otherwise ``count`` varies by position and no single QLinearConv has it; the reference is
      ``ConvInteger(x, ones, x_zero_point)`` (the exact sums of ``x - zx``) ``-> Cast(double)
      -> Mul(M) -> Add(zy) -> Round -> Clip -> Cast`` with the per-position multiplier
      ``M = Cast(double)(Div(Mul(sx, Div(1, count)), sy))`` computed in float32 by the graph
      (QLinearConv's multiplier, rounding half to even and saturation, step by step).

    The counts come from :func:`_window_counts` (the ONNX definition), the output size from
    ONNX shape inference. The float AveragePool of the model is not the reference: it rounds
    its float32 sums and divides instead of multiplying.
    """

    def build(rng) -> Built:
        xq, yq = _pool_qps(rng, params, x, y)
        xv = stored(rng, shape, xq.dtype)
        n, c, h, w = shape
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        xf = dq(nodes, inits, "x", xq, "x_dq")
        if global_pool:
            nodes.append(helper.make_node("GlobalAveragePool", [xf], ["pool"]))
        else:
            extra = {"count_include_pad": 1} if include_pad else {}
            nodes.append(helper.make_node("AveragePool", [xf], ["pool"],
                                          **_pool_attrs(k, strides, pads, auto_pad, ceil, dilations, extra)))
        q(nodes, inits, "pool", yq, "y")
        under_test = model(nodes, {"x": xv}, {"y": yq.dtype}, inits, opset)
        inferred = onnx.shape_inference.infer_shapes(under_test)
        out_hw = next(tuple(d.dim_value for d in v.type.tensor_type.shape.dim[2:])
                      for v in inferred.graph.value_info if v.name == "pool")

        kk = (h, w) if global_pool else k
        ss = (1, 1) if global_pool or strides is None else strides
        dd = (1, 1) if global_pool or dilations is None else dilations
        explicit = (0, 0, 0, 0) if global_pool or pads is None else pads
        axes = [_resolved_pads((h, w)[i], kk[i], ss[i], dd[i], explicit[i], explicit[i + 2], auto_pad)
                for i in range(2)]
        counts = np.outer(*[_window_counts((h, w)[i], out_hw[i], kk[i], ss[i], dd[i], *axes[i], include_pad)
                            for i in range(2)])
        overhang = [max(0, (out_hw[i] - 1) * ss[i] + (kk[i] - 1) * dd[i] + 1 - ((h, w)[i] + sum(axes[i])))
                    for i in range(2)]
        conv_pads = [axes[0][0], axes[1][0], axes[0][1] + overhang[0], axes[1][1] + overhang[1]]
        conv_attrs = {"kernel_shape": list(kk), "strides": list(ss), "dilations": list(dd), "pads": conv_pads,
                      "group": c}
        ones = np.ones((c, 1, *kk), np.int8)
        rnodes: list[onnx.NodeProto] = []
        rinits: list[onnx.TensorProto] = []
        if counts.min() == counts.max():
            wq = qp(np.float32(1.0) / np.float32(counts.flat[0]), 0, "int8")
            names = ["x", *xq.names("x", rinits), const(rinits, "ones", ones), *wq.names("w", rinits),
                     *yq.names("y", rinits)]
            rnodes.append(helper.make_node("QLinearConv", names, ["y"], **conv_attrs))
        else:
            lo, hi = yq.limits
            rnodes += [
                helper.make_node("ConvInteger", ["x", const(rinits, "ones", ones), const(rinits, "xz", xq.zero_point)],
                                 ["sums"], **conv_attrs),
                helper.make_node("Cast", ["sums"], ["sums64"], to=TensorProto.DOUBLE),
                helper.make_node("Div", [const(rinits, "one", np.float32(1)),
                                         const(rinits, "counts", counts.astype(np.float32)[None, None])], ["w_scale"]),
                helper.make_node("Mul", [const(rinits, "sx", xq.scale), "w_scale"], ["sxsw"]),
                helper.make_node("Div", ["sxsw", const(rinits, "sy", yq.scale)], ["m32"]),
                helper.make_node("Cast", ["m32"], ["m64"], to=TensorProto.DOUBLE),
                helper.make_node("Mul", ["sums64", "m64"], ["scaled"]),
                helper.make_node("Add", ["scaled", const(rinits, "zy", np.float64(yq.zero_point))], ["shifted"]),
                helper.make_node("Round", ["shifted"], ["rounded"]),
                helper.make_node("Clip", ["rounded", const(rinits, "lo", np.float64(lo)),
                                          const(rinits, "hi", np.float64(hi))], ["clipped"]),
                helper.make_node("Cast", ["clipped"], ["y"], to=onnx.helper.np_dtype_to_tensor_dtype(
                    np.dtype(yq.dtype))),
            ]
        reference = model(rnodes, {"x": xv}, {"y": yq.dtype}, rinits, max(opset, 13))
        return Built(under_test, {"x": xv}, reference)

    return Case(case_id, "avgpool", ("avgpool",), build)


def pool_cases() -> list[Case]:
    return [
        maxpool_case("maxpool/k2s2", k=(2, 2), strides=(2, 2), shape=(2, 3, 8, 8), params="same"),
        maxpool_case("maxpool/k2s2-requant", k=(2, 2), strides=(2, 2), shape=(2, 3, 8, 8), x="uint8", y="int8"),
        maxpool_case("maxpool/k3s2-p1", k=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), shape=(1, 4, 9, 9)),
        maxpool_case("maxpool/k3s1-p1-same", k=(3, 3), pads=(1, 1, 1, 1), params="same", x="uint8"),
        maxpool_case("maxpool/asym-pads", k=(3, 2), strides=(2, 1), pads=(0, 1, 2, 0), shape=(1, 3, 8, 7)),
        maxpool_case("maxpool/ceil", k=(3, 3), strides=(2, 2), ceil=True, shape=(1, 3, 8, 8), x="int8"),
        maxpool_case("maxpool/ceil-pads", k=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), ceil=True, shape=(1, 2, 10, 9)),
        maxpool_case("maxpool/dilation2", k=(3, 3), dilations=(2, 2), pads=(2, 2, 2, 2), shape=(1, 3, 9, 9)),
        maxpool_case("maxpool/dilation-stride", k=(2, 3), strides=(2, 2), dilations=(3, 2), shape=(2, 2, 11, 10)),
        maxpool_case("maxpool/same-upper", k=(3, 3), strides=(2, 2), auto_pad="SAME_UPPER", shape=(1, 3, 8, 7)),
        maxpool_case("maxpool/same-lower", k=(2, 2), strides=(1, 1), auto_pad="SAME_LOWER", shape=(1, 3, 5, 6)),
        maxpool_case("maxpool/opset21", k=(2, 2), strides=(2, 2), shape=(1, 3, 6, 6), opset=21),
        maxpool_case("maxpool/global", global_pool=True, shape=(2, 5, 6, 7)),
        maxpool_case("maxpool/global-same", global_pool=True, shape=(1, 4, 3, 3), params="same"),
        avgpool_case("avgpool/k2s2", k=(2, 2), strides=(2, 2), shape=(2, 3, 8, 8)),
        avgpool_case("avgpool/k3s1", k=(3, 3), shape=(1, 4, 7, 6), params="same", x="uint8"),
        avgpool_case("avgpool/k3s2-p1-include", k=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), include_pad=True,
                     shape=(1, 3, 9, 9)),
        avgpool_case("avgpool/k3s2-p1-exclude", k=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), shape=(1, 3, 9, 9)),
        avgpool_case("avgpool/asym-pads-exclude", k=(3, 2), strides=(1, 2), pads=(0, 1, 2, 0), shape=(2, 2, 7, 8)),
        avgpool_case("avgpool/asym-pads-include", k=(2, 3), strides=(2, 1), pads=(1, 0, 0, 2), include_pad=True,
                     shape=(1, 3, 7, 7), x="int8", y="uint8"),
        avgpool_case("avgpool/ceil", k=(3, 3), strides=(2, 2), ceil=True, shape=(1, 3, 8, 8)),
        avgpool_case("avgpool/ceil-include", k=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), ceil=True,
                     include_pad=True, shape=(1, 2, 10, 10)),
        avgpool_case("avgpool/same-upper", k=(3, 3), strides=(2, 2), auto_pad="SAME_UPPER", shape=(1, 3, 8, 7)),
        avgpool_case("avgpool/same-lower-include", k=(2, 2), auto_pad="SAME_LOWER", include_pad=True,
                     shape=(1, 2, 5, 5)),
        avgpool_case("avgpool/k7-large", k=(7, 7), strides=(1, 1), shape=(1, 2, 9, 9), x="uint8", y="uint8"),
        avgpool_case("avgpool/dilations-opset19", k=(2, 2), strides=(1, 1), dilations=(2, 2), pads=(1, 1, 1, 1),
                     shape=(1, 2, 7, 7), opset=19),
        avgpool_case("avgpool/global", global_pool=True, shape=(2, 6, 7, 7)),
        avgpool_case("avgpool/global-same", global_pool=True, shape=(1, 4, 5, 3), params="same", x="int8"),
        avgpool_case("avgpool/global-large", global_pool=True, shape=(1, 2, 14, 14), x="uint8", y="uint8"),
    ]


# =============================================================================================
# data movement
# =============================================================================================
def _movement_output(rng, xq: QP, params: str, dtype: str | None = None) -> QP:
    """``same``: the input's parameters; ``dtype``: the same real values in the other 8-bit type
    (zero point shifted by 128); ``diff``: different scale, zero point and maybe type."""
    if params == "same":
        return xq
    if params == "dtype":
        target = _other(xq.dtype)
        shift = 128 if target == "uint8" else -128
        return qp(xq.scale, int(xq.zero_point) + shift, target)
    return requantized_qp(rng, xq, dtype)


def movement_case(case_id: str, kernel: str, op: str, shapes: Sequence[Sequence[int]], attrs: dict | None = None,
                  consts: Sequence[tuple[int, Any]] = (), outputs: int = 1, params: str = "diff", opset: int = 13,
                  const_input: int | None = None) -> Case:
    """``DequantizeLinear(s) -> op -> QuantizeLinear(s)``, its own reference: moving values
    commutes with dequantization, so moved stored values requantized through the table (none
    when parameters agree) are ``quantize_out(op(dequantize(x)))``; Pad writes
    ``quantize_out(value)``.

    ``shapes``: data inputs (each with its own parameters when ``params`` is ``diff``);
    ``consts``: (input position, array) of plain constant inputs (shape, pads, axes...);
    ``const_input``: that data input is a quantized initializer instead of a graph input.
    """

    def build(rng) -> Built:
        xqs = [activation_qp(rng) for _ in shapes]
        if params != "diff":
            xqs = [xqs[0]] * len(shapes)
        data = [stored(rng, s, p.dtype) for s, p in zip(shapes, xqs)]
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        inputs: dict[str, np.ndarray] = {}
        floats = []
        for i, (array, p) in enumerate(zip(data, xqs)):
            name = f"x{i}"
            if i == const_input:
                name = const(inits, name, array)
            else:
                inputs[name] = array
            floats.append(dq(nodes, inits, name, p, f"x{i}_dq"))
        node_inputs: list[str] = list(floats)
        for position, array in sorted(consts):
            while len(node_inputs) < position:
                node_inputs.append("")
            node_inputs.insert(position, "" if array is None else const(inits, f"c{position}", array))
        raw = [f"out{j}" for j in range(outputs)]
        nodes.append(helper.make_node(op, node_inputs, raw, **(attrs or {})))
        names = {}
        for j, r in enumerate(raw):
            yq = _movement_output(rng, xqs[0], params if params != "diff" or j == 0 else "diff")
            names[q(nodes, inits, r, yq, f"y{j}")] = yq.dtype
        return Built(model(nodes, inputs, names, inits, opset), inputs)

    return Case(case_id, kernel, (kernel,), build)


def _i64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def movement_cases() -> list[Case]:
    s4 = (2, 3, 4, 5)
    cases: list[Case] = []
    for params in ("same", "dtype", "diff"):
        p = params
        cases += [
            movement_case(f"concat/axis1-{p}", "concat", "Concat", [(1, 2, 3, 4), (1, 3, 3, 4), (1, 1, 3, 4)],
                          {"axis": 1}, params=p),
            movement_case(f"transpose/nhwc-{p}", "transpose", "Transpose", [s4], {"perm": [0, 2, 3, 1]}, params=p),
            movement_case(f"reshape/{p}", "reshape", "Reshape", [s4], consts=[(1, _i64(0, -1, 5))], params=p),
            movement_case(f"pad/constant-{p}", "pad", "Pad", [(1, 2, 4, 5)],
                          consts=[(1, _i64(0, 0, 1, 2, 0, 1, 2, 0)), (2, np.float32(0.75))], params=p),
            movement_case(f"slice/step2-{p}", "slice", "Slice", [s4],
                          consts=[(1, _i64(1, 0)), (2, _i64(4, INT64_MAX)), (3, _i64(2, 3)), (4, _i64(2, 2))],
                          params=p),
            movement_case(f"depth_to_space/dcr-{p}", "depth_to_space", "DepthToSpace", [(1, 8, 3, 2)],
                          {"blocksize": 2, "mode": "DCR"}, params=p),
        ]
    cases += [
        # Concat
        movement_case("concat/axis2-const", "concat", "Concat", [(2, 3, 2, 4), (2, 3, 3, 4)], {"axis": 2},
                      const_input=1),
        movement_case("concat/axis-last", "concat", "Concat", [(2, 3, 4, 2), (2, 3, 4, 3)], {"axis": -1}),
        movement_case("concat/axis0-2d", "concat", "Concat", [(2, 6), (3, 6), (1, 6)], {"axis": 0}),
        # Split
        movement_case("split/equal", "split", "Split", [s4], {"axis": 2}, outputs=2),
        movement_case("split/sizes-input", "split", "Split", [s4], {"axis": 1}, consts=[(1, _i64(1, 2))], outputs=2),
        movement_case("split/attr-opset11", "split", "Split", [s4], {"axis": -1, "split": [2, 1, 2]}, outputs=3,
                      opset=11),
        movement_case("split/num-outputs-opset18", "split", "Split", [(2, 7, 3)], {"axis": 1, "num_outputs": 3},
                      outputs=3, opset=18),
        movement_case("split/same", "split", "Split", [s4], {"axis": 1}, outputs=3, params="same"),
        # Slice
        movement_case("slice/negative-indices", "slice", "Slice", [s4],
                      consts=[(1, _i64(-3, 1)), (2, _i64(-1, -1)), (3, _i64(2, -1))]),
        movement_case("slice/reverse", "slice", "Slice", [s4],
                      consts=[(1, _i64(-1)), (2, _i64(-INT64_MAX)), (3, _i64(3)), (4, _i64(-1))]),
        movement_case("slice/negative-step2", "slice", "Slice", [s4],
                      consts=[(1, _i64(3, 4)), (2, _i64(0, -6)), (3, _i64(2, 3)), (4, _i64(-2, -2))]),
        movement_case("slice/channels-clamped", "slice", "Slice", [s4],
                      consts=[(1, _i64(1)), (2, _i64(100)), (3, _i64(1))], params="same"),
        # Transpose, Reshape family
        movement_case("transpose/default-perm", "transpose", "Transpose", [(2, 3, 4)]),
        movement_case("transpose/2d", "transpose", "Transpose", [(5, 3)], {"perm": [1, 0]}, params="dtype"),
        movement_case("flatten/axis1", "reshape", "Flatten", [s4], {"axis": 1}),
        movement_case("flatten/axis0", "reshape", "Flatten", [s4], {"axis": 0}, params="same"),
        movement_case("flatten/axis3", "reshape", "Flatten", [s4], {"axis": 3}, params="dtype"),
        movement_case("squeeze/attr-opset11", "reshape", "Squeeze", [(2, 1, 3, 1)], {"axes": [1, 3]}, opset=11),
        movement_case("squeeze/input", "reshape", "Squeeze", [(2, 1, 3, 1)], consts=[(1, _i64(-1))]),
        movement_case("squeeze/all", "reshape", "Squeeze", [(1, 3, 1, 4)], params="same"),
        movement_case("unsqueeze/attr-opset11", "reshape", "Unsqueeze", [(2, 3)], {"axes": [0, 3]}, opset=11),
        movement_case("unsqueeze/input", "reshape", "Unsqueeze", [(2, 3, 4)], consts=[(1, _i64(-1, 1))]),
        # Pad
        movement_case("pad/attrs-opset10", "pad", "Pad", [(1, 2, 3, 3)],
                      {"pads": [0, 0, 2, 1, 0, 0, 0, 3], "value": -1.5}, opset=10),
        movement_case("pad/value-saturates", "pad", "Pad", [(1, 2, 3, 4)],
                      consts=[(1, _i64(0, 1, 1, 1, 0, 0, 1, 1)), (2, np.float32(1e4))]),
        movement_case("pad/default-value", "pad", "Pad", [(2, 3, 4)], consts=[(1, _i64(1, 0, 2, 0, 2, 1))]),
        movement_case("pad/axes-opset18", "pad", "Pad", [(1, 2, 4, 4)],
                      consts=[(1, _i64(1, 2, 3, 0)), (2, np.float32(-0.3)), (3, _i64(2, -1))], opset=18),
        # Expand
        movement_case("expand/broadcast", "expand", "Expand", [(3, 1, 5)], consts=[(1, _i64(2, 3, 4, 5))]),
        movement_case("expand/rank-up-same", "expand", "Expand", [(4, 1)], consts=[(1, _i64(2, 1, 3))],
                      params="same"),
        # DepthToSpace / SpaceToDepth
        movement_case("depth_to_space/crd", "depth_to_space", "DepthToSpace", [(2, 8, 2, 3)],
                      {"blocksize": 2, "mode": "CRD"}),
        movement_case("depth_to_space/dcr-b3", "depth_to_space", "DepthToSpace", [(1, 18, 2, 2)],
                      {"blocksize": 3}),
        movement_case("depth_to_space/crd-b3-same", "depth_to_space", "DepthToSpace", [(1, 9, 2, 3)],
                      {"blocksize": 3, "mode": "CRD"}, params="same"),
        movement_case("space_to_depth/b2", "space_to_depth", "SpaceToDepth", [(2, 3, 4, 6)], {"blocksize": 2}),
        movement_case("space_to_depth/b3-same", "space_to_depth", "SpaceToDepth", [(1, 2, 6, 3)], {"blocksize": 3},
                      params="same"),
        movement_case("space_to_depth/b2-dtype", "space_to_depth", "SpaceToDepth", [(1, 2, 4, 4)],
                      {"blocksize": 2}, params="dtype"),
    ]
    return cases


# =============================================================================================
# softmax
# =============================================================================================
def softmax_case(case_id: str, shape: Sequence[int], opset: int, axis: int | None = None,
                 out: str = "uint8-1/256", x: str | None = None, scale_exp=(-2.0, 0.0)) -> Case:
    """``DequantizeLinear -> Softmax -> QuantizeLinear`` (our kernel: dequantize, the
    reference's float32 softmax, quantize).

    From opset 13 the model is its own reference. Before, Softmax flattens its input to 2-D at
    ``axis`` and normalizes whole rows, which ``onnx.reference`` does not implement (its single
    Softmax is the opset-13 one); the reference model spells the legacy meaning out as
    ``Reshape(rows, -1) -> Softmax(axis=1) -> Reshape(shape)``, which means the same in every
    opset. ``out``: ``uint8-1/256``, ``int8-1/256`` (the usual parameters), ``uint8-fine``
    (scale 2**-17: probabilities near 1/1024 resolved to 2**-17; over half a million of them,
    results an ulp apart do round differently somewhere) or
    ``random``.
    """

    def build(rng) -> Built:
        xq = activation_qp(rng, x, lo_exp=scale_exp[0], hi_exp=scale_exp[1])
        xv = stored(rng, shape, xq.dtype)
        if out == "uint8-fine":
            yq = qp(2.0**-17, 0, "uint8")
        elif out == "uint8-1/256":
            yq = qp(1 / 256, 0, "uint8")
        elif out == "int8-1/256":
            yq = qp(1 / 256, -128, "int8")
        else:
            yq = activation_qp(rng, lo_exp=-3.0, hi_exp=-2.0)
        attrs = {} if axis is None else {"axis": axis}

        def chain(legacy: bool) -> onnx.ModelProto:
            nodes: list[onnx.NodeProto] = []
            inits: list[onnx.TensorProto] = []
            xf = dq(nodes, inits, "x", xq, "x_dq")
            if legacy:
                at = (1 if axis is None else axis) % len(shape)
                rows = int(np.prod(shape[:at], dtype=np.int64))
                nodes.append(helper.make_node("Reshape", [xf, const(inits, "rows", _i64(rows, -1))], ["x2d"]))
                nodes.append(helper.make_node("Softmax", ["x2d"], ["s2d"], axis=1))
                nodes.append(helper.make_node("Reshape", ["s2d", const(inits, "shape", _i64(*shape))], ["soft"]))
            else:
                nodes.append(helper.make_node("Softmax", [xf], ["soft"], **attrs))
            q(nodes, inits, "soft", yq, "y")
            return model(nodes, {"x": xv}, {"y": yq.dtype}, inits, opset)

        return Built(chain(False), {"x": xv}, chain(True) if opset < 13 else None)

    return Case(case_id, "softmax", ("softmax",), build)


def softmax_cases() -> list[Case]:
    return [
        softmax_case("softmax/opset13-last", (2, 3, 4, 10), 13),
        softmax_case("softmax/opset13-axis1", (2, 5, 3, 4), 13, axis=1, out="int8-1/256"),
        softmax_case("softmax/opset13-axis0-random-out", (6, 3, 2), 13, axis=0, out="random"),
        softmax_case("softmax/opset13-2d-wide-range", (4, 30), 13, scale_exp=(0.0, 0.5)),
        softmax_case("softmax/opset21-axis2", (2, 3, 5, 2), 21, axis=2, out="random"),
        softmax_case("softmax/opset13-fine-output", (512, 1024), 13, out="uint8-fine", scale_exp=(-2.0, -1.5)),
        softmax_case("softmax/opset12-default-axis-3d", (2, 3, 5), 12),
        softmax_case("softmax/opset12-default-axis-4d", (2, 3, 4, 5), 12, out="int8-1/256"),
        softmax_case("softmax/opset12-axis2-4d", (2, 3, 4, 5), 12, axis=2, out="random"),
        softmax_case("softmax/opset12-axis-last", (3, 2, 6), 12, axis=-1),
        softmax_case("softmax/opset11-axis0", (3, 4, 2), 11, axis=0, x="uint8"),
    ]


# =============================================================================================
# quantize / dequantize at the model edges
# =============================================================================================
def _edge_values(rng, shape, scale: np.ndarray, zp: np.ndarray, dtype: str, axis: int | None) -> np.ndarray:
    """Floats around the representable range: random values, exact .5 ties of the grid, values
    that saturate (still within int32 once divided, where the reference is defined), +-0."""
    lo, hi = LIMITS[dtype]
    s = scale.astype(np.float64)
    z = zp.astype(np.float64)
    if axis is not None:
        bshape = [1] * len(shape)
        bshape[axis] = -1
        s, z = s.reshape(bshape), z.reshape(bshape)
    grid = rng.integers(lo - 40, hi + 41, size=shape).astype(np.float64)
    offset = rng.choice([0.5, -0.5, 0.0, 0.25, 0.4999, 0.5001, 3.0], size=shape)
    values = ((grid + offset - z) * s).astype(np.float32)
    flat = values.reshape(-1)
    own_scale = np.broadcast_to(s, shape).reshape(-1)
    flat[:4] = [0.0, -0.0, own_scale[2] * 1e6, -own_scale[3] * 1e6]
    return values


def quantize_case(case_id: str, shape: Sequence[int], dtype: str, per_channel: bool = False, ties: bool = True,
                  opset: int = 13, no_zero_point: bool = False) -> Case:
    """A float input quantized by ``QuantizeLinear`` at the model's edge (our ``quantize``
    kernel), its own reference. With ``ties`` the scales are powers of two, so the ``.5``
    offsets are exact ties and rounding half to even shows; values far outside saturate."""

    def build(rng) -> Built:
        channels = shape[1]
        if ties:
            exps = rng.integers(-8, 3, channels if per_channel else None)
            scale = np.asarray(np.float32(2.0) ** exps, np.float32)
        else:
            scale = log_uniform(rng, -3, 1, channels if per_channel else None)
        zp = np.zeros_like(scale, dtype=dtype) if no_zero_point else zero_point(rng, dtype, scale.shape or None)
        zp = np.asarray(zp).astype(dtype)
        values = _edge_values(rng, shape, scale, zp, dtype, 1 if per_channel else None)
        inits: list[onnx.TensorProto] = []
        names = ["x", const(inits, "y_scale", scale)]
        attrs: dict[str, Any] = {"axis": 1} if per_channel else {}
        if no_zero_point:
            if dtype == "int8":
                attrs["output_dtype"] = TensorProto.INT8
        else:
            names.append(const(inits, "y_zero_point", zp))
        node = helper.make_node("QuantizeLinear", names, ["y"], **attrs)
        return Built(model([node], {"x": values}, {"y": dtype}, inits, opset), {"x": values})

    return Case(case_id, "quantize", ("quantize",), build)


def dequantize_case(case_id: str, shape: Sequence[int], dtype: str, per_channel: bool = False,
                    opset: int = 13) -> Case:
    """A quantized input dequantized by ``DequantizeLinear`` at the model's edge (our
    ``dequantize`` kernel), its own reference."""

    def build(rng) -> Built:
        scale = log_uniform(rng, -4, 1, shape[1] if per_channel else None)
        zp = np.asarray(zero_point(rng, dtype, scale.shape or None)).astype(dtype)
        values = stored(rng, shape, dtype)
        inits: list[onnx.TensorProto] = []
        node = helper.make_node("DequantizeLinear", ["x", const(inits, "x_scale", scale), const(inits, "x_zp", zp)],
                                ["y"], **({"axis": 1} if per_channel else {}))
        return Built(model([node], {"x": values}, {"y": "float32"}, inits, opset), {"x": values})

    return Case(case_id, "dequantize", ("dequantize",), build)


def fake_quant_case(case_id: str, dtype: str, opset: int = 13) -> Case:
    """``QuantizeLinear -> DequantizeLinear`` between float edges (both kernels), its own
    reference."""

    def build(rng) -> Built:
        shape = (2, 3, 4)
        scale = log_uniform(rng, -2, 0)
        zp = np.asarray(zero_point(rng, dtype)).astype(dtype)
        values = _edge_values(rng, shape, scale, zp, dtype, None)
        inits: list[onnx.TensorProto] = []
        names = [const(inits, "scale", scale), const(inits, "zp", zp)]
        nodes = [helper.make_node("QuantizeLinear", ["x", *names], ["xq"]),
                 helper.make_node("DequantizeLinear", ["xq", *names], ["y"])]
        return Built(model(nodes, {"x": values}, {"y": "float32"}, inits, opset), {"x": values})

    return Case(case_id, "quantize", ("quantize", "dequantize"), build)


def edge_cases() -> list[Case]:
    return [
        quantize_case("quantize/uint8-ties", (2, 3, 4, 5), "uint8"),
        quantize_case("quantize/int8-ties", (2, 3, 4, 5), "int8"),
        quantize_case("quantize/uint8-random-scale", (3, 4, 6), "uint8", ties=False),
        quantize_case("quantize/int8-per-channel", (2, 4, 3, 3), "int8", per_channel=True),
        quantize_case("quantize/uint8-per-channel-random", (2, 3, 5), "uint8", per_channel=True, ties=False),
        quantize_case("quantize/opset10-no-zero-point", (2, 3, 4), "uint8", opset=10, no_zero_point=True),
        quantize_case("quantize/opset21-output-dtype", (2, 3, 4), "int8", opset=21, no_zero_point=True),
        quantize_case("quantize/opset21-per-channel", (2, 3, 4), "uint8", opset=21, per_channel=True),
        dequantize_case("dequantize/uint8", (2, 3, 4, 5), "uint8"),
        dequantize_case("dequantize/int8", (3, 7), "int8"),
        dequantize_case("dequantize/int8-per-channel", (2, 5, 3), "int8", per_channel=True),
        dequantize_case("dequantize/uint8-opset21-per-channel", (2, 4, 2, 2), "uint8", per_channel=True, opset=21),
        fake_quant_case("quantize-dequantize/uint8", "uint8"),
        fake_quant_case("quantize-dequantize/int8-opset19", "int8", opset=19),
    ]


# =============================================================================================
CASES: list[Case] = [
    *conv_cases(),
    *mac_matrix_cases(),
    *elementwise_cases(),
    *pool_cases(),
    *movement_cases(),
    *softmax_cases(),
    *edge_cases(),
]

COVERED_UNARY = {op for op, _ in UNARY.values()}
COVERED_BINARY = {op for op, _ in BINARY.values()}
