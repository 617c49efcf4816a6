"""The ENF file: a versioned container for a :class:`~.program.Program`.

Layout (all integers little-endian)::

    0   8  magic  b"\\x89ENF\\r\\n\\x1a\\n"
    8   2  format major version
    10  2  format minor version
    12  4  reserved (0)
    16  8  manifest length in bytes (M)
    24  8  blob length in bytes (B)
    32  32 SHA-256 of bytes [64, 64 + M + B)
    64  M  manifest: UTF-8 JSON (everything but the constants)
    ..  B  blob: constants and host subgraphs, each at a 64-byte aligned offset

:func:`read` checks every part before building the program; a damaged or foreign file raises
:class:`EnfFormatError` naming what is wrong, never a crash from deep inside.
"""
from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

from furiosa.common.errors import IncompatibleProgramError, InvalidModelError
from furiosa.common.qmath import QParams

from .program import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Cost,
    IOSpec,
    Operator,
    Program,
    TensorSpec,
    freeze,
    thaw,
)

MAGIC = b"\x89ENF\r\n\x1a\n"
HEADER = struct.Struct("<8sHHIQQ32s")
HEADER_SIZE = 64
ALIGN = 64


class EnfFormatError(InvalidModelError):
    """The bytes are not a well-formed ENF file (damaged, truncated or foreign)."""


def is_enf(data: bytes) -> bool:
    return data[: len(MAGIC)] == MAGIC


def _qparams_json(qp: QParams | None) -> dict | None:
    return None if qp is None else qp.to_json()


def _io_json(io: IOSpec) -> dict:
    return {
        "name": io.name, "tensor": io.tensor, "shape": list(io.shape), "dtype": io.dtype,
        "axes": list(io.axes), "layout": io.layout,
        "strides": None if io.strides is None else list(io.strides), "size": io.size,
        "qparams": _qparams_json(io.qparams),
    }


def _op_json(op: Operator) -> dict:
    return {
        "index": op.index, "kernel": op.kernel, "unit": op.unit, "name": op.name,
        "inputs": list(op.inputs), "outputs": list(op.outputs), "attrs": thaw(op.attrs),
        "origin": list(op.origin), "reason": op.reason, "program_bytes": op.program_bytes,
        "cost": None if op.cost is None else vars(op.cost).copy(),
    }


def write(program: Program) -> bytes:
    """Serialize a program to ENF bytes."""
    blob = bytearray()
    blob_index: dict[str, list[int]] = {}
    for name in sorted(program.blobs):
        data = bytes(program.blobs[name])
        pad = (-len(blob)) % ALIGN
        blob.extend(b"\0" * pad)
        blob_index[name] = [len(blob), len(data)]
        blob.extend(data)
    manifest = {
        "format": FORMAT_NAME,
        "compiler_version": program.compiler_version,
        "target": program.target,
        "batch_size": program.batch_size,
        "source_format": program.source_format,
        "config": thaw(program.config),
        "inputs": [_io_json(io) for io in program.inputs],
        "outputs": [_io_json(io) for io in program.outputs],
        "tensors": [
            {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
             "qparams": _qparams_json(t.qparams), "constant": t.constant, "source": t.source}
            for t in program.tensors.values()
        ],
        "operators": [_op_json(op) for op in program.operators],
        "memory": thaw(program.memory),
        "warnings": list(program.warnings),
        "blobs": blob_index,
    }
    body = json.dumps(manifest, separators=(",", ":"), allow_nan=False).encode()
    body += b" " * ((-len(body)) % ALIGN)
    digest = hashlib.sha256(body + bytes(blob)).digest()
    major, minor = program.format_version
    header = HEADER.pack(MAGIC, major, minor, 0, len(body), len(blob), digest)
    return header + body + bytes(blob)


def _fail(what: str) -> EnfFormatError:
    return EnfFormatError(f"damaged ENF file: {what}")


def read(data: bytes | memoryview, origin: str = "<bytes>") -> Program:
    """Parse and check ENF bytes; raise :class:`EnfFormatError` or an incompatibility error."""
    if not (isinstance(data, bytes) or isinstance(data, memoryview) and data.readonly and data.format == "B"):
        data = bytes(data)  # read-only views (a cache entry's) are parsed in place
    if len(data) < HEADER_SIZE:
        raise _fail(f"{origin} holds {len(data)} bytes, fewer than the 64-byte header")
    magic, major, minor, _reserved, m_len, b_len, digest = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise EnfFormatError(f"{origin} is not an ENF file (wrong magic bytes)")
    if major != FORMAT_VERSION[0]:
        raise IncompatibleProgramError(
            f"incompatible configuration: {origin} uses ENF format {major}.{minor}, this runtime "
            f"reads format {FORMAT_VERSION[0]}.x; recompile the model with this SDK's furiosa-compiler"
        )
    expected = HEADER_SIZE + m_len + b_len
    if len(data) != expected:
        raise _fail(f"{origin} is {len(data)} bytes long, its header announces {expected} (truncated or padded)")
    if hashlib.sha256(memoryview(data)[HEADER_SIZE:]).digest() != digest:
        raise _fail(f"checksum mismatch in {origin}; the file was modified or corrupted")
    try:
        manifest = json.loads(bytes(data[HEADER_SIZE:HEADER_SIZE + m_len]))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _fail(f"unreadable manifest in {origin}: {error}") from None
    blob = memoryview(data)[HEADER_SIZE + m_len:]
    try:
        return _program(manifest, blob)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        if isinstance(error, (EnfFormatError, IncompatibleProgramError)):
            raise
        raise _fail(f"malformed manifest in {origin}: {type(error).__name__}: {error}") from None


def _qparams(data: Any) -> QParams | None:
    return None if data is None else QParams.from_json(data)


def _io(data: dict) -> IOSpec:
    return IOSpec(
        name=data["name"], tensor=data["tensor"], shape=tuple(int(d) for d in data["shape"]),
        dtype=str(data["dtype"]), axes=tuple(data["axes"]), layout=data["layout"],
        strides=None if data["strides"] is None else tuple(int(s) for s in data["strides"]),
        size=data["size"], qparams=_qparams(data["qparams"]),
    )


def _program(manifest: dict, blob: memoryview) -> Program:
    if manifest.get("format") != FORMAT_NAME:
        raise EnfFormatError(f"manifest names format {manifest.get('format')!r}, not {FORMAT_NAME!r}")
    blobs: dict[str, memoryview] = {}
    for name, (offset, length) in manifest["blobs"].items():
        if offset < 0 or length < 0 or offset + length > len(blob):
            raise _fail(f"constant {name!r} lies outside the blob")
        blobs[name] = blob[offset:offset + length]  # read-only views of the file's bytes: no copy
    tensors = {}
    for t in manifest["tensors"]:
        spec = TensorSpec(t["name"], tuple(int(d) for d in t["shape"]), str(t["dtype"]),
                          _qparams(t["qparams"]), bool(t["constant"]), t.get("source"))
        tensors[spec.name] = spec
    operators = tuple(
        Operator(
            index=int(o["index"]), kernel=str(o["kernel"]), unit=str(o["unit"]), name=str(o["name"]),
            inputs=tuple(o["inputs"]), outputs=tuple(o["outputs"]), attrs=freeze(o["attrs"]),
            origin=tuple(o["origin"]), reason=str(o["reason"]),
            cost=None if o["cost"] is None else Cost(**o["cost"]),
            program_bytes=int(o.get("program_bytes", 0)),
        )
        for o in manifest["operators"]
    )
    program = Program(
        target=str(manifest["target"]), batch_size=int(manifest["batch_size"]),
        compiler_version=str(manifest["compiler_version"]),
        source_format=str(manifest["source_format"]),
        inputs=tuple(_io(d) for d in manifest["inputs"]),
        outputs=tuple(_io(d) for d in manifest["outputs"]),
        tensors=freeze(tensors), operators=operators, blobs=freeze(blobs),
        config=freeze(manifest["config"]), memory=freeze(manifest["memory"]),
        warnings=tuple(manifest["warnings"]),
    )
    from .verify import verify

    verify(program)
    return program
