"""The VNNI depthwise kernel (``_native.c``, ``depthwise8``) against the definition computed in
int64 by numpy: every tap of every window, padding holding the input's zero point, over kernel
sizes, strides, dilations and paddings around the kernel's own cuts (four taps per group, 64
outputs per step, one phase plane per stride phase).
"""
from __future__ import annotations

import numpy as np
import pytest

from furiosa.common.qmath import QParams, requantize
from furiosa.device.emulator.kernels import native

pytestmark = pytest.mark.skipif(not native.vnni(), reason="this CPU has no AVX-512 VNNI (or no native loops)")


def _definition(x, taps, zero, bias, mult, out_zero, k, strides, dilations, pads, oh, ow):
    c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw), (pt, pl) = k, strides, dilations, pads
    padded = np.full((c, pt + h + (oh - 1) * sh + (kh - 1) * dh + 1, pl + w + (ow - 1) * sw + (kw - 1) * dw + 1),
                     zero, np.int64)
    padded[:, pt:pt + h, pl:pl + w] = x
    acc = np.zeros((c, oh, ow), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            view = padded[:, ky * dh:ky * dh + (oh - 1) * sh + 1:sh, kx * dw:kx * dw + (ow - 1) * sw + 1:sw]
            acc += (view - zero) * taps[:, ky * kw + kx].reshape(c, 1, 1)
    out = requantize(acc + bias.reshape(c, 1, 1), mult.reshape(c, 1, 1), QParams((1.0,), (out_zero,), "int8"))
    return out.reshape(c, oh * ow)


CASES = [  # (c, h, w), (kh, kw), strides, dilations, (pt, pl, pb, pr)
    ((3, 7, 7), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    ((5, 14, 14), (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
    ((4, 112, 112), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    ((3, 57, 31), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
    ((2, 9, 20), (5, 5), (1, 2), (1, 1), (2, 2, 2, 2)),
    ((2, 16, 16), (3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),
    ((3, 11, 13), (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((2, 10, 10), (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
    ((2, 23, 9), (7, 1), (3, 1), (1, 1), (3, 0, 3, 0)),
    ((6, 5, 70), (3, 3), (1, 1), (1, 1), (0, 2, 1, 0)),
    ((2, 12, 30), (3, 5), (3, 3), (1, 2), (1, 2, 1, 2)),
    ((2, 8, 8), (3, 3), (1, 1), (3, 3), (3, 3, 3, 3)),
]


@pytest.mark.parametrize("shape, k, strides, dilations, pads", CASES)
@pytest.mark.parametrize("parts", [1, 2])
def test_depthwise8_gives_the_definition(shape, k, strides, dilations, pads, parts):
    rng = np.random.default_rng(sum(shape) * 7 + k[0] + strides[0])
    c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = k, strides, dilations
    pt, pl, pb, pr = pads
    oh = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
    ow = (w + pl + pr - (kw - 1) * dw - 1) // sw + 1
    x = rng.integers(-128, 128, shape).astype(np.int8)
    taps = rng.integers(-128, 128, (c, kh * kw)).astype(np.int32)
    zero = int(rng.integers(-128, 128))
    bias = rng.integers(-20000, 20000, c).astype(np.int32)
    mult = np.float32(10 ** rng.uniform(-5, -3, c)).astype(np.float64)
    out_zero = int(rng.integers(-10, 10))
    bound = int(np.abs(taps).sum(axis=1).max()) * 255 + int(np.abs(bias).max())
    requant = native.Requant(bias, mult, out_zero, (-128, 127), 0, None, bound)
    g = native.Geometry(c, h, w, kh, kw, strides, dilations, (pt, pl), oh, ow)
    out = np.empty((c, oh * ow), np.int8)
    native.Depthwise8(taps, zero, requant)(x, g, out, parts)
    expected = _definition(x, taps, zero, bias, mult, out_zero, k, strides, dilations, (pt, pl), oh, ow)
    np.testing.assert_array_equal(out, expected)
    # and the int32 kernel it replaces
    out32 = np.empty_like(out)
    native.depthwise(x, taps, g, zero, requant, 0, c, out32, parts)
    np.testing.assert_array_equal(out32, expected)


def test_taps_that_do_not_fit_in_int8_are_refused():
    requant = native.Requant(np.zeros(1, np.int32), np.ones(1), 0, (-128, 127), 0)
    assert native.Depthwise8.fits(np.array([[-128, 127]]))
    assert not native.Depthwise8.fits(np.array([[-129, 0]]))
    with pytest.raises(ValueError, match="int8"):
        native.Depthwise8(np.array([[200, 0]]), 0, requant)
