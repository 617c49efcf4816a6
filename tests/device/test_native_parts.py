"""A native loop cut over its worker threads gives exactly what it gives in one piece.

Each loop takes ``parts``: part 0 runs on the calling thread, the others on the extension's own
threads (or on the caller when a worker is late). Every element must come out identical whatever
the cut, including cuts with more parts than channels or rows (empty parts), and whichever
thread calls.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from furiosa.common.qmath import QParams
from furiosa.device.emulator.kernels import native

pytestmark = pytest.mark.skipif(not native.available(), reason="the native loops are not built")

PARTS = (2, 3, 5, 16)


def _requant(rng, channels: int) -> native.Requant:
    return native.Requant(rng.integers(-5000, 5000, channels).astype(np.int32), rng.uniform(1e-4, 2e-2, channels),
                          int(rng.integers(-20, 20)), (-128, 127), 0, (-100, 120))


@pytest.mark.parametrize("c, h, k, stride, dilation, pad", [
    (96, 28, 3, 1, 1, 1), (33, 15, 3, 2, 1, 1), (7, 9, 5, 1, 2, 4), (3, 40, 3, 2, 1, 0), (1, 12, 3, 1, 1, 1),
])
def test_depthwise_parts(c, h, k, stride, dilation, pad):
    rng = np.random.default_rng(c * h)
    x = rng.integers(-128, 128, (c, h, h), dtype=np.int8)
    oh = (h + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    g = native.Geometry(c, h, h, k, k, (stride, stride), (dilation, dilation), (pad, pad), oh, oh)
    taps = rng.integers(-255, 256, (c, k * k)).astype(np.int32)
    requant = _requant(rng, c)
    whole = np.empty((c, oh * oh), np.int8)
    native.depthwise(x, taps, g, 5, requant, 0, c, whole)
    for parts in PARTS:
        cut = np.empty_like(whole)
        native.depthwise(x, taps, g, 5, requant, 0, c, cut, parts)
        np.testing.assert_array_equal(cut, whole, err_msg=f"{parts} parts")


@pytest.mark.parametrize("channels, pixels", [(96, 3136), (3, 20000), (1000, 1), (17, 5)])
def test_requant_parts(channels, pixels):
    rng = np.random.default_rng(channels)
    requant = _requant(rng, channels)
    planes = rng.integers(-300000, 300000, (channels, pixels)).astype(np.int32)
    rows = np.ascontiguousarray(planes.T)
    whole_planes, whole_rows = requant.planes(planes), requant.rows(rows)
    np.testing.assert_array_equal(whole_rows, whole_planes.T)
    for parts in PARTS:
        np.testing.assert_array_equal(requant.planes(planes, parts=parts), whole_planes, err_msg=f"{parts} parts")
        np.testing.assert_array_equal(requant.rows(rows, parts=parts), whole_rows, err_msg=f"{parts} parts")


@pytest.mark.parametrize("flip", [False, True])
def test_im2col_parts(flip):
    rng = np.random.default_rng(3)
    c, h = 10, 23
    x = rng.integers(-128, 128, (c, h, h), dtype=np.int8)
    g = native.Geometry(c, h, h, 3, 3, (2, 2), (1, 1), (1, 1), 12, 12)
    whole = np.empty((g.patch, g.pixels), np.uint8)
    native.im2col(x, g, whole, 0, c, flip, 7)
    for parts in PARTS:
        cut = np.empty_like(whole)
        native.im2col(x, g, cut, 0, c, flip, 7, parts)
        np.testing.assert_array_equal(cut, whole, err_msg=f"{parts} parts")


@pytest.mark.parametrize("size", [1, 63, 64, 65, 100003])
def test_quantize_parts(size):
    x = np.random.default_rng(size).standard_normal(size).astype(np.float32) * 4
    qp = QParams((0.03,), (-7,), "int8")
    whole = native.quantize(x, qp)
    for parts in PARTS:
        np.testing.assert_array_equal(native.quantize(x, qp, parts), whole, err_msg=f"{parts} parts")


def test_callers_on_several_threads_at_once():
    """Callers that find the workers taken run their calls whole, with the same results."""
    rng = np.random.default_rng(11)
    requant = _requant(rng, 64)
    inputs = [rng.integers(-300000, 300000, (64, 4096)).astype(np.int32) for _ in range(4)]
    expected = [requant.planes(a) for a in inputs]
    failures: list[str] = []

    def caller(i: int) -> None:
        for _ in range(200):
            if not np.array_equal(requant.planes(inputs[i], parts=2), expected[i]):
                failures.append(f"caller {i}")
                return

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a caller did not finish within 60 s"
    assert failures == []


@pytest.mark.parametrize("size", [1, 64, 65, 70001])
def test_element_wise_parts(size):
    rng = np.random.default_rng(size)
    a = rng.integers(-128, 128, size, dtype=np.int8)
    b = rng.integers(-128, 128, size, dtype=np.int8)
    table = rng.integers(-128, 128, 65536, dtype=np.int8)
    arith = native.Arithmetic("add", {"fn": "relu"}, QParams((0.02,), (3,), "int8"), QParams((0.05,), (-9,), "int8"),
                              QParams((0.04,), (-128,), "int8"))
    whole_lut, whole_arith = native.pair_lut(a, b, table), arith(a, b)
    for parts in PARTS:
        np.testing.assert_array_equal(native.pair_lut(a, b, table, parts=parts), whole_lut, err_msg=f"{parts} parts")
        np.testing.assert_array_equal(arith(a, b, parts=parts), whole_arith, err_msg=f"{parts} parts")
