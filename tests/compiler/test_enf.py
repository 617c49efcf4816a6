"""The ENF container: round trips, and every kind of damage is refused with a clear error."""
from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest

from examples.zoo import calibration_data, quantize_qdq, small_cnn
from furiosa.common.errors import IncompatibleProgramError
from furiosa.compiler import enf
from furiosa.compiler.enf.container import HEADER_SIZE, EnfFormatError
from furiosa.compiler.pipeline import compile_data
from furiosa.device.emulator.executor import Executor


@pytest.fixture(scope="module")
def program():
    model = small_cnn()
    return compile_data(quantize_qdq(model, calibration_data(model, 4)).SerializeToString())


def test_round_trip_keeps_everything(program):
    data = enf.write(program)
    again = enf.read(data)
    assert enf.write(again) == data
    assert again.inputs == program.inputs and again.outputs == program.outputs
    assert [op.kernel for op in again.operators] == [op.kernel for op in program.operators]
    assert again.target == "warboy-2pe" and again.batch_size == 1
    x = calibration_data(small_cnn(), 1, seed=5)[0]["input"]
    assert np.array_equal(Executor(program).run([x])[0], Executor(again).run([x])[0])


def test_every_flipped_byte_is_detected(program):
    data = bytearray(enf.write(program))
    rng = np.random.default_rng(0)
    for position in rng.integers(HEADER_SIZE, len(data), 40):
        damaged = bytearray(data)
        damaged[position] ^= 0x5A
        with pytest.raises(EnfFormatError, match="checksum"):
            enf.read(bytes(damaged), "model.enf")


def test_truncated_and_padded_files(program):
    data = enf.write(program)
    for cut in (10, HEADER_SIZE, len(data) // 2, len(data) - 1):
        with pytest.raises(EnfFormatError):
            enf.read(data[:cut], "model.enf")
    with pytest.raises(EnfFormatError, match="truncated or padded"):
        enf.read(data + b"\0", "model.enf")


def test_foreign_magic(program):
    data = bytearray(enf.write(program))
    data[1:4] = b"XYZ"
    with pytest.raises(EnfFormatError, match="not an ENF file"):
        enf.read(bytes(data))


def test_newer_format_is_incompatible(program):
    data = bytearray(enf.write(program))
    struct.pack_into("<H", data, 8, enf.FORMAT_VERSION[0] + 1)
    with pytest.raises(IncompatibleProgramError, match="incompatible configuration.*recompile"):
        enf.read(bytes(data))


def test_verifier_refuses_inconsistent_programs(program):
    first = program.operators[0]
    broken = dataclasses.replace(program, operators=(dataclasses.replace(first, inputs=("nowhere",)),)
                                 + program.operators[1:])
    with pytest.raises(EnfFormatError, match="unknown tensor 'nowhere'"):
        enf.read(enf.write(broken))
    reordered = dataclasses.replace(program, operators=tuple(reversed(program.operators)))
    with pytest.raises(EnfFormatError):
        enf.verify(reordered)


def test_lowered_layout_round_trip():
    layout = enf.lowered((1, 3, 40, 40), "warboy-2pe")
    x = np.arange(4800, dtype=np.int8).reshape(1, 3, 40, 40)
    view = layout.to_lowered(x)
    assert view.ndim == 6 and layout.size_items > x.size
    assert view.strides != np.ascontiguousarray(view).strides
    assert np.array_equal(layout.to_logical(view), x)
    assert np.array_equal(layout.to_logical(np.ascontiguousarray(view)), x)
