"""Decoding KServe v2 request tensors for a model input, encoding outputs (furiosa.server.codec)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from furiosa.server import codec
from furiosa.server.errors import InvalidRequest
from furiosa.server.types import RequestInput


def desc(shape, dtype, name="x"):
    return SimpleNamespace(name=name, shape=tuple(shape), dtype=SimpleNamespace(numpy=np.dtype(dtype)))


def tensor(data, shape, datatype, name="x"):
    return RequestInput(name=name, shape=list(shape), datatype=datatype, data=data)


def test_exact_conversions():
    out = codec.decode(tensor([1, 2, 3, 4], [4], "INT64"), desc([2, 2], np.float32), 0)
    assert out.dtype == np.float32 and out.shape == (2, 2) and out.tolist() == [[1, 2], [3, 4]]
    half = codec.decode(tensor([0.5, 1.5], [2], "FP16"), desc([2], np.float32), 0)
    assert half.dtype == np.float32 and half.tolist() == [0.5, 1.5]
    nested = codec.decode(tensor([[0, 255], [7, 8]], [2, 2], "UINT8"), desc([1, 4], np.uint8), 0)
    assert nested.tolist() == [[0, 255, 7, 8]]
    signed = codec.decode(tensor([-128, 127.0], [2], "INT32"), desc([2], np.int8), 0)
    assert signed.dtype == np.int8 and signed.tolist() == [-128, 127]
    precise = codec.decode(tensor([0.1], [1], "FP32"), desc([1], np.float32), 0)
    assert precise[0] == np.float32(0.1)


@pytest.mark.parametrize("data, shape, datatype, target, message", [
    ([2**24 + 1], [1], "INT32", np.float32, "is not exact in float32"),
    ([[1, 2], [3]], [3], "INT32", np.float32, "must be rectangular"),
    ([1, 2], [-1, 2], "INT32", np.float32, "negative dimension"),
    ({"a": 1}, [1], "INT32", np.float32, "'data' must be a list"),
    ([1, None], [2], "INT32", np.float32, "element 1 is None"),
    ([True], [1], "INT32", np.float32, "element 0 is True"),
    ([1], [1], "BOOL", np.float32, "BOOL data must be true or false"),
    ([-1], [1], "INT32", np.uint8, "takes UINT8 values in [0, 255]; element 0 is -1"),
    ([2**70], [1], "UINT64", np.float32, "out of the UINT64 range"),
    ([10**400], [1], "FP32", np.float32, "too large for FP32"),
])
def test_refused(data, shape, datatype, target, message):
    with pytest.raises(InvalidRequest, match=None) as caught:
        codec.decode(tensor(data, shape, datatype), desc(shape if min(shape) > 0 else [2], target), 0)
    assert message in str(caught.value)
    assert "input 0 ('x'), sent as 'x'" in str(caught.value)


def test_scalar_data_and_aliases():
    assert codec.decode(tensor(3, [1], "FLOAT32"), desc([1], np.float32), 0).tolist() == [3.0]
    assert codec.kserve_datatype(np.float32) == "FP32" and codec.response_datatype(np.float32) == "FLOAT32"


def test_encode_keeps_the_vendor_format():
    output = codec.encode("0", np.array([[1, 2, 3]], dtype=np.uint8))
    assert output.dict() == {"name": "0", "shape": [1, 3], "datatype": "UINT8", "parameters": None,
                             "data": [1, 2, 3]}
    floats = codec.encode("1", np.array([0.1], np.float32))
    assert np.float32(floats.data[0]) == np.float32(0.1)


def test_inputs_by_name_or_position():
    descs = [desc([1], np.float32, "a"), desc([1], np.float32, "b")]
    swapped = [tensor([1], [1], "FP32", "b"), tensor([2], [1], "FP32", "a")]
    assert [t.name for t in codec.match_inputs(swapped, descs, "m")] == ["a", "b"]
    other = [tensor([1], [1], "FP32", "p"), tensor([2], [1], "FP32", "q")]
    assert [t.name for t in codec.match_inputs(other, descs, "m")] == ["p", "q"]
    with pytest.raises(InvalidRequest, match="names input 'p' more than once"):
        codec.match_inputs([other[0], other[0]], descs, "m")
