"""Structural checks of a :class:`~.program.Program`.

Run by the compiler before it writes a program and by :func:`~.container.read` after it parses
one, so that the emulated device only ever sees consistent programs: every tensor an operator
reads exists and is produced before it is read, constants have blobs of the right size, inputs
and outputs are tensors of the program, and values are in their allowed sets.
"""
from __future__ import annotations

import numpy as np

from .program import LAYOUTS, TARGETS, UNITS, Program


def _check(condition: bool, message: str) -> None:
    if not condition:
        from .container import EnfFormatError

        raise EnfFormatError(f"inconsistent ENF program: {message}")


def verify(program: Program) -> Program:
    _check(program.target in TARGETS, f"target {program.target!r} is not one of {TARGETS}")
    _check(program.batch_size >= 1, f"batch size {program.batch_size} is not positive")
    for name, spec in program.tensors.items():
        _check(name == spec.name, f"tensor table key {name!r} names tensor {spec.name!r}")
        _check(all(isinstance(d, int) and d >= 0 for d in spec.shape), f"tensor {name!r} has shape {spec.shape}")
        try:
            np.dtype(spec.dtype)
        except TypeError:
            _check(False, f"tensor {name!r} has unknown dtype {spec.dtype!r}")
        if spec.constant:
            _check(name in program.blobs, f"constant {name!r} has no data")
            _check(len(program.blobs[name]) == spec.nbytes,
                   f"constant {name!r} holds {len(program.blobs[name])} bytes, its shape needs {spec.nbytes}")
    defined = {name for name, spec in program.tensors.items() if spec.constant}
    for io in program.inputs:
        _check(io.tensor in program.tensors, f"input {io.name!r} refers to unknown tensor {io.tensor!r}")
        _check(io.layout in LAYOUTS, f"input {io.name!r} has layout {io.layout!r}")
        defined.add(io.tensor)
    for position, op in enumerate(program.operators):
        _check(op.index == position, f"operator {op.name} has index {op.index}, expected {position}")
        _check(op.unit in UNITS, f"operator {op.index} ({op.name}) runs on unknown unit {op.unit!r}")
        for name in op.inputs:
            if name == "":
                continue
            _check(name in program.tensors, f"operator {op.index} ({op.name}) reads unknown tensor {name!r}")
            _check(name in defined, f"operator {op.index} ({op.name}) reads {name!r} before it is produced")
        for name in op.outputs:
            _check(name in program.tensors, f"operator {op.index} ({op.name}) writes unknown tensor {name!r}")
            _check(name not in defined, f"tensor {name!r} is produced twice (operator {op.index})")
            defined.add(name)
        for key in ("model",):
            blob = op.attrs.get(key)
            if blob is not None:
                _check(blob in program.blobs, f"operator {op.index} ({op.name}) needs missing blob {blob!r}")
    for io in program.outputs:
        _check(io.tensor in defined, f"output {io.name!r} is never produced")
        _check(io.layout in LAYOUTS, f"output {io.name!r} has layout {io.layout!r}")
    return program
