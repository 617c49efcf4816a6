"""The emulated Warboy compiler: ONNX (float, calibrated, QDQ, QOperator) and ENF in, ENF out.

Importing this package is cheap; the compiler itself loads on first use, so that the device and
the runtime can read ENF files (:mod:`furiosa.compiler.enf`) without it.
"""
from __future__ import annotations

from typing import Any

__all__ = ["compile_program", "compile_bytes", "CompilerConfig"]


def __getattr__(name: str) -> Any:
    if name in ("compile_program", "compile_bytes"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "CompilerConfig":
        from .config import CompilerConfig

        return CompilerConfig
    raise AttributeError(f"module 'furiosa.compiler' has no attribute {name!r}")
