"""ENF ("Executable NPU Format"): the compiled program and its file container.

Imports only :mod:`furiosa.common`, so that the device emulator and the runtime can read
programs without loading the compiler.
"""
from .container import EnfFormatError, is_enf, read, write
from .layout import Lowered, lowered
from .program import FORMAT_VERSION, TARGETS, Cost, IOSpec, Operator, Program, TensorSpec
from .verify import verify

__all__ = [
    "Cost", "EnfFormatError", "FORMAT_VERSION", "IOSpec", "Lowered", "Operator", "Program",
    "TARGETS", "TensorSpec", "is_enf", "lowered", "read", "verify", "write",
]
