"""Conformance beyond the table: geometries and quantization drawn by hypothesis.

The table (:mod:`tests.conformance.cases`) lists the cases someone thought of; here hypothesis
combines shapes, strides, pads, dilations, groups, data types, zero points and data modes
freely, through the same case generators and the same check (:func:`~.harness.check_case`,
every backend). Runs are reproducible and bounded: ``derandomize=True``, no example database,
a fixed number of examples. A failure prints the drawn case; add it to the table once fixed.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from .cases import (_resolved_pads, _window_counts, avgpool_case, binary_case, conv_case, maxpool_case,
                    qlinear_matmul_case)
from .harness import BACKENDS, check_case, use_backend

# Operators the Warboy table places on the host still run their int8 kernel (not under test).
pytestmark = pytest.mark.filterwarnings("ignore::furiosa.common.errors.CompilerWarning")

FUZZ = settings(max_examples=100, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = st.sampled_from(["int8", "uint8"])


def _spec_id(prefix: str, spec: dict) -> str:
    return prefix + "/" + ",".join(f"{k}={v}" for k, v in sorted(spec.items()))


def _check_every_backend(case) -> None:
    for backend in BACKENDS:
        with pytest.MonkeyPatch.context() as mp:
            use_backend(mp, backend)
            check_case(case)


@st.composite
def conv_specs(draw) -> dict:
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    layout = draw(st.sampled_from(["dense", "grouped", "depthwise", "depthwise-multiplier"]))
    if layout == "dense":
        group, c, o = 1, draw(st.integers(1, 6)), draw(st.integers(1, 6))
    elif layout == "grouped":
        group = draw(st.integers(2, 4))
        c, o = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 3))
    else:
        group = c = draw(st.integers(2, 6))
        o = c * (1 if layout == "depthwise" else 2)
    spec = dict(n=draw(st.integers(1, 2)), c=c, o=o, group=group, k=(kh, kw), strides=(sh, sw),
                dilations=(dh, dw), x=draw(DTYPES), w=draw(DTYPES), y=draw(DTYPES),
                per_channel=draw(st.booleans()), w_zp=draw(st.sampled_from(["zero", "one", "varying"])),
                bias=draw(st.sampled_from([None, "small", "large"])),
                data=draw(st.sampled_from(["full", "narrow", "pow2"])))
    padding = draw(st.sampled_from(["explicit", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if padding == "explicit":
        spec["pads"] = tuple(draw(st.integers(0, k - 1)) for k in (kh, kw, kh, kw))
    else:
        spec["auto_pad"] = padding
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    spec["hw"] = (draw(st.integers(max(1, span_h - 2), span_h + 6)), draw(st.integers(max(1, span_w - 2), span_w + 6)))
    pads = spec.get("pads", (0, 0, 0, 0))
    assume(padding != "explicit" or (spec["hw"][0] + pads[0] + pads[2] >= span_h
                                     and spec["hw"][1] + pads[1] + pads[3] >= span_w))
    assume(padding != "VALID" or (spec["hw"][0] >= span_h and spec["hw"][1] >= span_w))
    return spec


@FUZZ
@given(conv_specs())
def test_conv(spec: dict) -> None:
    _check_every_backend(conv_case(_spec_id("fuzz-conv", spec), **spec))


@st.composite
def pool_specs(draw) -> dict:
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    spec: dict = dict(k=(kh, kw), strides=strides, dilations=dilations, ceil=draw(st.booleans()),
                      x=draw(DTYPES), y=draw(DTYPES), params=draw(st.sampled_from(["same", "diff"])))
    padding = draw(st.sampled_from(["explicit", "explicit", "SAME_UPPER", "SAME_LOWER"]))
    if padding == "explicit":
        spec["pads"] = tuple(draw(st.integers(0, k - 1)) for k in (kh, kw, kh, kw))
    else:
        spec["auto_pad"] = padding
        spec["ceil"] = False
    hw = (draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    spec["shape"] = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *hw)
    # Every window must hold a real input tap (ONNX leaves windows of padding only undefined).
    for axis in range(2):
        k, s, d = spec["k"][axis], strides[axis], dilations[axis]
        pads = spec.get("pads", (0, 0, 0, 0))
        begin, end = _resolved_pads(hw[axis], k, s, d, pads[axis], pads[axis + 2], spec.get("auto_pad"))
        span = (k - 1) * d + 1
        # SAME padding whose formula goes negative (stride beyond the window): onnxruntime
        # rejects it, onnx.reference pools with a negative pad (shifted windows) while its Conv
        # clamps to 0 as we do. Not comparable.
        assume(not spec.get("auto_pad") or (-(-hw[axis] // s) - 1) * s + span >= hw[axis])
        assume(hw[axis] + begin + end >= span)
        room = hw[axis] + begin + end - span
        out = (-(-room // s) if spec["ceil"] else room // s) + 1
        # A ceil_mode window starting past the input and its left padding: onnxruntime and
        # onnx.reference drop it, ONNX shape inference (which the compiler follows) keeps it.
        # The shapes differ; see the report.
        assume((out - 1) * s < hw[axis] + begin)
        assume(_window_counts(hw[axis], out, k, s, d, begin, end, False).min() > 0)
    return spec


@FUZZ
@given(pool_specs(), st.booleans())
def test_avgpool(spec: dict, include_pad: bool) -> None:
    opset = 19 if max(spec["dilations"]) > 1 else 13
    if opset < 19:
        spec = {k: v for k, v in spec.items() if k != "dilations"}  # an attribute from opset 19 on
    case = avgpool_case(_spec_id("fuzz-avgpool", {**spec, "include_pad": include_pad}), include_pad=include_pad,
                        opset=opset, **spec)
    _check_every_backend(case)


@FUZZ
@given(pool_specs())
def test_maxpool(spec: dict) -> None:
    _check_every_backend(maxpool_case(_spec_id("fuzz-maxpool", spec), **spec))


@st.composite
def matrix_specs(draw) -> dict:
    const_b = draw(st.booleans())
    k = draw(st.sampled_from([1, 2, 7, 33, 300, 1025, 2500]))
    n = draw(st.integers(1, 6))
    batch = draw(st.sampled_from([(), (2,), (2, 3)]))
    a_shape = (*batch, draw(st.integers(1, 5)), k)
    if const_b:
        b_shape: tuple = (k, n)
    else:
        b_batch = draw(st.sampled_from([batch, batch[1:], (1,) * len(batch)])) if batch else ()
        b_shape = (*b_batch, k, n)
    spec = dict(a_shape=a_shape, b_shape=b_shape, const_b=const_b, a=draw(DTYPES), b=draw(DTYPES), y=draw(DTYPES),
                data=draw(st.sampled_from(["full", "narrow", "pow2"])))
    if const_b:
        spec.update(per_column=draw(st.booleans()), b_zp=draw(st.sampled_from(["zero", "one", "varying"])))
    return spec


@FUZZ
@given(matrix_specs())
def test_matrix(spec: dict) -> None:
    _check_every_backend(qlinear_matmul_case(_spec_id("fuzz-matrix", spec), **spec))


BINARY_OPS = st.sampled_from(["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"])


@FUZZ
@given(BINARY_OPS, mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       st.sampled_from(["broadcast", "const"]), st.sampled_from(["none", "relu"]))
def test_binary(op: str, shapes, mode: str, activation: str) -> None:
    a_shape, b_shape = shapes.input_shapes
    assume(len(a_shape) > 0 and (mode == "broadcast" or shapes.result_shape == a_shape))
    activation = activation if op == "Add" else "none"
    case = binary_case(_spec_id("fuzz-binary", dict(op=op, a=a_shape, b=b_shape, mode=mode, act=activation)),
                       op, mode, (a_shape, b_shape), activation=activation)
    _check_every_backend(case)
